"""Gym baselines' scores against training steps at `small` (issue 15.4): how many steps does each need?

At `small` the D4RL claims stop on a training precondition (`dtlib.claims.d4rl_training`): BC and CQL score
below half of what they should reach on our data, so "DT beats CQL / BC" says nothing about the paper. Before
spending the profile's budget on more baseline steps, this pilot measures the curve: the `small` profile's Gym
grid (its learning rates, batch, warmup rule, evaluation and precision, through `dtlib.gym_study.jobs`) for one
method with more steps, evaluated every `--eval-every` steps at the env's paper target (the Table-2 protocol),
on pilot seeds (not the profile's 0 and 1). One row per (method, env, dataset, seed, step): the normalised
score, and the run's wall time.

Runs are ordinary run folders under `--runs` (resumable: rerun the same command after a kill; finished runs are
skipped).

    .venv/bin/python benchmarks/gym_steps_pilot.py --method bc --steps 12000 --eval-every 3000 --seeds 2 3
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dtlib import gym_study
from dtlib.sweep import run_sweep

STEP_FIELD = {"dt": "dt_steps", "bc": "bc_steps", "pct_bc": "bc_steps", "cql": "cql_steps"}


def study_for(method: str, steps: int, eval_every: int, seeds: tuple[int, ...], envs: tuple[str, ...],
              datasets: tuple[str, ...]) -> gym_study.GymStudy:
    """The small profile's Gym study for one method with `steps` steps, evaluated every `eval_every`."""
    return gym_study.profile_study("small", methods=[method], seeds=list(seeds), envs=list(envs),
                                   datasets=list(datasets), eval_every=eval_every, **gym_study.PLAIN_RUNS,
                                   **{STEP_FIELD[method]: steps})


def curve(evals: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run and evaluated step: the normalised score at the paper's target (`one_target`)."""
    scores = gym_study.one_target(gym_study.seed_scores(evals))
    keys = ["method", "env", "dataset", "seed", "run", "step"]
    out = scores.groupby(keys, dropna=False)["normalized_score"].mean().reset_index()
    wall = runs.set_index("run")["wall_s"]
    return out.assign(score=out["normalized_score"].round(2), wall_s=out["run"].map(wall).round(1)).drop(
        columns="normalized_score")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", required=True, choices=list(STEP_FIELD))
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--eval-every", type=int, required=True)
    ap.add_argument("--seeds", nargs="+", type=int, default=[2], help="seeds not in the profile's grid (0, 1)")
    ap.add_argument("--envs", nargs="+", default=["hopper", "walker2d", "halfcheetah"])
    ap.add_argument("--datasets", nargs="+", default=["medium", "medium-replay"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=Path("runs/pilots/gym_steps"))
    ap.add_argument("--out", type=Path, default=None, help="CSV (default benchmarks/results/gym_steps_<method>.csv)")
    args = ap.parse_args(argv)
    out = args.out or Path(f"benchmarks/results/gym_steps_{args.method}.csv")
    study = study_for(args.method, args.steps, args.eval_every, tuple(args.seeds), tuple(args.envs),
                      tuple(args.datasets))
    jobs = gym_study.jobs(study)
    print(f"{args.method}: {len(jobs)} runs of {args.steps} steps, evaluated every {args.eval_every}",
          file=sys.stderr, flush=True)
    result = run_sweep(jobs, args.runs / args.method, workers=args.workers, raise_on_failure=False)
    if not len(result.evals):
        raise SystemExit("no run finished")
    table = curve(result.evals, result.runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(out)
    wide = table.pivot_table(index="step", columns=["env", "dataset"], values="score", aggfunc="mean")
    wide[("mean", "")] = wide.mean(axis=1)
    print(wide.round(1).to_string())


if __name__ == "__main__":
    main()
