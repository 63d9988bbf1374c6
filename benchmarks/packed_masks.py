"""Do packed dropout masks pay for the Key-to-Door DT? Bernoulli vs packed, interleaved in one process.

The real small-profile training step (issue 17.2): the 10K random-policy dataset, preset 'keydoor/dt', batch 32,
`WindowSampler` + `to_torch` + `SupervisedLearner.update` as `dtlib.experiment.run` builds them
(`profile_keydoor.setup`). Each round times `--steps` steps of each mask kind back to back (the order alternates
between rounds, so a load change on a shared machine hits both kinds alike) in CPU time of this process
(`time.process_time`, not wall time). Prints the per-round ratios bernoulli / packed and their median
(> 1: packed is faster), for the whole step and for the update alone. Nothing here asserts a time.

    nice -n 10 .venv/bin/python benchmarks/packed_masks.py [--rounds 5] [--steps 30] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_keydoor import setup  # noqa: E402

from dtlib.compute import cpu_model  # noqa: E402
from dtlib.data.windows import to_torch  # noqa: E402

MASKS = ("bernoulli", "packed")


def timed_steps(sampler, learner, batch_size: int, steps: int) -> tuple[float, float]:
    """CPU seconds per step for `steps` training steps: (whole step, update only)."""
    update = 0.0
    start = time.process_time()
    for _ in range(steps):
        batch = to_torch(sampler.sample(batch_size))
        t = time.process_time()
        learner.update(batch)
        update += time.process_time() - t
    return (time.process_time() - start) / steps, update / steps


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30, help="steps per mask kind per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=10_000)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = {m: setup(args.episodes, "fp32", m) for m in MASKS}  # (sampler, learner, train config) per kind
    for sampler, learner, cfg in runs.values():  # warm-up: first-call allocations and kernel choices
        timed_steps(sampler, learner, cfg.batch_size, 5)
    step_ratios, update_ratios = [], []
    for r in range(args.rounds):
        times = {}
        for m in (MASKS if r % 2 == 0 else MASKS[::-1]):
            sampler, learner, cfg = runs[m]
            times[m] = timed_steps(sampler, learner, cfg.batch_size, args.steps)
        step_ratios.append(times["bernoulli"][0] / times["packed"][0])
        update_ratios.append(times["bernoulli"][1] / times["packed"][1])
        print(f"round {r + 1}: step ms bernoulli {1000 * times['bernoulli'][0]:.2f}, packed "
              f"{1000 * times['packed'][0]:.2f} (ratio {step_ratios[-1]:.3f}); update ratio {update_ratios[-1]:.3f}",
              flush=True)
    print(f"{cpu_model()}, {args.threads} thread(s), {args.rounds} rounds x {args.steps} steps, load average "
          f"{os.getloadavg()[0]:.1f}: median CPU-time ratio bernoulli / packed per step "
          f"{statistics.median(step_ratios):.3f}, per update {statistics.median(update_ratios):.3f}")


if __name__ == "__main__":
    main()
