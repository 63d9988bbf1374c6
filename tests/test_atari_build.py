"""The Atari dataset builder at a tiny budget: format, episodes, raw rewards, stacks equal to what the agent saw."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from dtlib.data import atari_build
from dtlib.data.atari_build import AtariBuildConfig, build_atari_dataset, make_behaviour_env
from dtlib.envs.atari import make_atari_env
from dtlib.validate import ParameterError

TINY = AtariBuildConfig(env="breakout", total_steps=1_000, learning_starts=900, buffer_size=1_000, seed=3)


@pytest.fixture(scope="module")
def tiny():
    return build_atari_dataset(TINY)


def test_builder_writes_complete_episodes_frames_once(tiny):
    ds = tiny
    assert ds.frame_stack == 4 and ds.observations.shape[1:] == (84, 84) and ds.observations.dtype == np.uint8
    assert 0 < ds.n_steps <= TINY.total_steps and ds.n_episodes >= 2
    last = ds.starts + ds.lengths - 1
    assert (ds.terminals[last] | ds.timeouts[last]).all()  # every kept episode finished
    assert not np.delete(ds.terminals | ds.timeouts, last).any()
    assert ds.meta["n_actions"] == 4 and ds.actions.max() < 4 and ds.discrete
    assert ds.meta["reward_units"].startswith("raw") and ds.meta["config"]["sticky_actions"] == 0.25
    r = ds.meta["returns"]
    assert r["episodes"] == ds.n_episodes and r["steps"] == ds.n_steps and len(r["return_mean_by_third"]) == 3


def test_replaying_the_actions_reproduces_the_recorded_stacks(tiny):
    """Same seed and actions in a fresh env (sticky actions included) → the stacks obs_at builds by index."""
    ds = tiny
    env = make_atari_env("ALE/Breakout-v5", repeat_action_probability=TINY.sticky_actions)
    obs, _ = env.reset(seed=TINY.seed)
    for e in range(2):
        s, T = ds.starts[e], ds.lengths[e]
        if e:
            obs, _ = env.reset()
        stacks = ds.obs_at(np.arange(s, s + T))  # [T, 4, 84, 84]
        for t in range(T):
            np.testing.assert_array_equal(stacks[t], obs, err_msg=f"episode {e} step {t}")
            obs, r, term, trunc, _ = env.step(int(ds.actions[s + t]))
            assert r == ds.rewards[s + t]
        assert term or trunc
    env.close()


class BigRewards(gym.Env):
    """A stand-in for an Atari game: [4, 84, 84] frames, reward 7 per step, 3-step episodes."""

    observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        self.t = 0
        return np.zeros((4, 84, 84), np.uint8), {}

    def step(self, action):
        self.t += 1
        return np.full((4, 84, 84), self.t, np.uint8), 7.0, self.t == 3, False, {}


def test_the_agent_sees_clipped_rewards_the_dataset_keeps_raw_ones(monkeypatch):
    import dtlib.envs.atari

    monkeypatch.setattr(dtlib.envs.atari, "make_atari_env", lambda *a, **k: BigRewards())
    env, rec = make_behaviour_env(AtariBuildConfig(env="pong", total_steps=7, train_freq=1))
    env.reset()
    seen = []
    for _ in range(7):
        _, r, term, _, _ = env.step(1)
        seen.append(r)
        if term:
            env.reset()
    assert seen == [1.0] * 7
    ds = rec.dataset({})
    assert ds.n_episodes == 2 and ds.n_steps == 6  # the 7th step's episode is unfinished: dropped
    np.testing.assert_array_equal(ds.rewards, 7.0)
    np.testing.assert_array_equal(ds.observations[:3, 0, 0], [0, 1, 2])  # the frame before each action


def test_config_is_checked():
    with pytest.raises(ParameterError):
        AtariBuildConfig(env="hopper")
    with pytest.raises(ParameterError):
        AtariBuildConfig(sticky_actions=1.5)
    assert atari_build.AtariBuildConfig().sticky_actions == 0.25


def test_the_built_dataset_trains_the_atari_dt_and_bc(tiny):
    import dataclasses

    from dtlib.config import get_preset
    from dtlib.data.windows import WindowSampler, to_torch
    from dtlib.experiment import RunConfig, build_model
    from dtlib.train import SupervisedLearner, TrainConfig

    for method in ("dt", "bc"):
        model = build_model(RunConfig(env="breakout", dataset="tiny", method=method), tiny)
        assert model.cfg.encoder == "cnn" and model.cfg.obs_shape == (4, 84, 84) and model.cfg.act_dim == 4
        assert model.cfg.use_returns == (method == "dt")
        model = type(model)(dataclasses.replace(model.cfg, context_len=4, n_layer=1))  # small and fast
        cfg = TrainConfig(**{**get_preset("atari", method).train, "batch_size": 2, "device": "cpu"})
        metrics = SupervisedLearner(model, cfg).update(to_torch(WindowSampler(tiny, 4, seed=0).sample(2)))
        assert np.isfinite(metrics["train/action_loss"])


def test_an_atari_dt_evaluates_reproducibly_with_sampled_actions(tiny):
    import dataclasses

    import torch

    from dtlib.evaluate import EvalConfig, evaluate
    from dtlib.experiment import RunConfig, build_model
    from dtlib.specs import get_env_spec

    torch.manual_seed(0)
    model = build_model(RunConfig(env="breakout", dataset="tiny"), tiny)
    model = type(model)(dataclasses.replace(model.cfg, context_len=4, n_layer=1))
    cfg = EvalConfig(episodes=2, parallel=2, max_steps=40, sample_actions=True)
    a = evaluate(model, get_env_spec("breakout"), cfg)
    b = evaluate(model, get_env_spec("breakout"), cfg)
    assert len(a) == 2 and (a["length"] <= 40).all() and (a["target"] == 90.0).all()  # the paper's target
    assert a[["return", "length"]].equals(b[["return", "length"]])
