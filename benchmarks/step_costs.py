"""CPU seconds per training step and per evaluation env step, for the plan's cost table (dtlib.plan.STEP_COSTS).

Measures process CPU time (not wall time, so a loaded machine inflates the numbers less) of the training
loop's step — sample, to tensors, update — at each preset's sizes, on one torch thread, and of evaluation
(`dtlib.evaluate`, 100 episodes in lockstep) per env step. Prints CSV rows in STEP_COSTS' columns.

    python benchmarks/step_costs.py [--steps 30] [--only keydoor,graph,gym]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dtlib.baselines.cql import CQLLearner  # noqa: E402
from dtlib.config import get_preset  # noqa: E402
from dtlib.data.transitions import TransitionSampler  # noqa: E402
from dtlib.data.windows import WindowSampler, to_torch  # noqa: E402
from dtlib.evaluate import EvalConfig, evaluate  # noqa: E402
from dtlib.experiment import RunConfig, build_model  # noqa: E402
from dtlib.specs import get_env_spec  # noqa: E402
from dtlib.train import SupervisedLearner, TrainConfig  # noqa: E402


def datasets() -> dict:
    """One dataset per domain, as the studies use them (Gym: a synthetic Hopper-sized one, same shapes)."""
    from dtlib.data.generate import generate_graph_dataset, generate_keydoor_dataset

    out = {"keydoor": generate_keydoor_dataset(1000, seed=0), "graph": generate_graph_dataset(2000, seed=0)}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_experiment import hopper_like

    out["hopper"] = hopper_like(n_episodes=100, length=1000, seed=0)
    return out


def train_cost(env: str, method: str, data, steps: int, dropout_masks: str = "packed") -> float:
    """CPU seconds per training step (the median of three blocks after two warm-up steps); DT and BC with
    `dropout_masks` (small's 'packed' by default: its attention is then the written-out one)."""
    spec = get_env_spec(env)
    preset = get_preset(spec.domain, method)
    cfg = RunConfig(env, "bench", method, pct=0.1 if method == "pct_bc" else 1.0)
    train_cfg = TrainConfig(**{**preset.train, "device": "cpu"})
    torch.manual_seed(0)
    model = build_model(cfg, data, {} if method == "cql" else {"dropout_masks": dropout_masks})
    if method == "cql":
        sampler, learner = TransitionSampler(data, seed=0), CQLLearner(model, torch.device("cpu"))
    else:
        sampler = WindowSampler(data, model.context_len, seed=0, from_start=model.context_len >= spec.max_ep_len)
        learner = SupervisedLearner(model, train_cfg)
    step = lambda: learner.update(to_torch(sampler.sample(train_cfg.batch_size)))  # noqa: E731
    for _ in range(2):
        step()
    blocks = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(steps):
            step()
        blocks.append((time.process_time() - start) / steps)
    return sorted(blocks)[1]


def eval_cost(env: str, data) -> float:
    """CPU seconds per env step of a DT's evaluation (100 episodes stepped together)."""
    torch.manual_seed(0)
    model = build_model(RunConfig(env, "bench", "dt"), data).eval()
    start = time.process_time()
    df = evaluate(model, get_env_spec(env), EvalConfig(episodes=100, targets=get_env_spec(env).targets[:1]))
    return (time.process_time() - start) / float(df["length"].sum())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per timed block")
    parser.add_argument("--only", default="keydoor,graph", help="domains: keydoor, graph, gym")
    parser.add_argument("--dropout-masks", default="packed", choices=["packed", "bernoulli"],
                        help="DT and BC dropout masks (small: packed)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = datasets()
    load = os.getloadavg()[0]
    when = time.strftime("%Y-%m-%d")
    print("domain,method,precision,device,s_per_step,source")
    plan = {"keydoor": [("keydoor", m) for m in ("dt", "bc", "pct_bc", "cql")], "graph": [("graph", "dt")],
            "gym": [("hopper", m) for m in ("dt", "bc", "cql")]}
    for domain in args.only.split(","):
        for env, method in plan[domain]:
            cost = train_cost(env, method, data[env], args.steps, args.dropout_masks)
            masks = "" if method == "cql" else f"{args.dropout_masks} masks; "
            print(f"{get_env_spec(env).domain},{method},fp32,cpu,{cost:.6f},benchmarks/step_costs.py {when} "
                  f"({masks}CPU time; 1 thread; load {load:.1f})", flush=True)
        if domain in ("keydoor", "graph"):
            env = domain
            print(f"{domain},eval,fp32,cpu,{eval_cost(env, data[env]):.6f},benchmarks/step_costs.py {when} "
                  f"(CPU time per env step, 100 episodes in lockstep; load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()
