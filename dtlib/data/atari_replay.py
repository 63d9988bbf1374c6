"""A DQN-replay-like Atari dataset regenerated deterministically from committed behaviour snapshots.

DQN-replay (Agarwal et al. 2020) holds every transition of a 50M-step DQN run, so the paper's 1% sample mixes
the policies of the whole run, from random play to expert. Here one training run of the behaviour agent
(`dtlib.atari_behaviour`) left snapshots along its learning curve in `behaviour/atari/<game>/`; this module
rolls each snapshot out ε-greedily, with DQN-replay's acting settings (sticky actions 0.25, frame skip 4, no
no-op starts), for its share of the transitions, and lays the episodes end to end in an `EpisodeDataset` with
`frame_stack=4` — the same format as `dtlib.data.dqn_replay` produces, raw game rewards
(`np.clip(rewards, -1, 1)` gives DQN-replay's units).

Deviations from DQN-replay (in `meta["deviations"]` and the report): a handful of snapshots stand for a run's
continuum of policies, in shares chosen for the budget (`ReplayMixConfig.shares`) rather than in the shares of
a 50M-step run (which spends most of its steps near its final policy); each snapshot's episodes are whole
(DQN-replay's 1% sample cuts episodes at checkpoint edges); the agent is ours (see `dtlib.atari_behaviour`).

Same config → identical arrays: episode resets are seeded from (seed, snapshot, episode), ε draws from
(seed, snapshot), and the networks run on the CPU in one thread.

    ds = build_replay_dataset(ReplayMixConfig(env="pong", n_steps=100_000))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.specs import get_env_spec
from dtlib.validate import ParameterError, check_positive, check_range

DEVIATIONS = (
    "a few behaviour snapshots stand for a DQN run's continuum of policies (DQN-replay: 50 checkpoints of one run)",
    "each snapshot's share of the transitions is chosen for the budget, not a 50M-step run's (mostly near-final)",
    "whole episodes per snapshot (DQN-replay's 1% sample cuts episodes at checkpoint edges)",
    "the behaviour agent is a Double DQN with dueling heads and 3-step returns trained here (DQN-replay: Dopamine DQN)",
    "stacks at an episode's start repeat its first frame (DQN-replay: zero frames)",
)


@dataclass(frozen=True)
class ReplayMixConfig:
    """How many transitions, from which snapshots, in which shares."""

    env: str = "pong"  # dtlib Atari game; its snapshots live in behaviour/atari/<env>/
    n_steps: int = 100_000  # transitions in total [paper: 500k, the 1% sample]
    shares: tuple[float, ...] = ()  # per snapshot (snapshots.csv order), summing to 1; () = snapshots.csv's
    # `share` column (the mixture chosen at export), or equal shares without one
    epsilon: float = 0.01  # ε-greedy while collecting [DQN-replay: DQN's training ε after its decay, 0.01]
    sticky_actions: float = 0.25  # repeat_action_probability [DQN-replay]
    seed: int = 0  # reset seeds and ε draws
    envs: int = 8  # episodes stepped together per snapshot (one batched forward): speed only, same arrays
    max_episode_steps: int = 27_000  # agent steps per episode (108k frames) [DQN-replay / Dopamine cap]
    snapshot_dir: str = ""  # "" = behaviour/atari/<env>/ (the committed snapshots)

    def __post_init__(self) -> None:
        if get_env_spec(self.env).domain != "atari":
            raise ParameterError(f"env={self.env!r} is not an Atari game")
        for name in ("n_steps", "envs", "max_episode_steps"):
            check_positive(name, getattr(self, name), integer=True)
        check_range("epsilon", self.epsilon, 0.0, 1.0)
        check_range("sticky_actions", self.sticky_actions, 0.0, 1.0)
        if not isinstance(self.shares, tuple) or any(isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0
                                                        for s in self.shares):
            raise ParameterError(f"shares={self.shares!r} must be a tuple of non-negative numbers")
        if self.shares and abs(sum(self.shares) - 1.0) > 1e-6:
            raise ParameterError(f"shares={self.shares!r} must sum to 1")

    @property
    def folder(self) -> Path:
        from dtlib.atari_behaviour import committed_dir

        return Path(self.snapshot_dir) if self.snapshot_dir else committed_dir(self.env)


def snapshots(folder: Path) -> "Any":
    """The snapshot table (snapshots.csv: snapshot, agent_steps, eval_return_mean, ...) of a behaviour folder."""
    import pandas as pd

    path = Path(folder) / "snapshots.csv"
    if not path.exists():
        raise DatasetError(f"no behaviour snapshots: {path} not found (train and export them with "
                           f"`python -m dtlib.atari_behaviour`)")
    return pd.read_csv(path)


def _rollouts(net: Any, cfg: ReplayMixConfig, k: int, budget: int) -> list[dict[str, np.ndarray]]:
    """Whole ε-greedy episodes of one snapshot until `budget` transitions are in finished episodes."""
    import torch

    from dtlib.atari_behaviour import episode_seed, make_env

    rng = np.random.default_rng([cfg.seed, k, 11])
    envs = [make_env(cfg.env, cfg.sticky_actions) for _ in range(cfg.envs)]
    n_actions = int(envs[0].action_space.n)
    episodes: list[dict[str, np.ndarray]] = []
    done_steps, next_ep = 0, 0
    live: list[dict[str, Any] | None] = [None] * len(envs)

    def start(j: int) -> None:
        nonlocal next_ep
        obs, _ = envs[j].reset(seed=episode_seed(cfg.seed, next_ep, stream=100 + k))
        live[j] = {"order": next_ep, "obs": obs, "frames": [], "actions": [], "rewards": []}
        next_ep += 1

    for j in range(len(envs)):
        start(j)
    finished: list[tuple[int, dict[str, np.ndarray]]] = []
    while any(e is not None for e in live):
        active = [j for j, e in enumerate(live) if e is not None]
        obs = np.stack([np.asarray(live[j]["obs"]) for j in active])  # [B, 4, 84, 84]
        with torch.no_grad():
            greedy = net(torch.as_tensor(obs)).argmax(1).numpy()
        explore = rng.random(len(active)) < cfg.epsilon
        randoms = rng.integers(n_actions, size=len(active))
        for b, j in enumerate(active):
            e = live[j]
            a = int(randoms[b] if explore[b] else greedy[b])
            e["frames"].append(obs[b, -1])
            e["actions"].append(a)
            nobs, r, term, trunc, _ = envs[j].step(a)
            e["rewards"].append(float(r))
            e["obs"] = nobs
            if term or trunc or len(e["rewards"]) >= cfg.max_episode_steps:
                n = len(e["rewards"])
                ep = {"observations": np.stack(e["frames"]), "actions": np.array(e["actions"], dtype=np.int64),
                      "rewards": np.array(e["rewards"], dtype=np.float32),
                      "terminals": np.zeros(n, dtype=bool), "timeouts": np.zeros(n, dtype=bool)}
                ep["terminals" if term else "timeouts"][-1] = True
                finished.append((e["order"], ep))
                done_steps += n
                live[j] = None
                if done_steps < budget:
                    start(j)
    for env in envs:
        env.close()
    # keep episodes in start order until the budget is met: independent of which env finished first
    finished.sort(key=lambda t: t[0])
    total = 0
    for _, ep in finished:
        if total >= budget:
            break
        episodes.append(ep)
        total += len(ep["rewards"])
    return episodes


def build_replay_dataset(cfg: ReplayMixConfig, progress: bool = False) -> EpisodeDataset:
    """Roll out every snapshot for its share of `n_steps` transitions; episodes ordered by snapshot."""
    import torch

    from dtlib.atari_behaviour import config_from_json, load_snapshot
    from dtlib import io

    folder = cfg.folder
    table = snapshots(folder)
    info = io.read_json(folder / "config.json")
    agent_cfg = config_from_json(info["config"])
    if cfg.shares:
        shares = cfg.shares
    elif "share" in table.columns:  # the mixture chosen when the snapshots were exported
        shares = tuple(float(x) for x in table["share"])
    else:
        shares = tuple([1.0 / len(table)] * len(table))
    if len(shares) != len(table):
        raise ParameterError(f"shares={cfg.shares!r}: {len(table)} snapshots in {folder}, {len(shares)} shares")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same arrays on every run of this machine
    episodes, owner = [], []
    try:
        for k, (row, share) in enumerate(zip(table.itertuples(), shares)):
            budget = int(round(share * cfg.n_steps))
            if budget == 0:
                continue
            net = load_snapshot(folder / f"{row.snapshot}.pt", int(info["n_actions"]), agent_cfg.hidden,
                                agent_cfg.channels)
            eps = _rollouts(net, cfg, k, budget)
            if progress:
                rets = [float(e["rewards"].sum()) for e in eps]
                print(f"{row.snapshot}: {len(eps)} episodes, {sum(len(e['rewards']) for e in eps)} steps, "
                      f"return {np.mean(rets):+.1f}", flush=True)
            episodes += eps
            owner += [row.snapshot] * len(eps)
    finally:
        torch.set_num_threads(threads)
    spec = get_env_spec(cfg.env)
    meta = {"source": "dtlib-dqn-replay-mix", "generator": "dtlib.data.atari_replay", "env": cfg.env,
            "env_id": spec.env_id, "config": dataclasses.asdict(cfg), "shares": list(shares),
            "snapshots": table.to_dict("records"), "episode_snapshot": owner,
            "reward_units": "raw game rewards (the agent learned on clipped ones)", "n_actions": int(info["n_actions"]),
            "deviations": list(DEVIATIONS)}  # no wall time here: meta is part of every run's identity
    return EpisodeDataset.from_episodes(episodes, frame_stack=4, meta=meta)


def episodes_table(ds: EpisodeDataset) -> "Any":
    """One row per episode: the snapshot that played it, its return and length (for the report's histogram)."""
    import pandas as pd

    owner = ds.meta.get("episode_snapshot")
    if owner is None or len(owner) != ds.n_episodes:
        raise DatasetError("dataset has no per-episode snapshot labels (not built by dtlib.data.atari_replay)")
    return pd.DataFrame({"snapshot": owner, "return": ds.episode_returns, "length": ds.lengths})
