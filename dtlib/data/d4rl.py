"""Original D4RL HDF5 files (e.g. `hopper-medium-v2.hdf5`) as EpisodeDatasets, and writing that layout back.

D4RL's gym-mujoco files hold flat arrays `observations, actions, rewards, terminals, timeouts` (plus optional
`next_observations`, `infos/...`, `metadata/...`, ignored here except `metadata/*` scalars, which go to `meta`).
Episodes end at a terminal (the env stopped) or a timeout (the 1000-step limit); the steps after the last flag
are an unfinished episode and are dropped, as the official DT code's loader does. The medium-replay and
full-replay files store float64 arrays; they are cast to float32.

    ds = load_d4rl_hdf5("~/.d4rl/datasets/hopper_medium-v2.hdf5")
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")  # D4RL's get_dataset() arrays


def _open(path: Path):
    import h5py

    if not path.exists():
        raise DatasetError(f"D4RL file not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as e:  # h5py reports truncation and garbage as OSError ("truncated file", "file signature")
        raise DatasetError(f"D4RL file {path} is truncated or not an HDF5 file ({e})") from e


def check_d4rl_hdf5(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The shapes of the required arrays; DatasetError naming the file if one is missing, ragged or mis-shaped."""
    path = Path(path).expanduser()
    with _open(path) as f:
        missing = [k for k in REQUIRED_KEYS if k not in f]
        if missing:
            raise DatasetError(f"D4RL file {path} lacks required keys {missing} (has {sorted(f.keys())})")
        shapes = {k: tuple(f[k].shape) for k in REQUIRED_KEYS}
    n = shapes["rewards"][0] if shapes["rewards"] else 0
    if n == 0:
        raise DatasetError(f"D4RL file {path} holds no steps (rewards has shape {shapes['rewards']})")
    ragged = {k: s[0] if s else None for k, s in shapes.items() if not s or s[0] != n}
    if ragged:
        raise DatasetError(f"D4RL file {path}: arrays differ in length: rewards has {n} steps but {ragged}")
    for k, ndim in (("observations", 2), ("actions", 2), ("rewards", 1), ("terminals", 1), ("timeouts", 1)):
        if len(shapes[k]) != ndim:
            raise DatasetError(f"D4RL file {path}: {k} has shape {shapes[k]}, expected {ndim} dimension(s)")
    return shapes


def load_d4rl_hdf5(path: str | Path) -> EpisodeDataset:
    """Read a D4RL gym-mujoco HDF5 file into episodes split at terminals | timeouts; DatasetError if it is bad."""
    path = Path(path).expanduser()
    check_d4rl_hdf5(path)  # keys and lengths first: no array is read from a bad file
    with _open(path) as f:
        try:
            arrays = {k: f[k][()] for k in REQUIRED_KEYS}
        except (OSError, ValueError, KeyError) as e:  # a file cut inside a dataset's chunks fails on read
            raise DatasetError(f"D4RL file {path} is corrupt: reading its arrays failed ({e})") from e
        extra = sorted(k for k in f.keys() if k not in REQUIRED_KEYS)
        file_meta = {}
        if "metadata" in f:
            f["metadata"].visititems(lambda name, obj: file_meta.__setitem__(name, _scalar(obj)) if _is_scalar(obj)
                                     else None)
    meta = {"source": "d4rl_hdf5", "path": str(path), "ignored_keys": extra, "file_metadata": file_meta,
            "dtypes": {k: str(v.dtype) for k, v in arrays.items()}}
    try:
        return EpisodeDataset.from_flat(arrays["observations"].astype(np.float32),
                                        arrays["actions"].astype(np.float32), arrays["rewards"].astype(np.float32),
                                        arrays["terminals"].astype(bool), arrays["timeouts"].astype(bool), meta=meta)
    except DatasetError as e:
        raise DatasetError(f"D4RL file {path}: {e}") from e


def _is_scalar(obj: Any) -> bool:
    import h5py

    return isinstance(obj, h5py.Dataset) and obj.shape == ()


def _scalar(obj: Any) -> Any:
    v = obj[()]
    return v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v


def write_d4rl_hdf5(path: str | Path, ds: EpisodeDataset, dtype: str = "float32",
                    metadata: dict[str, Any] | None = None) -> Path:
    """Write `ds` in D4RL's flat layout (with `next_observations`, zero after each episode's last step)."""
    import h5py

    from dtlib import io

    path = Path(path)
    nxt = np.zeros_like(ds.observations)
    nxt[:-1] = ds.observations[1:]
    nxt[ds.starts[1:] - 1] = 0.0  # D4RL's next observation of a final step is the env's; ours is unknown
    with io.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f["observations"] = ds.observations.astype(dtype)
            f["next_observations"] = nxt.astype(dtype)
            f["actions"] = ds.actions.astype(dtype)
            f["rewards"] = ds.rewards.astype(dtype)
            f["terminals"] = ds.terminals
            f["timeouts"] = ds.timeouts
            for k, v in (metadata or {}).items():
                f[f"metadata/{k}"] = v
    return path
