"""CUDA against CPU from the same seed: the paper's Gym DT and Atari DT, a few hundred training steps each.

For each model: the same initial weights (built on the CPU from one seed) and the same batches (the sampler's
numpy RNG) on both devices. Two checks, with their tolerances stated here:
- forward: the first batch's loss in eval mode (no dropout) agrees to FORWARD_RTOL (TF32 is switched off);
- training: the mean loss of the last quarter of the steps agrees to TRAIN_RTOL (dropout masks come from each
  device's own RNG, so the curves differ step by step and agree only in distribution).
It reports steps/s on each device and the peak GPU memory, prints `dtlib.plan.STEP_COSTS` rows ('cuda' and
'cpu', seconds per step) to add to the plan's table, and writes JSON with --out.

Without a CUDA device it prints one line saying so and exits 0 (nothing compared): run it on a GPU machine.

    python benchmarks/gpu_check.py [--gym-steps 300] [--atari-steps 100] [--out gpu_check.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FORWARD_RTOL = 1e-3  # the eval-mode loss of the first batch, CUDA vs CPU (fp32 kernels differ in summation order)
TRAIN_RTOL = 0.10  # mean training loss over the last quarter of the steps, CUDA vs CPU (different dropout masks)


def gym_data(n: int = 100):
    """A Hopper-sized dataset (obs 11, act 3, `n` episodes of 1000 steps), random but fixed."""
    from dtlib.data.episodes import EpisodeDataset

    rng = np.random.default_rng(0)
    length = 1000
    return EpisodeDataset(rng.standard_normal((n * length, 11)).astype(np.float32),
                          rng.uniform(-1, 1, (n * length, 3)).astype(np.float32),
                          rng.standard_normal(n * length).astype(np.float32),
                          np.arange(n * length) % length == length - 1, np.zeros(n * length, bool),
                          np.arange(n) * length, meta={"source": "synthetic"})


def atari_data():
    from bench_atari import synthetic_frames

    return synthetic_frames()


def _setup(env: str, data, device: str, seed: int = 0):
    """The run's model and learner on `device`, with weights built on the CPU from `seed`, and its sampler."""
    from dtlib.config import get_preset
    from dtlib.data.windows import WindowSampler
    from dtlib.experiment import RunConfig, build_model
    from dtlib.specs import get_env_spec
    from dtlib.train import SupervisedLearner, TrainConfig

    spec = get_env_spec(env)
    preset = get_preset(spec.domain, "dt")
    torch.manual_seed(seed)
    model = build_model(RunConfig(env, "synthetic", "dt", seed=seed), data)
    learner = SupervisedLearner(model, TrainConfig(**{**preset.train, "device": device, "seed": seed}))
    sampler = WindowSampler(data, model.context_len, seed=seed)
    return learner, sampler, learner.cfg.batch_size


def train_curve(env: str, data, device: str, steps: int) -> dict:
    """First-batch eval loss, per-step training losses, steps/s and peak GPU memory on one device."""
    from dtlib.data.windows import to_torch

    learner, sampler, batch_size = _setup(env, data, device)
    dev = torch.device(device)
    with torch.no_grad():
        learner.model.eval()
        first = float(learner.model.loss(to_torch(sampler.sample(batch_size), dev))[0])
    torch.manual_seed(1)  # dropout masks from here on (each device's own generator)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        metrics = learner.update(to_torch(sampler.sample(batch_size), dev))
        losses.append(float(metrics["train/action_loss"]))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return {"device": device, "first_eval_loss": first, "losses": losses, "steps_per_s": steps / wall,
            "s_per_step": wall / steps, "batch_size": batch_size, "context_len": learner.model.context_len,
            "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None}


def compare(env: str, data, steps: int, device: str = "cuda", reference: str = "cpu") -> dict:
    """`device` against `reference` from the same seed, with the two checks' verdicts."""
    ref, other = train_curve(env, data, reference, steps), train_curve(env, data, device, steps)
    tail = max(1, steps // 4)
    ref_tail, other_tail = float(np.mean(ref["losses"][-tail:])), float(np.mean(other["losses"][-tail:]))
    forward_gap = abs(other["first_eval_loss"] - ref["first_eval_loss"]) / abs(ref["first_eval_loss"])
    train_gap = abs(other_tail - ref_tail) / abs(ref_tail)
    return {"env": env, "steps": steps, "reference": {k: v for k, v in ref.items() if k != "losses"},
            "device": {k: v for k, v in other.items() if k != "losses"},
            "forward_rel_gap": forward_gap, "forward_ok": forward_gap <= FORWARD_RTOL,
            "train_tail_loss": {reference: ref_tail, device: other_tail}, "train_rel_gap": train_gap,
            "train_ok": train_gap <= TRAIN_RTOL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gym-steps", type=int, default=300)
    parser.add_argument("--atari-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="CPU torch threads (0: torch's default)")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine — skipped, nothing compared (run it on a GPU machine)")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 on both devices, so the forward check is meaningful
    torch.backends.cudnn.allow_tf32 = False
    results = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
               "cpus": os.cpu_count(), "forward_rtol": FORWARD_RTOL, "train_rtol": TRAIN_RTOL, "checks": []}
    for env, data, steps in (("hopper", gym_data(), args.gym_steps), ("breakout", atari_data(), args.atari_steps)):
        r = compare(env, data, steps)
        results["checks"].append(r)
        print(f"{env}: {steps} steps; forward gap {r['forward_rel_gap']:.2e} ({'ok' if r['forward_ok'] else 'FAIL'} "
              f"<= {FORWARD_RTOL}); last-quarter loss cpu {r['train_tail_loss']['cpu']:.4f} vs cuda "
              f"{r['train_tail_loss']['cuda']:.4f}, gap {r['train_rel_gap']:.1%} ({'ok' if r['train_ok'] else 'FAIL'} "
              f"<= {TRAIN_RTOL:.0%}); steps/s cpu {r['reference']['steps_per_s']:.2f}, cuda "
              f"{r['device']['steps_per_s']:.2f}; peak GPU memory {r['device']['peak_gpu_mib']:.0f} MiB", flush=True)
    domain = {"hopper": "gym", "breakout": "atari"}
    print("STEP_COSTS rows (dtlib.plan):")
    for r in results["checks"]:
        for side in ("device", "reference"):
            d = r[side]
            print(f"{domain[r['env']]},dt,fp32,{d['device'].split(':')[0]},{d['s_per_step']:.5f},"
                  f"\"K {d['context_len']}, batch {d['batch_size']}\",benchmarks/gpu_check.py "
                  f"{time.strftime('%Y-%m-%d')} on {results['gpu']} ({results['cpu_threads']} CPU threads)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0 if all(r["forward_ok"] and r["train_ok"] for r in results["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
