"""Random-policy datasets for Key-to-Door (Table 6: 1K and 10K trajectories) and the graph (Figure 2/6 random walks).

Both are simulated for all episodes at once with numpy (`keydoor.simulate`, `graph.random_walks`), whose
dynamics tests compare step by step with the Gymnasium envs. A dataset is a function of
(n_episodes, seed, env parameters), all recorded in `meta`:

    ds = generate_keydoor_dataset(10_000, seed=0)               # EpisodeDataset, about 0.1 s
    ds = keydoor_dataset(10_000, seed=0)                         # the same, cached under data_dir()
    python -m dtlib.data.generate keydoor --episodes 10000 --seed 0 --out data/keydoor/random_10000_seed0.npz
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.envs import graph, keydoor
from dtlib.paths import data_dir
from dtlib.validate import ParameterError, check_positive

_CHUNK = 100_000  # episodes simulated at once (bounds memory: ~40 steps x 6 int64 features each)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    return seed


def _flatten(alive: np.ndarray, **per_step: np.ndarray) -> dict[str, np.ndarray]:
    """[E, T, ...] arrays -> flat [N, ...] arrays of the steps that happened, episodes contiguous in order."""
    return {k: v[alive] for k, v in per_step.items()}


# ----------------------------------------------------------------------------- Key-to-Door
def simulate_keydoor_random(n_episodes: int, seed: int, **env_params: Any) -> dict[str, np.ndarray]:
    """Uniformly random actions in `n_episodes` seeded Key-to-Door episodes: `keydoor.simulate`'s arrays + actions."""
    check_positive("n_episodes", n_episodes, integer=True)
    rng = np.random.default_rng(_check_seed(seed))
    layouts = keydoor.sample_layouts(rng, n_episodes, **env_params)
    actions = rng.integers(4, size=(n_episodes, keydoor.episode_steps(**env_params)))  # [E, T] uniform random
    return {**keydoor.simulate(layouts, actions, **env_params), "actions": actions, **{f"layout_{k}": v
                                                                                       for k, v in layouts.items()}}


def generate_keydoor_dataset(n_episodes: int, seed: int, **env_params: Any) -> EpisodeDataset:
    """`n_episodes` Key-to-Door episodes of a uniformly random policy (Table 6's datasets), as an EpisodeDataset."""
    params = keydoor.check_params(**env_params)
    sim = simulate_keydoor_random(n_episodes, seed, **params)
    flat = _flatten(sim["alive"], observations=sim["observations"], actions=sim["actions"],
                    rewards=sim["rewards"], terminals=sim["terminated"], timeouts=sim["truncated"])
    lengths = sim["alive"].sum(axis=1)
    success = (sim["key_step"] >= 0) & (sim["door_step"] >= 0)
    meta = {"env": keydoor.ENV_ID, "env_params": params, "seed": seed, "n_episodes": n_episodes,
            "obs_vocab": keydoor.obs_nvec(**params).tolist(), "n_actions": 4,  # the model's embedding sizes
            "generator": "dtlib.data.generate.generate_keydoor_dataset", "policy": "uniform random",
            "success_rate": float(success.mean()), "key_rate": float((sim["key_step"] >= 0).mean())}
    return EpisodeDataset(starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]), meta=meta, **flat)


def random_success_rate(n_episodes: int = 100_000, seed: int = 0, **env_params: Any) -> float:
    """Success rate of a uniformly random policy over `n_episodes` seeded episodes (Table 6's 'Random' column)."""
    check_positive("n_episodes", n_episodes, integer=True)
    rng = np.random.default_rng(_check_seed(seed))
    successes = 0
    for start in range(0, n_episodes, _CHUNK):  # independent chunk seeds drawn from the one seed
        sim = simulate_keydoor_random(min(_CHUNK, n_episodes - start), int(rng.integers(2**31)), **env_params)
        successes += int(((sim["key_step"] >= 0) & (sim["door_step"] >= 0)).sum())
    return successes / n_episodes


# ----------------------------------------------------------------------------- graph
def generate_graph_dataset(n_walks: int, seed: int, **env_params: Any) -> EpisodeDataset:
    """`n_walks` random walks on the fixed graph (each from a uniform non-goal start), as an EpisodeDataset.

    The walk moves to a uniformly random out-neighbour each step (our reading of the paper's "random walk";
    a uniform action over all nodes would mostly bump into missing edges and stay put). Reward -1 per step;
    a walk ends at the goal (terminal) or after max_steps (timeout).
    """
    params = graph.check_params(**env_params)
    check_positive("n_walks", n_walks, integer=True)
    rng = np.random.default_rng(_check_seed(seed))
    adj = graph.adjacency_of(**params)
    goal = params["goal"]
    starts = rng.integers(len(adj) - 1, size=n_walks)
    starts += starts >= goal  # uniform over the non-goal nodes
    walks = graph.random_walks(adj, goal, starts, params["max_steps"], rng)
    truncated = np.zeros_like(walks["terminated"])
    truncated[:, -1] = walks["alive"][:, -1] & ~walks["terminated"][:, -1]
    flat = _flatten(walks["alive"], observations=walks["observations"][..., None], actions=walks["actions"],
                    terminals=walks["terminated"], timeouts=truncated)
    lengths = walks["alive"].sum(axis=1)
    reached = walks["terminated"].any(axis=1)
    meta = {"env": graph.ENV_ID, "env_params": params, "seed": seed, "n_episodes": n_walks,
            "obs_vocab": [len(adj)], "n_actions": len(adj),  # the model's embedding sizes
            "edges": np.argwhere(adj).tolist(), "generator": "dtlib.data.generate.generate_graph_dataset",
            "policy": "uniform random out-neighbour (random walk)", "reach_rate": float(reached.mean())}
    return EpisodeDataset(rewards=np.full(len(flat["actions"]), -1.0, dtype=np.float32),
                          starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]), meta=meta, **flat)


# ----------------------------------------------------------------------------- cached files
def dataset_path(kind: str, n_episodes: int, seed: int, **env_params: Any) -> Path:
    """Where the cached dataset lives: data_dir()/<kind>/random_<n>_seed<seed>[_<params hash>].npz."""
    check = {"keydoor": keydoor.check_params, "graph": graph.check_params}
    if kind not in check:
        raise ParameterError(f"kind={kind!r} is not allowed; choose one of {sorted(check)}")
    params = check[kind](**env_params)
    defaults = check[kind]()
    tag = "" if params == defaults else "_" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return data_dir() / kind / f"random_{n_episodes}_seed{seed}{tag}.npz"


def _cached(kind: str, n_episodes: int, seed: int, **env_params: Any) -> EpisodeDataset:
    make = {"keydoor": generate_keydoor_dataset, "graph": generate_graph_dataset}[kind]
    path = dataset_path(kind, n_episodes, seed, **env_params)
    if path.exists():
        try:
            ds = EpisodeDataset.load(path)
            if ds.meta.get("seed") == seed and ds.meta.get("n_episodes") == n_episodes:
                return ds
        except DatasetError:
            pass  # corrupt or stale: regenerate below
    ds = make(n_episodes, seed, **env_params)
    ds.save(path)
    return ds


def keydoor_dataset(n_episodes: int, seed: int = 0, **env_params: Any) -> EpisodeDataset:
    """`generate_keydoor_dataset`, cached as an .npz under data_dir() (regenerated if missing or corrupt)."""
    return _cached("keydoor", n_episodes, seed, **env_params)


def graph_dataset(n_walks: int, seed: int = 0, **env_params: Any) -> EpisodeDataset:
    """`generate_graph_dataset`, cached as an .npz under data_dir() (regenerated if missing or corrupt)."""
    return _cached("graph", n_walks, seed, **env_params)


def main(argv: list[str] | None = None) -> None:
    """Command line: write one dataset file (default parameters of the env)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["keydoor", "graph"])
    parser.add_argument("--episodes", type=int, required=True, help="episodes (walks) to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="output .npz (default: dataset_path(...))")
    args = parser.parse_args(argv)
    make = {"keydoor": generate_keydoor_dataset, "graph": generate_graph_dataset}[args.kind]
    ds = make(args.episodes, args.seed)
    out = args.out or dataset_path(args.kind, args.episodes, args.seed)
    ds.save(out)
    print(f"{out}: {ds.n_episodes} episodes, {ds.n_steps} steps")


if __name__ == "__main__":
    main()
