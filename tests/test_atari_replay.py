"""The DQN-replay-like dataset regenerated from behaviour snapshots: determinism, shares, labels, loading."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from dtlib import io
from dtlib.atari_behaviour import DQNConfig, DuelingQNet
from dtlib.data.atari_replay import ReplayMixConfig, build_replay_dataset, episodes_table
from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.validate import ParameterError


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory):
    """Two untrained snapshots laid out as `atari_behaviour.export` lays them."""
    d = tmp_path_factory.mktemp("pong")
    cfg = DQNConfig(channels=(4, 4, 4), hidden=8)
    rows = []
    for i in range(2):
        torch.manual_seed(i)
        net = DuelingQNet(6, cfg.hidden, cfg.channels)
        io.torch_save(d / f"step_{i:08d}.pt", {k: v.half() for k, v in net.state_dict().items()})
        rows.append({"snapshot": f"step_{i:08d}", "agent_steps": i, "eval_return_mean": -21.0})
    io.write_csv(d / "snapshots.csv", pd.DataFrame(rows))
    io.write_json(d / "config.json", {"config": dataclasses.asdict(cfg), "n_actions": 6})
    return d


def _cfg(d, **kw):
    return ReplayMixConfig(env="pong", n_steps=500, shares=(0.4, 0.6), envs=3, max_episode_steps=80,
                           snapshot_dir=str(d), **kw)


def test_same_seed_same_arrays_and_shares(snapshot_dir, tmp_path):
    a = build_replay_dataset(_cfg(snapshot_dir))
    b = build_replay_dataset(_cfg(snapshot_dir))
    for k in ("observations", "actions", "rewards", "terminals", "timeouts", "starts"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.meta == b.meta
    c = build_replay_dataset(_cfg(snapshot_dir, seed=1))
    assert not np.array_equal(a.actions[:200], c.actions[:200])
    t = episodes_table(a)
    per = t.groupby("snapshot")["length"].sum()
    assert per["step_00000000"] >= 200 and per["step_00000001"] >= 300  # each share met with whole episodes
    assert (per - np.array([200, 300])).max() < 80  # ... by at most one episode more
    assert a.frame_stack == 4 and a.observations.shape[1:] == (84, 84)
    a.save(tmp_path / "pong.npz")  # the study's loader reads the built file back exactly
    back = EpisodeDataset.load(tmp_path / "pong.npz")
    np.testing.assert_array_equal(back.observations, a.observations)
    assert episodes_table(back).equals(t)


def test_refuses_bad_shares_and_missing_snapshots(snapshot_dir, tmp_path):
    with pytest.raises(ParameterError, match="shares"):
        ReplayMixConfig(shares=(0.5, 0.6))
    with pytest.raises(ParameterError, match="shares"):
        build_replay_dataset(dataclasses.replace(_cfg(snapshot_dir), shares=(1.0,)))
    with pytest.raises(DatasetError, match="snapshots.csv"):
        build_replay_dataset(ReplayMixConfig(snapshot_dir=str(tmp_path)))
