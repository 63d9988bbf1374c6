"""DQN-replay loader on small synthetic checkpoints written the way dopamine/batch_rl write them."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dtlib.data import dqn_replay
from dtlib.data.dqn_replay import (DQNReplayConfig, checkpoint_file, complete_episodes, load_dqn_replay,
                                   sample_visits, write_checkpoint)
from dtlib.data.episodes import DatasetError

N = 500  # rows per checkpoint (DQN-replay: 1,000,000)
HW = (12, 12)  # frame size (DQN-replay: 84 x 84)
STALE = 77  # value of never-written rows (dopamine allocates with np.empty)


class LoggedBuffer:
    """dopamine's OutOfGraphReplayBuffer.add + batch_rl's logging, reduced to what the file layout depends on.

    `tags[g]` names what add number g stored: (episode, step) for a game's step, None for a padding row.
    """

    def __init__(self, replay_dir: Path, n: int = N, stack: int = 4, log: bool = True):
        self.dir, self.n, self.stack, self.log = replay_dir, n, stack, log
        self.obs = np.full((n, *HW), STALE, np.uint8)
        self.act = np.zeros(n, np.int32)
        self.rew = np.zeros(n, np.float32)
        self.term = np.zeros(n, np.uint8)
        self.add_count = 0
        self.log_count = 0
        self.tags = []

    def _add(self, o, a, r, t, tag=None):
        c = self.add_count % self.n
        self.obs[c], self.act[c], self.rew[c], self.term[c] = o, a, r, t
        self.add_count += 1
        self.tags.append(tag)

    def add(self, o, a, r, t, tag=None):
        if self.add_count == 0 or self.term[self.add_count % self.n - 1] == 1:
            for _ in range(self.stack - 1):  # zero padding before every episode
                self._add(0, 0, 0.0, 0)
        self._add(o, a, r, t, tag)
        if self.log and self.add_count % self.n == self.n - 1:  # batch_rl logs when the buffer is full
            self.save(self.log_count)
            self.log_count += 1

    def save(self, suffix: int) -> int:
        """Write the buffer as checkpoint `suffix` (dopamine's `save`); its add_count."""
        write_checkpoint(self.dir, suffix, {"observation": self.obs, "action": self.act, "reward": self.rew,
                                            "terminal": self.term}, self.add_count)
        return self.add_count

    def play(self, episode: int, length: int, rng: np.random.Generator) -> None:
        """One game of `length` steps; its frames name it (see `frame`)."""
        for t in range(length):
            self.add(frame(episode, t), int(rng.integers(0, 6)), float(rng.choice([-1.0, 0.0, 1.0])),
                     int(t == length - 1), (episode, t))

    def whole_games(self, add_count: int, window: int) -> list[int]:
        """The games a checkpoint holds whole and shows whole: every step among its adds (max(0, A - n) .. A - 1),
        inside the window, and the add before its first step too (its padding: a game whose first step is the
        oldest row could as well be a fragment). Call after the last game finished (`play` plays games to the end).
        """
        adds = {}
        for g, tag in enumerate(self.tags):
            if tag is not None:
                adds.setdefault(tag[0], []).append(g)
        oldest = max(0, add_count - self.n)
        return sorted(e for e, gs in adds.items()
                      if gs[0] > oldest and gs[-1] < add_count and all(g % self.n < window for g in gs))


def frame(ep: int, t: int) -> np.ndarray:
    """A frame that names its episode and step."""
    f = np.zeros(HW, np.uint8)
    f[0, 0], f[0, 1], f[0, 2] = ep % 256, t % 256, 1 + t // 256
    return f


def write_run(root: Path, n_ckpt: int = 3, seed: int = 0, game: str = "Pong") -> list[dict]:
    """Episodes of 20-60 steps streamed through the buffer until `n_ckpt` checkpoints exist; the episodes."""
    rng = np.random.default_rng(seed)
    buf = LoggedBuffer(root / game / "1" / "replay_logs")
    episodes = []
    while buf.log_count < n_ckpt:
        e = len(episodes)
        T = int(rng.integers(20, 61))
        ep = {"frames": np.stack([frame(e, t) for t in range(T)]), "actions": rng.integers(0, 6, T),
              "rewards": rng.choice([-1.0, 0.0, 1.0], T).astype(np.float32)}
        episodes.append(ep)
        for t in range(T):
            buf.add(ep["frames"][t], ep["actions"][t], ep["rewards"][t], int(t == T - 1))
    return episodes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dqn")
    return root, write_run(root)


def cfg(root, **kw) -> DQNReplayConfig:
    base = dict(root=str(root), game="Pong", num_steps=300, trajectories_per_buffer=3, suffixes=(0, 1, 2),
                buffer_window=N, frame_shape=HW, seed=0)
    return DQNReplayConfig(**{**base, **kw})


def test_episodes_are_whole_games_with_their_frames_actions_rewards(run):
    root, episodes = run
    ds = load_dqn_replay(cfg(root, num_steps=1_000))
    assert ds.frame_stack == 4 and ds.observations.shape[1:] == HW and ds.observations.dtype == np.uint8
    assert ds.n_steps >= 1_000
    for e in range(ds.n_episodes):
        s, T = ds.starts[e], ds.lengths[e]
        src = episodes[int(ds.observations[s, 0, 0])]
        assert ds.observations[s, 0, 1] == 0 and ds.observations[s, 0, 2] == 1  # starts at the game's step 0
        assert T == len(src["rewards"])  # and ends at its last step
        np.testing.assert_array_equal(ds.observations[s:s + T], src["frames"])
        np.testing.assert_array_equal(ds.actions[s:s + T], src["actions"])
        np.testing.assert_array_equal(ds.rewards[s:s + T], src["rewards"])
        np.testing.assert_allclose(ds.returns_to_go()[s:s + T], np.cumsum(src["rewards"][::-1])[::-1], atol=1e-5)
        np.testing.assert_array_equal(ds.timesteps[s:s + T], np.arange(T))
        assert ds.terminals[s + T - 1] and not ds.terminals[s:s + T - 1].any() and not ds.timeouts.any()
    assert not (ds.observations == STALE).all(axis=(1, 2)).any()  # never a padding or unwritten row
    assert ds.meta["reward_units"].startswith("clipped") and ds.meta["n_actions"] == int(ds.actions.max()) + 1


def test_frame_stacks_are_built_by_index_and_clipped_at_the_episode_start(run):
    root, episodes = run
    ds = load_dqn_replay(cfg(root))
    s = ds.starts[1]
    stack0 = ds.obs_at(np.array([s]))[0]  # [4, H, W]
    assert stack0.shape == (4, *HW)
    assert (stack0 == ds.observations[s]).all()  # first step: its own frame four times (not the previous game)
    stack5 = ds.obs_at(np.array([s + 5]))[0]
    np.testing.assert_array_equal(stack5, ds.observations[s + 2:s + 6])
    assert ds.observations.nbytes == ds.n_steps * HW[0] * HW[1]  # each frame stored once


def test_sampling_follows_the_paper_visits_and_stops_after_num_steps(run):
    root, _ = run
    ds = load_dqn_replay(cfg(root, num_steps=300, trajectories_per_buffer=3))
    visits = ds.meta["visits"]
    lengths = list(ds.lengths)
    assert sum(lengths) >= 300 and sum(lengths) - sum(lengths[-3:]) < 300  # stops at the first visit past it
    assert all(b - a == 3 for _, a, b in visits[:-1])
    nxt = {}
    for s, a, b in visits:  # each checkpoint is read on from where its last visit stopped
        assert a == nxt.get(s, 0)
        nxt[s] = b
    again = load_dqn_replay(cfg(root, num_steps=300, trajectories_per_buffer=3))
    assert again.meta["visits"] == visits and np.array_equal(again.observations, ds.observations)
    other = [load_dqn_replay(cfg(root, num_steps=300, trajectories_per_buffer=3, seed=k)).meta["visits"]
             for k in (1, 2, 3)]
    assert any(v != visits for v in other)


def test_sample_visits_drops_exhausted_checkpoints_and_refuses_too_many_steps():
    lengths = {0: np.array([10, 10]), 5: np.array([7]), 9: np.array([], dtype=np.int64)}
    visits = sample_visits(lengths, 27, 1, seed=0)
    assert sorted(visits) == [(0, 0, 1), (0, 1, 2), (5, 0, 1)]
    with pytest.raises(DatasetError, match="only 27 transitions"):
        sample_visits(lengths, 28, 1, seed=0)


def test_checkpoints_start_fresh_or_mid_game_and_the_window_limits_rows(run):
    root, episodes = run
    everything = load_dqn_replay(cfg(root, num_steps=1, trajectories_per_buffer=1000, suffixes=(0,)))
    assert everything.observations[0, 0, 0] == 0  # suffix 0 began empty: its first game is complete
    later = load_dqn_replay(cfg(root, num_steps=1, trajectories_per_buffer=1000, suffixes=(1,)))
    first = int(later.observations[0, 0, 0])
    assert first == int(everything.observations[everything.starts[-1], 0, 0]) + 2  # one game straddles 0|1
    small = load_dqn_replay(cfg(root, num_steps=1, trajectories_per_buffer=1000, suffixes=(0,), buffer_window=200))
    assert small.n_steps + 3 * small.n_episodes <= 200 and small.n_episodes < everything.n_episodes
    with pytest.raises(DatasetError, match="only"):
        load_dqn_replay(cfg(root, num_steps=10_000))


def test_missing_add_count_assumes_batch_rl_logging(run, tmp_path):
    root, _ = run
    src = Path(root) / "Pong" / "1" / "replay_logs"
    dst = tmp_path / "Pong" / "1" / "replay_logs"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if not f.name.startswith(("add_count", "invalid_range")):
            (dst / f.name).write_bytes(f.read_bytes())
    a = load_dqn_replay(cfg(root))
    b = load_dqn_replay(cfg(tmp_path))
    assert a.meta["visits"] == b.meta["visits"] and np.array_equal(a.observations, b.observations)


def test_wrapped_buffer_is_split_at_its_cursor():
    # rows 0..5 newer than rows 6..11 (cursor 6); episodes may not run across the cursor
    term = np.array([0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1], np.uint8)
    act = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1], np.int32)
    rew = np.zeros(12, np.float32)
    eps = complete_episodes(term, act, rew, add_count=12 * 3 + 6, n=12, stack_size=4)
    np.testing.assert_array_equal(eps, [[5, 5], [11, 11]])  # the fragments before each part's first terminal go
    # the row before row 0 (row 11, older part) ended a game: row 0 starts padding, its game is complete
    term2 = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1], np.uint8)
    act2 = np.array([0, 0, 0, 2, 2, 0, 1, 1, 1, 1, 1, 1], np.int32)
    kw = dict(add_count=12 * 3 + 6, n=12)
    assert len(complete_episodes(term2, act2, rew, **kw)) == 0
    np.testing.assert_array_equal(complete_episodes(term2, act2, rew, lead={0: 3}, **kw), [[3, 4]])
    fresh = complete_episodes(np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 1], np.uint8),
                              np.array([0, 0, 0, 2, 2, 0, 0, 0, 3, 3]), np.zeros(10), add_count=10, n=16)
    np.testing.assert_array_equal(fresh, [[3, 4], [8, 9]])
    with pytest.raises(DatasetError, match="padding"):
        complete_episodes(term, np.ones(12, np.int32), rew, add_count=12 * 3 + 6, n=12)


def test_episodes_cut_by_the_step_cap_are_timeouts(run, monkeypatch):
    root, _ = run
    monkeypatch.setattr(dqn_replay, "MAX_STEPS_PER_EPISODE", 50)
    ds = load_dqn_replay(cfg(root))
    last = ds.starts + ds.lengths - 1
    np.testing.assert_array_equal(ds.timeouts[last], ds.lengths >= 50)
    np.testing.assert_array_equal(ds.terminals[last], ds.lengths < 50)


# ------------------------------------------------------------------------------------------ bad files
@pytest.fixture
def copy_run(run, tmp_path):
    root, _ = run
    src = Path(root) / "Pong" / "1" / "replay_logs"
    dst = tmp_path / "Pong" / "1" / "replay_logs"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return tmp_path, dst


def test_missing_folder_and_missing_file_are_named(copy_run):
    root, d = copy_run
    with pytest.raises(DatasetError, match="folder not found"):
        load_dqn_replay(cfg(root, game="Breakout"))
    checkpoint_file(d, "$store$_reward", 2).unlink()
    with pytest.raises(DatasetError, match=r"not found: .*reward_ckpt\.2\.gz"):
        load_dqn_replay(cfg(root))


def test_truncated_observation_file_fails_before_any_work(copy_run, monkeypatch):
    root, d = copy_run
    p = checkpoint_file(d, "$store$_observation", 1)
    p.write_bytes(p.read_bytes()[:-200])
    monkeypatch.setattr(dqn_replay, "_load_checkpoint", lambda *a: pytest.fail("read arrays before checking"))
    with pytest.raises(DatasetError, match=r"observation_ckpt\.1\.gz.*(truncated|corrupt)"):
        load_dqn_replay(cfg(root))


def test_garbage_and_wrong_arrays_are_refused(copy_run):
    root, d = copy_run
    checkpoint_file(d, "$store$_action", 0).write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match=r"action_ckpt\.0\.gz is not a gzip'd \.npy"):
        load_dqn_replay(cfg(root))
    with gzip.open(checkpoint_file(d, "$store$_action", 0), "wb") as f:
        np.save(f, np.zeros(N - 1, np.int32))
    with pytest.raises(DatasetError, match=f"expected {N} values"):
        load_dqn_replay(cfg(root))
    with gzip.open(checkpoint_file(d, "$store$_action", 0), "wb") as f:
        np.save(f, np.zeros(N, np.int32))
    with pytest.raises(DatasetError, match="frames are"):
        load_dqn_replay(cfg(root, frame_shape=(84, 84)))
    with gzip.open(checkpoint_file(d, "$store$_reward", 0), "wb") as f:
        np.save(f, np.ones(N, np.float32))  # the padding rows must hold zeros
    with pytest.raises(DatasetError, match="padding"):
        load_dqn_replay(cfg(root, suffixes=(0,), num_steps=1))


# ------------------------------------------------------------------------------------------ layouts at the edges
def games_of(ds) -> list[int]:
    """Which game each loaded episode is (its frames name it), sorted; every episode must start at the game's step 0."""
    first = ds.observations[ds.starts]  # [E, H, W]
    assert (first[:, 0, 1] == 0).all() and (first[:, 0, 2] == 1).all()
    return sorted(int(g) for g in first[:, 0, 0])


def load_all(root, suffix: int, window: int = N, **kw):
    """Every complete game of one checkpoint (one visit takes them all)."""
    return load_dqn_replay(cfg(root, num_steps=1, trajectories_per_buffer=10_000, suffixes=(suffix,),
                               buffer_window=window, **kw))


def test_a_padding_row_at_the_cursor_does_not_make_the_first_whole_game_a_fragment(tmp_path):
    # Games of 47 + 3 padding adds, then one of 46: add 499 is game 9's terminal, so batch_rl logs checkpoint 0
    # right after a terminal. Game 10's first padding row then lands on row n - 1 — checkpoint 1's oldest row,
    # the one at its cursor — and its other two on rows 0 and 1; game 10 starts at row 2 and is whole.
    rng = np.random.default_rng(0)
    buf = LoggedBuffer(tmp_path / "Pong" / "1" / "replay_logs")
    for e in range(10):
        buf.play(e, 47 if e < 9 else 46, rng)
    assert buf.log_count == 1 and buf.term[N - 2] == 1
    e = 10
    while buf.log_count < 2:
        buf.play(e, int(rng.integers(20, 61)), rng)
        e += 1
    with gzip.open(checkpoint_file(buf.dir, "$store$_observation", 1)) as f:
        obs = np.load(f)
    with gzip.open(checkpoint_file(buf.dir, "$store$_terminal", 1)) as f:
        term = np.load(f)
    assert (obs[[N - 1, 0, 1]] == 0).all() and not term[[N - 1, 0, 1]].any() and obs[2, 0, 0] == 10
    for window in (N, 200):
        ds = load_all(tmp_path, 1, window)
        assert games_of(ds) == buf.whole_games(2 * N - 1, window)
        assert games_of(ds)[0] == 10  # the old loader dropped it as a fragment


def test_a_checkpoint_exactly_full_is_not_wrapped(tmp_path):
    # 10 games of 47 steps + 3 padding rows each: add_count == n, nothing overwritten, row 0 the first padding row
    rng = np.random.default_rng(1)
    buf = LoggedBuffer(tmp_path / "Pong" / "1" / "replay_logs", log=False)
    for e in range(10):
        buf.play(e, 47, rng)
    assert buf.save(0) == N
    assert games_of(load_all(tmp_path, 0)) == buf.whole_games(N, N) == list(range(10))  # the old loader lost game 0


def test_checkpoints_saved_at_any_add_count_keep_exactly_their_whole_games(tmp_path):
    # dopamine's own checkpoints (OutOfGraphReplayBuffer.save) come at any add_count: the cursor can sit on a
    # padding row inside the window, a padding run can straddle the end of the buffer, the buffer can be unwrapped
    rng, when = np.random.default_rng(2), np.random.default_rng(3)
    buf = LoggedBuffer(tmp_path / "Pong" / "1" / "replay_logs", log=False)
    saves = []
    add = buf.add

    def add_and_maybe_save(*args):
        add(*args)
        if buf.add_count >= 100 and when.random() < 0.03 and len(saves) < 40:
            saves.append(buf.save(len(saves)))

    buf.add = add_and_maybe_save
    e = 0
    while len(saves) < 40:
        buf.play(e, int(rng.integers(3, 40)), rng)
        e += 1
    assert e < 256  # frames name games modulo 256
    cursors = {a % N for a in saves if a > N}
    assert any(0 < c < 300 for c in cursors) and any(a < N for a in saves)  # both layouts are exercised
    for suffix, add_count in enumerate(saves):
        for window in (N - 1, 300):  # rows >= window are not read (a game across row n-1 -> 0 never is whole)
            assert games_of(load_all(tmp_path, suffix, window)) == buf.whole_games(add_count, window), (suffix, window)


def test_num_steps_none_takes_every_complete_game(run):
    root, _ = run
    ds = load_dqn_replay(cfg(root, num_steps=None, trajectories_per_buffer=3))
    each = [load_all(root, s) for s in (0, 1, 2)]
    assert ds.n_steps == sum(d.n_steps for d in each)
    assert games_of(ds) == sorted(sum((games_of(d) for d in each), []))
    assert len(ds.meta["visits"]) > 3 and ds.meta["num_steps"] is None
