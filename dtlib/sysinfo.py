"""What the environment notebook reports: package versions, the compute device, simulator throughput."""
from __future__ import annotations

import platform
import time
from importlib import metadata

import pandas as pd

from dtlib.profiles import Profile, load_profile
from dtlib.validate import ParameterError, check_positive

# The packages whose versions decide whether results are comparable across machines.
KEY_PACKAGES = ("torch", "gymnasium", "mujoco", "ale-py", "minari", "numpy", "papermill")

# Environments the paper's domains run on, as Gymnasium ids (Gym and Atari; Key-to-Door is our own).
THROUGHPUT_ENVS = ("Hopper-v5", "ALE/Breakout-v5")


def check_params(profile: str, seed: int, env_steps: int) -> Profile:
    """Validate the environment notebook's parameters; return the loaded profile."""
    loaded = load_profile(profile)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ParameterError(f"seed={seed!r} must be an integer in [0, 2**32)")
    check_positive("env_steps", env_steps, integer=True)
    return loaded


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
