"""Training windows of K steps, sampled as the official code does, with vectorised numpy.

Official `gym/experiment.py:get_batch`: episodes drawn with probability ∝ length, a start step drawn
uniformly inside the episode, a slice of at most K steps, left padding to K with a mask. Letters: B batch, K.
"""
from __future__ import annotations

import numpy as np
import torch

from dtlib.data.episodes import DatasetError, EpisodeDataset


class WindowSampler:
    """Draws batches of windows from an EpisodeDataset; its RNG state is part of every checkpoint."""

    def __init__(self, data: EpisodeDataset, context_len: int, seed: int = 0, from_start: bool = False):
        """`from_start`: every window begins at its episode's first step (whole-episode context, where
        K >= the longest episode: Key-to-Door, the graph), instead of at a uniform step (official Gym/Atari)."""
        if not isinstance(context_len, int) or context_len < 1:
            raise DatasetError(f"context_len (K) must be an integer >= 1, got {context_len!r}")
        self.data = data
        self.K = context_len
        self.from_start = from_start
        self.rng = np.random.default_rng(seed)
        self.rtg = data.returns_to_go()  # [N]
        self.timesteps = data.timesteps  # [N]
        self.lengths = data.lengths  # [E]
        self.p = self.lengths / self.lengths.sum()  # [E], sampling ∝ episode length

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch in the model's format (see dtlib.model), padded steps zeroed and masked out."""
        K = self.K
        ep = self.rng.choice(len(self.lengths), size=batch_size, p=self.p)  # [B]
        length = self.lengths[ep]
        si = (self.rng.random(batch_size) * length).astype(np.int64)  # [B] start step, uniform
        if self.from_start:
            si[:] = 0
        tlen = np.minimum(K, length - si)  # [B] real steps in the window
        offset = np.arange(K)[None, :] - (K - tlen)[:, None]  # [B, K] position inside the slice
        valid = offset >= 0  # [B, K], left padding is invalid
        idx = self.data.starts[ep][:, None] + si[:, None] + np.maximum(offset, 0)  # [B, K] dataset steps
        return window_batch(self.data, idx, valid, self.rtg, self.timesteps)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def window_batch(data: EpisodeDataset, idx: np.ndarray, valid: np.ndarray, rtg: np.ndarray,
                 timesteps: np.ndarray) -> dict[str, np.ndarray]:
    """Gather [B, K] windows at dataset steps `idx`; where not `valid`, values are 0 and mask is 0."""
    states = data.obs_at(idx)  # [B, K, *obs]
    actions = data.actions[idx]  # [B, K, A] or [B, K]
    states[~valid] = 0
    actions[~valid] = 0
    return {"states": states, "actions": actions, "rtg": np.where(valid, rtg[idx], 0.0).astype(np.float32),
            "timesteps": np.where(valid, timesteps[idx], 0), "mask": valid.astype(np.float32)}


def to_torch(batch: dict[str, np.ndarray], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """numpy batch → tensors on `device` (uint8 frames stay uint8 until the encoder)."""
    return {k: torch.as_tensor(v, device=device) for k, v in batch.items()}
