"""Small synthetic tasks shared by the core tests."""
from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from dtlib.data.episodes import EpisodeDataset
from dtlib.specs import EnvSpec

# The tests' models are tiny: one thread avoids OpenMP hand-offs that cost more than the arithmetic
# (20x slower with 2 threads on a loaded 2-core machine).
torch.set_num_threads(1)
# Study grids run in the test process unless a test asks for workers (tests/test_sweep.py starts real clusters).
os.environ.setdefault("DTLIB_WORKERS", "1")

HORIZON = 5


class PushEnv(gym.Env):
    """5 steps; observation (t/5, running sum); reward = the action a ∈ [-1, 1]. Return = sum of actions."""

    observation_space = gym.spaces.Box(-10, 10, (2,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.total = 0, 0.0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.t / HORIZON, self.total], dtype=np.float32)

    def step(self, action):
        r = float(np.clip(action[0], -1, 1))
        self.t += 1
        self.total += r
        return self._obs(), r, False, self.t >= HORIZON, {}


PUSH_SPEC = EnvSpec("push", "gym", "push", HORIZON, 1.0, (-3.0, 0.0, 3.0), HORIZON, source="test task")


def push_dataset(n_episodes: int = 300, seed: int = 0) -> EpisodeDataset:
    """Episodes mixing good and bad behaviour: each episode pushes with its own constant-ish level."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n_episodes):
        level = rng.uniform(-1, 1)
        acts = np.clip(level + 0.1 * rng.standard_normal(HORIZON), -1, 1).astype(np.float32)
        obs = np.stack([[t / HORIZON, acts[:t].sum()] for t in range(HORIZON)]).astype(np.float32)
        episodes.append({"observations": obs, "actions": acts[:, None], "rewards": acts.astype(np.float32),
                         "timeouts": np.arange(HORIZON) == HORIZON - 1})
    return EpisodeDataset.from_episodes(episodes, meta={"env": "push"})


@pytest.fixture
def push():
    return push_dataset()
