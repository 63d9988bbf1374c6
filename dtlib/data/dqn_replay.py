"""DQN-replay (Agarwal et al. 2020) checkpoint files → an EpisodeDataset, sampled as the paper's "1%" subsets.

Layout, as `gsutil -m cp -R gs://atari-replay-datasets/dqn/<Game>` leaves it (docs/paper-reference.md §5.3):

    {root}/{Game}/{run}/replay_logs/$store$_observation_ckpt.{N}.gz   uint8 [n, 84, 84], one frame per step
                                    $store$_action_ckpt.{N}.gz        int32 [n]
                                    $store$_reward_ckpt.{N}.gz        float32 [n]
                                    $store$_terminal_ckpt.{N}.gz      uint8 [n]
                                    add_count_ckpt.{N}.gz             0-d int (transitions ever added)
                                    invalid_range_ckpt.{N}.gz         (not needed: derived from add_count)

Each file is one gzip stream holding one `np.save` array (dopamine `OutOfGraphReplayBuffer.save`; batch_rl's
logged buffer writes the same files each time its 1M-slot buffer fills: n = 1,000,000, suffixes 0..50 per run).
How dopamine lays steps out, which the loader relies on:
  * row t = (frame s_t, action a_t, reward r_t, terminal after a_t); the frame stack of s_t is rows t-3..t.
  * before the first step of every episode it adds stack_size - 1 = 3 all-zero rows (padding for the stack).
  * the buffer is circular: with add_count > n, row add_count % n (the cursor) is the oldest; rows before the
    cursor are newer (add_count == n: exactly full, nothing overwritten, row 0 the oldest). batch_rl logs when
    the cursor reaches n - 1, so rows 0..n-2 are in order and row n-1 is the step just before row 0 (for
    suffix 0, never written). That oldest row is mid-game, a game's terminal, or — when the previous checkpoint
    ended on a terminal — the next game's first padding row (rows 0 and 1 the other two): in the last two
    cases the game after the padding is whole and kept (`opening_padding`).
  * rewards were clipped to [-1, 1] by dopamine's `Runner._run_one_episode` (`np.clip(reward, -1, 1)`) before the
    agent stored them, so DQN-replay returns-to-go are in clipped units, while the paper's evaluation decrements
    the target by the raw game reward (docs/paper-reference.md §4.4). This loader keeps the files' (clipped)
    rewards and says so in `meta["reward_units"]`.
  * episodes are whole games (no terminal on life loss); one cut at `max_steps_per_episode` = 27,000 agent
    steps is also stored as terminal — such episodes get `timeouts=True` here instead.

Sampling, as the official `create_dataset.py` (docs/paper-reference.md §4.4): run 1 only; a checkpoint suffix
drawn uniformly from 0..49; from where that checkpoint's previous visit stopped, the next
`trajectories_per_buffer` episodes;
repeat until at least `num_steps` transitions (None: until every complete game is taken). The official buffer
has `replay_capacity=100000`, so only the first 100k rows of each 1M checkpoint are ever read (`buffer_window`).
Official quirks NOT replicated:
  * it keeps 11 episodes per visit when asked for 10 (the counter is tested after the decrement) — here 10;
  * its first episode of a checkpoint starts at row 0, mid-game (a fragment with a wrong return) — here dropped
    unless padding shows that a whole game starts there;
  * it keeps the 3 zero padding rows as steps (action 0, reward 0) at the start of every following episode, whose
    stacks hold the previous game's frames — here dropped; stacks at an episode start repeat its first frame
    (clipped by index), as Gymnasium's FrameStackObservation does at evaluation (kzl's eval used zero frames);
  * a visit that hits the window's end drops everything read in that visit but keeps the episode ends and
    returns it appended (`done_idxs` not rolled back), and every later visit to that checkpoint repeats it —
    here the visit keeps the complete episodes it found and the checkpoint leaves the pool;
  * its timestep array is shifted by one for every episode after the first — here timesteps restart at 0.

Memory: only the rows that are kept are copied; the observation file is streamed (never loaded whole) once per
checkpoint. Peak ≈ kept frames (500k × 84 × 84 B = 3.5 GB for the paper's 500k) + the per-checkpoint action,
reward and terminal rows inside the window (9 B/row: 45 MB for 50 × 100k) + the kept actions/rewards
(~7 MB). The official loader keeps 4-frame stacks per step in Python lists (≈ 14 GB for 500k).

    ds = load_dqn_replay(DQNReplayConfig(root="~/dqn-replay", game="Pong"))   # ~510k steps, frame_stack=4
"""
from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.validate import ParameterError, check_positive

STORE_PREFIX = "$store$_"  # dopamine's STORE_FILENAME_PREFIX
STORE_ARRAYS = ("observation", "action", "reward", "terminal")  # dopamine's storage signature
MAX_STEPS_PER_EPISODE = 27_000  # agent steps [batch_rl dqn.gin Runner.max_steps_per_episode]
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, struct.error)  # gzip.BadGzipFile is an OSError


@dataclass(frozen=True)
class DQNReplayConfig:
    """Which DQN-replay files to read and how to sample them; defaults are the paper's (`create_dataset.py`)."""

    root: str  # folder holding <Game>/<run>/replay_logs (gsutil's copy of gs://atari-replay-datasets/dqn)
    game: str  # folder name as DQN-replay spells it: 'Breakout', 'Qbert', 'Pong', 'Seaquest'
    run: int = 1  # DQN run 1..5 [repo: run 1 only]
    num_steps: int | None = 500_000  # at least this many transitions; None: every game [repo --num_steps 500000 = 1%]
    trajectories_per_buffer: int = 10  # episodes per visit to a checkpoint [repo --trajectories_per_buffer 10]
    suffixes: tuple[int, ...] = tuple(range(50))  # checkpoints to draw from [repo: arange(50 - 50, 50)]
    buffer_window: int = 100_000  # only rows [0, window) of a checkpoint are read [repo replay_capacity=100000]
    stack_size: int = 4  # frames per state; dopamine pads stack_size - 1 zero rows before every episode
    frame_shape: tuple[int, int] | None = (84, 84)  # expected frame size; None accepts any
    seed: int = 0  # draws of checkpoint suffixes [repo: np.random after set_seed(seed)]
    n_actions: int | None = None  # size of the game's action set for the model; None: max action + 1

    def __post_init__(self) -> None:
        check_positive("run", self.run, integer=True)
        if self.num_steps is not None:
            check_positive("num_steps", self.num_steps, integer=True)
        check_positive("trajectories_per_buffer", self.trajectories_per_buffer, integer=True)
        check_positive("buffer_window", self.buffer_window, integer=True)
        check_positive("stack_size", self.stack_size, integer=True)
        if not self.suffixes or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.suffixes):
            raise ParameterError(f"suffixes={self.suffixes!r} must be a non-empty list of integers >= 0")
        if len(set(self.suffixes)) != len(self.suffixes):
            raise ParameterError(f"suffixes={self.suffixes!r} has repeats")

    @property
    def replay_dir(self) -> Path:
        return Path(self.root).expanduser() / self.game / str(self.run) / "replay_logs"


def checkpoint_file(replay_dir: Path, name: str, suffix: int) -> Path:
    """dopamine's `_generate_filename`: `{name}_ckpt.{suffix}.gz`."""
    return Path(replay_dir) / f"{name}_ckpt.{suffix}.gz"


def write_checkpoint(replay_dir: str | Path, suffix: int, arrays: dict[str, np.ndarray], add_count: int) -> None:
    """Write one checkpoint in dopamine's format (tests; exporting data for dopamine/batch_rl tools)."""
    replay_dir = Path(replay_dir)
    replay_dir.mkdir(parents=True, exist_ok=True)
    files = {STORE_PREFIX + k: arrays[k] for k in STORE_ARRAYS}
    n = len(arrays["terminal"])
    files["add_count"] = np.array(add_count)
    files["invalid_range"] = np.array([(add_count % n - 1 + i) % n for i in range(5)])  # stack 4 + horizon 1
    for name, arr in files.items():
        with gzip.open(checkpoint_file(replay_dir, name, suffix), "wb") as f:
            np.save(f, arr, allow_pickle=False)


# ------------------------------------------------------------------------------------------ reading files
@dataclass(frozen=True)
class _NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes before the data in the uncompressed stream


def _read_header(path: Path) -> _NpyHeader:
    """The `.npy` header inside a gzip file; a missing, non-gzip, truncated or non-npy file raises DatasetError."""
    if not path.exists():
        raise DatasetError(f"DQN-replay file not found: {path}")
    try:
        with gzip.open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
    except _READ_ERRORS as e:
        raise DatasetError(f"DQN-replay file {path} is not a gzip'd .npy array, or is truncated ({e})") from e
    if fortran:
        raise DatasetError(f"DQN-replay file {path} holds a Fortran-ordered array; dopamine writes C order")
    header = _NpyHeader(tuple(shape), np.dtype(dtype), offset)
    # A gzip stream ends with the uncompressed size mod 2^32 (RFC 1952 ISIZE): a cheap check for truncation
    # and for appended garbage that does not decompress the (up to 7 GB) observation file.
    expected = (offset + int(np.prod(shape, dtype=np.int64)) * header.dtype.itemsize) % 2**32
    with open(path, "rb") as raw:
        raw.seek(-4, 2)
        isize = struct.unpack("<I", raw.read(4))[0]
    if isize != expected:
        raise DatasetError(f"DQN-replay file {path} is truncated or corrupt: its gzip trailer says "
                           f"{isize} bytes, its header {shape} {header.dtype} needs {expected} (mod 2^32)")
    return header


def _read_rows(path: Path, header: _NpyHeader, stop: int, start: int = 0) -> np.ndarray:
    """Rows [start, stop) of a gzip'd .npy array, decompressing only what they need."""
    stop = min(stop, header.shape[0])
    out = np.empty((max(0, stop - start), *header.shape[1:]), dtype=header.dtype)
    row_bytes = int(np.prod(header.shape[1:], dtype=np.int64)) * header.dtype.itemsize
    try:
        with gzip.open(path, "rb") as f:
            f.seek(header.offset + start * row_bytes)
            _read_into(f, out, path)
    except _READ_ERRORS as e:
        raise DatasetError(f"DQN-replay file {path} is corrupt or truncated ({e})") from e
    return out


def _read_into(f, out: np.ndarray, path: Path) -> None:
    """Fill the contiguous array `out` from the stream `f`; a short stream raises DatasetError."""
    view = memoryview(out).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            raise DatasetError(f"DQN-replay file {path} ends early: read {got} of {len(view)} bytes")
        got += n


@dataclass
class _Checkpoint:
    """One checkpoint's small arrays inside the window and its complete episodes."""

    suffix: int
    obs_path: Path
    obs_header: _NpyHeader
    actions: np.ndarray  # [w] int32
    rewards: np.ndarray  # [w] float32
    episodes: np.ndarray  # [M, 2] first and last row of each complete episode, in row order


def inspect_checkpoint(cfg: DQNReplayConfig, suffix: int) -> tuple[dict[str, _NpyHeader], int]:
    """Check one checkpoint's files (presence, headers, dtypes, lengths, gzip trailers); its headers and add_count."""
    d = cfg.replay_dir
    headers = {k: _read_header(checkpoint_file(d, STORE_PREFIX + k, suffix)) for k in STORE_ARRAYS}
    n = headers["observation"].shape[0]
    obs = headers["observation"]
    if len(obs.shape) != 3 or obs.dtype != np.uint8:
        raise DatasetError(f"{checkpoint_file(d, STORE_PREFIX + 'observation', suffix)}: expected uint8 frames "
                           f"[n, H, W], found {obs.dtype} {list(obs.shape)}")
    if cfg.frame_shape is not None and tuple(obs.shape[1:]) != tuple(cfg.frame_shape):
        raise DatasetError(f"{checkpoint_file(d, STORE_PREFIX + 'observation', suffix)}: frames are "
                           f"{obs.shape[1:]}, expected {tuple(cfg.frame_shape)} (frame_shape=None accepts any)")
    kinds = {"action": "iu", "reward": "f", "terminal": "iub"}
    for k, kind in kinds.items():
        h = headers[k]
        if h.shape != (n,) or h.dtype.kind not in kind:
            raise DatasetError(f"{checkpoint_file(d, STORE_PREFIX + k, suffix)}: expected {n} values of kind "
                               f"'{kind}' (as the observation file), found {h.dtype} {list(h.shape)}")
    add_path = checkpoint_file(d, "add_count", suffix)
    if add_path.exists():
        _read_header(add_path)
        try:
            with gzip.open(add_path, "rb") as f:
                add_count = int(np.load(f, allow_pickle=False))
        except _READ_ERRORS + (TypeError,) as e:
            raise DatasetError(f"DQN-replay file {add_path} does not hold one integer ({e})") from e
    else:
        # d4rl-atari and some mirrors copy only the $store$ files: assume batch_rl's logging, which writes
        # checkpoint k when (k + 1) * n - 1 transitions have been added.
        add_count = (suffix + 1) * n - 1
    return headers, add_count


def complete_episodes(terminal: np.ndarray, actions: np.ndarray, rewards: np.ndarray, add_count: int, n: int,
                      stack_size: int = 4, path: str = "", lead: dict[int, int] | None = None) -> np.ndarray:
    """[M, 2] first and last row of every complete episode among the rows given, in dopamine's layout.

    The rows are split at the cursor (rows after it are older than rows before it). In each part an episode
    starts after a terminal and its stack_size - 1 padding rows, and ends at the next terminal. A part's rows
    before its first terminal are a fragment of a game begun earlier, except where `lead[first row of the part]`
    says how many padding rows open it (a whole game follows them): a buffer never wrapped (add_count <= n: row 0
    is the very first padding row) opens with stack_size - 1 of them without being told.
    """
    w = len(terminal)
    pad = stack_size - 1
    wrapped = add_count > n  # == n: exactly full, nothing overwritten yet, row 0 still the oldest
    cursor = add_count % n
    lead = dict(lead or {})
    if not wrapped:
        lead[0] = pad
    parts = [(0, min(cursor, w)), (cursor, w)] if wrapped and cursor < w else [(0, min(w, add_count))]
    episodes = []
    for lo, hi in parts:
        if hi <= lo:
            continue
        ends = lo + np.flatnonzero(terminal[lo:hi])  # last row of each episode
        fresh = lo in lead  # the part opens with padding: its first game is whole
        # rows just before each run of padding (a virtual one before a part that opens inside a padding run)
        padded = np.concatenate([[lo + lead[lo] - 1 - pad] if fresh else [], ends]).astype(np.int64)
        for t in padded:
            p = np.arange(max(t + 1, lo), min(t + 1 + pad, hi))
            if len(p) and ((terminal[p] != 0).any() or (actions[p] != 0).any() or (rewards[p] != 0).any()):
                raise DatasetError(f"{path}: rows {p[0]}..{p[-1]} after row {t} should be dopamine's {pad} "
                                   f"zero padding rows (stack_size={stack_size}); they are not")
        firsts = padded[:-1] + 1 + pad if fresh else ends[:-1] + 1 + pad
        lasts = ends if fresh else ends[1:]
        for s, e in zip(firsts, lasts):
            if e < s:
                raise DatasetError(f"{path}: terminal at row {e} inside the padding that starts at row {s - pad}")
            episodes.append((int(s), int(e)))
    return np.array(episodes, dtype=np.int64).reshape(-1, 2)


def opening_padding(cfg: DQNReplayConfig, suffix: int, headers: dict[str, "_NpyHeader"], add_count: int,
                    terminal: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> dict[int, int]:
    """The padding rows that open a wrapped checkpoint's parts, by the part's first row (see `complete_episodes`).

    A padding row is all zero: frame, action, reward and terminal (a game's frame never is). The part at the
    cursor opens with padding when its oldest rows are padding (the previous checkpoint ended on a terminal).
    Row 0 follows row n-1: it opens with padding after a terminal in row n-1, or when its first rows finish a
    padding run begun in rows n-k..n-1 — after a terminal, or at the cursor (batch_rl logs with the cursor at
    row n-1, so a game that ended just before the log leaves its successor's first padding row there). A game
    whose first step is the oldest row itself shows no padding: it is taken for a fragment.
    Only frames of rows inside the window are read, and only the first stack_size - 1 of each part.
    """
    n = len(terminal)
    w = len(actions)
    pad = cfg.stack_size - 1
    cursor = add_count % n
    if add_count <= n:
        return {}
    obs_path = checkpoint_file(cfg.replay_dir, STORE_PREFIX + "observation", suffix)

    def zero_rows(lo: int) -> int:  # leading all-zero rows at lo (at most pad, inside the window)
        hi = min(lo + pad, w)
        frames = _read_rows(obs_path, headers["observation"], hi, start=lo)  # [hi - lo, H, W]
        zero = (frames.reshape(len(frames), -1) == 0).all(1) & (terminal[lo:hi] == 0) & (actions[lo:hi] == 0) \
            & (rewards[lo:hi] == 0)
        return int(np.argmin(zero)) if not zero.all() else len(zero)

    lead = {}
    if cursor < w:
        z = zero_rows(cursor)
        if z:
            lead[cursor] = z
    if cursor != 0:  # row 0 follows row n-1
        if terminal[n - 1]:
            lead[0] = pad  # complete_episodes checks that rows 0..pad-1 are padding
        else:
            z = zero_rows(0)
            begun = n - (pad - z)  # where the padding run ending at row z-1 began
            after_terminal = bool(terminal[begun - 1]) and cursor < begun  # row begun-1 precedes it in time
            at_cursor = begun == cursor and z > 0  # it began at the oldest row; rows 0..z-1 show it is padding
            if z < pad and not terminal[begun:].any() and (after_terminal or at_cursor):
                lead[0] = z
    return lead


def _load_checkpoint(cfg: DQNReplayConfig, suffix: int, headers: dict[str, _NpyHeader],
                     add_count: int) -> _Checkpoint:
    d = cfg.replay_dir
    w = min(cfg.buffer_window, headers["observation"].shape[0])
    n = headers["observation"].shape[0]
    small = {k: _read_rows(checkpoint_file(d, STORE_PREFIX + k, suffix), headers[k], w) for k in ("action", "reward")}
    terminal = _read_rows(checkpoint_file(d, STORE_PREFIX + "terminal", suffix), headers["terminal"], n)  # 1 B/row
    lead = opening_padding(cfg, suffix, headers, add_count, terminal, small["action"], small["reward"])
    eps = complete_episodes(terminal[:w], small["action"], small["reward"], add_count, n, cfg.stack_size,
                            str(checkpoint_file(d, STORE_PREFIX + "terminal", suffix)), lead)
    return _Checkpoint(suffix, checkpoint_file(d, STORE_PREFIX + "observation", suffix), headers["observation"],
                       small["action"], small["reward"], eps)


# ------------------------------------------------------------------------------------------ sampling
def sample_visits(episode_lengths: dict[int, np.ndarray], num_steps: int | None, trajectories_per_buffer: int,
                  seed: int) -> list[tuple[int, int, int]]:
    """The paper's visit order: (suffix, first episode, end episode) per visit until >= num_steps transitions.

    A suffix is drawn uniformly among those with episodes left; a visit takes that checkpoint's next
    `trajectories_per_buffer` complete episodes; a checkpoint that runs out leaves the pool. `num_steps=None`
    visits until every complete episode is taken.
    """
    rng = np.random.default_rng(seed)
    pool = sorted(s for s, lens in episode_lengths.items() if len(lens))
    taken = dict.fromkeys(pool, 0)
    visits, total = [], 0
    while num_steps is None or total < num_steps:
        if not pool and num_steps is None and visits:
            break
        if not pool:
            available = sum(int(lens.sum()) for lens in episode_lengths.values())
            if num_steps is None:
                raise DatasetError("the checkpoints' windows hold no complete episode (add suffixes or widen "
                                   "buffer_window)")
            raise DatasetError(f"the checkpoints' windows hold only {available} transitions in complete episodes; "
                               f"num_steps={num_steps} asked for more (add suffixes or widen buffer_window)")
        s = pool[int(rng.integers(len(pool)))]
        a = taken[s]
        b = min(a + trajectories_per_buffer, len(episode_lengths[s]))
        visits.append((s, a, b))
        total += int(episode_lengths[s][a:b].sum())
        taken[s] = b
        if b == len(episode_lengths[s]):
            pool.remove(s)
    return visits


def load_dqn_replay(cfg: DQNReplayConfig, progress: bool = False) -> EpisodeDataset:
    """Sample the paper's subset of one DQN-replay run into an EpisodeDataset (frame_stack=stack_size, frames once)."""
    if not cfg.replay_dir.is_dir():
        raise DatasetError(f"DQN-replay folder not found: {cfg.replay_dir} (expected <root>/<Game>/<run>/replay_logs)")
    # 1. every file of every suffix is checked before any array is read
    checked = {s: inspect_checkpoint(cfg, s) for s in cfg.suffixes}
    shapes = {tuple(h["observation"].shape[1:]) for h, _ in checked.values()}
    if len(shapes) > 1:
        raise DatasetError(f"{cfg.replay_dir}: checkpoints hold frames of different sizes {sorted(shapes)}")
    # 2. small arrays and complete episodes per checkpoint; 3. the visit plan
    ckpts = {s: _load_checkpoint(cfg, s, h, add) for s, (h, add) in checked.items()}
    lengths = {s: c.episodes[:, 1] - c.episodes[:, 0] + 1 for s, c in ckpts.items()}
    visits = sample_visits(lengths, cfg.num_steps, cfg.trajectories_per_buffer, cfg.seed)
    # 4. copy the kept rows; episodes in visit order, each checkpoint's frame file streamed once
    chosen = [(s, e) for s, a, b in visits for e in range(a, b)]
    ep_len = np.array([lengths[s][e] for s, e in chosen], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(ep_len)[:-1]])
    n_total = int(ep_len.sum())
    frames = np.empty((n_total, *shapes.pop()), dtype=np.uint8)  # [N, H, W]
    actions = np.empty(n_total, dtype=np.int64)
    rewards = np.empty(n_total, dtype=np.float32)
    for s in sorted({s for s, _ in chosen}):
        c = ckpts[s]
        mine = sorted((c.episodes[e, 0], c.episodes[e, 1] + 1, starts[i]) for i, (t, e) in enumerate(chosen)
                      if t == s)
        for lo, hi, out in mine:
            actions[out:out + hi - lo] = c.actions[lo:hi]
            rewards[out:out + hi - lo] = c.rewards[lo:hi]
        try:
            with gzip.open(c.obs_path, "rb") as f:
                for lo, hi, out in mine:  # rows ascending: forward seeks only (gzip decompresses and discards)
                    f.seek(c.obs_header.offset + int(lo) * int(np.prod(frames.shape[1:])))
                    _read_into(f, frames[out:out + hi - lo], c.obs_path)
        except _READ_ERRORS as e:
            raise DatasetError(f"DQN-replay file {c.obs_path} is corrupt or truncated ({e})") from e
        if progress:
            print(f"checkpoint {s}: {len(mine)} episodes, {sum(h - l for l, h, _ in mine)} steps")
    timeouts = np.zeros(n_total, dtype=bool)
    timeouts[starts + ep_len - 1] = ep_len >= MAX_STEPS_PER_EPISODE  # cut by the step cap, not the game
    terminals = np.zeros(n_total, dtype=bool)
    terminals[starts + ep_len - 1] = ep_len < MAX_STEPS_PER_EPISODE
    meta = {"source": "dqn-replay", "game": cfg.game, "run": cfg.run, "root": str(cfg.root),
            "num_steps": cfg.num_steps, "trajectories_per_buffer": cfg.trajectories_per_buffer,
            "buffer_window": cfg.buffer_window, "seed": cfg.seed, "visits": [list(map(int, v)) for v in visits],
            "reward_units": "clipped to [-1, 1] by dopamine's Runner before storage",
            "n_actions": int(cfg.n_actions) if cfg.n_actions else int(actions.max()) + 1}
    return EpisodeDataset(observations=frames, actions=actions, rewards=rewards, terminals=terminals,
                          timeouts=timeouts, starts=starts, frame_stack=cfg.stack_size, meta=meta)
