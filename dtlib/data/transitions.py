"""One-step transitions (s, a, r, s', done) for TD learners (CQL), sampled uniformly with vectorised numpy.

`done` is the env's termination only: a time-limit cut (`timeouts`) is not an end of the MDP, so its
value is bootstrapped. The next state is always the next step of the same episode. Our episode format
stores no observation after an episode's last step, so the last step of an episode that did not
terminate (a timeout, or a fragment cut without any flag) has no s' and is left out — as D4RL's
`qlearning_dataset`, which skips timeout steps. A terminal last step is kept with done = 1; its s' is a
placeholder (the step's own observation) that the target multiplies by zero.
Letters: N steps, B batch, F history features.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset

# `history(data) -> [N, F]` features of the episode so far, per step (e.g. Key-to-Door's "key held")
HistoryFn = Callable[[EpisodeDataset], np.ndarray]


def transition_indices(data: EpisodeDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps usable as transitions [M], their next steps [M] and done flags [M] (see the module docstring)."""
    last = np.zeros(data.n_steps, dtype=bool)
    last[data.starts + data.lengths - 1] = True  # [N]
    keep = ~last | data.terminals  # [N]: a non-terminal last step has no stored s'
    idx = np.flatnonzero(keep)  # [M]
    next_idx = np.where(last[idx], idx, idx + 1)  # [M], placeholder s' = s at a terminal last step
    return idx, next_idx, data.terminals[idx].astype(np.float32)


class TransitionSampler:
    """Uniform batches of transitions; its RNG state is part of every checkpoint (as WindowSampler's)."""

    def __init__(self, data: EpisodeDataset, seed: int = 0, history: HistoryFn | None = None):
        self.data = data
        self.idx, self.next_idx, self.done = transition_indices(data)
        if len(self.idx) == 0:
            raise DatasetError("no transitions: every episode is a single truncated step")
        self.history = None if history is None else np.asarray(history(data), dtype=np.float32).reshape(
            data.n_steps, -1)  # [N, F]
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.idx)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """observations [B, *obs], actions, rewards [B], next_observations, terminals [B] (+ history [B, F])."""
        j = self.rng.integers(len(self.idx), size=batch_size)  # [B]
        i, i2 = self.idx[j], self.next_idx[j]
        batch = {"observations": self.data.obs_at(i), "actions": self.data.actions[i],
                 "rewards": self.data.rewards[i], "next_observations": self.data.obs_at(i2),
                 "terminals": self.done[j]}
        if self.history is not None:
            batch["history"], batch["next_history"] = self.history[i], self.history[i2]
        return batch

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
