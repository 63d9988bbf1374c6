"""Atari DT return against training steps, one run (issue 14.4): which model, K, batch and steps does `small` need?

Builds (or reuses) a DQN-replay-like mixture from behaviour snapshots (`dtlib.data.atari_replay`), trains one
DT (or BC) on it with evaluations every `--eval-every` steps at the game's paper target, and prints the curve
(mean return per evaluated step), the data's return range and the measured training speed. The run is
resumable: kill it and start the same command again to continue from its last checkpoint.

`--snapshot-dir` points at an exported folder (`dtlib.atari_behaviour.export(..., out=...)`): the committed
`behaviour/atari/<game>/` by default, or a pilot export of an agent still in training.

    nice -n 10 .venv/bin/python benchmarks/atari_curve.py --game pong --replay-steps 50000 --steps 3000 \
        --eval-every 500 --runs runs/curves
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dtlib.data.atari_replay import ReplayMixConfig, build_replay_dataset
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, run
from dtlib.paths import data_dir
from dtlib.results import RunDir
from dtlib.specs import get_env_spec
from keydoor_curve import speed_line  # benchmarks/ is on the path when a script here runs


def curve(run_dir: RunDir) -> str:
    """The run's mean evaluation return per step, and its training speed, as text."""
    evals = run_dir.evals()
    lines = ["step  target  mean_return  std  episodes"]
    for (step, target), g in evals.groupby(["step", "target"]):
        lines.append(f"{step:>5}  {target:6g}  {g['return'].mean():11.2f}  {g['return'].std():4.1f}  {len(g)}")
    return "\n".join(lines + speed_line(run_dir))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="pong")
    ap.add_argument("--snapshot-dir", default="", help="exported snapshots ('' = behaviour/atari/<game>/)")
    ap.add_argument("--shares", type=float, nargs="*", default=(), help="share per snapshot ('' = the folder's)")
    ap.add_argument("--replay-steps", type=int, default=50_000, help="transitions in the mixture")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--method", default="dt", choices=["dt", "bc"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-episodes", type=int, default=4)
    ap.add_argument("--max-eval-steps", type=int, default=2500, help="agent steps per evaluation episode")
    ap.add_argument("--context-len", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--frozen-encoder", default="", help="a behaviour snapshot whose conv torso replaces the "
                    "DT's CNN, fixed (e.g. behaviour/atari/pong/step_01200000.pt); '' = the paper's CNN, trained")
    ap.add_argument("--lr", type=float, default=None, help="override the preset's learning rate (6e-4)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=Path, default=Path("runs/curves"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    mix = ReplayMixConfig(env=args.game, n_steps=args.replay_steps, shares=tuple(args.shares), seed=args.data_seed,
                          snapshot_dir=args.snapshot_dir)
    path = data_dir() / "atari" / f"curve-{args.game}-{Path(mix.folder).name}-{mix.n_steps}-s{mix.seed}.npz"
    if path.exists():
        data = EpisodeDataset.load(path)
    else:
        data = build_replay_dataset(mix, progress=True)
        data.save(path)
    rets = data.episode_returns
    print(f"data: {path.name}, {data.n_steps} transitions, {data.n_episodes} episodes, returns {rets.min():g} … "
          f"{rets.max():g} (median {np.median(rets):g})")
    spec = get_env_spec(args.game)
    rc = RunConfig(args.game, "dqn-snapshots", args.method, seed=args.seed, context_len=args.context_len)
    train = {"batch_size": args.batch_size, "warmup_steps": min(100, args.steps // 10),
             **({"lr": args.lr} if args.lr is not None else {})}
    ev = EvalConfig(episodes=args.eval_episodes, targets=(spec.paper_target,), sample_actions=True,
                    max_steps=args.max_eval_steps, parallel=args.eval_episodes)
    run_dir = run(rc, data, args.runs, ev, progress=False, steps=args.steps, eval_every=args.eval_every,
                  checkpoint_every=min(100, args.eval_every),
                  model_overrides={"n_layer": args.n_layer, "n_head": args.n_head, "embed_dim": args.embed_dim,
                                   **({"encoder": "frozen_cnn", "encoder_weights": args.frozen_encoder}
                                      if args.frozen_encoder else {})},
                  **train)
    print(run_dir.path)
    print(curve(run_dir))


if __name__ == "__main__":
    main()
