"""Where one Key-to-Door DT training step spends its time (issue 15.2): batch building vs the update, by op class.

The real small-profile run: the 10K random-policy dataset, preset 'keydoor/dt' (embedding encoder, width 64,
2 layers, 4 heads, K = 40 = whole episode, batch 32; `--batch-size 128` is small's), `WindowSampler(from_start=True)` and `SupervisedLearner`
exactly as `dtlib.experiment.run` builds them. Times the sampler + `to_torch` and the update separately, then
profiles the update with torch.profiler (op classes of benchmarks/profile_dt.py). Nothing here asserts a time.

    .venv/bin/python benchmarks/profile_keydoor.py [--threads 1] [--steps 200] [--precision fp32]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_dt import op_class  # noqa: E402

from dtlib.config import get_preset  # noqa: E402
from dtlib.data.generate import keydoor_dataset  # noqa: E402
from dtlib.data.windows import WindowSampler, to_torch  # noqa: E402
from dtlib.experiment import RunConfig, build_model  # noqa: E402
from dtlib.seeding import seed_everything  # noqa: E402
from dtlib.train import SupervisedLearner, TrainConfig  # noqa: E402


def setup(episodes: int, precision: str, dropout_masks: str, batch_size: int = 0, n_head: int = 0):
    """Model, sampler and learner as `dtlib.experiment.run` builds them for a Key-to-Door DT run (`batch_size`,
    `n_head`: 0 keeps the preset's)."""
    data = keydoor_dataset(episodes, 0)
    rc = RunConfig("keydoor", f"{episodes // 1000}k", "dt", seed=0)
    seed_everything(0)
    model = build_model(rc, data, {"dropout_masks": dropout_masks, **({"n_head": n_head} if n_head else {})})
    preset = get_preset("keydoor", "dt")
    cfg = TrainConfig(**{**preset.train, "device": "cpu", "precision": precision,
                         **({"batch_size": batch_size} if batch_size else {})})
    sampler = WindowSampler(data, model.context_len, seed=0, from_start=True)
    return sampler, SupervisedLearner(model, cfg), cfg


def measure(threads: int, steps: int, precision: str, dropout_masks: str, episodes: int, batch_size: int = 0) -> dict:
    torch.set_num_threads(threads)
    sampler, learner, cfg = setup(episodes, precision, dropout_masks, batch_size)
    for _ in range(5):  # warm-up
        learner.update(to_torch(sampler.sample(cfg.batch_size)))
    t0 = time.perf_counter()
    batches = [to_torch(sampler.sample(cfg.batch_size)) for _ in range(steps)]
    batch_ms = 1000 * (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for b in batches:
        learner.update(b)
    update_ms = 1000 * (time.perf_counter() - t0) / steps
    n_prof = min(steps, 50)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for b in batches[:n_prof]:
            learner.update(b)
        prof_wall_ms = 1000 * (time.perf_counter() - t0) / n_prof
    per_class: dict[str, float] = {}
    ops = []
    for e in prof.key_averages():
        if e.key.startswith("aten::") or "mkldnn" in e.key:
            ms = e.self_cpu_time_total / 1000 / n_prof
            per_class[op_class(e.key)] = per_class.get(op_class(e.key), 0.0) + ms
            ops.append((e.key, ms, e.count / n_prof))
    per_class["Python / dispatch / unattributed"] = max(0.0, prof_wall_ms - sum(per_class.values()))
    ops.sort(key=lambda r: -r[1])
    return {"threads": threads, "precision": precision, "dropout_masks": dropout_masks, "batch_ms": batch_ms,
            "update_ms": update_ms, "steps_per_s": 1000 / (batch_ms + update_ms), "prof_wall_ms": prof_wall_ms,
            "classes": dict(sorted(per_class.items(), key=lambda kv: -kv[1])), "top_ops": ops[:12],
            "load_avg": os.getloadavg()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--dropout-masks", default="bernoulli", choices=["bernoulli", "packed"])
    ap.add_argument("--batch-size", type=int, default=0, help="episodes per batch (0: the preset's 32; small uses 128)")
    args = ap.parse_args(argv)
    r = measure(args.threads, args.steps, args.precision, args.dropout_masks, args.episodes, args.batch_size)
    print(f"threads {r['threads']}, {r['precision']}, dropout {r['dropout_masks']}: batch {r['batch_ms']:.2f} ms + "
          f"update {r['update_ms']:.2f} ms = {r['steps_per_s']:.1f} steps/s; load average {r['load_avg']}")
    print("| op class (profiled update) | ms / step | share |\n|---|---:|---:|")
    for cls, ms in r["classes"].items():
        print(f"| {cls} | {ms:.2f} | {ms / r['prof_wall_ms']:.0%} |")
    print(f"| **update (wall, profiled)** | **{r['prof_wall_ms']:.2f}** | 100% |")
    for name, ms, calls in r["top_ops"]:
        print(f"  {name:<50}{ms:7.3f} ms {calls:5.0f} calls")


if __name__ == "__main__":
    main()
