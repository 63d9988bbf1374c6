"""The papermill pipeline: run notebooks/NN_name.ipynb in order for one profile, skipping what is up to date.

    python -m dtlib.pipeline --profile smoke [--only keydoor,30] [--force]
    python -m dtlib.pipeline --profile paper --plan      # what it would run and cost; runs nothing

For each notebook it writes reports/<profile>/NN_name.ipynb (executed) and NN_name.html (offline, figures
embedded), then reports/<profile>/index.html and the state file reports/<profile>/.pipeline_state.json.
A notebook is skipped when its staleness key — a hash of its source without outputs, its parameters,
the dtlib sources (their syntax trees: a comment or docstring edit changes nothing) and the keys of the
notebooks it `needs` — equals that of its last successful run and its outputs exist. Each notebook's run
log (logs/NN_name.runs.jsonl) lists the run folders it read; the index names every one made by code or
behaviour files other than today's. A failing notebook stops the run with one line naming it, the failing cell and
the partially executed notebook, and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat

from dtlib import io
from dtlib.identity import file_digest
from dtlib.paths import PACKAGE_DIR, git_commit, project_root, reports_dir
from dtlib.profiles import Profile, check_notebook_params, load_profile
from dtlib.results import RUN_LOG_ENV, runs_from_other_code
from dtlib.validate import ParameterError

NOTEBOOK_FILE = re.compile(r"^(\d{2})_([a-z0-9][a-z0-9_]*)\.ipynb$")
STATE_FILE = ".pipeline_state.json"
PARTIAL_DIR = "partial"  # partially executed notebooks of failed runs; never mistaken for finished ones
KERNEL_NAME = "dtlib-pipeline"
LOG_DIR = "logs"  # the kernel process's own stdout/stderr (C-level prints, warnings), one file per notebook
ALL_EARLIER = "*"  # `needs: ["*"]` = every earlier notebook (a new upstream notebook joins by itself)
SUMMARY_KEY = "summary"  # the notebook whose HTML section (SUMMARY_SECTION) the index leads with
SUMMARY_SECTION = "summary/section.html"  # written by dtlib.summary.write_section, relative to reports/<profile>/


class NotebookFailed(RuntimeError):
    """A notebook raised or its kernel died; the message is the one line the terminal shows."""


@dataclass(frozen=True)
class Notebook:
    """One pipeline notebook, described by its file name and its `dtlib` metadata."""

    path: Path  # notebooks/NN_key.ipynb
    number: str  # "NN": the pipeline runs in this order
    key: str  # the name profiles and --only use
    purpose: str  # one line, shown in the index
    needs: tuple[str, ...]  # keys of upstream notebooks whose artifacts this one reads
    params: str = ""  # "module:Class" of its parameters dataclass (metadata dtlib.params); '' for none

    @property
    def name(self) -> str:
        """`NN_key`, the stem of every file the notebook produces."""
        return self.path.stem


def notebooks_dir() -> Path:
    """Where the pipeline's notebooks live."""
    return project_root() / "notebooks"


def discover(directory: Path | None = None) -> list[Notebook]:
    """All `NN_key.ipynb` notebooks in `directory`, ordered by NN, with checked `needs`."""
    directory = Path(directory or notebooks_dir())
    found: list[Notebook] = []
    for path in sorted(directory.glob("*.ipynb")):
        match = NOTEBOOK_FILE.match(path.name)
        if not match:
            raise ParameterError(f"{path.name}: notebook files must be named NN_key.ipynb (e.g. 30_keydoor.ipynb)")
        meta = nbformat.read(path, as_version=4).metadata.get("dtlib", {})
        found.append(Notebook(path=path, number=match.group(1), key=match.group(2),
                              purpose=str(meta.get("purpose", "")), needs=tuple(meta.get("needs", [])),
                              params=str(meta.get("params", ""))))
    found.sort(key=lambda nb: (nb.number, nb.key))
    seen: list[str] = []
    for i, nb in enumerate(found):
        if nb.key in seen:
            raise ParameterError(f"{nb.name}: notebook key {nb.key!r} is used twice")
        if ALL_EARLIER in nb.needs:  # e.g. the summary: it reads every earlier notebook's tables
            found[i] = nb = replace(nb, needs=tuple(seen))
        for need in nb.needs:
            if need not in seen:
                raise ParameterError(f"{nb.name}: needs {need!r}, which is not an earlier notebook; "
                                     f"earlier ones are {sorted(seen)}")
        seen.append(nb.key)
    return found


def parameters_cell(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The literal values of the one cell tagged `parameters` (only annotated literal assignments allowed)."""
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"a notebook needs exactly one cell tagged 'parameters', found {len(cells)}")
    values: dict[str, Any] = {}
    for stmt in ast.parse(cells[0].source).body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None):
            raise ParameterError(f"parameters cell line {stmt.lineno}: only `name: type = literal` is allowed")
        try:
            values[stmt.target.id] = ast.literal_eval(stmt.value)
        except ValueError:
            raise ParameterError(f"parameters cell: {stmt.target.id} must be a literal, not an expression") from None
    return values


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def source_digest(notebook: nbformat.NotebookNode) -> str:
    """Hash of a notebook's cells and `dtlib` metadata, outputs and execution counts left out."""
    cells = [(c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", []))) for c in notebook.cells]
    return _sha([cells, notebook.metadata.get("dtlib", {})])


def code_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every dtlib/**/*.py syntax tree: a change to the library's code makes every notebook stale
    (runs are keyed more finely, by the modules each uses: dtlib.identity)."""
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    return _sha([(str(p.relative_to(package_dir)), file_digest(p)) for p in files])


def check_profile_params(nb: Notebook, params: dict[str, Any]) -> None:
    """Every parameter a profile passes must exist in the notebook's parameters cell, and the values the notebook
    will run with must build its parameters dataclass (its metadata `dtlib.params`): a bad value in a profile
    fails here, before any notebook runs."""
    declared = parameters_cell(nbformat.read(nb.path, as_version=4))
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ParameterError(f"profile sets {unknown} for {nb.name}, which has no such parameter; "
                             f"its parameters are {sorted(declared)}")
    check_notebook_params(nb.params, nb.key, {**declared, **params})


def staleness_keys(notebooks: list[Notebook], profile: Profile) -> dict[str, str]:
    """Each notebook's staleness key, in pipeline order (upstream keys feed downstream ones)."""
    code = code_digest()
    keys: dict[str, str] = {}
    for nb in notebooks:
        params = profile.notebook_params(nb.key)
        keys[nb.key] = _sha({"source": source_digest(nbformat.read(nb.path, as_version=4)), "params": params,
                             "code": code, "needs": [keys[n] for n in nb.needs]})
    return keys


def select(notebooks: list[Notebook], only: str | list[str] | None) -> list[Notebook]:
    """The notebooks named by key, number or `NN_key` (all when `only` is empty)."""
    if not only:
        return list(notebooks)
    tokens = [t.strip() for t in (only.split(",") if isinstance(only, str) else only) if t.strip()]
    chosen = []
    for token in tokens:
        hits = [nb for nb in notebooks if token in (nb.key, nb.number, nb.name)]
        if not hits:
            raise ParameterError(f"only={token!r} names no notebook; choose keys or numbers from "
                                 f"{[nb.name for nb in notebooks]}")
        chosen += hits
    return [nb for nb in notebooks if nb in chosen]


def upstream_closure(notebooks: list[Notebook], targets: list[Notebook]) -> list[Notebook]:
    """`targets` plus every notebook they need, directly or not, in pipeline order."""
    by_key = {nb.key: nb for nb in notebooks}
    wanted = {nb.key for nb in targets}
    for nb in reversed(notebooks):
        if nb.key in wanted:
            wanted.update(nb.needs)
    return [by_key[k] for k in by_key if k in wanted]


def outputs(nb: Notebook, out_dir: Path) -> tuple[Path, Path]:
    """The executed notebook and its HTML."""
    return out_dir / f"{nb.name}.ipynb", out_dir / f"{nb.name}.html"


def run_log(nb: Notebook, out_dir: Path) -> Path:
    """The run folders the notebook's last successful execution read, one JSON line each (dtlib.results.note_use)."""
    return out_dir / LOG_DIR / f"{nb.name}.runs.jsonl"


def is_up_to_date(nb: Notebook, key: str, state: dict[str, Any], out_dir: Path) -> bool:
    """True when the last successful run had this key and its outputs still exist."""
    last = state.get("notebooks", {}).get(nb.key, {})
    return last.get("status") == "done" and last.get("key") == key and all(p.exists() for p in outputs(nb, out_dir))


def read_state(out_dir: Path) -> dict[str, Any]:
    """The state file of one profile's reports (empty when there is none yet)."""
    path = out_dir / STATE_FILE
    return io.read_json(path) if path.exists() else {"notebooks": {}}


@contextmanager
def pipeline_kernel() -> Iterator[str]:
    """A kernelspec that runs this very interpreter, so the notebooks see the same environment as the runner.

    The kernel's own stdout/stderr go to $DTLIB_KERNEL_LOG, keeping the terminal to one line per notebook.
    """
    with tempfile.TemporaryDirectory(prefix="dtlib-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        io.write_json(spec_dir / "kernel.json", {
            "argv": ["/bin/sh", "-c", 'exec "$0" -m ipykernel_launcher -f "$1" >>"${DTLIB_KERNEL_LOG:-/dev/null}" 2>&1',
                     sys.executable, "{connection_file}"],
            "display_name": "dtlib (pipeline)", "language": "python",
            "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}})
        saved = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join([tmp] + ([saved] if saved else []))
        try:
            yield KERNEL_NAME
        finally:
            if saved is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved


# nbconvert's lab template without the CDN scripts (require.js, MathJax, Mermaid, the ipywidgets manager): a
# report renders fully offline; CSS is inlined, figures are base64 PNGs and clips base64 mp4s inside the page.
# Widgets (notebooks/50_explore) are live in JupyterLab only; the static page shows pre-rendered clips instead.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def render_html(notebook_path: Path, html_path: Path) -> None:
    """Convert an executed notebook to a self-contained HTML page, atomically."""
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="dtlib_offline.html.j2", embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"dtlib_offline.html.j2": OFFLINE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    io.write_text(html_path, body)


def _failure_line(nb: Notebook, error: BaseException, partial: Path) -> str:
    """One line: the notebook, the failing cell (source position and In [n]), `ename: evalue`, the partial path."""
    where, what = "", f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    if hasattr(error, "exec_count") and hasattr(error, "ename"):
        # papermill's cell_index counts the cells it inserts; report the failing cell's place in the source
        cells = nbformat.read(nb.path, as_version=4).cells
        index = next((i for i, c in enumerate(cells) if c.cell_type == "code" and c.source == error.source), None)
        evalue = (error.evalue or "").strip().splitlines()
        where = f" at cell {index + 1 if index is not None else '?'} (In [{error.exec_count}])"
        what = f"{error.ename}: {evalue[0] if evalue else ''}"
    return f"FAILED {nb.name}{where}: {what} (partial notebook: {_rel(partial)})"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def execute(nb: Notebook, params: dict[str, Any], out_dir: Path, kernel: str, progress: bool = False) -> float:
    """Run one notebook with papermill and publish its .ipynb and .html; returns wall seconds."""
    import papermill

    partial = out_dir / PARTIAL_DIR / f"{nb.name}.ipynb"
    partial.parent.mkdir(parents=True, exist_ok=True)
    log = out_dir / LOG_DIR / f"{nb.name}.kernel.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    os.environ["DTLIB_KERNEL_LOG"] = str(log)  # read by the kernelspec's launcher, see pipeline_kernel()
    runs = run_log(nb, out_dir).with_suffix(".partial")  # replaces the last good log only on success
    runs.write_text("")
    saved_run_log = os.environ.get(RUN_LOG_ENV)
    os.environ[RUN_LOG_ENV] = str(runs)  # inherited by the kernel: dtlib.results.note_use appends to it
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(nb.path), str(partial), parameters=params, kernel_name=kernel,
                                   language="python", cwd=str(nb.path.parent), progress_bar=progress,
                                   log_output=False, start_timeout=120)
    except Exception as error:  # papermill re-raises the cell's error; a dead kernel or timeout lands here too
        try:
            render_html(partial, partial.with_suffix(".html"))
        except Exception:  # the partial notebook may be unreadable; the one-line message still names it
            pass
        raise NotebookFailed(_failure_line(nb, error, partial)) from error
    finally:
        if saved_run_log is None:
            os.environ.pop(RUN_LOG_ENV, None)
        else:
            os.environ[RUN_LOG_ENV] = saved_run_log
    wall = time.perf_counter() - start
    executed, page = outputs(nb, out_dir)
    render_html(partial, page)
    os.replace(partial, executed)
    os.replace(runs, run_log(nb, out_dir))
    partial.with_suffix(".html").unlink(missing_ok=True)
    if not any(partial.parent.iterdir()):
        partial.parent.rmdir()
    return wall


def write_index(out_dir: Path, profile: Profile, notebooks: list[Notebook], keys: dict[str, str],
                state: dict[str, Any]) -> Path:
    """reports/<profile>/index.html: every notebook with purpose, status, wall time, profile and commit."""
    rows = []
    for nb in notebooks:
        last = state.get("notebooks", {}).get(nb.key, {})
        status = notebook_status(nb, keys, state, out_dir)
        link = f'{nb.name}.html' if status in ("done", "stale") else f"{PARTIAL_DIR}/{nb.name}.html"
        exists = (out_dir / link).exists()
        name = f'<a href="{html.escape(link)}">{html.escape(nb.name)}</a>' if exists else html.escape(nb.name)
        wall = f"{last['wall_s']:.1f} s" if "wall_s" in last else ""
        error = f'<br><small>{html.escape(last.get("error", ""))}</small>' if status == "failed" else ""
        rows.append(f'<tr class="{status.replace(" ", "-")}"><td>{name}</td><td>{html.escape(nb.purpose)}</td>'
                    f'<td>{html.escape(status)}{error}</td><td>{wall}</td><td>{html.escape(profile.name)}</td>'
                    f'<td><code>{html.escape(last.get("commit", ""))}</code></td>'
                    f'<td>{html.escape(last.get("finished", ""))}</td></tr>')
    summary = summary_section(out_dir, profile, notebooks, keys, state)
    other_code = other_code_section(out_dir, profile, notebooks, keys, state)
    deviations = []
    for nb in notebooks if not summary.gathered else []:  # the summary gathers them all into one list
        path = out_dir / "deviations" / f"{nb.key}.json"
        if path.exists():
            items = "".join(f"<li>{_inline_code(item)}</li>" for item in io.read_json(path).get("items", []))
            deviations.append(f"<h3>{html.escape(nb.name)}</h3><ul>{items}</ul>")
    tables = sorted((out_dir / "tables").glob("*.csv")) if (out_dir / "tables").exists() else []
    table_links = "".join(f'<li><a href="tables/{html.escape(t.name)}">{html.escape(t.name)}</a></li>' for t in tables)
    budget = "none" if profile.budget_minutes is None else f"{profile.budget_minutes} min on a 2-core CPU"
    smoke = '<p class="smoke">smoke — not evidence</p>' if profile.name == "smoke" else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dtlib reports — {html.escape(profile.name)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .3em .5em; text-align: left; }}
tr.done td:nth-child(3) {{ color: #070; }} tr.failed td:nth-child(3) {{ color: #b00; }}
tr.stale td:nth-child(3), tr.not-run td:nth-child(3) {{ color: #a60; }}
.smoke {{ color: #b00; font-weight: bold; font-size: 1.4em; }}
.summary-note {{ color: #a60; font-weight: bold; }}
</style></head><body>
<h1>Decision Transformer replication — profile <code>{html.escape(profile.name)}</code></h1>
{smoke}<p>{html.escape(profile.description)} Budget: {html.escape(budget)}.</p>
<p>Index written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} at commit <code>{html.escape(git_commit())}</code>.
Regenerate: <code>make reproduce PROFILE={html.escape(profile.name)}</code>.</p>
{summary.html}
<h2>Notebook reports</h2>
<table><tr><th>notebook</th><th>purpose</th><th>status</th><th>wall time</th><th>profile</th><th>commit</th><th>finished</th></tr>
{''.join(rows)}
</table>
{other_code}
<h2>Tables (CSV)</h2><ul>{table_links or '<li>none yet</li>'}</ul>
{'' if summary.gathered else '<h2>Deviations from the paper</h2>' + (''.join(deviations) or '<p>none recorded yet</p>')}
</body></html>
"""
    path = out_dir / "index.html"
    io.write_text(path, page)
    return path


def other_code_section(out_dir: Path, profile: Profile, notebooks: list[Notebook], keys: dict[str, str],
                       state: dict[str, Any]) -> str:
    """HTML listing each run folder a shown report read that was made by other code or behaviour files."""
    items, checked = [], 0
    for nb in notebooks:
        log = run_log(nb, out_dir)
        if notebook_status(nb, keys, state, out_dir) not in ("done", "stale") or not log.exists():
            continue
        checked += 1
        for name, diff in runs_from_other_code(log):
            items.append(f"<li>{html.escape(nb.name)}: <code>{html.escape(name)}</code> — "
                         f"{html.escape('; '.join(diff))}</li>")
    if not checked:
        return ""
    if not items:
        return ("<h2>Runs and code</h2><p>Every run folder the reports read was made by today's code and "
                "behaviour files.</p>")
    return ('<h2>Results made by other code</h2><p class="summary-note">These reports read run folders made by '
            "code or behaviour files other than today's; <code>make reproduce PROFILE="
            f"{html.escape(profile.name)}</code> redoes them.</p><ul>{''.join(items)}</ul>")


def notebook_status(nb: Notebook, keys: dict[str, str], state: dict[str, Any], out_dir: Path) -> str:
    """done, stale (its last successful run had another key or lost an output), failed or not run."""
    status = state.get("notebooks", {}).get(nb.key, {}).get("status", "not run")
    if status == "done" and not is_up_to_date(nb, keys[nb.key], state, out_dir):
        status = "stale"
    return status


@dataclass(frozen=True)
class SummarySection:
    """What the index leads with: the summary notebook's HTML section, or a line saying why it is missing."""

    html: str  # HTML to place first in the index
    gathered: bool  # True when the section holds the gathered deviations list (the index then omits its own)


def summary_section(out_dir: Path, profile: Profile, notebooks: list[Notebook], keys: dict[str, str],
                    state: dict[str, Any]) -> SummarySection:
    """The summary section (SUMMARY_SECTION) with a warning when it is older than the latest results."""
    nb = next((n for n in notebooks if n.key == SUMMARY_KEY), None)
    path = out_dir / SUMMARY_SECTION
    if nb is None and not path.exists():
        return SummarySection("", False)
    command = f"make reproduce PROFILE={html.escape(profile.name)}"
    if not path.exists():
        name = html.escape(nb.name)
        return SummarySection(f'<section id="summary"><h2>Summary</h2><p class="summary-note">The summary '
                              f"({name}) has not run at this profile yet: <code>{command}</code> writes it "
                              "after the experiment notebooks.</p></section>", False)
    status = notebook_status(nb, keys, state, out_dir) if nb is not None else "done"
    note = "" if status == "done" else (
        f'<p class="summary-note">This summary is {html.escape(status)}: it was computed from earlier results '
        f"than the notebooks below may now hold; <code>{command}</code> refreshes it.</p>")
    return SummarySection(note + path.read_text(), True)


def _inline_code(text: str) -> str:
    """Escape `text` for HTML, turning Markdown `code` spans into <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def run(profile_name: str, only: str | list[str] | None = None, force: bool = False, progress: bool = False,
        echo: Callable[..., None] = print) -> int:
    """Run the pipeline for one profile; returns the exit status (0 ok, 1 a notebook failed)."""
    profile = load_profile(profile_name)
    notebooks = discover()
    for nb in notebooks:
        check_profile_params(nb, profile.notebook_params(nb.key))
    targets = select(notebooks, only)
    planned = upstream_closure(notebooks, targets)
    keys = staleness_keys(notebooks, profile)
    out_dir = reports_dir(profile.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = read_state(out_dir)
    state.setdefault("notebooks", {})
    state["profile"] = profile.name
    forced = {nb.key for nb in targets} if force else set()
    start, counts = time.perf_counter(), {"done": 0, "skipped": 0}
    with pipeline_kernel() as kernel:
        for i, nb in enumerate(planned, 1):
            echo(f"[{i}/{len(planned)}] {nb.name} ... ", end="", flush=True)
            if nb.key not in forced and is_up_to_date(nb, keys[nb.key], state, out_dir):
                echo("skipped (up to date)", flush=True)
                counts["skipped"] += 1
                continue
            record = {"name": nb.name, "key": keys[nb.key], "commit": git_commit(), "profile": profile.name}
            try:
                wall = execute(nb, profile.notebook_params(nb.key), out_dir, kernel, progress)
            except NotebookFailed as failure:
                echo("FAILED", flush=True)
                record.update(status="failed", error=str(failure), finished=_now())
                state["notebooks"][nb.key] = record
                io.write_json(out_dir / STATE_FILE, state)
                write_index(out_dir, profile, notebooks, keys, state)
                echo(str(failure), file=sys.stderr, flush=True)
                return 1
            record.update(status="done", wall_s=round(wall, 2), finished=_now())
            state["notebooks"][nb.key] = record
            io.write_json(out_dir / STATE_FILE, state)
            write_index(out_dir, profile, notebooks, keys, state)
            echo(f"done {wall:.1f}s", flush=True)
            counts["done"] += 1
    index = write_index(out_dir, profile, notebooks, keys, state)
    echo(f"{_rel(index)}: {counts['done']} executed, {counts['skipped']} up to date, "
         f"{time.perf_counter() - start:.1f}s", flush=True)
    return 0


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m dtlib.pipeline --profile smoke [--only keydoor,30] [--force]`."""
    parser = argparse.ArgumentParser(prog="python -m dtlib.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", help="profiles/<name>.yaml (default: small)")
    parser.add_argument("--only", default=None, help="comma-separated notebook keys or numbers, e.g. keydoor,30")
    parser.add_argument("--force", action="store_true", help="re-execute the selected notebooks even if up to date")
    parser.add_argument("--progress", action="store_true", help="show papermill's per-cell progress bar")
    parser.add_argument("--plan", action="store_true", help="print each notebook's runs, finished runs, steps and "
                        "estimated CPU/GPU-hours (dtlib.plan); runs nothing")
    args = parser.parse_args(argv)
    try:
        if args.plan:
            from dtlib.plan import print_plan

            print_plan(args.profile)
            return 0
        return run(args.profile, only=args.only, force=args.force, progress=args.progress)
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
