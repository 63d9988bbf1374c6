"""Shortest paths on a graph (paper Figure 2, appendix Figure 6): a DT trained on random walks, asked for
the largest return seen at each node, against random walks and true (BFS) shortest paths.

    cfg = GraphStudy(profile="small", n_walks=..., ...)    # the notebook's parameters, checked
    data = graph_dataset(cfg.n_walks, cfg.data_seed)
    paths = dt_paths(cfg, data, runs_dir(profile))          # one row per evaluation episode and seed
    hist = steps_table(data, paths)                          # tidy: kind, steps (inf = goal not reached)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from dtlib.compute import PRECISION_CHOICES, precision_deviations, resolve_precision
from dtlib.config import get_preset
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.generate import graph_dataset
from dtlib.envs import graph
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.experiment import RunConfig, build_model, run
from dtlib.specs import get_env_spec
from dtlib.sweep import DataSource, Job, run_sweep
from dtlib.train import load_model
from dtlib.profiles import check_profile
from dtlib.validate import check_choice, check_fields, check_int, check_items

ENV = "graph"
KINDS = ("random walk", "shortest path", "DT")  # Figure 6's three histograms, in this order


@dataclass(frozen=True)
class GraphStudy:
    """The graph notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    n_walks: int  # random walks in the training dataset
    data_seed: int  # seed of the walks (the graph itself is fixed by graph.DEFAULTS)
    seeds: tuple[int, ...]  # training seeds
    steps: int  # gradient steps per run
    eval_episodes: int  # evaluation episodes per seed (start nodes drawn uniformly)
    threads: int  # torch CPU threads
    # DT training: 'fp32', 'bf16' (autocast) or 'auto' (bf16 only where the CPU multiplies bf16 in hardware,
    # dtlib.compute); runs record the resolved value (docs/speed.md)
    precision: str = "fp32"
    dropout_masks: str = "bernoulli"  # DT dropout: 'bernoulli' (paper) or 'packed' (cheaper masks)

    def __post_init__(self) -> None:
        check_profile(self.profile)
        for name in ("n_walks", "steps", "eval_episodes"):
            check_int(name, getattr(self, name), 1)
        check_int("data_seed", self.data_seed, 0)
        check_items("seeds", self.seeds, low=0, high=2**31 - 1, integer=True)
        check_int("threads", self.threads, 1, 256)
        check_choice("precision", self.precision, PRECISION_CHOICES)
        check_choice("dropout_masks", self.dropout_masks, ["bernoulli", "packed"])
        check_fields(self)  # strict types of every field (bool is not an int, a string not a list); lists -> tuples

    def run_config(self, seed: int) -> RunConfig:
        return RunConfig(ENV, f"{self.n_walks}walks", "dt", seed=seed)

    def model_overrides(self) -> dict:
        """The dropout masks (left out when the paper's, so that older runs keep their identity)."""
        return {"dropout_masks": self.dropout_masks} if self.dropout_masks != "bernoulli" else {}

    def train_overrides(self) -> dict:
        """The steps and the resolved precision ('auto' never reaches a config; fp32, the default, left out)."""
        precision = resolve_precision(self.precision, "auto")  # as TrainConfig(device='auto') would: CUDA if present
        return {"steps": self.steps, **({"precision": precision} if precision != "fp32" else {})}

    def jobs(self) -> list[Job]:
        """One DT per seed, as dtlib.sweep jobs (their rollouts with the return prior come after, in `dt_paths`)."""
        data = DataSource.of(graph_dataset, n_walks=self.n_walks, seed=self.data_seed)
        return [Job(self.run_config(s), data, EvalConfig(episodes=1), self.model_overrides(), self.train_overrides(),
                    threads=self.threads) for s in self.seeds]


def graph_summary(data: EpisodeDataset) -> pd.DataFrame:
    """One row: the graph's size and the dataset's (nodes, edges, walks, steps, reach rate, shortest paths)."""
    params = data.meta["env_params"]
    adj = graph.adjacency_of(**params)
    shortest = graph.shortest_path_lengths(adj, params["goal"])
    others = np.delete(shortest, params["goal"])
    return pd.DataFrame([{"nodes": len(adj), "edges": int(adj.sum()), "edge_prob": params["edge_prob"],
                          "max_steps": params["max_steps"], "walks": data.n_episodes, "steps": data.n_steps,
                          "walks_reaching_goal_%": 100 * data.meta["reach_rate"],
                          "mean_shortest_path": float(others.mean()), "longest_shortest_path": int(others.max())}])


def return_prior(data: EpisodeDataset) -> Callable[[np.ndarray], np.ndarray]:
    """The paper's prior "largest possible return at each node": the best return-to-go seen there in the data.

    Nodes from which no walk reached the goal get -max_steps (the worst return a walk can have).
    """
    params = data.meta["env_params"]
    best = graph.best_returns_to_go(data, len(graph.adjacency_of(**params)))  # [n]
    best = np.where(np.isfinite(best), best, -float(params["max_steps"]))
    return lambda obs: best[np.asarray(obs, dtype=np.int64).reshape(len(obs), -1)[:, 0]]


def path_outcomes(traces: list[dict], adjacency: np.ndarray, goal: int) -> pd.DataFrame:
    """One row per recorded rollout: start node, steps to the goal (inf if not reached), shortest length."""
    adj = np.asarray(adjacency, dtype=bool)
    shortest = graph.shortest_path_lengths(adj, goal)
    rows = []
    for tr in traces:
        pos = start = int(np.asarray(tr["observations"][0]).reshape(-1)[0])
        steps = np.inf
        for t, a in enumerate(tr["actions"]):
            pos = int(a) if adj[pos, int(a)] else pos
            if pos == goal:
                steps = float(t + 1)
                break
        rows.append({"start": start, "steps": steps, "shortest": int(shortest[start])})
    return pd.DataFrame(rows)


def dt_paths(cfg: GraphStudy, data: EpisodeDataset, runs_root: str | Path, progress: bool = False) -> pd.DataFrame:
    """Train (or reuse) one DT per seed (dtlib.sweep: the seeds train at once) and roll each out with the
    per-node return prior.

    One row per evaluation episode: seed, start, steps (inf: goal not reached), shortest.
    """
    spec = get_env_spec(ENV)
    prior = return_prior(data)
    adj = graph.adjacency_of(**data.meta["env_params"])
    run_sweep(cfg.jobs(), runs_root, cfg.profile, progress=progress)
    torch.set_num_threads(cfg.threads)  # the rollouts run here: tiny models, OpenMP hand-offs cost more than the math
    frames = []
    for seed in cfg.seeds:
        rc = cfg.run_config(seed)
        run_dir = run(rc, data, runs_root, EvalConfig(episodes=1), progress=False,  # finished above
                      model_overrides=cfg.model_overrides(), **cfg.train_overrides())
        model = load_model(run_dir, build_model(rc, data, cfg.model_overrides()))
        _, traces = evaluate(model, spec, EvalConfig(episodes=cfg.eval_episodes), record=True, return_prior=prior)
        frames.append(path_outcomes(traces, adj, data.meta["env_params"]["goal"]).assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def steps_table(data: EpisodeDataset, paths: pd.DataFrame) -> pd.DataFrame:
    """Figure 6's data, tidy: one row per path with kind (random walk / shortest path / DT) and steps.

    Random walks are the dataset's; shortest paths and the DT's are from the DT's evaluation starts.
    """
    walks = pd.DataFrame({"kind": KINDS[0], "steps": graph.steps_to_goal(data)})
    shortest = pd.DataFrame({"kind": KINDS[1], "steps": paths["shortest"].astype(float)})
    dt = pd.DataFrame({"kind": KINDS[2], "steps": paths["steps"].astype(float)})
    return pd.concat([walks, shortest, dt], ignore_index=True)


def path_summary(data: EpisodeDataset, paths: pd.DataFrame) -> pd.DataFrame:
    """Per kind (and per DT seed): % reaching the goal and mean steps of those that do, vs the shortest.

    The DT rows also give its mean steps / the shortest paths' mean steps over the same reached starts
    (the ratio `dtlib.claims` judges, with the share reached).
    """
    walks = graph.steps_to_goal(data)
    reached = np.isfinite(walks)
    rows = [{"kind": KINDS[0], "seed": "—", "paths": len(walks), "reached_%": 100 * reached.mean(),
             "mean_steps_reached": walks[reached].mean(), "mean_shortest_same_starts": np.nan, "ratio": np.nan},
            {"kind": KINDS[1], "seed": "—", "paths": len(paths), "reached_%": 100.0,
             "mean_steps_reached": paths["shortest"].mean(), "mean_shortest_same_starts": paths["shortest"].mean(),
             "ratio": 1.0}]
    groups = [(str(s), g) for s, g in paths.groupby("seed")] + ([("all", paths)] if paths["seed"].nunique() > 1 else [])
    for seed, g in groups:
        ok = np.isfinite(g["steps"].to_numpy())
        mean_dt = g["steps"][ok].mean() if ok.any() else np.nan
        mean_sp = g["shortest"][ok].mean() if ok.any() else np.nan
        rows.append({"kind": KINDS[2], "seed": seed, "paths": len(g), "reached_%": 100 * ok.mean(),
                     "mean_steps_reached": mean_dt, "mean_shortest_same_starts": mean_sp, "ratio": mean_dt / mean_sp})
    return pd.DataFrame(rows)


def deviations(cfg: GraphStudy) -> list[str]:
    """This notebook's departures from the paper, for `report.deviations`."""
    g = graph.DEFAULTS
    preset = get_preset(ENV, "dt")
    return [
        f"Graph and data sizes are ours (the paper states none): {g['n_nodes']} nodes, edge probability "
        f"{g['edge_prob']} (graph seed {g['graph_seed']}), extra edges so every node reaches goal node {g['goal']}, "
        f"walks of at most {g['max_steps']} steps, {cfg.n_walks} walks (as trlx's random-walks example: 21 nodes, "
        "p=0.1, 1000 walks of length 10).",
        "A random walk moves to a uniformly random out-neighbour (a uniform action over all nodes would mostly "
        "hit missing edges and stay put).",
        "The return prior is the best return-to-go seen at each node in the data (a data-only reading of the "
        "paper's 'largest possible return at each node'); nodes never seen on a successful walk get -max_steps.",
        f"Model: the Gym DT architecture at width {preset.model['embed_dim']}, {preset.model['n_layer']} layers, "
        f"batch {preset.train['batch_size']}, lr {preset.train['lr']:g} (preset 'graph/dt'), {cfg.steps} gradient "
        f"steps, {len(cfg.seeds)} seed(s), {cfg.eval_episodes} rollouts per seed, argmax actions.",
    ] + precision_deviations(cfg.precision, cfg.dropout_masks, "auto")
