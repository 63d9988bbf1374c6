"""Run folders and tidy result tables.

A run folder holds `config.json` (everything that defines the run, plus the git commit), `metrics.csv`
(one row per logged step), `eval.csv` (one row per evaluation episode), `checkpoint.pt` (model,
optimiser, scheduler, step and every RNG state; loads with `torch.load(weights_only=True)`) and, once
finished, `summary.json` (wall time, steps, commit). The folder's name ends in a hash of
its config, and the config holds the run's `identity` (dtlib.identity: the digest of the code it runs, of
the committed behaviour files and of the data), so new code or new data is a new folder and going back to
the old code finds the old folder again. Folders made before identities existed stay readable
(`RunDir.open`); they are simply not found by new runs. Metric names are namespaced once, here:

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
import os
from pathlib import Path
from typing import Any

import pandas as pd

from dtlib import io
from dtlib.compute import compute_info
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
    """One training run's folder. The name ends in a hash of its config (identity included): a changed config,
    code or dataset is a new run."""

    def __init__(self, root: str | Path, name: str, config: dict):
        self.config = config
        digest = config_digest(config)
        self.path = Path(root) / f"{name}-{digest}"
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            # beside the config, outside its hash: the commit, and the CPU facts its speed and a precision 'auto'
            # depend on (the bf16 matmul unit; the precision itself is in the config, resolved)
            io.write_json(self.config_path, {**config, "git_commit": git_commit(), "compute": compute_info()})

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run folder, for reading (old folders without an identity included); writes nothing."""
        run = cls.__new__(cls)
        run.path = Path(path)
        run.config = io.read_json(run.path / "config.json")
        return run

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

    @property
    def identity(self) -> dict:
        """The code, artifact and data digests the run was made with ({} for folders older than identities)."""
        return self.config.get("identity", {})


RUN_LOG_ENV = "DTLIB_RUN_LOG"  # set by dtlib.pipeline per notebook: where note_use lists the runs it reads


def note_use(run: RunDir) -> None:
    """Append the run folder to $DTLIB_RUN_LOG (one JSON line; a no-op outside the pipeline)."""
    log = os.environ.get(RUN_LOG_ENV)
    if log:
        with open(log, "a") as f:  # one short append per line: safe from parallel worker processes
            f.write(json.dumps({"path": str(run.path)}) + "\n")


def runs_from_other_code(log: str | Path) -> list[tuple[str, list[str]]]:
    """(run folder name, what differs) for each run listed in a run log whose code or behaviour artifacts
    differ from today's checkout; folders that no longer exist are reported as missing."""
    log = Path(log)
    if not log.exists():
        return []
    paths = dict.fromkeys(json.loads(line)["path"] for line in log.read_text().splitlines() if line.strip())
    out = []
    for path in paths:
        if not (Path(path) / "config.json").exists():
            out.append((Path(path).name, ["run folder missing"]))
            continue
        diff = code_differences(RunDir.open(path))
        if diff:
            out.append((Path(path).name, diff))
    return out


def code_differences(run: RunDir) -> list[str]:
    """What differs between the code and behaviour files `run` was made with and today's ([] = none)."""
    from dtlib.identity import current_identity, differences
    from dtlib.specs import get_env_spec

    env = run.config.get("RunConfig", {}).get("env")
    if not run.identity or env is None:
        return differences({}, {})
    spec = get_env_spec(env)
    return differences(run.identity, current_identity(run.identity, spec.name, spec.domain))


def collect(run_dirs: list[RunDir], **labels_per_run: list) -> pd.DataFrame:
    """Concatenate the eval tables of several runs, adding one label column per keyword."""
    frames = []
    for i, run in enumerate(run_dirs):
        df = run.evals()
        for key, values in labels_per_run.items():
            df[key] = values[i]
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
