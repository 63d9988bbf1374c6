"""Does the written-out attention pay? torch's fused kernel vs the written-out path, interleaved in one process.

The real small-profile Key-to-Door DT training step (issues 15 and 17): the 10K random-policy dataset, preset
'keydoor/dt' (4 heads), batch 128 as the notebook's `dt_batch_size`, packed dropout masks, `WindowSampler` +
`to_torch` + `SupervisedLearner.update` as `dtlib.experiment.run` builds them (`profile_keydoor.setup`). Two
models from the same seed: 'written' is the model as built (`CausalSelfAttention._written_out` with packed
masks), 'fused' sets each block's `attn.packed` to None, so its attention goes through
`F.scaled_dot_product_attention` with its own Bernoulli dropout, as before the written-out path existed. Each
round times `--steps` steps of each (the order alternates between rounds) in CPU time of this process
(`time.process_time`). Prints the per-round ratios fused / written and their median (> 1: written-out is
faster). Nothing here asserts a time.

    nice -n 10 .venv/bin/python benchmarks/attention_paths.py [--rounds 5] [--steps 10] [--n-head 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packed_masks import timed_steps  # noqa: E402
from profile_keydoor import setup  # noqa: E402

from dtlib.compute import cpu_model  # noqa: E402

PATHS = ("fused", "written")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="steps per path per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=128, help="episodes per batch (small's dt_batch_size)")
    ap.add_argument("--n-head", type=int, default=0, help="attention heads (0: the preset's, 4)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = {p: setup(args.episodes, args.precision, "packed", args.batch_size, args.n_head) for p in PATHS}
    for block in runs["fused"][1].model.blocks:
        block.attn.packed = None  # torch's kernel and its Bernoulli attention dropout
    for sampler, learner, cfg in runs.values():  # warm-up: first-call allocations and kernel choices
        timed_steps(sampler, learner, cfg.batch_size, 3)
    ratios, ms = [], {p: [] for p in PATHS}
    for r in range(args.rounds):
        for p in (PATHS if r % 2 == 0 else PATHS[::-1]):
            sampler, learner, cfg = runs[p]
            ms[p].append(1000 * timed_steps(sampler, learner, cfg.batch_size, args.steps)[0])
        ratios.append(ms["fused"][-1] / ms["written"][-1])
        print(f"round {r + 1}: step ms fused {ms['fused'][-1]:.1f}, written {ms['written'][-1]:.1f} "
              f"(ratio {ratios[-1]:.3f})", flush=True)
    heads = runs["written"][1].model.cfg.n_head
    print(f"{cpu_model()}, {args.threads} thread(s), {heads} head(s), batch {args.batch_size}, {args.precision}, "
          f"{args.rounds} rounds x {args.steps} steps, load average {os.getloadavg()[0]:.1f}: median step ms fused "
          f"{statistics.median(ms['fused']):.1f}, written {statistics.median(ms['written']):.1f}; median CPU-time "
          f"ratio fused / written {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
