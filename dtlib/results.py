"""Run folders and tidy result tables.

A run folder holds `config.json` (everything that defines the run, plus the git commit), `metrics.csv`
(one row per logged step), `eval.csv` (one row per evaluation episode), `checkpoint.pt` (model,
optimiser, scheduler, step and every RNG state; loads with `torch.load(weights_only=True)`) and, once
finished, `summary.json` (wall time, steps, commit). Metric names are namespaced once, here:

  train/action_loss   mean action loss (MSE or cross-entropy) of the logged step
  train/return_loss   return-head MSE (scaled units), when the model has one
  train/lr            learning rate at that step
  time/wall_s         wall-clock seconds since the run started (summed over resumes)
  eval/return         undiscounted episode return          eval/normalized_score   D4RL / gamer-normalised
  eval/length         episode length
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from dtlib import io
from dtlib.paths import git_commit


def config_dict(*configs: Any, **extra: Any) -> dict:
    """Flatten dataclass configs (by class name) and extra keys into one JSON-ready dict."""
    out: dict[str, Any] = {}
    for cfg in configs:
        out[type(cfg).__name__] = dataclasses.asdict(cfg)
    out.update(extra)
    return json.loads(json.dumps(out, default=str))


# Config fields added after run folders existed, with the default that reproduces the old behaviour: at that
# default they are left out of the folder's hash, so existing finished runs stay valid (they are still
# written to config.json). Add a field here only if its default leaves results unchanged.
HASH_NEUTRAL = {"EvalConfig": {"precision": "fp32"}, "TrainConfig": {"precision": "fp32"},
                "ModelConfig": {"dropout_masks": "bernoulli"}}


def config_digest(config: dict) -> str:
    """First 8 hex digits of the sha256 of the config, without hash-neutral fields at their defaults."""
    view = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for section, fields in HASH_NEUTRAL.items():
        for field, default in fields.items():
            if isinstance(view.get(section), dict) and view[section].get(field, default) == default:
                view[section].pop(field, None)
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:8]


class RunDir:
    """One training run's folder. The name ends in a hash of its config: a changed config is a new run."""

    def __init__(self, root: str | Path, name: str, config: dict):
        self.config = config
        digest = config_digest(config)
        self.path = Path(root) / f"{name}-{digest}"
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            io.write_json(self.config_path, {**config, "git_commit": git_commit()})

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.csv")
    eval_path = property(lambda self: self.path / "eval.csv")
    checkpoint_path = property(lambda self: self.path / "checkpoint.pt")
    summary_path = property(lambda self: self.path / "summary.json")

    @property
    def done(self) -> bool:
        """A finished run: it is never retrained."""
        return self.summary_path.exists()

    def metrics(self) -> pd.DataFrame:
        return pd.read_csv(self.metrics_path) if self.metrics_path.exists() else pd.DataFrame()

    def evals(self) -> pd.DataFrame:
        return pd.read_csv(self.eval_path) if self.eval_path.exists() else pd.DataFrame()

    def summary(self) -> dict:
        return io.read_json(self.summary_path) if self.done else {}


def collect(run_dirs: list[RunDir], **labels_per_run: list) -> pd.DataFrame:
    """Concatenate the eval tables of several runs, adding one label column per keyword."""
    frames = []
    for i, run in enumerate(run_dirs):
        df = run.evals()
        for key, values in labels_per_run.items():
            df[key] = values[i]
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
