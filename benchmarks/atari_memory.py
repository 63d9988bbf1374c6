"""Peak memory (max RSS) of the Atari pipeline's two heavy phases, each in its own process.

    python benchmarks/atari_memory.py build --steps 105000      # behaviour DQN build (random phase) + save
    python benchmarks/atari_memory.py train --game pong --transitions 500000 --steps 1

`build` runs dtlib.data.atari_build with learning_starts = steps (no gradient steps: the memory is the
recorder's frames and SB3's 100k-step buffer, both filled as in a real build) and saves the dataset as the
notebook does; past 100k steps only the recorder grows, by one 84x84 frame (7,056 B) per step, so the peak
at 500k is this peak + (500k - steps) * 7,056 B. `train` writes a synthetic dataset of `transitions` frames
to disk, reads it back with EpisodeDataset.load (as the notebook) and trains the paper-config DT
(6 layers, 8 heads, 128, the CNN; K and batch the paper's for the game: Pong 50 / 512, others 30 / 128).
Prints one JSON line with ru_maxrss; read it with the load average beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def build(steps: int, game: str) -> dict:
    from dtlib.data.atari_build import AtariBuildConfig, build_atari_dataset

    t0 = time.perf_counter()
    ds = build_atari_dataset(AtariBuildConfig(env=game, total_steps=steps, learning_starts=steps))
    after_build = peak_gb()
    with tempfile.TemporaryDirectory() as tmp:
        ds.save(Path(tmp) / "d.npz")
    return {"phase": "build+save", "game": game, "steps": steps, "transitions": ds.n_steps,
            "peak_after_build_gb": after_build, "peak_gb": peak_gb(),
            "extrapolated_peak_at_500k_gb": peak_gb() + (500_000 - steps) * 84 * 84 / 2**30,
            "seconds": time.perf_counter() - t0}


def synthetic(n: int, n_actions: int = 6, episode_len: int = 2_000, seed: int = 0):
    """Atari-like frames (flat background, a few objects, a noisy row) so the saved file compresses as real ones."""
    from dtlib.data.episodes import EpisodeDataset

    rng = np.random.default_rng(seed)
    n = n // episode_len * episode_len
    obs = np.full((n, 84, 84), 87, dtype=np.uint8)
    for j in range(0, n, 1000):
        obs[j:j + 1000, 40, :] = rng.integers(0, 256, (min(1000, n - j), 84), dtype=np.uint8)
        y, x = rng.integers(0, 76, 2)
        obs[j:j + 1000, y:y + 8, x:x + 8] = 200
    return EpisodeDataset(observations=obs, actions=rng.integers(0, n_actions, n),
                          rewards=rng.integers(-1, 2, n).astype(np.float32),
                          terminals=np.arange(n) % episode_len == episode_len - 1, timeouts=np.zeros(n, bool),
                          starts=np.arange(0, n, episode_len), frame_stack=4,
                          meta={"n_actions": n_actions, "source": "synthetic"})


def train(game: str, transitions: int, steps: int, batch: int = 0) -> dict:
    import torch

    from dtlib.config import get_preset
    from dtlib.data.episodes import EpisodeDataset
    from dtlib.data.windows import WindowSampler, to_torch
    from dtlib.experiment import RunConfig, build_model
    from dtlib.train import SupervisedLearner, TrainConfig

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic(transitions).save(Path(tmp) / "d.npz")
        after_write = peak_gb()
        data = EpisodeDataset.load(Path(tmp) / "d.npz")
    after_load = peak_gb()
    batch = batch or {"pong": 512}.get(game, 128)
    model = build_model(RunConfig(env=game, dataset="synthetic"), data)
    learner = SupervisedLearner(model, TrainConfig(**{**get_preset("atari", "dt").train, "batch_size": batch,
                                                      "device": "cpu"}))
    sampler = WindowSampler(data, model.context_len, seed=0)
    t1 = time.perf_counter()
    for _ in range(steps):
        learner.update(to_torch(sampler.sample(batch)))
    return {"phase": "write+load+train", "game": game, "transitions": data.n_steps, "context_len": model.context_len,
            "batch_size": batch, "n_layer": model.cfg.n_layer, "steps": steps,
            "seconds_per_step": (time.perf_counter() - t1) / steps, "frames_gb": data.observations.nbytes / 2**30,
            "peak_after_write_gb": after_write, "peak_after_load_gb": after_load, "peak_gb": peak_gb(),
            "torch_threads": torch.get_num_threads(), "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=["build", "train"])
    ap.add_argument("--game", default="pong")
    ap.add_argument("--steps", type=int, default=1, help="build: agent steps; train: gradient steps")
    ap.add_argument("--transitions", type=int, default=500_000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0, help="train: batch size (0: the paper's, Pong 512, others 128)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    row = build(args.steps, args.game) if args.phase == "build" else train(args.game, args.transitions, args.steps,
                                                                                  args.batch)
    print(json.dumps({**row, "load_avg_1m": os.getloadavg()[0], "cpus": os.cpu_count()}))
