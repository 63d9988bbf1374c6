"""An Atari offline dataset built here: the full replay of a DQN agent trained online (a small DQN-replay).

DQN-replay (Agarwal et al. 2020) is every transition a DQN agent saw while training, so it mixes the policies
of the whole run, from random to trained. This builder does the same at a budget this machine allows:
stable-baselines3 DQN (`CnnPolicy`, the Nature-DQN CNN) learns on the paper's preprocessed env
(`dtlib.envs.atari.make_atari_env`: ALE v5, frame skip 4 with max-pooling, 84×84 gray, 4-frame stacks, up to 30
no-ops, life loss not terminal) and a wrapper records every step it takes — the newest frame once (uint8),
the chosen action, the raw game reward, terminated/truncated — into an EpisodeDataset with `frame_stack=4`,
exactly the format `dtlib.data.dqn_replay` produces. The agent learns from rewards clipped to [-1, 1] (as DQN),
the dataset keeps the raw game rewards (`meta["reward_units"] = "raw"`); `np.clip(ds.rewards, -1, 1)` gives
DQN-replay's units. Frame stacks built by index equal the observations the agent saw (tested).

How it differs from DQN-replay (also in `meta` and the report):
  * size: `total_steps` agent steps of one run (the `small` budget: ~1e5), against 50M per DQN-replay run
    of which the paper keeps 500k uniformly spread over training; here the whole (short) run is the dataset,
    so its policies are much weaker than DQN-replay's late checkpoints;
  * agent: SB3 DQN with rl-zoo's Atari settings (Adam 1e-4, replay 100k, target update every 1000 steps,
    train every 4) against dopamine's DQN (RMSProp 2.5e-4, replay 1M, target every 8000, 20k warm-up);
    epsilon decays 1 → 0.01 over the first `exploration_fraction` of the run (DQN-replay: over 250k of 50M
    steps, then 0.01);
  * sticky actions 0.25 while collecting (as DQN-replay; evaluation has none) — the recorded action is the one
    chosen, not always the one the emulator repeated, as in DQN-replay;
  * ROMs and emulator: ale-py 0.12 (DQN-replay: atari-py ≤ 0.2.5), Gymnasium's preprocessing (DQN-replay:
    dopamine's, the same recipe); stacks at an episode start repeat the first frame (DQN-replay: zero frames).

    ds = build_atari_dataset(AtariBuildConfig(env="pong", total_steps=100_000))
    ds.save("data/atari/pong-dqn-100k.npz")
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.specs import get_env_spec
from dtlib.validate import ParameterError, check_positive, check_range


@dataclass(frozen=True)
class AtariBuildConfig:
    """One behaviour run; its whole replay is the dataset. Defaults: rl-zoo3's Atari DQN where DQN-replay's
    dopamine settings do not fit a CPU budget (each field says which)."""

    env: str = "pong"  # dtlib env name (specs.ENVS, domain 'atari')
    total_steps: int = 100_000  # agent steps of training = transitions recorded [DQN-replay: 50M per run]
    seed: int = 0  # SB3 (network init, epsilon draws) and the env's first reset
    sticky_actions: float = 0.25  # repeat_action_probability while collecting [DQN-replay: 0.25]
    buffer_size: int = 100_000  # the agent's own replay capacity [rl-zoo: 100k; dopamine: 1M]
    learning_starts: int = 20_000  # random steps before learning [dopamine min_replay_history 20k]
    learning_rate: float = 1e-4  # Adam [rl-zoo Atari DQN; dopamine: RMSProp 2.5e-4]
    batch_size: int = 32  # [dopamine and rl-zoo]
    train_freq: int = 4  # agent steps per gradient step [dopamine update_period 4]
    target_update_interval: int = 1_000  # [rl-zoo; dopamine: 8000]
    exploration_fraction: float = 0.1  # epsilon decays over this fraction of the run [rl-zoo]
    exploration_final_eps: float = 0.01  # [dopamine epsilon_train 0.01; rl-zoo 0.01]
    gamma: float = 0.99  # discount [both]
    torch_threads: int = 1  # the shared CPU: one thread avoids OpenMP hand-offs on small batches

    def __post_init__(self) -> None:
        if get_env_spec(self.env).domain != "atari":
            raise ParameterError(f"env={self.env!r} is not an Atari game")
        for name in ("total_steps", "buffer_size", "batch_size", "train_freq", "target_update_interval",
                     "torch_threads"):
            check_positive(name, getattr(self, name), integer=True)
        check_range("learning_starts", self.learning_starts, 0, 10**10)
        check_range("sticky_actions", self.sticky_actions, 0.0, 1.0)
        check_range("exploration_fraction", self.exploration_fraction, 0.0, 1.0)
        check_range("exploration_final_eps", self.exploration_final_eps, 0.0, 1.0)
        check_positive("learning_rate", self.learning_rate)


class ReplayRecorder(gym.Wrapper):
    """Records every step of a frame-stacked env: newest frame once, action, raw reward, end flags."""

    def __init__(self, env: gym.Env, capacity: int):
        super().__init__(env)
        frame_shape = env.observation_space.shape[1:]  # [H, W] of a [F, H, W] stack
        self.frames = np.empty((capacity, *frame_shape), dtype=np.uint8)  # [N, H, W]
        self.actions = np.empty(capacity, dtype=np.int64)
        self.rewards = np.empty(capacity, dtype=np.float32)
        self.terminals = np.zeros(capacity, dtype=bool)
        self.timeouts = np.zeros(capacity, dtype=bool)
        self.n = 0  # steps recorded
        self.episode_start = 0  # first step of the episode in progress
        self.starts: list[int] = []  # first step of each finished episode
        self._frame: np.ndarray | None = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._frame = obs[-1]
        self.episode_start = self.n  # an unfinished episode in progress is overwritten
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.n < len(self.rewards):
            i = self.n
            self.frames[i], self.actions[i], self.rewards[i] = self._frame, int(action), float(reward)
            self.terminals[i], self.timeouts[i] = bool(terminated), bool(truncated and not terminated)
            self.n += 1
            if terminated or truncated:
                self.starts.append(self.episode_start)
                self.episode_start = self.n
        self._frame = obs[-1]
        return obs, reward, terminated, truncated, info

    def dataset(self, meta: dict[str, Any]) -> EpisodeDataset:
        """The finished episodes (the one in progress at the end is dropped, as Minari's generators do)."""
        if not self.starts:
            raise DatasetError(f"no episode finished in {self.n} recorded steps: raise total_steps")
        n = self.episode_start  # end of the last finished episode
        return EpisodeDataset(observations=self.frames[:n], actions=self.actions[:n], rewards=self.rewards[:n],
                              terminals=self.terminals[:n], timeouts=self.timeouts[:n],
                              starts=np.array(self.starts), frame_stack=4, meta=meta)


def make_behaviour_env(cfg: AtariBuildConfig) -> tuple[gym.Env, ReplayRecorder]:
    """The collecting env: preprocessing, sticky actions, the recorder, then reward clipping for the agent."""
    from dtlib.envs.atari import make_atari_env

    env = make_atari_env(get_env_spec(cfg.env).env_id, repeat_action_probability=cfg.sticky_actions)
    recorder = ReplayRecorder(env, capacity=cfg.total_steps + cfg.train_freq)  # SB3 may overshoot by < train_freq
    clipped = gym.wrappers.TransformReward(recorder, lambda r: float(np.clip(r, -1.0, 1.0)))  # DQN's clipping
    return clipped, recorder


def return_summary(ds: EpisodeDataset) -> dict[str, Any]:
    """Episode returns overall and by thirds of the run (the mixture of policies over training)."""
    ret = ds.episode_returns
    thirds = np.array_split(ret, 3) if len(ret) >= 3 else [ret]
    q = np.percentile(ret, [0, 25, 50, 75, 100]).round(2).tolist()
    return {"episodes": int(ds.n_episodes), "steps": int(ds.n_steps), "return_mean": float(ret.mean()),
            "return_std": float(ret.std()), "return_quartiles": q,
            "return_mean_by_third": [float(t.mean()) for t in thirds],
            "episode_len_mean": float(ds.lengths.mean())}


def build_atari_dataset(cfg: AtariBuildConfig, progress: bool = False) -> EpisodeDataset:
    """Train the behaviour DQN for `cfg.total_steps` agent steps and return everything it did as a dataset."""
    import ale_py
    import stable_baselines3
    import torch
    from stable_baselines3 import DQN

    from dtlib.paths import git_commit

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads)
    try:
        env, recorder = make_behaviour_env(cfg)
        agent = DQN("CnnPolicy", env, buffer_size=cfg.buffer_size, learning_starts=cfg.learning_starts,
                    learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, train_freq=cfg.train_freq,
                    gradient_steps=1, target_update_interval=cfg.target_update_interval,
                    exploration_fraction=cfg.exploration_fraction,
                    exploration_final_eps=cfg.exploration_final_eps, gamma=cfg.gamma, seed=cfg.seed,
                    # one copy of each 4x84x84 observation (next_obs shares it): halves SB3's buffer memory
                    optimize_memory_usage=True, replay_buffer_kwargs={"handle_timeout_termination": False},
                    device="cpu", verbose=0)
        t0 = time.perf_counter()
        agent.learn(total_timesteps=cfg.total_steps, progress_bar=progress)
        seconds = time.perf_counter() - t0
        env.close()
    finally:
        torch.set_num_threads(threads)
    spec = get_env_spec(cfg.env)
    meta = {"source": "dtlib-dqn-replay", "env": cfg.env, "env_id": spec.env_id, "generator": "dtlib.data.atari_build",
            "agent": f"stable-baselines3 {stable_baselines3.__version__} DQN CnnPolicy", "config": asdict(cfg),
            "ale_py": ale_py.__version__, "reward_units": "raw game rewards (the agent learned on clipped ones)",
            "n_actions": int(env.action_space.n), "train_seconds": round(seconds, 1),
            "recorded_steps": int(recorder.n), "git_commit": git_commit()}
    ds = recorder.dataset(meta)
    ds.meta["returns"] = return_summary(ds)
    return ds


def main(argv: list[str] | None = None) -> None:
    """`python -m dtlib.data.atari_build pong --steps 100000 --out data/atari/pong-dqn.npz`"""
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Train a behaviour DQN and save its whole replay as a dataset.")
    ap.add_argument("env", help="dtlib Atari env name: breakout, qbert, pong, seaquest")
    ap.add_argument("--steps", type=int, default=AtariBuildConfig.total_steps, help="agent steps = transitions")
    ap.add_argument("--learning-starts", type=int, default=AtariBuildConfig.learning_starts)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="the .npz file to write (EpisodeDataset.save)")
    args = ap.parse_args(argv)
    cfg = AtariBuildConfig(env=args.env, total_steps=args.steps, learning_starts=args.learning_starts,
                           seed=args.seed)
    ds = build_atari_dataset(cfg, progress=True)
    ds.save(args.out)
    print(json.dumps(ds.meta["returns"], indent=1))


if __name__ == "__main__":
    main()
