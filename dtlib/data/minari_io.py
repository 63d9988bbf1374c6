"""Minari datasets <-> EpisodeDataset: load any local (or, online, downloadable) id or folder; write ours.

Minari stores one HDF5 group per episode whose `observations` hold T+1 entries (the reset observation and the
one after the last action) while actions, rewards, terminations and truncations hold T; the last observation
is dropped on load. Datasets live under `minari_root()` = $MINARI_DATASETS_PATH, default `data_dir()/minari`.
Ours are written with `minari.create_dataset_from_buffers`, which needs no jax when given whole-episode
`EpisodeBuffer`s (only `EpisodeBuffer.add_step_data` imports jax); dtlib's provenance (config, seed,
behaviour-policy steps, dtlib version, git commit) is stored as JSON in the metadata key `dtlib`.

    ds = load_minari("dtlib-small/hopper/medium-v0")         # ours
    ds = load_minari("mujoco/hopper/medium-v0", download=True)  # Farama's v5 data, needs the network once
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.paths import data_dir


def minari_root() -> Path:
    """Where Minari datasets are read and written: $MINARI_DATASETS_PATH, else `data_dir()/minari`."""
    return Path(os.environ.get("MINARI_DATASETS_PATH") or data_dir() / "minari").resolve()


@contextmanager
def _minari_env() -> Iterator[Path]:
    """Point Minari at `minari_root()` for the duration of a call (Minari reads the variable at each call)."""
    root, old = minari_root(), os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield root
    finally:
        if old is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def dataset_path(dataset_id: str) -> Path:
    """The folder of a dataset id under `minari_root()`."""
    return minari_root() / dataset_id


def open_minari(source: str | Path, download: bool = False) -> Any:
    """A `minari.MinariDataset` from a dataset folder (or its `data/` subfolder) or an id; DatasetError if absent."""
    import minari
    from minari.dataset.minari_dataset import MinariDataset

    path = Path(source).expanduser()
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").exists():
            try:
                return MinariDataset(candidate)
            except Exception as e:  # corrupt metadata or main_data.hdf5: name the folder
                raise DatasetError(f"Minari dataset at {candidate} cannot be read ({type(e).__name__}: {e})") from e
    with _minari_env() as root:
        try:
            return minari.load_dataset(str(source), download=download)
        except FileNotFoundError as e:
            hint = "" if download else " (pass download=True when online)"
            raise DatasetError(f"Minari dataset {source!r} not found under {root}{hint}") from e
        except Exception as e:
            raise DatasetError(f"Minari dataset {source!r} cannot be loaded ({type(e).__name__}: {e})") from e


def load_minari(source: str | Path, download: bool = False) -> EpisodeDataset:
    """Load a Minari dataset (id or folder) as an EpisodeDataset, dropping each episode's final observation."""
    mds = open_minari(source, download=download)
    episodes = []
    for ep in mds.iterate_episodes():
        obs, t = np.asarray(ep.observations), len(ep.rewards)
        if not isinstance(ep.observations, np.ndarray) or obs.ndim != 2:
            raise DatasetError(f"Minari dataset {source!r}: episode {ep.id} has non-vector observations")
        if len(obs) != t + 1 or len(ep.actions) != t:
            raise DatasetError(f"Minari dataset {source!r}: episode {ep.id} has {len(obs)} observations and "
                               f"{len(ep.actions)} actions for {t} rewards (expected T+1 and T)")
        episodes.append({"observations": obs[:-1].astype(np.float32), "actions": np.asarray(ep.actions, np.float32),
                         "rewards": np.asarray(ep.rewards, np.float32),
                         "terminals": np.asarray(ep.terminations, bool), "timeouts": np.asarray(ep.truncations, bool)})
    md = mds.storage.metadata
    meta = {"source": "minari", "dataset_id": md.get("dataset_id"), "path": str(mds.storage.data_path),
            "ref_min_score": md.get("ref_min_score"), "ref_max_score": md.get("ref_max_score"),
            "algorithm_name": md.get("algorithm_name"), "env_spec": md.get("env_spec")}
    if "dtlib" in md:
        meta.update(json.loads(md["dtlib"]))
    try:
        return EpisodeDataset.from_episodes(episodes, meta=meta)
    except DatasetError as e:
        raise DatasetError(f"Minari dataset {source!r}: {e}") from e


def read_dtlib_metadata(dataset_id: str) -> dict | None:
    """The `dtlib` provenance of a local dataset id, or None if it does not exist (without loading its data)."""
    path = dataset_path(dataset_id) / "data" / "metadata.json"
    if not path.exists():
        return None
    md = json.loads(path.read_text())
    return json.loads(md["dtlib"]) if "dtlib" in md else {}


def write_minari(ds: EpisodeDataset, dataset_id: str, env_id: str, final_observations: np.ndarray | None = None,
                 meta: dict | None = None, overwrite: bool = False) -> Path:
    """Write `ds` as Minari dataset `dataset_id` (T+1 observations per episode) and return its folder.

    `final_observations` [E, obs_dim] are the observations after each episode's last action; where they are
    unknown (a replay buffer kept without them) the last observation is repeated and `meta` says so.
    """
    import warnings

    import minari
    from minari.data_collector import EpisodeBuffer

    meta = dict(meta or {})
    if final_observations is None:
        final_observations = ds.observations[ds.starts + ds.lengths - 1]
        meta["final_observation"] = "repeated (not recorded)"
    if len(final_observations) != ds.n_episodes:
        raise DatasetError(f"{len(final_observations)} final observations for {ds.n_episodes} episodes")
    buffers = []
    for e, (s, n) in enumerate(zip(ds.starts, ds.lengths)):
        sl = slice(s, s + n)
        buffers.append(EpisodeBuffer(
            id=e, observations=np.concatenate([ds.observations[sl], final_observations[e][None]]).astype(np.float64),
            actions=ds.actions[sl].astype(np.float32), rewards=ds.rewards[sl].astype(np.float64),
            terminations=ds.terminals[sl], truncations=ds.timeouts[sl], infos={}))
    with _minari_env():
        path = dataset_path(dataset_id)
        if path.exists():
            if not overwrite:
                raise DatasetError(f"Minari dataset {dataset_id} already exists at {path}")
            shutil.rmtree(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari warns about unset optional fields (email, ...)
            mds = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env_id, algorithm_name=str(meta.get("algorithm", "unknown")),
                author="dtlib", code_permalink=f"dtlib git {meta.get('git_commit', 'unknown')}",
                ref_min_score=meta.get("ref_min_score"), ref_max_score=meta.get("ref_max_score"),
                description=str(meta.get("description", "")) or None)
        mds.storage.update_metadata({"dtlib": json.dumps(meta, default=str, sort_keys=True)})
    return path
