"""The Atari behaviour agent: n-step targets, double-Q selection, frame stacks, bit-exact resume."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from dtlib.atari_behaviour import (Agent, DQNConfig, DuelingQNet, FrameReplay, config_from_json, make_env,
                                   td_loss, train)
from dtlib.validate import ParameterError


def _filled(rewards, dones, ep_steps, capacity=16):
    rb = FrameReplay(capacity, frame_shape=(2, 2))
    for i, (r, d, e) in enumerate(zip(rewards, dones, ep_steps)):
        rb.add(np.full((2, 2), i, dtype=np.uint8), action=i % 3, reward=r, done=d, ep_step=e)
    return rb


def test_n_step_targets_by_hand():
    # episode A: rows 0..3 (ends at 3), episode B: rows 4..7
    rb = _filled([1, 0, -1, 1, 0, 1, 1, 0], [0, 0, 0, 1, 0, 0, 0, 0], [0, 1, 2, 3, 0, 1, 2, 3])
    g = 0.5
    ret, disc, nxt = rb.n_step_targets(np.array([0, 2, 4]), n=3, gamma=g)
    # row 0: 1 + 0.5*0 + 0.25*(-1), bootstraps from row 3 with 0.5**3
    # row 2: -1 + 0.5*1, the episode ends at row 3: no bootstrap, nothing from episode B
    # row 4: 0 + 0.5*1 + 0.25*1, bootstraps from row 7
    np.testing.assert_allclose(ret, [0.75, -0.5, 0.75])
    np.testing.assert_allclose(disc, [0.125, 0.0, 0.125])
    np.testing.assert_array_equal(nxt, [3, 5, 7])


def test_stacks_pad_with_the_episode_first_frame_and_wrap():
    rb = _filled([0] * 6, [0, 1, 0, 0, 0, 0], [0, 1, 0, 1, 2, 3], capacity=8)
    s = rb.stacks(np.array([3, 5]))[:, :, 0, 0]  # frame i is filled with the value i
    np.testing.assert_array_equal(s, [[2, 2, 2, 3], [2, 3, 4, 5]])
    for i in range(6, 11):  # wrap: rows 8, 9, 10 land in slots 0, 1, 2
        rb.add(np.full((2, 2), i, dtype=np.uint8), 0, 0.0, False, 4 + i - 6)
    np.testing.assert_array_equal(rb.stacks(np.array([9]))[:, :, 0, 0], [[6, 7, 8, 9]])
    idx = rb.sample_indices(np.random.default_rng(0), 200, n=3)
    assert idx.min() >= 11 - 8 + 3 and idx.max() < 11 - 3  # stack and n-step rows still in the buffer


def test_replay_stacks_equal_the_env_observations():
    env = make_env("pong", 0.25)
    rb = FrameReplay(64)
    obs, _ = env.reset(seed=3)
    seen = []
    for t in range(20):
        seen.append(np.asarray(obs).copy())
        rb.add(np.asarray(obs)[-1], 0, 0.0, False, t)
        obs, *_ = env.step(t % 6)
    env.close()
    np.testing.assert_array_equal(rb.stacks(np.arange(20)), np.stack(seen))


class _Fixed(nn.Module):
    """Q-values that are a fixed function of the first pixel of the stack (one row of `table` per pixel value)."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.scale * self.table[obs[:, 0, 0, 0].long()]


def test_double_q_target_selects_with_online_and_values_with_target():
    online = _Fixed(torch.tensor([[1.0, 2.0], [5.0, 0.0]]))  # online argmax at next state 1: action 0
    target = _Fixed(torch.tensor([[0.0, 0.0], [3.0, 10.0]]))  # target's own argmax would be action 1 (10)
    obs = torch.zeros(1, 4, 1, 1, dtype=torch.uint8)
    nxt = torch.ones(1, 4, 1, 1, dtype=torch.uint8)
    loss = td_loss(online, target, obs, torch.tensor([1]), torch.tensor([0.5]), torch.tensor([0.9]), nxt)
    y = 0.5 + 0.9 * 3.0  # target's value of the online choice (action 0), not max_a target = 10
    q = 2.0
    assert loss.item() == pytest.approx(abs(q - y) - 0.5)  # Huber, |d| > 1


def test_dueling_aggregation_has_zero_mean_advantage():
    torch.manual_seed(0)
    net = DuelingQNet(6, hidden=8, channels=(4, 4, 4))
    x = torch.randint(0, 255, (3, 4, 84, 84), dtype=torch.uint8)
    h = net.torso(x.float() / 255)
    np.testing.assert_allclose(net(x).mean(1).detach(), net.value(h).squeeze(1).detach(), rtol=1e-5, atol=1e-6)


def test_config_refuses_bad_values():
    with pytest.raises(ParameterError, match="env"):
        DQNConfig(env="hopper")
    with pytest.raises(ParameterError, match="n_step"):
        DQNConfig(n_step=0)
    assert config_from_json(dataclasses.asdict(DQNConfig())) == DQNConfig()


TINY = DQNConfig(total_steps=900, buffer_size=3000, learning_starts=300, train_every=8, batch_size=8,
                 target_every=200, eps_decay_steps=400, eval_every=10**6, checkpoint_every=1, channels=(4, 4, 4),
                 hidden=16)


def test_resume_is_bit_exact(tmp_path):
    """Stopped at an episode end and resumed = trained straight through (weights, replay, curve)."""
    straight = train(dataclasses.replace(TINY, total_steps=1700), tmp_path / "a", progress=False)
    part = train(TINY, tmp_path / "b", progress=False)  # stops at the first episode end past 900 steps
    first = torch.load(part / "checkpoint.pt", weights_only=False)["progress"]["step"]
    assert 900 <= first < 1700
    train(dataclasses.replace(TINY, total_steps=1700), tmp_path / "b", progress=False)  # resumes
    a = torch.load(straight / "checkpoint.pt", weights_only=False)
    b = torch.load(part / "checkpoint.pt", weights_only=False)
    assert a["progress"]["step"] == b["progress"]["step"] and a["progress"]["episodes"] == b["progress"]["episodes"]
    for k, v in a["agent"]["online"].items():
        assert torch.equal(v, b["agent"]["online"][k]), k
    np.testing.assert_array_equal(a["agent"]["replay"]["frames"], b["agent"]["replay"]["frames"])


def test_a_run_folder_refuses_another_config(tmp_path):
    (tmp_path / "config.json").write_text('{"env": "pong", "seed": 5}')
    with pytest.raises(ParameterError, match="another config"):
        train(TINY, tmp_path, progress=False)


def test_agent_acts_greedily_at_epsilon_zero():
    ag = Agent(dataclasses.replace(TINY, channels=(4, 4, 4)), n_actions=6)
    obs = np.zeros((4, 84, 84), dtype=np.uint8)
    with torch.no_grad():
        best = int(ag.online(torch.as_tensor(obs[None])).argmax())
    assert ag.act(obs, 0.0) == best


def test_export_copies_snapshots_with_evaluations_and_shares(tmp_path, monkeypatch):
    import pandas as pd

    from dtlib import atari_behaviour as ab
    from dtlib import io

    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    io.write_json(run / "config.json", dataclasses.asdict(TINY))
    for s in (100, 200):
        net = DuelingQNet(6, TINY.hidden, TINY.channels)
        io.torch_save(run / "snapshots" / f"step_{s:08d}.pt", {k: v.half() for k, v in net.state_dict().items()})
    io.torch_save(run / "checkpoint.pt", {"progress": {"step": 250, "seconds": 12.0}})
    (run / "curve.csv").write_text("step,return_mean\n100,-21\n")
    monkeypatch.setattr(ab, "run_dir", lambda env, seed: run)
    monkeypatch.setattr(ab, "evaluate", lambda net, env, episodes, seed, **kw: np.full(episodes, -20.0 + seed % 2))
    with pytest.raises(ParameterError, match="shares"):
        ab.export("pong", [100, 200], episodes=3, out=tmp_path / "out", shares=[0.5, 0.6])
    with pytest.raises(ParameterError, match="no snapshot at step 300"):
        ab.export("pong", [300], episodes=3, out=tmp_path / "out")
    dest = ab.export("pong", [100, 200], episodes=3, out=tmp_path / "out", shares=[0.25, 0.75], note="interim")
    table = pd.read_csv(dest / "snapshots.csv")
    assert list(table["share"]) == [0.25, 0.75] and list(table["eval_episodes"]) == [3, 3]
    info = io.read_json(dest / "config.json")
    assert info["trained_steps"] == 250 and info["note"] == "interim" and info["n_actions"] == 6
    net = ab.load_snapshot(dest / "step_00000100.pt", 6, TINY.hidden, TINY.channels)
    src = torch.load(run / "snapshots" / "step_00000100.pt", weights_only=True)
    assert all(torch.equal(v.half(), src[k]) for k, v in net.state_dict().items())
    assert (dest / "curve.csv").read_text() == "step,return_mean\n100,-21\n"


def test_the_committed_pong_snapshots_load_and_span_learning():
    """behaviour/atari/pong: every listed snapshot loads into the agent's network and acts on a frame stack; the
    shares sum to 1; the evaluations span random play to a competent agent; the folder stays small."""
    import pandas as pd

    from dtlib.atari_behaviour import committed_dir, load_snapshot

    folder = committed_dir("pong")
    table = pd.read_csv(folder / "snapshots.csv")
    meta = config_from_json(__import__("json").loads((folder / "config.json").read_text())["config"])
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["agent_steps"].is_monotonic_increasing
    assert table["eval_return_mean"].min() <= -20 and table["eval_return_mean"].max() >= 10
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 25_000_000
    obs = torch.zeros(2, 4, 84, 84, dtype=torch.uint8)
    for name in table["snapshot"]:
        net = load_snapshot(folder / f"{name}.pt", 6, meta.hidden, meta.channels)
        assert net(obs).shape == (2, 6)
