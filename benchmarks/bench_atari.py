"""Atari throughput: DT training steps/s at the paper's config, env steps/s, DQN-replay loading speed and memory.

Numbers on a shared CPU are noisy (other jobs, turbo, thread hand-offs): read them with the load average they
print, and compare only runs on the same machine under the same load. Nothing here asserts a time.

    .venv/bin/python benchmarks/bench_atari.py [--steps 3] [--threads 0]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from dtlib.data.episodes import EpisodeDataset
from dtlib.data.windows import WindowSampler, to_torch


def synthetic_frames(n_steps: int = 20_000, episode_len: int = 1_000, n_actions: int = 4,
                     seed: int = 0) -> EpisodeDataset:
    """Random 84x84 frames in episodes of `episode_len` steps, stored once and stacked by 4 (Atari's layout)."""
    rng = np.random.default_rng(seed)
    n_ep = n_steps // episode_len
    return EpisodeDataset(
        observations=rng.integers(0, 256, (n_ep * episode_len, 84, 84), dtype=np.uint8),
        actions=rng.integers(0, n_actions, n_ep * episode_len), rewards=rng.integers(0, 2, n_ep * episode_len),
        terminals=np.arange(n_ep * episode_len) % episode_len == episode_len - 1,
        timeouts=np.zeros(n_ep * episode_len, bool), starts=np.arange(n_ep) * episode_len, frame_stack=4,
        meta={"n_actions": n_actions, "source": "synthetic"})


def bench_atari_dt(steps: int = 3, warmup: int = 1, env: str = "breakout", method: str = "dt",
                   batch_size: int | None = None, device: str = "cpu") -> dict:
    """Training steps/s of the Atari DT at the paper's settings (preset atari/dt: 6 layers, 8 heads, 128, the
    CNN; K and batch from the env spec/preset: Breakout K=30, batch 128), sampling included."""
    from dtlib.config import get_preset
    from dtlib.experiment import RunConfig, build_model
    from dtlib.train import SupervisedLearner, TrainConfig

    data = synthetic_frames()
    run_cfg = RunConfig(env=env, dataset="synthetic", method=method)
    preset = get_preset("atari", method)
    train_cfg = TrainConfig(**{**preset.train, "device": device,
                               **({"batch_size": batch_size} if batch_size else {})})
    torch.manual_seed(0)
    model = build_model(run_cfg, data)
    learner = SupervisedLearner(model, train_cfg)
    sampler = WindowSampler(data, model.context_len, seed=0)
    dev = train_cfg.torch_device
    t_sample = t_update = 0.0
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        batch = to_torch(sampler.sample(train_cfg.batch_size), dev)
        t1 = time.perf_counter()
        learner.update(batch)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i >= warmup:
            t_sample += t1 - t0
            t_update += t2 - t1
    return {"bench": "atari_dt_train", "env": env, "method": method, "device": str(dev),
            "batch_size": train_cfg.batch_size, "context_len": model.context_len,
            "n_layer": model.cfg.n_layer, "n_head": model.cfg.n_head, "embed_dim": model.cfg.embed_dim,
            "params": sum(p.numel() for p in model.parameters()), "steps": steps,
            "steps_per_s": steps / (t_sample + t_update), "sample_s_per_step": t_sample / steps,
            "update_s_per_step": t_update / steps, **_load()}


def bench_atari_env(steps: int = 2_000, env_id: str = "ALE/Breakout-v5") -> dict:
    """Agent steps/s (4 emulator frames each) of the evaluation env with uniformly random actions."""
    from dtlib.envs.atari import make_atari_env

    env = make_atari_env(env_id)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return {"bench": "atari_env_steps", "env": env_id, "steps": steps, "steps_per_s": steps / dt, **_load()}


def bench_dqn_replay_loader(n_checkpoints: int = 3, rows: int = 20_000, num_steps: int = 30_000,
                            trajectories_per_buffer: int = 10) -> dict:
    """Write synthetic dopamine checkpoints (84x84 frames, games of 300-1500 steps), load the paper's sampling
    from them: wall time, transitions/s and the loader's peak allocation (the kept frames dominate it). Frames
    are a flat background with a few objects and a noisy row, so they compress roughly like Atari screens."""
    from dtlib.data.dqn_replay import DQNReplayConfig, load_dqn_replay, write_checkpoint

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        replay = Path(tmp) / "Pong" / "1" / "replay_logs"
        for k in range(n_checkpoints):
            term = np.zeros(rows, np.uint8)
            act = rng.integers(1, 6, rows).astype(np.int32)
            rew = np.zeros(rows, np.float32)
            if k == 0:
                act[:3] = 0  # the first checkpoint began empty: it starts with padding
            t = int(rng.integers(300, 1500))
            while t < rows - 4:  # terminal, then dopamine's 3 zero padding rows
                term[t] = 1
                act[t + 1:t + 4] = 0
                t += 4 + int(rng.integers(300, 1500))
            obs = np.full((rows, 84, 84), 87, dtype=np.uint8)  # a flat background, like most Atari pixels
            for j in range(0, rows, 1000):  # plus moving 8x8 objects and a row of noise per frame
                m = min(1000, rows - j)
                obs[j:j + m, 40, :] = rng.integers(0, 256, (m, 84), dtype=np.uint8)
                for y, x in rng.integers(0, 76, (3, 2)):
                    obs[j:j + m, y:y + 8, x:x + 8] = 200
            write_checkpoint(replay, k, {"observation": obs, "action": act, "reward": rew, "terminal": term},
                             add_count=(k + 1) * rows - 1)
            del obs
        tracemalloc.start()  # numpy reports its buffers to tracemalloc: the loader's own peak
        t0 = time.perf_counter()
        ds = load_dqn_replay(DQNReplayConfig(root=tmp, game="Pong", num_steps=num_steps,
                                             suffixes=tuple(range(n_checkpoints)), buffer_window=rows,
                                             trajectories_per_buffer=trajectories_per_buffer))
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"bench": "dqn_replay_loader", "checkpoints": n_checkpoints, "rows_per_checkpoint": rows,
            "transitions": ds.n_steps, "episodes": ds.n_episodes, "seconds": dt,
            "transitions_per_s": ds.n_steps / dt, "frames_mb": ds.observations.nbytes / 2**20,
            "peak_alloc_mb": peak, "frames_mb_at_500k": 500_000 * 84 * 84 / 2**20,
            "bytes_per_transition": ds.observations.nbytes / ds.n_steps, **_load()}


def _load() -> dict:
    return {"load_avg_1m": os.getloadavg()[0], "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def run_all(steps: int = 3) -> list[dict]:
    """Every Atari benchmark once (what `make bench` calls)."""
    return [bench_atari_env(), bench_dqn_replay_loader(), bench_atari_dt(steps=steps)]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed DT training steps (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for row in run_all(args.steps):
        print(json.dumps(row))
