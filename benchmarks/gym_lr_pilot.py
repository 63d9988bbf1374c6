"""Gym learning rates at a short step budget (issue 15.4): which learning rate does each method need at `small`?

The paper's rates (DT and BC: AdamW 1e-4 after a 10k-step warmup; CQL: actor 1e-4, critic 3e-4) are set for
1e5-1e6 steps. `small` trains DT 500 steps, BC 3000 and CQL 600, where a rate chosen for a hundred times more
steps may leave every method far from where it could be. This pilot runs the `small` profile's Gym grid
(the profile's steps, batch, warmup, evaluation and precision, through `dtlib.gym_study.jobs`) on the given
seeds with each method at each candidate rate, and writes one row per (method, rate, env, dataset, seed):
the normalised score at the env's paper target (the Table-2 protocol) and the run's wall time.

Every method gets the same kind of search (a rate grid, the best mean over the six tasks picked), so the
tuned baselines stay fair. CQL's candidates scale its three rates (actor, critic, temperature) together.
Runs are ordinary run folders under `--runs` (resumable: rerun the same command after a kill; finished
runs are skipped).

    .venv/bin/python benchmarks/gym_lr_pilot.py --seeds 2 --out benchmarks/results/gym_lr_pilot.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dtlib import gym_study
from dtlib.sweep import run_sweep

# candidate rates per method: DT/BC AdamW lr; CQL a factor on (actor 1e-4, critic 3e-4, temperature 1e-4)
CANDIDATES = {"dt": (1e-4, 3e-4, 1e-3), "bc": (1e-4, 3e-4, 1e-3, 3e-3), "pct_bc": (1e-4, 3e-4, 1e-3, 3e-3),
              "cql": (1.0, 3.0, 10.0)}


def study_for(method: str, rate: float, seeds: tuple[int, ...], envs: tuple[str, ...], datasets: tuple[str, ...]
              ) -> gym_study.GymStudy:
    """The small profile's Gym study for one method at one candidate rate (the study's own rate fields)."""
    rate_field = {"dt": "dt_lr", "bc": "bc_lr", "pct_bc": "bc_lr", "cql": "cql_lr_scale"}[method]
    return gym_study.profile_study("small", methods=[method], seeds=list(seeds), envs=list(envs),
                                   datasets=list(datasets), eval_every=0, **gym_study.PLAIN_RUNS, **{rate_field: rate})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--rates", nargs="+", type=float, default=None, help="override every method's candidates")
    ap.add_argument("--seeds", nargs="+", type=int, default=[2], help="seeds not in the profile's grid (0, 1)")
    ap.add_argument("--envs", nargs="+", default=["hopper", "walker2d", "halfcheetah"])
    ap.add_argument("--datasets", nargs="+", default=["medium", "medium-replay"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=Path("runs/pilots/gym_lr"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/gym_lr_pilot.csv"))
    args = ap.parse_args(argv)
    rows = []
    for method in args.methods:
        for rate in args.rates or CANDIDATES[method]:
            jobs = gym_study.jobs(study_for(method, rate, tuple(args.seeds), tuple(args.envs), tuple(args.datasets)))
            print(f"{method} rate {rate:g}: {len(jobs)} runs", file=sys.stderr, flush=True)
            result = run_sweep(jobs, args.runs / f"{method}-{rate:g}", workers=args.workers, raise_on_failure=False)
            if not len(result.evals):
                continue
            per_run = gym_study.run_scores(gym_study.seed_scores(result.evals))
            wall = result.runs.set_index("run")["wall_s"]
            for _, r in per_run.iterrows():
                rows.append({"method": method, "rate": rate, "env": r["env"], "dataset": r["dataset"],
                             "seed": int(r["seed"]), "score": round(float(r["last"]), 2),
                             "wall_s": round(float(wall.get(r["run"], float("nan"))), 1)})
            table = pd.DataFrame(rows)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".tmp")
            table.to_csv(tmp, index=False)
            tmp.replace(args.out)
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["method", "rate"], columns=["env", "dataset"], values="score", aggfunc="mean")
    wide["mean"] = wide.mean(axis=1)
    print(wide.round(1).to_string())


if __name__ == "__main__":
    main()
