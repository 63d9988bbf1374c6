"""Offline datasets as flat arrays of contiguous episodes.

One format serves every domain: vector observations (MuJoCo), small discrete observations
(Key-to-Door, the graph) and Atari frames, which are stored once each (uint8) and stacked by index.
Letters used in shape comments: N steps in the dataset, E episodes, B batch, K context length.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dtlib import io


class DatasetError(ValueError):
    """A dataset that cannot be used: the message says what is wrong with it."""


@dataclass
class EpisodeDataset:
    """Episodes laid end to end; episode e covers steps `starts[e] : starts[e] + lengths[e]`."""

    observations: np.ndarray  # [N, *obs_shape]; with frame_stack > 1, single frames [N, H, W]
    actions: np.ndarray  # [N, act_dim] float32 (continuous) or [N] int64 (discrete)
    rewards: np.ndarray  # [N] float32, the reward received after the action at that step
    terminals: np.ndarray  # [N] bool, the env terminated after this step
    timeouts: np.ndarray  # [N] bool, the episode was cut by a time limit after this step
    starts: np.ndarray  # [E] int64, first step of each episode (episodes are contiguous and ordered)
    frame_stack: int = 1  # > 1: observation t is frames t-frame_stack+1 .. t, clipped at the episode start
    meta: dict[str, Any] = field(default_factory=dict)  # provenance: env, generator, seed, source file

    def __post_init__(self) -> None:
        self.starts = np.asarray(self.starts, dtype=np.int64)
        self.rewards = np.asarray(self.rewards, dtype=np.float32)
        self.terminals = np.asarray(self.terminals, dtype=bool)
        self.timeouts = np.asarray(self.timeouts, dtype=bool)
        self.validate()

    # ----------------------------------------------------------------- construction and checks
    @classmethod
    def from_episodes(cls, episodes: Sequence[dict[str, np.ndarray]], frame_stack: int = 1,
                      meta: dict | None = None) -> "EpisodeDataset":
        """Build from a list of dicts with observations, actions, rewards and optional terminals/timeouts."""
        if len(episodes) == 0:
            raise DatasetError("empty dataset: no episodes")
        lengths = np.array([len(ep["rewards"]) for ep in episodes], dtype=np.int64)

        def cat(key: str, default: Any = None) -> np.ndarray:
            parts = [np.asarray(ep[key]) if key in ep else np.full(len(ep["rewards"]), default)
                     for ep in episodes]
            return np.concatenate(parts)

        return cls(observations=cat("observations"), actions=cat("actions"), rewards=cat("rewards"),
                   terminals=cat("terminals", False), timeouts=cat("timeouts", False),
                   starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]), frame_stack=frame_stack,
                   meta=dict(meta or {}))

    @classmethod
    def from_flat(cls, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                  terminals: np.ndarray, timeouts: np.ndarray, meta: dict | None = None,
                  drop_last_partial: bool = True) -> "EpisodeDataset":
        """Split D4RL-style flat arrays into episodes at each terminal or timeout.

        With `drop_last_partial`, data without any flag has no episode boundary at all and is refused (one
        episode of every step would be a guess, and a wrong one for a file whose flags were lost).
        """
        ends = np.flatnonzero(np.asarray(terminals, bool) | np.asarray(timeouts, bool)) + 1
        if drop_last_partial and len(ends) == 0 and len(rewards):
            raise DatasetError(f"no episode boundary: none of the {len(rewards)} steps has a terminal or "
                               "timeout flag")
        n = len(rewards) if not drop_last_partial or len(ends) == 0 else int(ends[-1])
        if n == 0:
            raise DatasetError("empty dataset: no complete episode (no terminal or timeout flag)")
        starts = np.concatenate([[0], ends[ends < n]])
        return cls(observations=observations[:n], actions=actions[:n], rewards=rewards[:n],
                   terminals=terminals[:n], timeouts=timeouts[:n], starts=starts, meta=dict(meta or {}))

    def validate(self) -> None:
        """Raise DatasetError naming the first problem: emptiness, ragged arrays, bad episode bounds, NaN/inf."""
        n = len(self.rewards)
        if n == 0 or len(self.starts) == 0:
            raise DatasetError("empty dataset: no steps")
        for name in ("observations", "actions", "terminals", "timeouts"):
            if len(getattr(self, name)) != n:
                raise DatasetError(f"{name} has {len(getattr(self, name))} steps but rewards has {n}")
        if self.starts[0] != 0 or np.any(np.diff(self.starts) <= 0) or self.starts[-1] >= n:
            raise DatasetError("episode starts must begin at 0, increase strictly and lie inside the data")
        for name in ("observations", "actions", "rewards"):
            arr = getattr(self, name)
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                bad = int(np.flatnonzero(~np.isfinite(arr.reshape(n, -1)).all(axis=1))[0])
                raise DatasetError(f"{name} contains NaN or inf (first at step {bad})")
        if self.frame_stack < 1:
            raise DatasetError(f"frame_stack must be >= 1, got {self.frame_stack}")

    # ----------------------------------------------------------------- derived views
    @property
    def n_steps(self) -> int:
        return len(self.rewards)

    @property
    def n_episodes(self) -> int:
        return len(self.starts)

    @property
    def lengths(self) -> np.ndarray:
        """[E] steps per episode."""
        return np.diff(np.append(self.starts, self.n_steps))

    @property
    def discrete(self) -> bool:
        """True for integer actions (Atari, Key-to-Door, the graph)."""
        return np.issubdtype(self.actions.dtype, np.integer)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        frame = self.observations.shape[1:]
        return (self.frame_stack, *frame) if self.frame_stack > 1 else frame

    @property
    def act_dim(self) -> int:
        """Continuous: action dimension. Discrete: number of actions seen (max + 1)."""
        return int(self.actions.max()) + 1 if self.discrete else int(self.actions.shape[1])

    @property
    def episode_index(self) -> np.ndarray:
        """[N] which episode each step belongs to."""
        return np.repeat(np.arange(self.n_episodes), self.lengths)

    @property
    def timesteps(self) -> np.ndarray:
        """[N] step index within its episode."""
        return np.arange(self.n_steps) - np.repeat(self.starts, self.lengths)

    @property
    def episode_returns(self) -> np.ndarray:
        """[E] undiscounted return of each episode."""
        return np.add.reduceat(self.rewards.astype(np.float64), self.starts)

    def returns_to_go(self) -> np.ndarray:
        """[N] undiscounted return from each step to the end of its episode (R_t = sum_{t'>=t} r_t')."""
        r = self.rewards.astype(np.float64)
        total = np.repeat(self.episode_returns, self.lengths)
        before = np.cumsum(r) - r - np.repeat(np.cumsum(r)[self.starts] - r[self.starts], self.lengths)
        return (total - before).astype(np.float32)

    def state_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of vector observations over all steps (std + 1e-6, as the official code)."""
        obs = self.observations.astype(np.float64).reshape(self.n_steps, -1)
        return obs.mean(0).astype(np.float32), (obs.std(0) + 1e-6).astype(np.float32)

    def obs_at(self, idx: np.ndarray) -> np.ndarray:
        """Observations at step indices `idx` (any shape); frame stacks are built by index here."""
        if self.frame_stack == 1:
            return self.observations[idx]
        if getattr(self, "_step_starts", None) is None or len(self._step_starts) != self.n_steps:
            self._step_starts = np.repeat(self.starts, self.lengths)  # [N] each step's episode start, cached
        ep_start = self._step_starts[idx]  # [*idx]
        offsets = np.arange(-self.frame_stack + 1, 1)  # [F]
        frames = np.maximum(idx[..., None] + offsets, ep_start[..., None])  # [*idx, F]
        return self.observations[frames]  # [*idx, F, H, W]

    # ----------------------------------------------------------------- transforms
    def select(self, episodes: np.ndarray) -> "EpisodeDataset":
        """A new dataset holding the given episodes, in the given order."""
        episodes = np.asarray(episodes, dtype=np.int64)
        if len(episodes) == 0:
            raise DatasetError("empty dataset: no episodes selected")
        steps = np.concatenate([np.arange(self.starts[e], self.starts[e] + self.lengths[e]) for e in episodes])
        lengths = self.lengths[episodes]
        return EpisodeDataset(
            observations=self.observations[steps], actions=self.actions[steps], rewards=self.rewards[steps],
            terminals=self.terminals[steps], timeouts=self.timeouts[steps],
            starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]), frame_stack=self.frame_stack,
            meta=dict(self.meta))

    def top_fraction(self, fraction: float) -> "EpisodeDataset":
        """%BC filter: the best episodes by return whose lengths add up to at most `fraction` of all timesteps.

        As the official code (kzl/decision-transformer e2d82e6, gym/experiment.py): the best episode is always
        kept, then the next best while the cumulative number of timesteps stays <= fraction * total.
        """
        if not 0 < fraction <= 1:
            raise DatasetError(f"fraction must be in (0, 1], got {fraction}")
        budget = max(int(fraction * self.n_steps), 1)
        order = np.argsort(-self.episode_returns, kind="stable")
        cum = np.cumsum(self.lengths[order])
        keep = max(int(np.searchsorted(cum, budget, side="right")), 1)
        out = self.select(order[:keep])
        out.meta = {**self.meta, "top_fraction": fraction}
        return out

    def delayed(self) -> "EpisodeDataset":
        """Delayed rewards (paper §5.6): zero everywhere, the episode's return at its last step."""
        rewards = np.zeros_like(self.rewards)
        rewards[self.starts + self.lengths - 1] = self.episode_returns
        return EpisodeDataset(self.observations, self.actions, rewards, self.terminals, self.timeouts,
                              self.starts, self.frame_stack, {**self.meta, "rewards": "delayed"})

    # ----------------------------------------------------------------- storage
    def save(self, path: str | Path) -> None:
        """Write an .npz file atomically (metadata as JSON inside)."""
        import json

        io.np_savez(path, observations=self.observations, actions=self.actions, rewards=self.rewards,
                    terminals=self.terminals, timeouts=self.timeouts, starts=self.starts,
                    frame_stack=np.array(self.frame_stack), meta=np.array(json.dumps(self.meta, default=str)))

    @classmethod
    def load(cls, path: str | Path) -> "EpisodeDataset":
        """Read a file written by `save`; a missing, truncated or corrupt file raises DatasetError."""
        import json
        import zipfile

        path = Path(path)
        if not path.exists():
            raise DatasetError(f"dataset file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise DatasetError(f"dataset file {path} is corrupt or truncated ({e})") from e
        missing = {"observations", "actions", "rewards", "terminals", "timeouts", "starts"} - set(arrays)
        if missing:
            raise DatasetError(f"dataset file {path} lacks arrays {sorted(missing)}")
        return cls(observations=arrays["observations"], actions=arrays["actions"], rewards=arrays["rewards"],
                   terminals=arrays["terminals"], timeouts=arrays["timeouts"], starts=arrays["starts"],
                   frame_stack=int(arrays.get("frame_stack", 1)),
                   meta=json.loads(str(arrays["meta"])) if "meta" in arrays else {})
