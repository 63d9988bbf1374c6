"""Does the written-out attention pay? torch's fused kernel vs the written-out path, interleaved in one process.

The real small-profile Key-to-Door DT training step (issues 15 and 17): the 10K random-policy dataset, preset
'keydoor/dt' (4 heads), batch 128 as the notebook's `dt_batch_size`, packed dropout masks, `WindowSampler` +
`to_torch` + `SupervisedLearner.update` as `dtlib.experiment.run` builds them (`profile_keydoor.setup`). Two
models from the same seed: 'written' is the model as built (`CausalSelfAttention._written_out` with packed
masks), 'fused' sets each block's `attn.packed` to None, so its attention goes through
`F.scaled_dot_product_attention` with its own Bernoulli dropout, as before the written-out path existed. Each
round times `--steps` steps of each (the order alternates between rounds) in CPU time of this process
(`time.process_time`). Prints the per-round ratios fused / written and their median (> 1: written-out is
faster). `--gym`: the paper's Gym DT instead (1 head, K = 20, width 128, batch 64, benchmarks/run.py's synthetic
Hopper-shaped data, `TrainBench`), where the attention is [64, 1, 60, 60]. Nothing here asserts a time.

    nice -n 10 .venv/bin/python benchmarks/attention_paths.py [--rounds 5] [--steps 10] [--n-head 4] [--gym]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402
from packed_masks import timed_steps  # noqa: E402
from profile_keydoor import setup  # noqa: E402

from dtlib.compute import cpu_model  # noqa: E402
from dtlib.model import DecisionTransformer  # noqa: E402
from dtlib.train import TrainConfig  # noqa: E402

PATHS = ("fused", "written")


def use_fused_kernel(model: torch.nn.Module) -> None:
    """Attention through torch's kernel and its Bernoulli dropout, as before the written-out path existed."""
    for block in model.blocks:
        block.attn.packed = None


class GymRun:
    """The paper's Gym DT step with packed masks, timed like `timed_steps`: CPU seconds per step."""

    def __init__(self, data, batch_size: int, fused: bool):
        self.model = DecisionTransformer(bench.model_config(data, dropout_masks="packed"))
        if fused:
            use_fused_kernel(self.model)
        self.bench = bench.TrainBench(self.model, data, TrainConfig(device="cpu", batch_size=batch_size), 3)

    def cpu_s(self, steps: int) -> float:
        return self.bench(steps)["cpu_ms_per_step"] / 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="steps per path per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=128, help="episodes per batch (small's dt_batch_size)")
    ap.add_argument("--n-head", type=int, default=0, help="attention heads (0: the preset's, 4)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--gym", action="store_true", help="the paper's Gym DT (1 head, batch 64) instead")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.gym:
        data = bench.synthetic_dataset(100_000)
        runs = {p: GymRun(data, 64, fused=p == "fused") for p in PATHS}  # each warmed up by TrainBench
        models = {p: r.model for p, r in runs.items()}
        timers = {p: r.cpu_s for p, r in runs.items()}
        batch = 64
    else:
        built = {p: setup(args.episodes, args.precision, "packed", args.batch_size, args.n_head) for p in PATHS}
        models = {p: learner.model for p, (_, learner, _) in built.items()}
        use_fused_kernel(models["fused"])
        timers = {p: (lambda n, b=b: timed_steps(b[0], b[1], b[2].batch_size, n)[0]) for p, b in built.items()}
        for p in PATHS:  # warm-up: first-call allocations and kernel choices
            timers[p](3)
        batch = args.batch_size
    ratios, ms = [], {p: [] for p in PATHS}
    for r in range(args.rounds):
        for p in (PATHS if r % 2 == 0 else PATHS[::-1]):
            ms[p].append(1000 * timers[p](args.steps))
        ratios.append(ms["fused"][-1] / ms["written"][-1])
        print(f"round {r + 1}: step ms fused {ms['fused'][-1]:.1f}, written {ms['written'][-1]:.1f} "
              f"(ratio {ratios[-1]:.3f})", flush=True)
    heads = models["written"].cfg.n_head
    print(f"{cpu_model()}, {'Gym DT' if args.gym else 'Key-to-Door DT'}, {args.threads} thread(s), {heads} head(s), "
          f"batch {batch}, {'fp32' if args.gym else args.precision}, "
          f"{args.rounds} rounds x {args.steps} steps, load average {os.getloadavg()[0]:.1f}: median step ms fused "
          f"{statistics.median(ms['fused']):.1f}, written {statistics.median(ms['written']):.1f}; median CPU-time "
          f"ratio fused / written {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
