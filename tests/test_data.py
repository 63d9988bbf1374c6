import numpy as np
import pytest

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.data.windows import WindowSampler


def tiny():
    # episode 0: rewards 1,2,3 (return 6); episode 1: rewards 5,1 (return 6); episode 2: reward 10 (return 10)
    eps = [dict(observations=np.arange(3, dtype=np.float32)[:, None], actions=np.zeros((3, 1), np.float32),
                rewards=np.array([1, 2, 3.0])),
           dict(observations=np.arange(10, 12, dtype=np.float32)[:, None], actions=np.ones((2, 1), np.float32),
                rewards=np.array([5, 1.0]), terminals=np.array([False, True])),
           dict(observations=np.array([[20.0]], np.float32), actions=np.full((1, 1), 2, np.float32),
                rewards=np.array([10.0]))]
    return EpisodeDataset.from_episodes(eps)


def test_returns_to_go_hand_computed():
    d = tiny()
    np.testing.assert_allclose(d.returns_to_go(), [6, 5, 3, 6, 1, 10])
    np.testing.assert_allclose(d.episode_returns, [6, 6, 10])
    np.testing.assert_array_equal(d.timesteps, [0, 1, 2, 0, 1, 0])
    np.testing.assert_array_equal(d.lengths, [3, 2, 1])


def test_delayed_rewards_put_the_return_on_the_last_step():
    d = tiny().delayed()
    np.testing.assert_allclose(d.rewards, [0, 0, 6, 0, 6, 10])
    np.testing.assert_allclose(d.returns_to_go(), [6, 6, 6, 6, 6, 10])


def test_top_fraction_keeps_best_episodes_within_the_timestep_budget():
    d = tiny()  # 6 steps; returns 6 (3 steps), 6 (2 steps), 10 (1 step)
    np.testing.assert_allclose(d.top_fraction(0.1).episode_returns, [10])  # budget max(int(.6),1)=1 step
    # budget 3 steps: best (1 step) then next best by return: ep 0 (3 steps, cum 4 > 3) stops -> only ep 2
    np.testing.assert_allclose(d.top_fraction(0.5).episode_returns, [10])
    # budget 4 steps: 1 + 3 = 4 <= 4 keeps ep 0 (stable order among ties); ep 1 would make 6
    np.testing.assert_allclose(d.top_fraction(4 / 6 + 1e-9).episode_returns, [10, 6])
    assert d.top_fraction(4 / 6 + 1e-9).n_steps == 4
    assert d.top_fraction(1.0).n_steps == 6
    with pytest.raises(DatasetError, match="fraction"):
        d.top_fraction(0.0)


def test_windows_are_left_padded_with_a_mask():
    d = tiny()
    s = WindowSampler(d, context_len=4, seed=0)
    b = s.sample(256)
    assert b["states"].shape == (256, 4, 1) and b["actions"].shape == (256, 4, 1)
    for i in range(256):
        m = b["mask"][i].astype(bool)
        n_real = m.sum()
        assert (m == (np.arange(4) >= 4 - n_real)).all()  # padding only on the left
        assert (b["states"][i][~m] == 0).all() and (b["rtg"][i][~m] == 0).all()
        real = b["states"][i][m, 0]
        # consecutive steps of one episode, with the matching returns-to-go and timesteps
        start = np.flatnonzero(d.observations[:, 0] == real[0])[0]
        np.testing.assert_allclose(real, d.observations[start:start + n_real, 0])
        np.testing.assert_allclose(b["rtg"][i][m], d.returns_to_go()[start:start + n_real])
        np.testing.assert_array_equal(b["timesteps"][i][m], d.timesteps[start:start + n_real])
    # every window ends at the episode's end or holds K real steps (official slicing)
    assert set(b["mask"].sum(1).astype(int)) <= {1, 2, 3}


def test_episodes_are_sampled_in_proportion_to_length():
    d = tiny()
    b = WindowSampler(d, context_len=1, seed=0).sample(60_000)
    counts = np.array([np.isin(b["states"][:, -1, 0], d.observations[d.starts[e]:d.starts[e] + d.lengths[e], 0]).sum()
                       for e in range(3)])
    np.testing.assert_allclose(counts / counts.sum(), [3 / 6, 2 / 6, 1 / 6], atol=0.01)


def test_frame_stacks_are_built_by_index_and_clipped_at_episode_start():
    frames = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)  # [5, 2, 2]
    d = EpisodeDataset(frames, np.zeros(5, np.int64), np.zeros(5), np.zeros(5), np.zeros(5), [0, 2], frame_stack=3)
    assert d.obs_shape == (3, 2, 2)
    stacks = d.obs_at(np.array([0, 1, 2, 4]))[:, :, 0, 0]
    np.testing.assert_array_equal(stacks, [[0, 0, 0], [0, 0, 1], [2, 2, 2], [2, 3, 4]])


def test_bad_datasets_get_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="empty"):
        EpisodeDataset.from_episodes([])
    obs = np.zeros((3, 1), np.float32)
    obs[1, 0] = np.nan
    with pytest.raises(DatasetError, match="observations contains NaN.*step 1"):
        EpisodeDataset.from_episodes([dict(observations=obs, actions=np.zeros((3, 1)), rewards=np.zeros(3))])
    with pytest.raises(DatasetError, match="actions has 2 steps"):
        EpisodeDataset.from_episodes([dict(observations=np.zeros((3, 1)), actions=np.zeros((2, 1)),
                                           rewards=np.zeros(3))])
    with pytest.raises(DatasetError, match="context_len"):
        WindowSampler(tiny(), context_len=0)
    with pytest.raises(DatasetError, match="not found"):
        EpisodeDataset.load(tmp_path / "missing.npz")


def test_save_load_roundtrip_and_truncated_file(tmp_path):
    d = tiny()
    d.meta["env"] = "x"
    d.save(tmp_path / "d.npz")
    e = EpisodeDataset.load(tmp_path / "d.npz")
    np.testing.assert_array_equal(e.observations, d.observations)
    np.testing.assert_array_equal(e.starts, d.starts)
    assert e.meta == {"env": "x"}
    raw = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        EpisodeDataset.load(tmp_path / "cut.npz")


def test_from_flat_splits_at_terminals_and_timeouts_and_drops_a_trailing_fragment():
    n = 7
    term = np.array([0, 0, 1, 0, 0, 0, 0], bool)
    tout = np.array([0, 0, 0, 0, 1, 0, 0], bool)
    d = EpisodeDataset.from_flat(np.zeros((n, 2)), np.zeros((n, 1)), np.ones(n), term, tout)
    np.testing.assert_array_equal(d.lengths, [3, 2])


def test_whole_episode_windows_start_at_the_first_step():
    d = tiny()
    b = WindowSampler(d, context_len=4, seed=0, from_start=True).sample(64)
    first = b["mask"].argmax(1)  # first real step of each window
    starts = b["timesteps"][np.arange(64), first]
    assert (starts == 0).all()
    assert set(b["mask"].sum(1).astype(int)) == {3, 2, 1}  # whole episodes of 3, 2 and 1 steps
