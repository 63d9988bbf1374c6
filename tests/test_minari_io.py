"""Minari roundtrip through our writer and the loader entry point: T+1 observations, flags, metadata, errors."""
import json

import h5py
import numpy as np
import pytest

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.data.generate_mujoco import load_dataset
from dtlib.data.minari_io import load_minari, minari_root, read_dtlib_metadata, write_minari


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)


def small():
    """Three Hopper-shaped episodes: 4 steps ending in a termination, 3 ending in a truncation, 2 terminated."""
    rng = np.random.default_rng(1)
    lengths, n = [4, 3, 2], 9
    eps = []
    for i, t in enumerate(lengths):
        eps.append({"observations": rng.normal(size=(t, 11)).astype(np.float32),
                    "actions": rng.uniform(-1, 1, (t, 3)).astype(np.float32),
                    "rewards": np.full(t, float(i + 1), np.float32),
                    "terminals": np.arange(t) == t - 1 if i != 1 else np.zeros(t, bool),
                    "timeouts": np.arange(t) == t - 1 if i == 1 else np.zeros(t, bool)})
    return EpisodeDataset.from_episodes(eps)


def test_roundtrip_drops_the_final_observation(tmp_path):
    ds = small()
    finals = np.full((3, 11), 7.0, np.float32)
    meta = {"seed": 3, "ref_min_score": -20.272305, "ref_max_score": 3234.3, "algorithm": "test"}
    path = write_minari(ds, "dtlib-test/hopper/tiny-v0", "Hopper-v5", finals, meta)
    assert path == minari_root() / "dtlib-test/hopper/tiny-v0" and minari_root() == tmp_path / "data" / "minari"
    with h5py.File(path / "data" / "main_data.hdf5") as f:  # Minari's layout: T+1 observations, T actions
        assert f["episode_0/observations"].shape == (5, 11) and f["episode_0/actions"].shape == (4, 3)
        np.testing.assert_allclose(f["episode_1/observations"][-1], 7.0)
        assert list(f["episode_1/truncations"][()]) == [False, False, True]
    back = load_dataset("dtlib-test/hopper/tiny-v0")
    np.testing.assert_array_equal(back.starts, [0, 4, 7])
    np.testing.assert_allclose(back.observations, ds.observations)  # the final observations were dropped
    np.testing.assert_allclose(back.episode_returns, [4.0, 6.0, 6.0])
    np.testing.assert_array_equal(np.flatnonzero(back.terminals), [3, 8])
    np.testing.assert_array_equal(np.flatnonzero(back.timeouts), [6])
    assert back.meta["seed"] == 3 and back.meta["ref_max_score"] == 3234.3
    assert json.loads(back.meta["env_spec"])["id"] == "Hopper-v5"
    assert read_dtlib_metadata("dtlib-test/hopper/tiny-v0")["algorithm"] == "test"
    assert load_minari(path).n_steps == 9  # by folder too


def test_unknown_final_observations_are_repeated_and_said_so():
    write_minari(small(), "dtlib-test/hopper/rep-v0", "Hopper-v5")
    back = load_minari("dtlib-test/hopper/rep-v0")
    assert back.meta["final_observation"] == "repeated (not recorded)"
    assert back.n_steps == 9


def test_existing_dataset_is_not_overwritten_silently():
    write_minari(small(), "dtlib-test/hopper/x-v0", "Hopper-v5")
    with pytest.raises(DatasetError, match="already exists"):
        write_minari(small(), "dtlib-test/hopper/x-v0", "Hopper-v5")
    write_minari(small().select(np.array([0])), "dtlib-test/hopper/x-v0", "Hopper-v5", overwrite=True)
    assert load_minari("dtlib-test/hopper/x-v0").n_steps == 4


def test_missing_id_and_bad_episode_are_clear_errors():
    with pytest.raises(DatasetError, match=r"'mujoco/hopper/absent-v0' not found under .*download=True"):
        load_dataset("mujoco/hopper/absent-v0")
    path = write_minari(small(), "dtlib-test/hopper/bad-v0", "Hopper-v5")
    with h5py.File(path / "data" / "main_data.hdf5", "a") as f:  # an episode with T observations, not T+1
        obs = f["episode_2/observations"][()]
        del f["episode_2/observations"]
        f["episode_2/observations"] = obs[:-1]
    with pytest.raises(DatasetError, match=r"episode 2 has 2 observations and 2 actions for 2 rewards"):
        load_minari("dtlib-test/hopper/bad-v0")
