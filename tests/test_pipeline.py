"""The papermill pipeline on a throw-away project of tiny notebooks (DTLIB_HOME points at a tmp folder)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dtlib import pipeline
from dtlib.paths import project_root as real_root
from dtlib.profiles import load_profile
from dtlib.validate import ParameterError


def make_notebook(path: Path, params: str, body: list[str], needs: list[str] = (), purpose: str = "tiny") -> None:
    """Write a notebook whose first code cell is the tagged parameters cell."""
    cells = [nbformat.v4.new_code_cell(params)] + [nbformat.v4.new_code_cell(src) for src in body]
    cells[0].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["dtlib"] = {"purpose": purpose, "needs": list(needs)}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with notebooks 00_a, 10_b (needs a) and 20_c, and one profile `tiny`."""
    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny.yaml").write_text(
        "description: test profile\nbudget_minutes: 1\nnotebooks:\n  a:\n    n: 3\n")
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    params = 'profile: str = "small"  # profile\nn: int = 1  # a number'
    make_notebook(nbs / "00_a.ipynb", params, [
        "from dtlib import report\nimport pandas as pd",
        'report.save_table(pd.DataFrame({"x": list(range(n))}), "a_numbers", profile)',
        'report.deviations("a", profile, ["uses `x` <not html>"])'])
    make_notebook(nbs / "10_b.ipynb", 'profile: str = "small"  # profile', [
        'import pandas as pd\nfrom dtlib.paths import reports_dir\n'
        'pd.read_csv(reports_dir(profile) / "tables" / "a_numbers.csv")'], needs=["a"])
    make_notebook(nbs / "20_c.ipynb", 'profile: str = "small"  # profile', ["1 + 1"])
    return tmp_path


def run(capsys, **kwargs) -> tuple[int, str, str]:
    status = pipeline.run("tiny", **kwargs)
    out = capsys.readouterr()
    return status, out.out, out.err


def executed(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.endswith("s") and " done " in line]


def test_discover_orders_by_number_and_reads_metadata(project):
    nbs = pipeline.discover()
    assert [nb.name for nb in nbs] == ["00_a", "10_b", "20_c"]
    assert nbs[1].needs == ("a",) and nbs[0].purpose == "tiny"


def test_discover_rejects_bad_names_and_unknown_needs(project):
    make_notebook(project / "notebooks" / "30_d.ipynb", 'profile: str = "small"  # p', [], needs=["zzz"])
    with pytest.raises(ParameterError, match="needs 'zzz'"):
        pipeline.discover()
    (project / "notebooks" / "30_d.ipynb").rename(project / "notebooks" / "Bad Name.ipynb")
    with pytest.raises(ParameterError, match="NN_key.ipynb"):
        pipeline.discover()


def test_parameters_cell_allows_only_annotated_literals():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x: int = 3  # c\ny: list = [1, "a"]  # c')])
    nb.cells[0].metadata["tags"] = ["parameters"]
    assert pipeline.parameters_cell(nb) == {"x": 3, "y": [1, "a"]}
    nb.cells[0].source = "x: int = 2 * 3  # c"
    with pytest.raises(ParameterError, match="literal"):
        pipeline.parameters_cell(nb)
    nb.cells[0].source = "x = 3"
    with pytest.raises(ParameterError, match="name: type = literal"):
        pipeline.parameters_cell(nb)
    nb.cells[0].metadata["tags"] = []
    with pytest.raises(ParameterError, match="exactly one"):
        pipeline.parameters_cell(nb)


def test_select_by_key_number_or_name_and_closure(project):
    nbs = pipeline.discover()
    assert [nb.key for nb in pipeline.select(nbs, "b,20")] == ["b", "c"]
    assert [nb.key for nb in pipeline.select(nbs, "00_a")] == ["a"]
    assert [nb.key for nb in pipeline.upstream_closure(nbs, pipeline.select(nbs, "b"))] == ["a", "b"]
    with pytest.raises(ParameterError, match="00_a"):
        pipeline.select(nbs, "nosuch")


def test_staleness_key_follows_source_params_and_upstream_not_outputs(project):
    profile, nbs = load_profile("tiny"), pipeline.discover()
    keys = pipeline.staleness_keys(nbs, profile)
    path = project / "notebooks" / "00_a.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="noise")]
    nb.cells[1].execution_count = 7
    nbformat.write(nb, path)
    assert pipeline.staleness_keys(nbs, profile) == keys
    nb.cells[1].source += "\n# edited"
    nbformat.write(nb, path)
    edited = pipeline.staleness_keys(nbs, profile)
    assert edited["a"] != keys["a"] and edited["b"] != keys["b"] and edited["c"] == keys["c"]
    (project / "profiles" / "tiny.yaml").write_text(
        "description: test profile\nbudget_minutes: 1\nnotebooks:\n  a:\n    n: 4\n")
    assert pipeline.staleness_keys(nbs, load_profile("tiny"))["a"] != edited["a"]


def test_run_skip_rerun_downstream_and_only(project, capsys):
    status, out, _ = run(capsys)
    assert status == 0 and executed(out) == ["00_a", "10_b", "20_c"]
    reports = project / "reports" / "tiny"
    for name in ("00_a", "10_b", "20_c"):
        assert (reports / f"{name}.ipynb").exists() and (reports / f"{name}.html").exists()
    assert (reports / "tables" / "a_numbers.csv").read_text().splitlines() == ["x", "0", "1", "2"]
    state = json.loads((reports / ".pipeline_state.json").read_text())
    assert {v["status"] for v in state["notebooks"].values()} == {"done"}
    index = (reports / "index.html").read_text()
    assert all(f'href="{n}.html"' in index for n in ("00_a", "10_b", "20_c")) and "tiny" in index
    assert "<li>uses <code>x</code> &lt;not html&gt;</li>" in index and 'href="tables/a_numbers.csv"' in index

    start = time.perf_counter()
    status, out, _ = run(capsys)
    assert status == 0 and executed(out) == [] and out.count("skipped (up to date)") == 3
    assert time.perf_counter() - start < 10

    path = project / "notebooks" / "00_a.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n# edited"
    nbformat.write(nb, path)
    status, out, _ = run(capsys, only="b")  # b is up to date by itself, but its upstream a is stale
    assert status == 0 and executed(out) == ["00_a", "10_b"] and "20_c" not in out

    status, out, _ = run(capsys, only="c", force=True)
    assert status == 0 and executed(out) == ["20_c"]

    (reports / "10_b.html").unlink()  # a missing output makes a notebook stale
    status, out, _ = run(capsys)
    assert executed(out) == ["10_b"]


def test_failure_names_notebook_cell_and_partial_notebook(project, capsys):
    make_notebook(project / "notebooks" / "15_boom.ipynb", 'profile: str = "small"  # profile',
                  ["x = 1", 'raise ValueError("no good\\nsecond line")'])
    status, out, err = run(capsys)
    assert status == 1 and executed(out) == ["00_a", "10_b"] and "20_c" not in out
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith("FAILED 15_boom at cell 3 (In [4]): ValueError: no good (partial notebook: ")
    partial = Path(line.rsplit("partial notebook: ", 1)[1].rstrip(")"))
    assert partial.exists() and partial.name == "15_boom.ipynb"
    assert not (project / "reports" / "tiny" / "15_boom.ipynb").exists()
    state = json.loads((project / "reports" / "tiny" / ".pipeline_state.json").read_text())
    assert state["notebooks"]["boom"]["status"] == "failed"
    assert "failed" in (project / "reports" / "tiny" / "index.html").read_text()


def test_profile_setting_unknown_parameter_is_rejected(project, capsys):
    (project / "profiles" / "tiny.yaml").write_text(
        "description: t\nbudget_minutes: 1\nnotebooks:\n  a:\n    steps: 3\n")
    with pytest.raises(ParameterError, match=r"\['steps'\].*00_a.*\['n', 'profile'\]"):
        pipeline.run("tiny")


def test_cli_unknown_profile_exits_2_with_one_line(project, capsys):
    assert pipeline.main(["--profile", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: profile='nosuch' is not allowed; choose one of ['tiny']"


def test_html_is_offline_with_embedded_figure(project, capsys):
    make_notebook(project / "notebooks" / "30_fig.ipynb", 'profile: str = "small"  # profile', [
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n%matplotlib inline",
        "from dtlib import report\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])\nreport.label_figure(fig, profile);"])
    assert run(capsys, only="fig")[0] == 0
    page = (project / "reports" / "tiny" / "30_fig.html").read_text()
    assert "data:image/png;base64," in page
    assert "<script src=" not in page and "cdnjs" not in page and "mathjax" not in page.lower()


def test_bad_parameter_through_papermill_fails_fast_naming_it(tmp_path, monkeypatch):
    """The real 00_environment with profile='nosuchprofile': one line naming `profile` and the allowed ones."""
    monkeypatch.setenv("DTLIB_HOME", str(real_root()))
    nb = next(nb for nb in pipeline.discover(real_root() / "notebooks") if nb.key == "environment")
    start = time.perf_counter()
    with pipeline.pipeline_kernel() as kernel, pytest.raises(pipeline.NotebookFailed) as failure:
        pipeline.execute(nb, {"profile": "nosuchprofile"}, tmp_path, kernel)
    message = str(failure.value)
    assert len(message.splitlines()) == 1 and time.perf_counter() - start < 60
    assert "ParameterError: profile='nosuchprofile' is not allowed; choose one of ['paper', 'small', 'smoke']" in message
    assert "00_environment" in message and str(tmp_path / "partial" / "00_environment.ipynb") in message


def test_needs_star_is_every_earlier_notebook_and_follows_their_keys(project):
    make_notebook(project / "notebooks" / "90_summary.ipynb", 'profile: str = "small"  # profile', ["1"],
                  needs=["*"])
    nbs = pipeline.discover()
    assert nbs[-1].needs == ("a", "b", "c")
    keys = pipeline.staleness_keys(nbs, load_profile("tiny"))
    path = project / "notebooks" / "20_c.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n# edited"
    nbformat.write(nb, path)
    edited = pipeline.staleness_keys(pipeline.discover(), load_profile("tiny"))
    assert edited["summary"] != keys["summary"] and edited["a"] == keys["a"]  # an upstream edit reruns the summary
    assert [nb.name for nb in pipeline.upstream_closure(nbs, pipeline.select(nbs, "summary"))] == \
        ["00_a", "10_b", "20_c", "90_summary"]


SUMMARY_CELL = ('from dtlib import io\nfrom dtlib.paths import reports_dir\n'
                'io.write_text(reports_dir(profile) / "summary" / "section.html", '
                '"<section id=\\"summary\\"><h2>Summary: claims</h2><p>n=" + str(n) + "</p></section>")')


def test_index_leads_with_the_summary_then_links_each_report(project, capsys):
    make_notebook(project / "notebooks" / "90_summary.ipynb", 'profile: str = "small"  # profile\nn: int = 1  # n',
                  [SUMMARY_CELL], needs=["*"])
    status, out, _ = run(capsys, only="a")  # the summary has not run yet: the index says so first
    index = (project / "reports" / "tiny" / "index.html").read_text()
    assert status == 0 and "The summary (90_summary) has not run at this profile yet" in index
    assert index.index('id="summary"') < index.index("<h2>Notebook reports</h2>")
    assert "<h2>Deviations from the paper</h2>" in index  # no summary: the index lists them itself

    status, out, _ = run(capsys)
    index = (project / "reports" / "tiny" / "index.html").read_text()
    assert status == 0 and executed(out) == ["10_b", "20_c", "90_summary"]
    assert index.index("<h2>Summary: claims</h2><p>n=1</p>") < index.index("<h2>Notebook reports</h2>")
    assert all(f'href="{n}.html"' in index for n in ("00_a", "10_b", "20_c", "90_summary"))
    assert "<h2>Deviations from the paper</h2>" not in index  # the summary section gathers them
    assert "This summary is" not in index

    path = project / "notebooks" / "20_c.ipynb"  # an upstream change: the kept summary is marked stale
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n# edited"
    nbformat.write(nb, path)
    status, out, _ = run(capsys, only="c")
    index = (project / "reports" / "tiny" / "index.html").read_text()
    assert executed(out) == ["20_c"] and "This summary is stale" in index and "n=1" in index


def test_code_digest_ignores_comments_and_docstrings(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text('"""Doc."""\nX = 1\n')
    before = pipeline.code_digest(pkg)
    (pkg / "m.py").write_text('"""Reworded doc."""\n# a comment\nX = 1  # why\n')
    assert pipeline.code_digest(pkg) == before
    (pkg / "m.py").write_text('"""Doc."""\nX = 2\n')
    assert pipeline.code_digest(pkg) != before


def test_index_lists_the_runs_a_report_read_that_other_code_made(project, capsys):
    """A notebook reads two run folders (through dtlib.results.note_use, in its kernel): one made by today's code,
    one whose dtlib.model digest differs. The index names the second only."""
    from dtlib.data.episodes import EpisodeDataset
    from dtlib.identity import run_identity

    data = EpisodeDataset.from_episodes([dict(observations=np.zeros((3, 2), np.float32),
                                              actions=np.zeros((3, 1), np.float32), rewards=np.ones(3))])
    today = run_identity("hopper", "gym", data)
    old = {**today, "modules": {**today["modules"], "dtlib.model": "0" * 16}, "code": "0" * 16}
    folders = {}
    for name, ident in (("hopper-x-dt-dense-s0-today", today), ("hopper-x-dt-dense-s0-older", old)):
        folders[name] = project / "runs" / name
        folders[name].mkdir(parents=True)
        (folders[name] / "config.json").write_text(json.dumps({"RunConfig": {"env": "hopper"}, "identity": ident}))
    reads = "".join(f"note_use(RunDir.open({str(p)!r}))\n" for p in folders.values())
    make_notebook(project / "notebooks" / "20_c.ipynb", 'profile: str = "small"  # profile',
                  ["from dtlib.results import RunDir, note_use\n" + reads])
    status, out, _ = run(capsys, only="c")
    index = (project / "reports" / "tiny" / "index.html").read_text()
    assert status == 0 and "<h2>Results made by other code</h2>" in index
    assert "20_c: <code>hopper-x-dt-dense-s0-older</code> — dtlib.model changed" in index
    assert "hopper-x-dt-dense-s0-today" not in index
    (folders["hopper-x-dt-dense-s0-older"] / "config.json").write_text(
        json.dumps({"RunConfig": {"env": "hopper"}, "identity": today}))
    pipeline.run("tiny", only="a", echo=lambda *a, **k: None)  # any later run rewrites the index
    index = (project / "reports" / "tiny" / "index.html").read_text()
    assert "Results made by other code" not in index and "made by today's code" in index
