"""Continuous CQL updates per second at d3rlpy's default sizes (issue 8's speed reference).

d3rlpy's CQL defaults: batch 256, two 256×256 critics and a 256×256 actor, 10 sampled actions per
source; obs 11 / act 3 is Hopper. d3rlpy reports ≈ 19 updates/s on a 2-core CPU; the goal is ≥ 1.5×.
The machine this runs on may be shared, so absolute numbers move with the load: the useful figure is
the ratio to d3rlpy measured in the same process, blocks interleaved (A, B, A, B, ...), which is
printed when d3rlpy is importable (it cannot live in the project venv — it pins gymnasium 1.0 — so
point PYTHONPATH at a separate install, e.g. `pip install --target /tmp/d3 --no-deps d3rlpy gymnasium==1.0.0
gym structlog colorama dataclasses-json marshmallow typing-inspect mypy-extensions`).

    python benchmarks/bench_cql.py [--seconds 5] [--rounds 3] [--threads 1 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dtlib.baselines.cql import CQLConfig, CQLLearner, ContinuousCQL  # noqa: E402
from dtlib.data.episodes import EpisodeDataset  # noqa: E402
from dtlib.data.transitions import TransitionSampler  # noqa: E402
from dtlib.data.windows import to_torch  # noqa: E402

OBS, ACT, BATCH, N_STEPS = 11, 3, 256, 20_000  # Hopper sizes, d3rlpy batch, a 20-episode dataset


def _data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"observations": rng.standard_normal((N_STEPS, OBS)).astype(np.float32),
            "actions": rng.uniform(-1, 1, (N_STEPS, ACT)).astype(np.float32),
            "rewards": rng.standard_normal(N_STEPS).astype(np.float32),
            "terminals": np.arange(N_STEPS) % 1000 == 999}


def dtlib_step_fn(precision: str = "fp32") -> Callable[[], None]:
    """One dtlib CQL update as the training loop does it: sample, to tensors, update."""
    d = _data()
    data = EpisodeDataset(d["observations"], d["actions"], d["rewards"], d["terminals"],
                          np.zeros(N_STEPS, bool), np.arange(0, N_STEPS, 1000))
    mean, std = data.state_stats()
    torch.manual_seed(0)
    learner = CQLLearner(ContinuousCQL(CQLConfig(obs_shape=(OBS,), act_dim=ACT, precision=precision,
                                                 state_mean=tuple(mean.tolist()), state_std=tuple(std.tolist()))))
    sampler = TransitionSampler(data, seed=0)
    return lambda: learner.update(to_torch(sampler.sample(BATCH)))


def d3rlpy_step_fn() -> Callable[[], None] | None:
    """One d3rlpy CQL update at its defaults (None when d3rlpy is not importable)."""
    try:
        import d3rlpy
    except Exception:  # noqa: BLE001 (any import failure means: no reference available)
        return None
    d = _data()
    ds = d3rlpy.dataset.MDPDataset(d["observations"], d["actions"], d["rewards"], d["terminals"].astype(np.float32))
    algo = d3rlpy.algos.CQLConfig().create(device="cpu:0")
    algo.build_with_dataset(ds)
    return lambda: algo.update(ds.sample_transition_batch(BATCH))


def rate(step: Callable[[], None], seconds: float) -> float:
    """Updates per second of `step` over about `seconds` (after 3 warm-up calls)."""
    for _ in range(3):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def bench_cql(seconds: float = 5.0, rounds: int = 3, threads: int = 1, reference: bool = True) -> dict:
    """dtlib CQL updates/s in fp32 and bf16 (medians over interleaved rounds), d3rlpy's and the ratios."""
    torch.set_num_threads(threads)
    steps = {"fp32": dtlib_step_fn("fp32"), "bf16": dtlib_step_fn("bf16")}
    ref = d3rlpy_step_fn() if reference else None
    if ref is not None:
        steps["d3rlpy"] = ref
    rates: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for k, step in steps.items():
            rates[k].append(rate(step, seconds))
    out = {"name": "cql_continuous_updates_per_s", "threads": threads, "batch": BATCH, "obs": OBS, "act": ACT,
           "updates_per_s": statistics.median(rates["fp32"]), "bf16_updates_per_s": statistics.median(rates["bf16"])}
    if ref is not None:
        out["d3rlpy_updates_per_s"] = statistics.median(rates["d3rlpy"])
        for k in ("fp32", "bf16"):
            out[f"{k}_ratio_vs_d3rlpy"] = statistics.median(x / y for x, y in zip(rates[k], rates["d3rlpy"]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    for t in args.threads:
        r = bench_cql(args.seconds, args.rounds, t)
        line = f"threads={t}: dtlib CQL fp32 {r['updates_per_s']:.1f}, bf16 {r['bf16_updates_per_s']:.1f} updates/s"
        if "d3rlpy_updates_per_s" in r:
            line += (f"; d3rlpy {r['d3rlpy_updates_per_s']:.1f} updates/s; ratio fp32 {r['fp32_ratio_vs_d3rlpy']:.2f}x,"
                     f" bf16 {r['bf16_ratio_vs_d3rlpy']:.2f}x")
        print(line, flush=True)


if __name__ == "__main__":
    main()
