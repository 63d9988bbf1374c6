"""What the environment notebook reports: package versions, the compute device, simulator throughput."""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from importlib import metadata

import pandas as pd

from dtlib.profiles import load_profile
from dtlib.validate import check_fields, check_int

# The packages whose versions decide whether results are comparable across machines.
KEY_PACKAGES = ("torch", "gymnasium", "mujoco", "ale-py", "minari", "numpy", "papermill")

# Environments the paper's domains run on, as Gymnasium ids (Gym and Atari; Key-to-Door is our own).
THROUGHPUT_ENVS = ("Hopper-v5", "ALE/Breakout-v5")


@dataclass(frozen=True)
class EnvironmentParams:
    """The environment notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    seed: int  # seed of the random-action rollouts
    env_steps: int  # random-action steps per environment in the throughput table

    def __post_init__(self) -> None:
        load_profile(self.profile)  # the name, and that its YAML reads
        check_int("seed", self.seed, 0, 2**32 - 1)
        check_int("env_steps", self.env_steps, 1)
        check_fields(self)


def versions() -> pd.DataFrame:
    """One row per key package (plus Python) with its installed version."""
    rows = [{"package": "python", "version": platform.python_version()}]
    rows += [{"package": name, "version": metadata.version(name)} for name in KEY_PACKAGES]
    return pd.DataFrame(rows)


def device() -> str:
    """The torch device training will use: 'cuda' when a GPU is visible, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def device_description() -> str:
    """A one-line description of the compute device and CPU threads."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def make_env(env_id: str):
    """`gymnasium.make` with the ALE environments registered."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return gym.make(env_id)


def env_throughput(env_id: str, steps: int, seed: int) -> dict:
    """Step `env_id` with uniformly random actions for `steps` steps; report steps per second."""
    env = make_env(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    episodes, start = 0, time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            env.reset()
    seconds = time.perf_counter() - start
    env.close()
    return {"env": env_id, "steps": steps, "episodes_finished": episodes, "seconds": round(seconds, 3),
            "steps_per_s": round(steps / seconds, 1)}


def throughput_table(steps: int, seed: int, env_ids: tuple[str, ...] = THROUGHPUT_ENVS) -> pd.DataFrame:
    """`env_throughput` for each environment, one row each."""
    return pd.DataFrame([env_throughput(env_id, steps, seed) for env_id in env_ids])


def compute_table() -> pd.DataFrame:
    """The CPU facts training speed depends on: model, torch's ISA, the bf16 matmul unit and what precision 'auto'
    resolves to here (dtlib.compute; docs/speed.md)."""
    from dtlib.compute import compute_info

    info = compute_info()
    return pd.DataFrame([{"fact": k, "value": ", ".join(v) if isinstance(v, list) else str(v)}
                         for k, v in info.items()])
