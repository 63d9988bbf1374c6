"""Is a training step slower in a worker thread (as `dtlib.sweep` runs it inside a Dask worker) than in a main thread?

Times the same training steps — sample, to tensors, update, one torch thread — alternately in the process's main
thread and in a `threading.Thread`, in one process, and prints the per-step wall time of each and their ratio. Run it
once as is and once with an allocator setting to compare, e.g. the `MALLOC_TRIM_THRESHOLD_=65536` Dask's nanny gives
its workers (glibc then unmaps every large freed block at once: 1.4-2x slower steps here, docs/speed.md):

    python benchmarks/thread_steps.py --domain atari          # plain process: main thread and a thread
    MALLOC_TRIM_THRESHOLD_=65536 python benchmarks/thread_steps.py --domain keydoor
    python benchmarks/thread_steps.py --domain atari --dask   # inside a dtlib.sweep LocalCluster worker

Nothing else should run while it measures (the ratios are measured in one process, alternating).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dtlib.config import get_preset  # noqa: E402
from dtlib.data.episodes import EpisodeDataset  # noqa: E402
from dtlib.data.windows import WindowSampler, to_torch  # noqa: E402
from dtlib.experiment import RunConfig, build_model  # noqa: E402
from dtlib.specs import get_env_spec  # noqa: E402
from dtlib.train import SupervisedLearner, TrainConfig  # noqa: E402


def atari_like(n_episodes: int = 10, length: int = 2000, seed: int = 0) -> EpisodeDataset:
    """Random 84x84 frames in Pong's format (frame stacks of 4 built by index), 6 actions."""
    rng = np.random.default_rng(seed)
    eps = [{"observations": rng.integers(0, 255, (length, 84, 84), dtype=np.uint8),
            "actions": rng.integers(0, 6, length), "rewards": rng.choice([-1.0, 0.0, 1.0], length).astype(np.float32),
            "terminals": np.r_[np.zeros(length - 1, bool), True], "timeouts": np.zeros(length, bool)}
           for _ in range(n_episodes)]
    return EpisodeDataset.from_episodes(eps, frame_stack=4, meta={"env": "pong", "n_actions": 6})


def setup(domain: str):
    """(step function) for one domain at the `small` profile's shapes."""
    if domain == "atari":
        data, env = atari_like(), "pong"
        model_over = {"n_layer": 2, "n_head": 2, "embed_dim": 64, "context_len": 8}
        train_over = {"batch_size": 32}
    elif domain == "gym":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_experiment import hopper_like

        data, env, model_over, train_over = hopper_like(n_episodes=100, length=1000, seed=0), "hopper", {}, {}
    else:
        from dtlib.data.generate import generate_keydoor_dataset

        data, env, model_over, train_over = generate_keydoor_dataset(1000, seed=0), "keydoor", {}, {"batch_size": 128}
    spec = get_env_spec(env)
    preset = get_preset(spec.domain, "dt")
    train_cfg = TrainConfig(**{**preset.train, **train_over, "device": "cpu"})
    torch.manual_seed(0)
    model = build_model(RunConfig(env, "bench", "dt"), data, model_over)
    sampler = WindowSampler(data, model.context_len, seed=0, from_start=model.context_len >= spec.max_ep_len)
    learner = SupervisedLearner(model, train_cfg)
    return lambda: learner.update(to_torch(sampler.sample(train_cfg.batch_size)))


def timed(step, steps: int, in_thread: bool) -> float:
    """Wall seconds per step of `steps` steps, run here or in a fresh thread (one torch thread either way)."""
    out = {}

    def body():
        torch.set_num_threads(1)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        out["s"] = (time.perf_counter() - start) / steps

    if in_thread:
        t = threading.Thread(target=body)
        t.start()
        t.join()
    else:
        body()
    return out["s"]


def worker_timing(domain: str, steps: int) -> float:
    """Set up and time `steps` steps (after 3 warm-up steps) wherever this is called."""
    torch.set_num_threads(1)
    step = setup(domain)
    for _ in range(3):
        step()
    return timed(step, steps, in_thread=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", default="atari", choices=["atari", "gym", "keydoor"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dask", action="store_true",
                    help="also time the steps inside a dtlib.sweep LocalCluster worker (1 worker), as a grid runs them")
    args = ap.parse_args(argv)
    if args.dask:
        from dtlib.sweep import local_cluster
        from distributed import Client

        with local_cluster(1, threads=1) as cluster, Client(cluster) as client:
            for _ in range(args.rounds):
                d = client.submit(worker_timing, args.domain, args.steps, pure=False).result()
                here = worker_timing(args.domain, args.steps)
                print(f"{args.domain}: in a Dask worker {d * 1000:.1f} ms/step, in this process {here * 1000:.1f} "
                      f"ms/step, worker/here {d / here:.2f} (load {os.getloadavg()[0]:.1f})", flush=True)
        return
    torch.set_num_threads(1)
    step = setup(args.domain)
    for _ in range(3):
        step()
    main_s, thread_s = [], []
    for _ in range(args.rounds):  # alternate, so drifts in the machine's speed hit both alike
        main_s.append(timed(step, args.steps, in_thread=False))
        thread_s.append(timed(step, args.steps, in_thread=True))
    m, t = float(np.median(main_s)), float(np.median(thread_s))
    print(f"{args.domain}: main thread {m * 1000:.1f} ms/step, worker thread {t * 1000:.1f} ms/step, "
          f"thread/main {t / m:.2f} (MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}, "
          f"{args.rounds} rounds of {args.steps} steps, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
