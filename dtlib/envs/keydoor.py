"""Key-to-Door (paper §5.4, Table 6, Figure 5): long-horizon credit assignment in three grid rooms.

An episode has three phases of fixed length; at each phase change the agent is moved to a random cell
of the next room (as in Hung et al. 2019, TVT, `deepmind-research/tvt`):

1. key room (`key_steps` steps): a key lies on a random cell; stepping onto it picks it up and it vanishes.
2. distractor room (`distractor_steps` steps): empty (the DT paper's version) or, with
   `distractor="apples"`, `n_apples` apples worth `apple_reward` each (Hung et al.'s distractor; no respawn).
3. door room (`door_steps` steps): a door lies on a random cell; stepping onto it ends the episode
   (termination) with reward 1 if the key was picked up in phase 1, else 0. Otherwise the episode is
   truncated after `key_steps + distractor_steps + door_steps` steps (`max_episode_steps`).

With the default empty room an episode's return is 1 on success and 0 otherwise.

Actions: `Discrete(4)` = up, down, left, right; a move into a wall leaves the agent in place.

Observation: `MultiDiscrete` int64 `[phase, row, col, object, d_row, d_col]`
    phase         0 key room, 1 distractor room, 2 door room
    row, col      the agent's cell in the current room
    object        the one visible object: 0 none, 1 key, 2 door, 3 apple (the nearest remaining one)
    d_row, d_col  object cell minus agent cell, shifted by (height-1, width-1) to be >= 0; the shift
                  itself (offset 0) when no object is visible
The key is visible only in phase 1 and only until picked up; from phase 2 on the observation is the same
whether or not the key is held (it depends only on the layout and the phase-2/3 actions), so a policy
or a critic must remember the pickup from its context: this is the credit-assignment test. The object
is given as an offset rather than a cell index so that "move towards it" is a simple function of the
summed per-feature embeddings.

Defaults are ours, not the paper's (which states none, docs/paper-reference.md §6): 5x5 rooms, phases of
8 / 24 / 8 steps, 40 steps in all, so a DT with the whole episode as context sees 120 tokens. 8 steps
are exactly the longest walk between two cells of a 5x5 room, so every key and door can be reached.
Deviation from Hung et al. (7x11 rooms, 15 / 90 / 15 steps, 5x5 pixel views, 4 actions): the rooms and
phases are scaled down to keep whole-episode context cheap on a CPU, and observations are object
offsets instead of pixels. Room size and phase lengths were chosen so that a uniformly random policy
succeeds about as often as the paper's random baseline (3.1%, Table 6): measured 3.16% over 1,000,000
seeded episodes (`dtlib.data.generate.random_success_rate(1_000_000, seed=0)`, 95% interval ±0.04
points); it picks up the key in about 17.5% of episodes and reaches the door in about 17.5%.

Outcome helpers for Figure 5: `info` carries `has_key`, `key_step`, `door_step` and `outcome`, and
`episode_events` derives the key-pickup and door steps of dataset episodes from observations and actions
alone (a pickup is a move whose delta equals the visible key's offset; the same for the door).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dtlib.validate import ParameterError, check_choice, check_positive

ENV_ID = "dtlib/KeyToDoor-v0"
ACTION_NAMES = ("up", "down", "left", "right")
D_ROW = np.array([-1, 1, 0, 0], dtype=np.int64)  # [4] row change of each action
D_COL = np.array([0, 0, -1, 1], dtype=np.int64)  # [4] column change of each action
NONE, KEY, DOOR, APPLE = 0, 1, 2, 3  # values of the `object` feature
OUTCOMES = ("no key", "key, no door", "success")  # Figure 5's three episode groups, in this order
OBS_FEATURES = ("phase", "row", "col", "object", "d_row", "d_col")

DEFAULTS: dict[str, Any] = {
    "height": 5,  # rows of every room (ours; Hung et al. 7)
    "width": 5,  # columns of every room (ours; Hung et al. 11)
    "key_steps": 8,  # phase 1 length (ours; Hung et al. 15); with door_steps it sets the random success rate
    "distractor_steps": 24,  # phase 2 length (ours; Hung et al. 90): the gap that credit must cross
    "door_steps": 8,  # phase 3 length (ours; Hung et al. 15); >= height + width - 2, so every door is reachable
    "distractor": "empty",  # "empty" (DT paper) or "apples" (Hung et al.)
    "n_apples": 4,  # apples in the distractor room (only with distractor="apples"; Hung et al. 10)
    "apple_reward": 0.1,  # reward per apple (only with distractor="apples"; Hung et al. 1 or 10 vs a door worth 10)
}


def check_params(**params: Any) -> dict[str, Any]:
    """All Key-to-Door parameters (defaults filled in), or ParameterError naming the first bad one."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ParameterError(f"unknown Key-to-Door parameter {unknown[0]!r}; choose from {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    for name in ("height", "width", "key_steps", "distractor_steps", "door_steps"):
        check_positive(name, p[name], integer=True)
    if p["height"] * p["width"] < 2:
        raise ParameterError(f"height={p['height']}, width={p['width']}: a room needs at least 2 cells")
    check_choice("distractor", p["distractor"], ("empty", "apples"))
    n_apples = p["n_apples"]
    if isinstance(n_apples, bool) or not isinstance(n_apples, int) or not 0 <= n_apples < p["height"] * p["width"]:
        raise ParameterError(f"n_apples={n_apples!r} must be an integer in [0, height*width - 1]")
    if isinstance(p["apple_reward"], bool) or not isinstance(p["apple_reward"], (int, float)) \
            or not np.isfinite(p["apple_reward"]):
        raise ParameterError(f"apple_reward={p['apple_reward']!r} must be a finite number")
    return p


def episode_steps(**params: Any) -> int:
    """Episode length limit: the sum of the three phase lengths."""
    p = check_params(**params)
    return p["key_steps"] + p["distractor_steps"] + p["door_steps"]


def obs_nvec(**params: Any) -> np.ndarray:
    """Vocabulary size of each observation feature (`MultiDiscrete.nvec`)."""
    p = check_params(**params)
    h, w = p["height"], p["width"]
    return np.array([3, h, w, 4, 2 * h - 1, 2 * w - 1], dtype=np.int64)


def _other_cell(rng: np.random.Generator, avoid: np.ndarray, n_cells: int) -> np.ndarray:
    """[E] a uniform cell different from `avoid` in each episode."""
    cell = rng.integers(n_cells - 1, size=len(avoid))
    return cell + (cell >= avoid)


def sample_layouts(rng: np.random.Generator, n: int, **params: Any) -> dict[str, np.ndarray]:
    """Random layouts of `n` episodes as flat cell indices (row * width + col), drawn before any action.

    Keys: start1/key (distinct), start2, apples [n, n_apples] (distinct, none on start2), start3/door (distinct).
    """
    p = check_params(**params)
    n_cells = p["height"] * p["width"]
    key = rng.integers(n_cells, size=n)
    start1 = _other_cell(rng, key, n_cells)
    start2 = rng.integers(n_cells, size=n)
    n_apples = p["n_apples"] if p["distractor"] == "apples" else 0
    if n_apples:
        order = rng.random((n, n_cells)) + (np.arange(n_cells) == start2[:, None])  # start2 sorts last
        apples = np.argsort(order, axis=1)[:, :n_apples]
    else:
        apples = np.zeros((n, 0), dtype=np.int64)
    door = rng.integers(n_cells, size=n)
    start3 = _other_cell(rng, door, n_cells)
    return {"start1": start1, "key": key, "start2": start2, "apples": apples, "start3": start3, "door": door}


def simulate(layouts: dict[str, np.ndarray], actions: np.ndarray, **params: Any) -> dict[str, np.ndarray]:
    """Run many episodes at once (numpy over episodes); same dynamics as `KeyToDoorEnv`, checked by a test.

    `actions` is [E, T] with T = episode_steps(); steps after an episode terminates are ignored.
    Returns observations [E, T, 6], rewards [E, T], terminated [E, T], truncated [E, T], alive [E, T]
    (the step happened), key_step [E] and door_step [E] (-1 if none).
    """
    p = check_params(**params)
    h, w = p["height"], p["width"]
    l1, l2 = p["key_steps"], p["distractor_steps"]
    n_ep, n_t = actions.shape
    if n_t != episode_steps(**params):
        raise ParameterError(f"actions has {n_t} steps per episode; the episode has {episode_steps(**params)}")
    obs = np.empty((n_ep, n_t, 6), dtype=np.int64)
    rewards = np.zeros((n_ep, n_t), dtype=np.float32)
    terminated = np.zeros((n_ep, n_t), dtype=bool)
    alive = np.zeros((n_ep, n_t), dtype=bool)
    running = np.ones(n_ep, dtype=bool)
    has_key = np.zeros(n_ep, dtype=bool)
    key_step = np.full(n_ep, -1, dtype=np.int64)
    door_step = np.full(n_ep, -1, dtype=np.int64)
    key_r, key_c = np.divmod(layouts["key"], w)
    door_r, door_c = np.divmod(layouts["door"], w)
    apple_r, apple_c = np.divmod(layouts["apples"], w)  # [E, A]
    apples_left = np.ones(apple_r.shape, dtype=bool)  # [E, A]
    for t in range(n_t):
        if t in (0, l1, l1 + l2):  # entering a room: a fresh start cell
            r, c = np.divmod(layouts[("start1", "start2", "start3")[(t >= l1) + (t >= l1 + l2)]], w)
        phase = int(t >= l1) + int(t >= l1 + l2)
        alive[:, t] = running
        if phase == 0:
            visible = ~has_key
            kind, obj_r, obj_c = np.where(visible, KEY, NONE), np.where(visible, key_r, r), np.where(visible, key_c, c)
        elif phase == 2:
            kind, obj_r, obj_c = np.full(n_ep, DOOR), door_r, door_c
        elif apple_r.shape[1]:
            dist = np.where(apples_left, np.abs(apple_r - r[:, None]) + np.abs(apple_c - c[:, None]), h + w)  # [E, A]
            j = np.argmin(dist, axis=1)  # first nearest, as the env's loop
            visible = apples_left.any(axis=1)
            rows = np.arange(n_ep)
            kind = np.where(visible, APPLE, NONE)
            obj_r, obj_c = np.where(visible, apple_r[rows, j], r), np.where(visible, apple_c[rows, j], c)
        else:
            kind, obj_r, obj_c = np.full(n_ep, NONE), r, c
        obs[:, t] = np.stack([np.full(n_ep, phase), r, c, kind, obj_r - r + h - 1, obj_c - c + w - 1], axis=1)
        a = actions[:, t]
        r, c = np.clip(r + D_ROW[a], 0, h - 1), np.clip(c + D_COL[a], 0, w - 1)
        if phase == 0:
            picked = ~has_key & (r == key_r) & (c == key_c)
            has_key |= picked
            key_step[picked] = t
        elif phase == 1 and apple_r.shape[1]:
            eaten = apples_left & (apple_r == r[:, None]) & (apple_c == c[:, None])  # [E, A]
            rewards[:, t] = eaten.sum(axis=1) * p["apple_reward"]
            apples_left &= ~eaten
        elif phase == 2:
            at_door = running & (r == door_r) & (c == door_c)
            terminated[:, t] = at_door
            rewards[:, t] += (at_door & has_key).astype(np.float32)
            door_step[at_door] = t
            running &= ~at_door
    truncated = np.zeros_like(terminated)
    truncated[:, -1] = running
    return {"observations": obs, "rewards": rewards, "terminated": terminated, "truncated": truncated,
            "alive": alive, "key_step": key_step, "door_step": door_step}


def outcome(key_step: int, door_step: int) -> str:
    """Figure 5's episode group: 'no key', 'key, no door' or 'success'."""
    return OUTCOMES[0] if key_step < 0 else OUTCOMES[2] if door_step >= 0 else OUTCOMES[1]


def episode_events(observations: np.ndarray, actions: np.ndarray, starts: np.ndarray | None = None,
                   **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Key-pickup and door steps [E] (within each episode, -1 if none) from observations [N, 6] and actions [N].

    `starts` [E] are the episodes' first steps (default: one episode); `params` the env's (for the room size).
    A pickup (door) is a step whose action moves the agent by exactly the offset of the visible key (door):
    the only way to step onto it, since the agent never starts on it.
    """
    p = check_params(**params)
    obs = np.asarray(observations, dtype=np.int64)
    actions = np.asarray(actions, dtype=np.int64)
    n = len(actions)
    starts = np.zeros(1, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
    lengths = np.diff(np.append(starts, n))
    t = np.arange(n) - np.repeat(starts, lengths)  # [N] step within its episode
    onto = (obs[:, 4] - (p["height"] - 1) == D_ROW[actions]) & (obs[:, 5] - (p["width"] - 1) == D_COL[actions])  # [N]
    big = np.iinfo(np.int64).max

    def first(flag: np.ndarray) -> np.ndarray:
        step = np.minimum.reduceat(np.where(flag, t, big), starts)  # [E]
        return np.where(step == big, -1, step)

    return first(onto & (obs[:, 3] == KEY)), first(onto & (obs[:, 3] == DOOR))


def dataset_events(dataset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key-pickup steps [E], door steps [E] and outcome labels [E] of a Key-to-Door EpisodeDataset."""
    key_step, door_step = episode_events(dataset.observations, dataset.actions, dataset.starts,
                                         **dataset.meta.get("env_params", {}))
    labels = np.where(key_step < 0, OUTCOMES[0], np.where(door_step >= 0, OUTCOMES[2], OUTCOMES[1]))
    return key_step, door_step, labels


def trace_events(traces: list[dict], **params: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key-pickup steps [E], door steps [E] and outcome labels [E] of recorded rollouts.

    `traces` are dicts with per-step `observations` and `actions` (as `dtlib.evaluate.evaluate(record=True)`).
    """
    if not traces:
        raise ParameterError("traces is empty: no episodes to classify")
    obs = np.concatenate([np.asarray(tr["observations"], dtype=np.int64).reshape(-1, 6) for tr in traces])
    actions = np.concatenate([np.asarray(tr["actions"], dtype=np.int64).reshape(-1) for tr in traces])
    lengths = np.array([len(tr["actions"]) for tr in traces])
    key_step, door_step = episode_events(obs, actions, np.concatenate([[0], np.cumsum(lengths)[:-1]]), **params)
    labels = np.where(key_step < 0, OUTCOMES[0], np.where(door_step >= 0, OUTCOMES[2], OUTCOMES[1]))
    return key_step, door_step, labels


class KeyToDoorEnv(gym.Env):
    """The Key-to-Door grid (module docstring); pure Python per step, seeded by `reset(seed=...)`.

    `reset(options={"layout": {...}})` replays a layout from `sample_layouts` (one episode's scalars).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        self.params = check_params(**params)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        p = self.params
        self.height, self.width = p["height"], p["width"]
        self.phase_starts = (0, p["key_steps"], p["key_steps"] + p["distractor_steps"])
        self.max_episode_steps = episode_steps(**p)
        self.action_space = gym.spaces.Discrete(4)
        self.observation_space = gym.spaces.MultiDiscrete(obs_nvec(**p), dtype=np.int64)
        self._layout: dict[str, Any] | None = None
        self._done = True

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        layout = (options or {}).get("layout")
        if layout is None:
            drawn = sample_layouts(self.np_random, 1, **self.params)
            layout = {k: v[0] for k, v in drawn.items()}
        w = self.width
        self._layout = {k: np.asarray(v).tolist() for k, v in layout.items()}
        self._starts = [divmod(int(self._layout[k]), w) for k in ("start1", "start2", "start3")]
        self._key = divmod(int(self._layout["key"]), w)
        self._door = divmod(int(self._layout["door"]), w)
        self._apples = [divmod(int(a), w) for a in self._layout["apples"]] if self.params["distractor"] == "apples" \
            else []
        self._t = 0
        self._phase = 0
        self._pos = self._starts[0]
        self._has_key = False
        self._key_step = -1
        self._door_step = -1
        self._done = False
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        a = int(action)
        if not 0 <= a < 4:
            raise ValueError(f"action={action!r} must be in 0..3 ({', '.join(ACTION_NAMES)})")
        r, c = self._pos
        r = min(max(r + int(D_ROW[a]), 0), self.height - 1)
        c = min(max(c + int(D_COL[a]), 0), self.width - 1)
        self._pos = (r, c)
        reward, terminated, t = 0.0, False, self._t
        if self._phase == 0:
            if not self._has_key and self._pos == self._key:
                self._has_key, self._key_step = True, t
        elif self._phase == 1:
            if self._pos in self._apples:
                self._apples.remove(self._pos)
                reward += float(self.params["apple_reward"])
        elif self._pos == self._door:
            terminated, self._door_step = True, t
            reward += 1.0 if self._has_key else 0.0
        self._t = t = t + 1
        truncated = not terminated and t >= self.max_episode_steps
        self._done = terminated or truncated
        if not self._done and t in self.phase_starts:  # next room
            self._phase += 1
            self._pos = self._starts[self._phase]
        return self._obs(), reward, terminated, truncated, self._info()

    def render(self) -> str | None:
        """ASCII picture of the current room: A agent, K key, D door, a apples."""
        if self.render_mode != "ansi":
            return None
        grid = [["."] * self.width for _ in range(self.height)]
        if self._phase == 0 and not self._has_key:
            grid[self._key[0]][self._key[1]] = "K"
        for ar, ac in self._apples if self._phase == 1 else []:
            grid[ar][ac] = "a"
        if self._phase == 2:
            grid[self._door[0]][self._door[1]] = "D"
        grid[self._pos[0]][self._pos[1]] = "A"
        return f"phase {self._phase + 1}, t={self._t}\n" + "\n".join("".join(row) for row in grid)

    # ----------------------------------------------------------------- internals
    def _obs(self) -> np.ndarray:
        r, c = self._pos
        kind, (obj_r, obj_c) = NONE, self._pos
        if self._phase == 0:
            if not self._has_key:
                kind, (obj_r, obj_c) = KEY, self._key
        elif self._phase == 2:
            kind, (obj_r, obj_c) = DOOR, self._door
        elif self._apples:
            best = self.height + self.width
            for ar, ac in self._apples:  # first nearest, as `simulate`
                d = abs(ar - r) + abs(ac - c)
                if d < best:
                    best, kind, obj_r, obj_c = d, APPLE, ar, ac
        return np.array([self._phase, r, c, kind, obj_r - r + self.height - 1, obj_c - c + self.width - 1],
                        dtype=np.int64)

    def _info(self) -> dict[str, Any]:
        return {"phase": self._phase, "has_key": self._has_key, "key_step": self._key_step,
                "door_step": self._door_step, "success": self._has_key and self._door_step >= 0,
                "outcome": outcome(self._key_step, self._door_step)}
