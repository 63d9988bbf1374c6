"""Atari evaluation envs as the paper's: ale-py ROMs, Gymnasium's preprocessing, 4-frame stacks.

Official eval (docs/paper-reference.md §4.4): no sticky actions, frame skip 4 with max-pooling of the last 2 frames,
84×84 grayscale, 4-frame stack, up to 30 no-op starts, life loss does not end the episode, 108k-frame cap.
Deviation: ale-py 0.12's ROMs, not atari-py's (the DQN-replay data was recorded with atari-py <= 0.2.5).
"""
from __future__ import annotations

import ale_py
import gymnasium as gym

gym.register_envs(ale_py)

MAX_FRAMES = 108_000  # emulator frames per episode [repo atari eval; Machado et al. 2018]


def make_atari_env(env_id: str, noop_max: int = 30, frame_stack: int = 4,
                   repeat_action_probability: float = 0.0, render_mode: str | None = None) -> gym.Env:
    """`ALE/<Game>-v5` with the paper's evaluation preprocessing; observations [4, 84, 84] uint8.

    `repeat_action_probability`: sticky actions, 0 at evaluation (paper); 0.25 when collecting data as DQN-replay.
    `render_mode="rgb_array"`: `env.render()` returns the emulator's 210x160 RGB screen through the wrappers (the
    report clips, dtlib.render); observations and dynamics are the same either way.
    """
    env = gym.make(env_id, frameskip=1, repeat_action_probability=repeat_action_probability,
                   full_action_space=False, max_num_frames_per_episode=MAX_FRAMES, render_mode=render_mode)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=noop_max, frame_skip=4, screen_size=84,
                                          terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    return gym.wrappers.FrameStackObservation(env, frame_stack)
