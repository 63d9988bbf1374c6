"""The Atari evaluation env as the paper's: shapes, seeding, no sticky actions, life loss not terminal."""
from __future__ import annotations

import numpy as np
import pytest

from dtlib.envs.atari import MAX_FRAMES, make_atari_env


def rollout(env, seed: int, steps: int, action_seed: int = 0):
    """Frames and rewards of `steps` uniformly random actions after `reset(seed)`."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    frames, rewards = [obs], []
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        frames.append(obs)
        rewards.append(r)
        if term or trunc:
            break
    return np.stack(frames), np.array(rewards)


@pytest.fixture(scope="module")
def pong():
    env = make_atari_env("ALE/Pong-v5")
    yield env
    env.close()


def test_observations_are_four_stacked_84x84_uint8_frames(pong):
    obs, _ = pong.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert pong.observation_space.shape == (4, 84, 84) and pong.observation_space.dtype == np.uint8
    assert pong.action_space.n == 6  # the minimal action set, as DQN-replay and the official eval
    obs2, *_ = pong.step(0)
    np.testing.assert_array_equal(obs2[:3], obs[1:])  # the stack shifts by one frame per step


def test_same_seed_same_frames_and_rewards(pong):
    other = make_atari_env("ALE/Pong-v5")
    a_frames, a_rewards = rollout(pong, seed=7, steps=300)
    b_frames, b_rewards = rollout(other, seed=7, steps=300)
    other.close()
    np.testing.assert_array_equal(a_frames, b_frames)
    np.testing.assert_array_equal(a_rewards, b_rewards)
    c_frames, _ = rollout(pong, seed=8, steps=300)  # another seed: other no-op starts and emulator RNG
    assert not np.array_equal(a_frames, c_frames)


def test_no_sticky_actions_and_the_frame_cap(pong):
    ale = pong.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == 0.0
    assert ale.getInt("max_num_frames_per_episode") == MAX_FRAMES == 108_000
    assert pong.unwrapped._frameskip == 1  # frame skipping (with max-pooling) happens in AtariPreprocessing


def test_life_loss_does_not_end_the_episode():
    env = make_atari_env("ALE/Breakout-v5")
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    assert info["lives"] == 5
    lost_at = None
    for t in range(3000):
        _, _, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        if info["lives"] < 5 and lost_at is None:
            lost_at = t
            assert not term and not trunc  # losing a life is not the end
        if lost_at is not None and t >= lost_at + 20:
            break
        assert not term or info["lives"] == 0
    env.close()
    assert lost_at is not None and t >= lost_at + 20  # kept playing after the first life loss
