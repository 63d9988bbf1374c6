"""Speed of the core on the machine at hand (issue 3, "Benchmarks"): `make bench` writes reports/bench.json.

For the paper's Gym config (K=20, 3 layers, 1 head, d=128, batch 64; Hopper's 11-dim observations and
3-dim actions; a synthetic ~100k-step EpisodeDataset) it measures
  - DT training steps/s through `SupervisedLearner.update` on `WindowSampler` batches (the loop in
    dtlib.train), and the share of each step spent sampling and converting the batch;
  - BC training steps/s (MLPBC, the gym/bc preset: width 256, 3 layers, K=20);
  - evaluation env-steps/s of `dtlib.evaluate.evaluate` with 1, 10 and 50 parallel 1000-step Hopper
    episodes (an untrained DT; `terminate_when_unhealthy=False` so no episode ends early);
  - Hopper's own stepping rate with random actions: the ceiling for evaluation.
The machine may be shared with other jobs, so every measurement runs once per round, the rounds
interleave all measurements (A, B, C, A, B, C, ...), and the report gives each one's median over rounds;
ratios (50 parallel vs 1) are taken within a round. Each row also gives process CPU time, and the load
average before and after. Nothing here asserts a time.

    .venv/bin/python benchmarks/run.py [--quick] [--threads 2,1] [--out reports/bench.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from dtlib import io
from dtlib.config import get_preset
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.windows import WindowSampler, to_torch
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.model import MLPBC, DecisionTransformer, ModelConfig
from dtlib.paths import git_commit, project_root
from dtlib.specs import ENVS
from dtlib.train import SupervisedLearner, TrainConfig

OBS_DIM, ACT_DIM = 11, 3  # Hopper
HOPPER = ENVS["hopper"]

# The goals on a 2-core CPU, with the official implementation's numbers there (issue 3).
GOALS = {
    "dt_steps_per_s": {"goal": ">= 8.9", "official": 7.1, "note": "arithmetic ceiling about 10"},
    "dt_sample_share": {"goal": "<= 0.05", "official": None, "note": "sampling + conversion / step time"},
    "bc_steps_per_s": {"goal": ">= 400", "official": 78.0, "note": "official: per-sample batch assembly"},
    "eval_50_env_steps_per_s": {"goal": ">= 4700", "official": 470.0,
                                "note": "10x the official one-at-a-time evaluation"},
}


@dataclass(frozen=True)
class Sizes:
    """How much each measurement runs; `FULL` is `make bench`, `QUICK` is `--quick`."""

    dataset_steps: int  # steps in the synthetic dataset
    dt_steps: int  # timed DT updates per round
    bc_steps: int  # timed BC updates per round
    warmup: int  # untimed updates before the first round (allocator, kernels)
    episode_steps: int  # steps of every evaluation episode (Hopper's full episode is 1000)
    parallel: tuple[int, ...]  # episodes stepped together in the evaluation measurements
    env_steps: int  # random-action Hopper steps for the ceiling
    rounds: int  # interleaved repetitions of everything
    budget_s: float  # no further round starts once another would end past this (a loaded machine); >= 1 round


FULL = Sizes(dataset_steps=100_000, dt_steps=20, bc_steps=200, warmup=3, episode_steps=1000,
             parallel=(1, 10, 50), env_steps=5000, rounds=3, budget_s=240)
QUICK = Sizes(dataset_steps=100_000, dt_steps=8, bc_steps=60, warmup=2, episode_steps=200,
              parallel=(1, 10, 50), env_steps=2000, rounds=2, budget_s=60)


# ---------------------------------------------------------------------------------------- setup
def synthetic_dataset(n_steps: int, seed: int = 0) -> EpisodeDataset:
    """Hopper-shaped random episodes of 200-1000 steps (D4RL-like lengths); sampling cost depends only on shapes."""
    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n_steps:
        lengths.append(int(rng.integers(200, 1001)))
    n = sum(lengths)
    ends = np.cumsum(lengths) - 1
    timeouts = np.zeros(n, bool)
    timeouts[ends] = True
    return EpisodeDataset(
        observations=rng.standard_normal((n, OBS_DIM)).astype(np.float32),
        actions=rng.uniform(-1, 1, (n, ACT_DIM)).astype(np.float32),
        rewards=rng.uniform(0, 4, n).astype(np.float32), terminals=np.zeros(n, bool), timeouts=timeouts,
        starts=np.concatenate([[0], ends[:-1] + 1]), meta={"source": "synthetic", "env": "hopper"})


def model_config(data: EpisodeDataset, **overrides) -> ModelConfig:
    """The paper's Gym DT config (the ModelConfig defaults) for Hopper, with the data's state statistics."""
    mean, std = data.state_stats()
    return ModelConfig(obs_shape=(OBS_DIM,), act_dim=ACT_DIM, max_ep_len=HOPPER.max_ep_len,
                       return_scale=HOPPER.reward_scale, state_mean=tuple(mean.tolist()),
                       state_std=tuple(std.tolist()), **overrides)


def hopper_env() -> gym.Env:
    """Hopper that never terminates early, so every evaluation episode lasts its full length."""
    return gym.make(HOPPER.env_id, terminate_when_unhealthy=False)


# ---------------------------------------------------------------------------------------- measurements
def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class TrainBench:
    """Timed `update`s of one learner on its sampler's batches: the inner loop of dtlib.train.train."""

    def __init__(self, model: torch.nn.Module, data: EpisodeDataset, train_cfg: TrainConfig, warmup: int):
        torch.manual_seed(0)
        self.learner = SupervisedLearner(model, train_cfg)
        self.sampler = WindowSampler(data, model.context_len, seed=0)
        self.batch_size = train_cfg.batch_size
        self.device = train_cfg.torch_device
        self(warmup)

    def __call__(self, steps: int) -> dict:
        sample_s = 0.0
        wall0, cpu0 = _clock()
        for _ in range(steps):
            t0 = time.perf_counter()
            batch = to_torch(self.sampler.sample(self.batch_size), self.device)
            sample_s += time.perf_counter() - t0
            self.learner.update(batch)
        wall, cpu = (a - b for a, b in zip(_clock(), (wall0, cpu0)))
        return {"steps_per_s": steps / wall, "cpu_ms_per_step": 1000 * cpu / steps,
                "sample_share": sample_s / wall, "sample_ms_per_step": 1000 * sample_s / steps}


def eval_bench(model: torch.nn.Module, parallel: int, episode_steps: int, precision: str = "fp32") -> dict:
    """env-steps/s of one `evaluate` call: `parallel` Hopper episodes in lockstep (env creation included)."""
    cfg = EvalConfig(episodes=parallel, parallel=parallel, targets=(HOPPER.targets[0],), max_steps=episode_steps,
                     precision=precision)
    wall0, cpu0 = _clock()
    df = evaluate(model, HOPPER, cfg, env_fn=hopper_env)
    wall, cpu = (a - b for a, b in zip(_clock(), (wall0, cpu0)))
    steps = int(df["length"].sum())
    if steps != parallel * episode_steps:  # every episode must run its full length, or the rate is not comparable
        raise RuntimeError(f"evaluation ran {steps} env steps, expected {parallel} x {episode_steps}")
    return {"env_steps_per_s": steps / wall, "cpu_ms_per_lockstep": 1000 * cpu / episode_steps,
            "ms_per_lockstep": 1000 * wall / episode_steps}


def env_bench(steps: int) -> dict:
    """Hopper's own stepping rate with uniformly random actions (no model): the evaluation ceiling."""
    env = hopper_env()
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    wall0, cpu0 = _clock()
    for a in actions:
        env.step(a)
    wall, cpu = (a - b for a, b in zip(_clock(), (wall0, cpu0)))
    env.close()
    return {"env_steps_per_s": steps / wall, "cpu_us_per_step": 1e6 * cpu / steps}


# ---------------------------------------------------------------------------------------- the run
def machine() -> dict:
    """What the numbers depend on: CPU, cores, torch and its threads, the commit."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import mujoco

    return {"cpu": cpu, "cpus": os.cpu_count(), "torch": torch.__version__,
            "torch_threads_default": torch.get_num_threads(), "mujoco": mujoco.__version__,
            "gymnasium": gym.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "git_commit": git_commit(),
            # OpenMP waiting decides how torch's threads behave on a CPU shared with other jobs
            "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")},
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _median_of(rounds: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def run_benchmarks(sizes: Sizes = FULL, threads: tuple[int, ...] = (), out: Path | None = None,
                   log: Callable[[str], None] = print) -> dict:
    """Every measurement, `sizes.rounds` times interleaved, per torch thread count; returns the report dict."""
    default_threads = torch.get_num_threads()
    threads = tuple(threads) or (default_threads,)
    load_before = os.getloadavg()
    data = synthetic_dataset(sizes.dataset_steps)
    torch.manual_seed(0)
    dt_model = DecisionTransformer(model_config(data))
    bc_preset = get_preset("gym", "bc")
    bc_model = MLPBC(model_config(data, **bc_preset.model))
    dt = TrainBench(dt_model, data, TrainConfig(device="cpu"), sizes.warmup)
    dt_bf16 = TrainBench(DecisionTransformer(model_config(data)), data, TrainConfig(device="cpu", precision="bf16"),
                         sizes.warmup)
    # the fastest opt-in training: bf16 autocast + PackedDropout's masks (ModelConfig.dropout_masks="packed")
    dt_fast = TrainBench(DecisionTransformer(model_config(data, dropout_masks="packed")), data,
                         TrainConfig(device="cpu", precision="bf16"), sizes.warmup)
    bc = TrainBench(bc_model, data, TrainConfig(**{**bc_preset.train, "device": "cpu"}), sizes.warmup)
    bc_packed = TrainBench(MLPBC(model_config(data, **bc_preset.model, dropout_masks="packed")), data,
                           TrainConfig(**{**bc_preset.train, "device": "cpu"}), sizes.warmup)
    eval_model = DecisionTransformer(model_config(data))  # untrained: speed does not depend on the weights
    cases: dict[str, Callable[[], dict]] = {
        "dt_train": lambda: dt(sizes.dt_steps),
        "dt_train_bf16": lambda: dt_bf16(sizes.dt_steps),  # the opt-in TrainConfig(precision="bf16")
        "dt_train_bf16_packed": lambda: dt_fast(sizes.dt_steps),
        "bc_train": lambda: bc(sizes.bc_steps),
        "bc_train_packed": lambda: bc_packed(sizes.bc_steps),
        **{f"eval_{n}": (lambda n=n: eval_bench(eval_model, n, sizes.episode_steps)) for n in sizes.parallel},
        # the opt-in bf16 autocast (EvalConfig.precision) at the largest batch
        f"eval_{max(sizes.parallel)}_bf16": lambda: eval_bench(eval_model, max(sizes.parallel), sizes.episode_steps,
                                                                "bf16"),
        "env": lambda: env_bench(sizes.env_steps),
    }
    raw: dict[str, dict[str, list[dict]]] = {str(t): {name: [] for name in cases} for t in threads}
    start, rounds_done = time.perf_counter(), 0
    for r in range(sizes.rounds):
        elapsed = time.perf_counter() - start
        if r > 0 and elapsed * (r + 1) / r > sizes.budget_s:
            log(f"stopping after {r} rounds: another would end past the {sizes.budget_s:.0f} s budget")
            break
        for t in threads:
            torch.set_num_threads(t)
            for name, case in cases.items():
                raw[str(t)][name].append(case())
                log(f"round {r + 1}/{sizes.rounds} threads={t} {name}: "
                    + ", ".join(f"{k}={v:.4g}" for k, v in raw[str(t)][name][-1].items()))
        rounds_done += 1
    torch.set_num_threads(default_threads)
    results = {}
    lo, hi = min(sizes.parallel), max(sizes.parallel)
    for t in threads:
        rr = raw[str(t)]
        res = {name: _median_of(rows) for name, rows in rr.items()}
        # ratio within each round, then the median: robust to load that changes between rounds
        res["eval_parallel_speedup"] = statistics.median(
            a["env_steps_per_s"] / b["env_steps_per_s"] for a, b in zip(rr[f"eval_{hi}"], rr[f"eval_{lo}"]))
        res["eval_share_of_env_ceiling"] = statistics.median(
            a["env_steps_per_s"] / b["env_steps_per_s"] for a, b in zip(rr[f"eval_{hi}"], rr["env"]))
        res["headline"] = {
            "dt_steps_per_s": res["dt_train"]["steps_per_s"], "dt_sample_share": res["dt_train"]["sample_share"],
            "bc_steps_per_s": res["bc_train"]["steps_per_s"],
            f"eval_{hi}_env_steps_per_s": res[f"eval_{hi}"]["env_steps_per_s"]}
        results[str(t)] = res
    report = {"machine": machine(), "load_avg_before": list(load_before), "load_avg_after": list(os.getloadavg()),
              "sizes": dataclasses.asdict(sizes), "rounds_done": rounds_done, "wall_s": time.perf_counter() - start,
              "threads": list(threads), "goals": GOALS,
              "config": {"dt": dataclasses.asdict(dt_model.cfg) | {"state_mean": None, "state_std": None},
                         "bc": dataclasses.asdict(bc_model.cfg) | {"state_mean": None, "state_std": None},
                         "batch_size": dt.batch_size, "dataset_steps": data.n_steps,
                         "dataset_episodes": data.n_episodes},
              "results": results, "raw": raw}
    if out is not None:
        io.write_json(out, report)
    return report


def _goal_met(value: float, goal: str) -> str:
    op, target = goal.split()
    ok = value >= float(target) if op == ">=" else value <= float(target)
    return "yes" if ok else "no"


def format_table(report: dict) -> str:
    """A readable summary: one block per thread count, goals beside the measurements."""
    m = report["machine"]
    lines = [f"{m['cpu']}, {m['cpus']} CPUs, torch {m['torch']}, commit {m['git_commit'][:12]}, {m['date']}",
             "load average before / after: " + " ".join(f"{x:.2f}" for x in report["load_avg_before"])
             + " / " + " ".join(f"{x:.2f}" for x in report["load_avg_after"]),
             f"median of {report['rounds_done']} interleaved rounds, {report['wall_s']:.0f} s; "
             f"evaluation episodes of {report['sizes']['episode_steps']} steps; "
             + ", ".join(f"{k}={v}" for k, v in m["env"].items() if v)]
    hi = max(report["sizes"]["parallel"])
    for t, res in report["results"].items():
        lines += ["", f"torch threads = {t}",
                  f"{'measurement':<34}{'ours':>10}{'cpu time':>22}{'goal':>10}{'official':>10}{'met':>5}"]

        def row(name, value, cpu, key=None, fmt="{:.1f}"):
            g = GOALS.get(key, {}) if key else {}
            off = g.get("official")
            lines.append(f"{name:<34}{fmt.format(value):>10}{cpu:>22}{g.get('goal', ''):>10}"
                         f"{'' if off is None else off:>10}{_goal_met(value, g['goal']) if g else '':>5}")

        d, b = res["dt_train"], res["bc_train"]
        row("DT train steps/s", d["steps_per_s"], f"{d['cpu_ms_per_step']:.0f} ms/step", "dt_steps_per_s", "{:.2f}")
        if "dt_train_bf16" in res:
            d16 = res["dt_train_bf16"]
            row("DT train steps/s, bf16 (opt-in)", d16["steps_per_s"], f"{d16['cpu_ms_per_step']:.0f} ms/step",
                None, "{:.2f}")
        if "dt_train_bf16_packed" in res:
            d16 = res["dt_train_bf16_packed"]
            row("DT steps/s, bf16 + packed masks", d16["steps_per_s"], f"{d16['cpu_ms_per_step']:.0f} ms/step",
                "dt_steps_per_s", "{:.2f}")
        row("DT sampling share of a step", d["sample_share"], f"{d['sample_ms_per_step']:.2f} ms/step",
            "dt_sample_share", "{:.2%}")
        row("BC train steps/s", b["steps_per_s"], f"{b['cpu_ms_per_step']:.1f} ms/step", "bc_steps_per_s")
        if "bc_train_packed" in res:
            bp = res["bc_train_packed"]
            row("BC train steps/s, packed masks", bp["steps_per_s"], f"{bp['cpu_ms_per_step']:.1f} ms/step",
                "bc_steps_per_s")
        for n in report["sizes"]["parallel"]:
            e = res[f"eval_{n}"]
            row(f"eval env-steps/s, {n} parallel", e["env_steps_per_s"], f"{e['cpu_ms_per_lockstep']:.1f} ms/lockstep",
                "eval_50_env_steps_per_s" if n == 50 else None, "{:.0f}")
        if f"eval_{hi}_bf16" in res:
            e = res[f"eval_{hi}_bf16"]
            row(f"eval env-steps/s, {hi} parallel, bf16", e["env_steps_per_s"],
                f"{e['cpu_ms_per_lockstep']:.1f} ms/lockstep", None, "{:.0f}")
        row(f"eval speedup, {hi} parallel vs 1", res["eval_parallel_speedup"], "", None, "{:.1f}x")
        row("Hopper env-steps/s (ceiling)", res["env"]["env_steps_per_s"], f"{res['env']['cpu_us_per_step']:.0f} us/step",
            None, "{:.0f}")
        row(f"eval {hi} parallel / ceiling", res["eval_share_of_env_ceiling"], "", None, "{:.0%}")
    return "\n".join(lines)


def extra_benchmarks(quick: bool, log: Callable[[str], None]) -> dict:
    """CQL updates/s at d3rlpy's defaults (issue 8) and the Atari DT/env/loader numbers (issue 7)."""
    sys.path.insert(0, str(project_root()))  # run as a script: make `benchmarks` importable as a package
    from benchmarks.bench_atari import run_all as atari_all
    from benchmarks.bench_cql import bench_cql

    log("CQL: continuous CQL updates/s at d3rlpy's default sizes (1 thread)")
    cql = bench_cql(seconds=2.0 if quick else 5.0, rounds=1 if quick else 3, threads=1)
    log("Atari: env steps/s, DQN-replay loader, DT training steps/s at the paper's config")
    atari = atari_all(steps=1 if quick else 3)
    return {"cql": cql, "atari": atari}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (200-step episodes, 2 rounds): about 1 min")
    ap.add_argument("--threads", default="", help="comma-separated torch thread counts to compare, e.g. 2,1 "
                                                   "(default: torch's default only)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="seconds after which no further round starts (default: 240, --quick 60); a round with "
                         "two thread counts takes ~3 min on an idle 2-core CPU")
    ap.add_argument("--out", type=Path, default=project_root() / "reports" / "bench.json")
    args = ap.parse_args(argv)
    threads = tuple(int(t) for t in args.threads.split(",") if t)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    sizes = QUICK if args.quick else FULL
    if args.budget_s is not None:
        if args.budget_s <= 0:
            ap.error(f"--budget-s must be positive, got {args.budget_s}")
        sizes = dataclasses.replace(sizes, budget_s=args.budget_s)
    report = run_benchmarks(sizes, threads, None, log=log)
    report["extra"] = extra_benchmarks(args.quick, log)
    io.write_json(args.out, report)
    print(format_table(report))
    for name, rows in report["extra"].items():
        print(f"\n{name}:")
        for row in rows if isinstance(rows, list) else [rows]:
            print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                                   if not isinstance(v, (dict, list))))
    print(f"\nwritten to {args.out}")
    return report


if __name__ == "__main__":
    main()
