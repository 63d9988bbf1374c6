"""`make bench`: ours against the reference implementations, measured interleaved in one process (issue 17).

Each row times ours and the reference on the same machine, in the same process, alternating (A, B, A, B, ...),
`--rounds` times per torch thread count; the ratio is taken within each round and the median is reported.

  dt_train        our DT training step on its fast path for this CPU (precision 'auto': bf16 only with a bf16 matmul
                  unit; packed dropout masks) vs the official step (benchmarks/official_gym_dt.py: per-sample
                  get_batch, GPT-2, three heads, clip 0.25, AdamW). Paper's Gym config: K=20, 3 layers, 1 head, 128,
                  batch 64, Hopper shapes. Goal >= 3x.
  dt_train_paper  our DT at the paper-identical settings (fp32, Bernoulli dropout) vs the same official step.
  gpt2_stack      the official step on transformers 5.x's GPT2Model (eager) vs on the rebuilt 4.5.1 block the official
                  code vendors: the one difference of the baseline, measured (ratio > 1: the rebuilt block is faster).
  bc_train_128/256 our MLPBC (gym/bc preset at width 128 / 256) vs the official MLPBCModel + ActTrainer. Goal >= 5x.
  eval_50         our rollout, 50 Hopper episodes in lockstep, vs the official one-episode loop at its BEST thread
                  count among those measured (env-steps/s). Goal >= 10x.
  cql             our continuous CQL update (precision 'auto') vs d3rlpy 2.8.1's at its defaults. Goal >= 2x.

For each row: the matmul FLOPs of one step (torch's FlopCounterMode: mm/addmm/bmm/attention, forward and backward)
times its rate, as a fraction of the measured peak (`dtlib.compute.matmul_gflops` at a DT layer's shape, same
precision and threads, interleaved with the rows) — how far each is from the machine's matmul limit. Nothing here
asserts a time. The references come from `make bench-deps` (.bench-deps/); without transformers the official DT runs
on the rebuilt 4.5.1 block, without d3rlpy the CQL row is left out.

    .venv/bin/python benchmarks/compare.py [--threads 1,2] [--rounds 3] [--out reports/bench.json]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))
sys.path.append(str(HERE.parent / ".bench-deps"))  # after site-packages: the venv's gymnasium wins over d3rlpy's pin

import official_gym_dt as official  # noqa: E402
import run as bench  # noqa: E402

from dtlib import compute, io  # noqa: E402
from dtlib.config import get_preset  # noqa: E402
from dtlib.model import MLPBC, DecisionTransformer  # noqa: E402
from dtlib.paths import project_root  # noqa: E402
from dtlib.train import TrainConfig  # noqa: E402

GOALS = {"dt_train": 3.0, "bc_train_128": 5.0, "bc_train_256": 5.0, "eval_50": 10.0, "cql": 2.0}


def count_flops(fn: Callable[[], object]) -> float:
    """Matmul FLOPs (forward and backward) of one call of `fn`."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def d3rlpy_version() -> str | None:
    try:
        import d3rlpy
    except Exception:  # noqa: BLE001 (any import failure: no reference)
        return None
    return d3rlpy.__version__


class Case:
    """One timed side of a row: `run()` returns a rate (per second) and CPU ms per unit; `flops` per unit."""

    def __init__(self, run: Callable[[], dict], key: str, flops: float, precision: str, what: str):
        self.run, self.key, self.flops, self.precision, self.what = run, key, flops, precision, what


def train_case(tb, steps: int, precision: str, what: str) -> Case:
    return Case(lambda: tb(steps), "steps_per_s", count_flops(lambda: tb(1)), precision, what)


def build_cases(threads: tuple[int, ...], sizes: dict, log: Callable[[str], None]) -> tuple[dict, dict]:
    """rows: name -> (ours Case, reference Case); the same data and models for every thread count."""
    data = bench.synthetic_dataset(100_000)
    fast = compute.resolve_precision("auto")
    stack = "hf" if official.transformers_version() else "v451"
    bc_preset = get_preset("gym", "bc")
    s = sizes
    log(f"building cases (precision auto -> {fast}, official GPT-2 stack: {stack})")
    ours_dt = bench.TrainBench(DecisionTransformer(bench.model_config(data, dropout_masks="packed")), data,
                               TrainConfig(device="cpu", precision=fast), 2)
    paper_dt = bench.TrainBench(DecisionTransformer(bench.model_config(data)), data, TrainConfig(device="cpu"), 2)
    off_dt = official.OfficialStep(data, warmup=2, stack=stack)
    rows = {
        "dt_train": (train_case(ours_dt, s["dt_steps"], fast, f"dtlib DT, {fast}, packed dropout masks"),
                     train_case(off_dt, s["dt_steps"], "fp32", f"official DT on GPT-2 ({stack})")),
        "dt_train_paper": (train_case(paper_dt, s["dt_steps"], "fp32", "dtlib DT, fp32, Bernoulli dropout"),
                           train_case(off_dt, s["dt_steps"], "fp32", f"official DT on GPT-2 ({stack})")),
    }
    if stack == "hf":
        off_451 = official.OfficialStep(data, warmup=2, stack="v451")
        rows["gpt2_stack"] = (
            train_case(off_451, s["dt_steps"], "fp32", "official DT on the rebuilt transformers-4.5.1 block"),
            train_case(off_dt, s["dt_steps"], "fp32", f"official DT on transformers {official.transformers_version()}"))
    for width in (128, 256):
        model_cfg = {**bc_preset.model, "embed_dim": width}
        ours_bc = bench.TrainBench(MLPBC(bench.model_config(data, **model_cfg, dropout_masks="packed")), data,
                                   TrainConfig(**{**bc_preset.train, "device": "cpu", "precision": fast}), 10)
        off_bc = official.OfficialStep(data, warmup=10, bc=True, hidden=width)
        rows[f"bc_train_{width}"] = (
            train_case(ours_bc, s["bc_steps"], fast, f"dtlib MLPBC {width}x3, {fast}, packed masks"),
            train_case(off_bc, s["bc_steps"], "fp32", f"official MLPBCModel {width}x3 + ActTrainer"))
    mean, std = data.state_stats()
    eval_model = DecisionTransformer(bench.model_config(data))
    # the official rollout on the rebuilt 4.5.1 block, the stack the official code runs: at batch 1 it was
    # 1.07-1.45x faster than transformers 5.x's GPT2Model (docs/speed.md), so the fairer baseline
    torch.manual_seed(0)
    off_eval_model = official.OfficialDT("v451")
    n_eval = s["eval_steps"]
    eval_flops = count_flops(lambda: bench.eval_bench(eval_model, 50, 2, fast)) / (50 * 2)
    off_eval_flops = count_flops(lambda: official.official_eval(off_eval_model, 2, mean, std)) / 2
    rows["eval_50"] = (
        Case(lambda: bench.eval_bench(eval_model, 50, n_eval, fast), "env_steps_per_s", eval_flops, fast,
             f"dtlib evaluate, 50 Hopper episodes in lockstep, {fast}"),
        Case(lambda: official.official_eval(off_eval_model, n_eval, mean, std), "env_steps_per_s", off_eval_flops,
             "fp32", "official evaluate_episode_rtg (rebuilt 4.5.1 GPT-2), one episode, its best thread count"))
    if d3rlpy_version():
        import bench_cql

        ours_cql, ref_cql = bench_cql.dtlib_step_fn(fast), bench_cql.d3rlpy_step_fn()
        rate = lambda step: {"updates_per_s": bench_cql.rate(step, s["cql_seconds"])}  # noqa: E731
        rows["cql"] = (Case(lambda: rate(ours_cql), "updates_per_s", count_flops(ours_cql), fast,
                            f"dtlib CQL, {fast}"),
                       Case(lambda: rate(ref_cql), "updates_per_s", count_flops(ref_cql), "fp32",
                            f"d3rlpy {d3rlpy_version()} CQL defaults"))
    return rows, {"precision_auto": fast, "official_stack": stack}


def run_compare(threads: tuple[int, ...] = (1, 2), rounds: int = 3, sizes: dict | None = None,
                log: Callable[[str], None] = print) -> dict:
    """Every row `rounds` times per thread count, interleaved; peaks measured in the same rounds."""
    s = {"dt_steps": 3, "bc_steps": 40, "eval_steps": 100, "cql_seconds": 2.0, "peak_seconds": 0.5, **(sizes or {})}
    load_before, wall0 = os.getloadavg(), time.perf_counter()
    rows, meta = build_cases(threads, s, log)
    precisions = sorted({c.precision for pair in rows.values() for c in pair})
    raw: dict = {str(t): {name: {"ours": [], "ref": []} for name in rows} for t in threads}
    peaks: dict = {str(t): {p: [] for p in precisions} for t in threads}
    for r in range(rounds):
        for t in threads:
            torch.set_num_threads(t)
            for p in precisions:
                peaks[str(t)][p].append(compute.matmul_gflops(p, t, s["peak_seconds"])["gflops_wall"])
            for name, (ours, ref) in rows.items():
                for side, case in (("ours", ours), ("ref", ref)):
                    raw[str(t)][name][side].append(case.run())
                a, b = raw[str(t)][name]["ours"][-1], raw[str(t)][name]["ref"][-1]
                log(f"round {r + 1}/{rounds} threads={t} {name}: ours {a[ours.key]:.4g}, ref {b[ref.key]:.4g} "
                    f"({a[ours.key] / b[ref.key]:.2f}x)")
    out_rows = []
    flags = compute.compute_info()
    for name, (ours, ref) in rows.items():
        for t in threads:
            rr = raw[str(t)][name]
            o = statistics.median(x[ours.key] for x in rr["ours"])
            f = statistics.median(x[ref.key] for x in rr["ref"])
            ratio = statistics.median(x[ours.key] / y[ref.key] for x, y in zip(rr["ours"], rr["ref"]))
            ref_threads = t
            if name == "eval_50":  # against the official loop at its best thread count among those measured
                best = {u: statistics.median(x[ref.key] for x in raw[str(u)][name]["ref"]) for u in threads}
                ref_threads = max(best, key=best.get)
                f = best[ref_threads]
                ratio = o / f
            peak = lambda p, u: statistics.median(peaks[str(u)][p])  # noqa: E731
            goal = GOALS.get(name)
            out_rows.append({
                "name": name, "threads": t, "unit": ours.key, "ours": o, "official": f, "ratio": ratio,
                "goal": goal, "met": None if goal is None else ratio >= goal,
                "precision": ours.precision, "official_precision": ref.precision, "official_threads": ref_threads,
                "ours_what": ours.what, "official_what": ref.what,
                "ours_gflop_per_unit": ours.flops / 1e9, "official_gflop_per_unit": ref.flops / 1e9,
                "peak_gflops": peak(ours.precision, t), "official_peak_gflops": peak(ref.precision, ref_threads),
                "ours_peak_fraction": ours.flops * o / 1e9 / peak(ours.precision, t),
                "official_peak_fraction": ref.flops * f / 1e9 / peak(ref.precision, ref_threads),
                "cpu_flags": flags["flags"], "bf16_matmul": flags["bf16_matmul"]})
    return {"machine": bench.machine(), "compute": flags, "load_avg_before": list(load_before),
            "load_avg_after": list(os.getloadavg()), "threads": list(threads), "rounds": rounds, "sizes": s,
            "wall_s": time.perf_counter() - wall0, "transformers": official.transformers_version(),
            "d3rlpy": d3rlpy_version(), **meta, "goals": GOALS,
            "peaks_gflops": {t: {p: statistics.median(v) for p, v in d.items()} for t, d in peaks.items()},
            "rows": out_rows, "raw": raw}


LABELS = {"dt_train": "DT training, fast path", "dt_train_paper": "DT training, paper settings (fp32)",
          "gpt2_stack": "official DT: rebuilt 4.5.1 block / transformers 5.x", "bc_train_128": "BC training, width 128",
          "bc_train_256": "BC training, width 256", "eval_50": "evaluation, 50 parallel vs official best",
          "cql": "CQL updates vs d3rlpy"}


def ratio_range(report: dict, row: dict) -> tuple[float, float]:
    """Lowest and highest per-round ratio of a row (evaluation: each round's ours over the official's best median)."""
    rr = report["raw"][str(row["threads"])][row["name"]]
    key = row["unit"]
    refs = [row["official"]] * len(rr["ours"]) if row["name"] == "eval_50" else [y[key] for y in rr["ref"]]
    ratios = [x[key] / y for x, y in zip(rr["ours"], refs)]
    return min(ratios), max(ratios)


def format_rows(report: dict) -> str:
    """The rows as a Markdown table: ours, reference, ratio, goal, and each side's fraction of the matmul peak."""
    lines = ["| row | threads | precision | ours | reference | ratio (rounds' range) | goal | met | ours / peak "
             "| ref / peak |", "|---|---:|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in report["rows"]:
        lo, hi = ratio_range(report, r)
        unit = {"steps_per_s": "steps/s", "env_steps_per_s": "env-steps/s", "updates_per_s": "updates/s"}[r["unit"]]
        ref = f"{r['official']:.3g}" + (f" ({r['official_threads']} thr)" if r["official_threads"] != r["threads"]
                                         else "")
        goal = "" if r["goal"] is None else f">= {r['goal']:g}x"
        met = "" if r["met"] is None else ("met" if r["met"] else "not met")
        lines.append(f"| {LABELS.get(r['name'], r['name'])} | {r['threads']} | {r['precision']} | "
                     f"{r['ours']:.3g} {unit} | {ref} | {r['ratio']:.2f}x ({lo:.2f}-{hi:.2f}) | {goal} | {met} | "
                     f"{r['ours_peak_fraction']:.0%} | {r['official_peak_fraction']:.0%} |")
    return "\n".join(lines)


def profiles(threads: int, steps: int, log: Callable[[str], None]) -> dict:
    """torch.profiler tables of one DT step (benchmarks/profile_dt.py): paper settings, and the fast path."""
    import profile_dt

    fast = compute.resolve_precision("auto")
    out = {}
    for name, (precision, masks) in {"paper": ("fp32", "bernoulli"), "fast": (fast, "packed")}.items():
        log(f"profiling a DT step ({name}: {precision}, {masks} masks, {threads} threads)")
        rep = profile_dt.profile_step(threads, steps, 2, precision, masks)
        out[name] = {k: rep[k] for k in ("threads", "steps", "precision", "dropout_masks", "wall_ms_per_step",
                                         "classes", "matmul_share", "top_ops", "load_avg")}
    return out


def _met_line(r: dict) -> str:
    verdict = "met" if r["met"] else "**not met**"
    return (f"- {LABELS[r['name']]}, {r['threads']} thread(s): {r['ratio']:.2f}x against a goal of {r['goal']:g}x "
            f"— {verdict}")


def format_doc(report: dict, source: str) -> str:
    """docs/speed.md's measured part, generated from one `make bench` report (JSON at `source`)."""
    m, c = report["machine"], report["compute"]
    lines = [
        "<!-- generated by benchmarks/compare.py from " + source + "; do not edit by hand -->",
        f"## Measured: ours against the references (`make bench`), {m['cpu']}, bf16 unit {c['bf16_matmul']}", "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, torch {m['torch']} (ISA {c['torch_isa']}), "
        f"bf16 matmul unit: **{c['bf16_matmul']}** (precision 'auto' -> **{c['auto_precision']}**), "
        f"CPU flags: {', '.join(c['flags']) or 'none listed'}. Commit {m['git_commit'][:12]}, {m['date']}.",
        f"Load average before / after: {' '.join(f'{x:.1f}' for x in report['load_avg_before'])} / "
        f"{' '.join(f'{x:.1f}' for x in report['load_avg_after'])} (the machine has {m['cpus']} cores; "
        + ("quiet before the run: the 1-minute load under half the cores)."
           if report["load_avg_before"][0] < 0.5 * m["cpus"]
           else "other jobs ran beside the benchmark, so absolute rates are low and only the same-round ratios "
                "mean much)."),
        f"Median of {report['rounds']} interleaved rounds per thread count ({report['wall_s'] / 60:.0f} min in all); "
        f"official DT on GPT-2 `{report['official_stack']}`; transformers {report['transformers']}, "
        f"d3rlpy {report['d3rlpy']}.", "",
        "Measured matmul peak ([3840, 128] x [128, 512], wall clock): " + "; ".join(
            f"{t} thread(s): " + ", ".join(f"{p} {g:.1f} GFLOP/s" for p, g in d.items())
            for t, d in report["peaks_gflops"].items()) + ".", "",
        format_rows(report), "",
        "'ours / peak' and 'ref / peak': the step's matmul FLOPs (forward and backward, torch's FlopCounterMode) "
        "times its measured rate, as a share of the measured peak at the same precision and threads.", "",
        "### The goals, one by one", ""]
    lines += [_met_line(r) for r in report["rows"] if r["goal"] is not None]
    for name, prof in sorted(report.get("profile", {}).items(), key=lambda kv: kv[0] != "paper"):
        lines += ["", f"### Profile of one DT training step: {name} ({prof['precision']}, {prof['dropout_masks']} "
                      f"dropout masks, {prof['threads']} threads, {prof['steps']} steps)", ""]
        wall = prof["wall_ms_per_step"]
        lines += ["| op class | ms / step | share |", "|---|---:|---:|"]
        classes = sorted(prof["classes"].items(), key=lambda kv: -kv[1])
        lines += [f"| {k} | {v:.1f} | {v / wall:.0%} |" for k, v in classes]
        lines += [f"| **step (wall)** | **{wall:.1f}** | 100% |", "",
                  f"Matmul and attention kernels: {prof['matmul_share']:.0%} of the step "
                  f"(load average {prof['load_avg'][0]:.1f})."]
    return "\n".join(lines) + "\n"


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def markers(section: str | None) -> tuple[str, str]:
    """The comment pair that encloses a generated section: the default one, or a named one (`--section amx`), so one
    document can hold a measured section per machine."""
    if section is None:
        return START, END
    if not section.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"--section must be letters, digits, '-' or '_', got {section!r}")
    return f"<!-- bench:start {section} -->", f"<!-- bench:end {section} -->"


def write_doc(path: Path, generated: str, section: str | None = None) -> None:
    """Write the generated summary to `path`; where the file has the section's markers, replace only what lies
    between them (docs/speed.md keeps its hand-written prose around the measured parts). A named section whose
    markers the file lacks is appended with them; the default section without markers replaces the file."""
    start, end = markers(section)
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        text = head + start + "\n" + generated + end + rest.split(end, 1)[1]
    elif section is not None and old:
        text = old.rstrip("\n") + "\n\n" + start + "\n" + generated + end + "\n"
    else:
        text = generated
    io.write_text(path, text)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts, e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dt-steps", type=int, default=3, help="timed DT steps per measurement")
    ap.add_argument("--eval-steps", type=int, default=100, help="steps of each evaluation episode")
    ap.add_argument("--profile-steps", type=int, default=4, help="profiled DT steps (0: no profile)")
    ap.add_argument("--out", type=Path, default=project_root() / "reports" / "bench.json")
    ap.add_argument("--doc", type=Path, default=None, help="also write the Markdown summary here, between the bench "
                                                            "markers if the file has them (default: beside --out, "
                                                            "speed.md)")
    ap.add_argument("--from-json", type=Path, default=None, help="measure nothing: regenerate --doc from this report")
    ap.add_argument("--section", default=None, help="write between the markers '<!-- bench:start NAME -->' and "
                                                     "'<!-- bench:end NAME -->' (one section per machine)")
    args = ap.parse_args(argv)
    try:
        markers(args.section)
    except ValueError as e:
        ap.error(str(e))
    if args.from_json:
        report = io.read_json(args.from_json)
        write_doc(args.doc or args.from_json.with_name("speed.md"), format_doc(report, args.from_json.name), args.section)
        return report
    try:
        threads = tuple(int(t) for t in args.threads.split(",") if t)
    except ValueError:
        ap.error(f"--threads must be comma-separated positive integers, got {args.threads!r}")
    if not threads or min(threads) < 1:
        ap.error(f"--threads must be comma-separated positive integers, got {args.threads!r}")
    if args.profile_steps < 0:
        ap.error(f"--profile-steps must be >= 0, got {args.profile_steps}")
    for name in ("rounds", "dt_steps", "eval_steps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    report = run_compare(threads, args.rounds, {"dt_steps": args.dt_steps, "eval_steps": args.eval_steps}, log)
    if args.profile_steps:
        report["profile"] = profiles(max(threads), args.profile_steps, log)
    io.write_json(args.out, report)
    doc = args.doc or args.out.with_name("speed.md")
    write_doc(doc, format_doc(report, args.out.name), args.section)
    print(format_rows(report))
    print(f"\nwritten to {args.out} and {doc}")
    return report


if __name__ == "__main__":
    main()
