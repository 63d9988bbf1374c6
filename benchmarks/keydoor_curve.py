"""Key-to-Door DT success against training steps, one run (issue 15.2): how many steps does DT need?

One `dtlib.experiment.run` of the small profile's Key-to-Door DT (preset 'keydoor/dt', data seed 0, 100
evaluation episodes per point) with an evaluation every `--eval-every` steps. The run is resumable: kill it
and start the same command again to continue from its last checkpoint (`--checkpoint-every`). Prints the
curve (success % per evaluated step) and the measured training steps/s from metrics.csv (evaluations excluded
where possible: wall time between logged rows that contain no evaluation).

    nice -n 10 .venv/bin/python benchmarks/keydoor_curve.py --dataset 10000 --seed 0 --steps 10000 \
        --eval-every 1000 --runs runs/curves
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from dtlib.data.generate import keydoor_dataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, run
from dtlib.keydoor_study import dataset_label
from dtlib.results import RunDir


def curve(run_dir: RunDir) -> str:
    """The run's success curve and its training speed, as text."""
    evals = run_dir.evals()
    lines = ["step  success_%"]
    if len(evals):
        for step, ok in (evals.assign(s=evals["return"] > 0.5).groupby("step")["s"].mean() * 100).items():
            lines.append(f"{step:>5}  {ok:6.1f}")
    return "\n".join(lines + speed_line(run_dir))


def speed_line(run_dir: RunDir) -> list[str]:
    """The run's training speed from metrics.csv (evaluations included), as one line ([] before two rows)."""
    if not run_dir.metrics_path.exists():
        return []
    m = run_dir.metrics()
    if len(m) < 2:
        return []
    steps, wall = m["step"].to_numpy(), m["time/wall_s"].to_numpy()
    return [f"{int(steps[-1])} steps in {wall[-1]:.0f} s wall (evaluations included): "
            f"{steps[-1] / wall[-1]:.2f} steps/s; load average {os.getloadavg()}"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=int, default=10_000, help="random trajectories in the dataset (1000 | 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=Path, default=Path("runs/curves"))
    ap.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size (32)")
    ap.add_argument("--lr", type=float, default=None, help="override the preset's learning rate (1e-3)")
    ap.add_argument("--dropout", type=float, default=None, help="override the model's dropout (0.1)")
    ap.add_argument("--weight-decay", type=float, default=None, help="override AdamW's weight decay (1e-4)")
    ap.add_argument("--embed-dim", type=int, default=None, help="override the preset's width (64)")
    ap.add_argument("--n-layer", type=int, default=None, help="override the preset's layers (2)")
    ap.add_argument("--n-head", type=int, default=None, help="override the preset's attention heads (4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = keydoor_dataset(args.dataset, 0)
    rc = RunConfig("keydoor", dataset_label(args.dataset), "dt", seed=args.seed)
    train = {k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr),
                                                ("weight_decay", args.weight_decay)) if v is not None}
    model = {k: v for k, v in (("dropout", args.dropout), ("embed_dim", args.embed_dim), ("n_layer", args.n_layer),
                                                ("n_head", args.n_head))
             if v is not None} or None
    run_dir = run(rc, data, args.runs, EvalConfig(episodes=args.eval_episodes), progress=False, steps=args.steps,
                  eval_every=args.eval_every, checkpoint_every=args.checkpoint_every, model_overrides=model, **train)
    print(run_dir.path)
    print(curve(run_dir))


if __name__ == "__main__":
    main()
