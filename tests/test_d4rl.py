"""The D4RL HDF5 loader on small files written here: episode splitting, dtypes, and clear errors for bad files."""
import h5py
import numpy as np
import pytest

from dtlib.data.d4rl import load_d4rl_hdf5, write_d4rl_hdf5
from dtlib.data.episodes import DatasetError
from dtlib.data.generate_mujoco import load_dataset


def write(path, n=10, dtype=np.float32, drop=(), **override):
    """A D4RL-layout file: 10 steps; a terminal after step 2, a timeout after step 6, steps 7-9 unfinished."""
    rng = np.random.default_rng(0)
    arrays = {"observations": rng.normal(size=(n, 4)).astype(dtype), "actions": rng.uniform(-1, 1, (n, 2)).astype(dtype),
              "rewards": np.arange(n, dtype=dtype), "terminals": np.zeros(n, bool), "timeouts": np.zeros(n, bool),
              "next_observations": rng.normal(size=(n, 4)).astype(dtype)}
    arrays["terminals"][2] = True
    arrays["timeouts"][6] = True
    arrays.update(override)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            if k not in drop:
                f[k] = v
        f["infos/qpos"] = np.zeros((n, 3))
        f["metadata/algorithm"] = "SAC"
        f["metadata/iteration"] = 7
    return arrays


def test_episodes_split_at_terminals_and_timeouts(tmp_path):
    a = write(tmp_path / "d.hdf5")
    ds = load_d4rl_hdf5(tmp_path / "d.hdf5")
    np.testing.assert_array_equal(ds.starts, [0, 3])  # a terminal ends episode 0, a timeout episode 1
    np.testing.assert_array_equal(ds.lengths, [3, 4])  # steps 7-9 never ended: dropped
    np.testing.assert_allclose(ds.episode_returns, [0 + 1 + 2, 3 + 4 + 5 + 6])
    np.testing.assert_array_equal(np.flatnonzero(ds.terminals), [2])
    np.testing.assert_array_equal(np.flatnonzero(ds.timeouts), [6])
    np.testing.assert_allclose(ds.observations, a["observations"][:7])
    assert ds.meta["file_metadata"] == {"algorithm": "SAC", "iteration": 7}
    assert ds.meta["ignored_keys"] == ["infos", "metadata", "next_observations"]


def test_float64_replay_arrays_become_float32(tmp_path):
    a = write(tmp_path / "replay.hdf5", dtype=np.float64)  # D4RL's medium-replay files are float64
    ds = load_dataset(tmp_path / "replay.hdf5")
    assert ds.observations.dtype == np.float32 and ds.actions.dtype == np.float32
    assert ds.meta["dtypes"]["observations"] == "float64"
    np.testing.assert_allclose(ds.actions, a["actions"][:7].astype(np.float32))


def test_missing_key_names_the_file_and_key(tmp_path):
    write(tmp_path / "d.hdf5", drop=("timeouts",))
    with pytest.raises(DatasetError, match=r"d\.hdf5 lacks required keys \['timeouts'\]"):
        load_d4rl_hdf5(tmp_path / "d.hdf5")


def test_ragged_arrays_are_refused(tmp_path):
    write(tmp_path / "d.hdf5", actions=np.zeros((9, 2), np.float32))
    with pytest.raises(DatasetError, match=r"arrays differ in length: rewards has 10 steps but \{'actions': 9\}"):
        load_d4rl_hdf5(tmp_path / "d.hdf5")


def test_truncated_and_garbage_files(tmp_path):
    write(tmp_path / "d.hdf5", n=20000)
    data = (tmp_path / "d.hdf5").read_bytes()
    (tmp_path / "cut.hdf5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cut\.hdf5 is (truncated|corrupt)"):
        load_d4rl_hdf5(tmp_path / "cut.hdf5")
    (tmp_path / "junk.hdf5").write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(DatasetError, match=r"junk\.hdf5 is truncated or not an HDF5 file"):
        load_d4rl_hdf5(tmp_path / "junk.hdf5")
    with pytest.raises(DatasetError, match="not found"):
        load_d4rl_hdf5(tmp_path / "absent.hdf5")


def test_nan_is_refused_with_the_file_name(tmp_path):
    obs = np.zeros((10, 4), np.float32)
    obs[4, 1] = np.nan
    write(tmp_path / "d.hdf5", observations=obs)
    with pytest.raises(DatasetError, match=r"d\.hdf5: observations contains NaN or inf \(first at step 4\)"):
        load_d4rl_hdf5(tmp_path / "d.hdf5")


def test_write_then_load_roundtrip(tmp_path):
    ds = load_d4rl_hdf5(write(tmp_path / "a.hdf5") and tmp_path / "a.hdf5")
    write_d4rl_hdf5(tmp_path / "b.hdf5", ds, dtype="float64", metadata={"algorithm": "SAC"})
    back = load_d4rl_hdf5(tmp_path / "b.hdf5")
    np.testing.assert_array_equal(back.starts, ds.starts)
    np.testing.assert_allclose(back.observations, ds.observations)
    assert back.meta["file_metadata"] == {"algorithm": "SAC"}


def test_a_file_without_any_terminal_or_timeout_is_refused(tmp_path):
    # no flag at all: the old loader made one episode of every step (and its timesteps ran past the env's limit)
    write(tmp_path / "noflags.hdf5", terminals=np.zeros(10, bool), timeouts=np.zeros(10, bool))
    with pytest.raises(DatasetError, match=r"noflags\.hdf5.*no episode boundary"):
        load_d4rl_hdf5(tmp_path / "noflags.hdf5")
