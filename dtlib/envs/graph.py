"""Shortest paths on a fixed random directed graph (paper Figure 2, appendix A.3 and Figure 6).

As the paper's A.3: the observation is the index of the node the agent is at, the action is the index of
the node to move to; the agent moves if that edge exists and stays otherwise. The reward is 0 when the
agent is at the goal and -1 otherwise: every step taken from a non-goal node costs -1 (the move into the
goal included) and the episode terminates on arriving at the goal, so the return-to-go at each step is
minus the number of steps still needed to reach the goal ("returns-to-go are negative path lengths").
Walks that do not reach the goal are truncated after `max_steps` steps.

Observation `MultiDiscrete([n_nodes])` (int64, shape [1]); action `Discrete(n_nodes)`.

The graph is fixed by its parameters: an Erdos-Renyi directed graph (each ordered pair (i, j), i != j,
an edge with probability `edge_prob`, drawn from `graph_seed`); with `connect=True` every node that
cannot reach the goal gets one extra edge to a random node that can (repeated until all can), so each
start has a path. Alternatively pass `adjacency` ([n, n] 0/1) for a hand-built graph.

Sizes are ours, not the paper's (which states none, docs/paper-reference.md §2.8): 20 nodes, edge probability 0.1,
goal node 0, walks of at most 10 steps, as in ReinforcementLearningEnvironments.jl's
`GraphShortestPathEnv` (n=10 there) and trlx's random-walks example (21 nodes, p=0.1, length 10).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dtlib.validate import ParameterError, check_positive, check_range

ENV_ID = "dtlib/GraphShortestPath-v0"
UNREACHABLE = -1  # shortest_path_lengths' value for a node with no path to the goal

DEFAULTS: dict[str, Any] = {
    "n_nodes": 20,  # nodes of the random graph (ours; the paper states none)
    "edge_prob": 0.1,  # probability of each directed edge (ours)
    "graph_seed": 0,  # seed of the graph itself; the env's reset seed only draws start nodes
    "goal": 0,  # the goal node
    "max_steps": 10,  # walk length limit (ours), also the env's max_episode_steps
    "connect": True,  # add edges until every node can reach the goal
    "adjacency": None,  # optional hand-built graph [n, n] of 0/1, replacing n_nodes/edge_prob/graph_seed/connect
}


def check_params(**params: Any) -> dict[str, Any]:
    """All graph parameters (defaults filled in), or ParameterError naming the first bad one."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ParameterError(f"unknown graph parameter {unknown[0]!r}; choose from {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    if p["adjacency"] is not None:
        adj = np.asarray(p["adjacency"])
        if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] < 2 or not np.isin(adj, (0, 1)).all():
            raise ParameterError(f"adjacency must be a square [n, n] matrix of 0/1 with n >= 2, got shape {adj.shape}")
        if "n_nodes" in params and params["n_nodes"] != adj.shape[0]:
            raise ParameterError(f"n_nodes={params['n_nodes']!r} disagrees with adjacency of {adj.shape[0]} nodes")
        p["adjacency"] = adj.astype(bool).tolist()  # plain lists: JSON-able for dataset meta
        p["n_nodes"] = adj.shape[0]
    check_positive("n_nodes", p["n_nodes"], integer=True)
    if p["n_nodes"] < 2:
        raise ParameterError(f"n_nodes={p['n_nodes']!r} must be >= 2 (a goal and a start)")
    check_range("edge_prob", p["edge_prob"], 0.0, 1.0)
    if isinstance(p["graph_seed"], bool) or not isinstance(p["graph_seed"], int) or p["graph_seed"] < 0:
        raise ParameterError(f"graph_seed={p['graph_seed']!r} must be a non-negative integer")
    if isinstance(p["goal"], bool) or not isinstance(p["goal"], int) or not 0 <= p["goal"] < p["n_nodes"]:
        raise ParameterError(f"goal={p['goal']!r} must be a node index in [0, n_nodes - 1]")
    check_positive("max_steps", p["max_steps"], integer=True)
    if not isinstance(p["connect"], bool):
        raise ParameterError(f"connect={p['connect']!r} must be True or False")
    return p


def shortest_path_lengths(adjacency: np.ndarray, goal: int) -> np.ndarray:
    """[n] fewest steps from each node to `goal` (0 at the goal, UNREACHABLE = -1 if no path): BFS on reversed edges."""
    adj = np.asarray(adjacency, dtype=bool)
    dist = np.full(len(adj), UNREACHABLE, dtype=np.int64)
    dist[goal] = 0
    frontier = [goal]
    while frontier:
        nxt = []
        for v in frontier:
            for u in np.flatnonzero(adj[:, v] & (dist == UNREACHABLE)):  # u -> v, u not yet reached
                dist[u] = dist[v] + 1
                nxt.append(int(u))
        frontier = nxt
    return dist


def random_graph(n_nodes: int, edge_prob: float, graph_seed: int, goal: int = 0, connect: bool = True) -> np.ndarray:
    """[n, n] bool adjacency of the seeded random directed graph (module docstring)."""
    rng = np.random.default_rng(graph_seed)
    adj = rng.random((n_nodes, n_nodes)) < edge_prob
    np.fill_diagonal(adj, False)
    while connect:
        dist = shortest_path_lengths(adj, goal)
        cut_off = np.flatnonzero(dist == UNREACHABLE)
        if len(cut_off) == 0:
            break
        u = int(rng.choice(cut_off))
        adj[u, int(rng.choice(np.flatnonzero(dist != UNREACHABLE)))] = True  # one edge into the reaching set
    return adj


def adjacency_of(**params: Any) -> np.ndarray:
    """[n, n] bool adjacency described by the env parameters (hand-built or random)."""
    p = check_params(**params)
    if p["adjacency"] is not None:
        return np.asarray(p["adjacency"], dtype=bool)
    return random_graph(p["n_nodes"], p["edge_prob"], p["graph_seed"], p["goal"], p["connect"])


def random_walks(adjacency: np.ndarray, goal: int, starts: np.ndarray, max_steps: int,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random walks from `starts` [E], each step to a uniform out-neighbour (staying put at a dead end).

    Same dynamics as `GraphShortestPathEnv` (checked by a test). Returns observations [E, T] (node),
    actions [E, T], alive [E, T] (the step happened), terminated [E, T] (arrived at the goal), T = max_steps.
    """
    adj = np.asarray(adjacency, dtype=bool)
    deg = adj.sum(axis=1)  # [n]
    table = np.zeros((len(adj), max(int(deg.max()), 1)), dtype=np.int64)  # [n, max_deg] out-neighbours, padded
    for v in range(len(adj)):
        table[v, :deg[v]] = np.flatnonzero(adj[v])
    n_walks = len(starts)
    pos = np.asarray(starts, dtype=np.int64).copy()
    obs = np.empty((n_walks, max_steps), dtype=np.int64)
    actions = np.empty((n_walks, max_steps), dtype=np.int64)
    alive = np.zeros((n_walks, max_steps), dtype=bool)
    terminated = np.zeros((n_walks, max_steps), dtype=bool)
    running = pos != goal
    for t in range(max_steps):
        obs[:, t], alive[:, t] = pos, running
        k = (rng.random(n_walks) * np.maximum(deg[pos], 1)).astype(np.int64)  # uniform index among out-edges
        a = np.where(deg[pos] > 0, table[pos, k], pos)  # a dead end: "move" to itself, i.e. stay
        actions[:, t] = a
        pos = a
        terminated[:, t] = running & (pos == goal)
        running &= pos != goal
    return {"observations": obs, "actions": actions, "alive": alive, "terminated": terminated}


def steps_to_goal(dataset: Any) -> np.ndarray:
    """[E] steps each episode took to reach the goal, inf where it did not (Figure 6's x axis)."""
    last = dataset.starts + dataset.lengths - 1
    return np.where(dataset.terminals[last], dataset.lengths.astype(np.float64), np.inf)


def best_returns_to_go(dataset: Any, n_nodes: int) -> np.ndarray:
    """[n_nodes] the highest return-to-go seen at each node on walks that reached the goal (-inf: never).

    A data-only reading of the paper's "generating largest possible return at each node" prior (Figure 2):
    with enough walks it equals minus the shortest-path length.
    """
    rtg = dataset.returns_to_go()  # [N]
    reached = dataset.terminals[dataset.starts + dataset.lengths - 1][dataset.episode_index]  # [N]
    best = np.full(n_nodes, -np.inf)
    np.maximum.at(best, dataset.observations[reached, 0], rtg[reached].astype(np.float64))
    return best


class GraphShortestPathEnv(gym.Env):
    """Walk on the fixed graph towards the goal (module docstring); seeded by `reset(seed=...)`.

    `reset(options={"start": node})` starts at a chosen node (Figure 6 starts from every node); otherwise the
    start is uniform over the non-goal nodes.
    """

    metadata = {"render_modes": []}

    def __init__(self, **params: Any) -> None:
        self.params = check_params(**params)
        self.adjacency = adjacency_of(**self.params)  # [n, n] bool
        self.n_nodes, self.goal = len(self.adjacency), self.params["goal"]
        self.max_episode_steps = self.params["max_steps"]
        self.shortest = shortest_path_lengths(self.adjacency, self.goal)  # [n]
        self._edges = [set(np.flatnonzero(row).tolist()) for row in self.adjacency]
        self.action_space = gym.spaces.Discrete(self.n_nodes)
        self.observation_space = gym.spaces.MultiDiscrete([self.n_nodes], dtype=np.int64)
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        start = (options or {}).get("start")
        if start is None:
            start = int(self.np_random.integers(self.n_nodes - 1))
            start += start >= self.goal  # uniform over the non-goal nodes
        elif not (isinstance(start, (int, np.integer)) and 0 <= start < self.n_nodes and start != self.goal):
            raise ParameterError(f"start={start!r} must be a non-goal node index in [0, {self.n_nodes - 1}]")
        self._start, self._pos, self._t, self._done = int(start), int(start), 0, False
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        a = int(action)
        if not 0 <= a < self.n_nodes:
            raise ValueError(f"action={action!r} must be a node index in [0, {self.n_nodes - 1}]")
        if a in self._edges[self._pos]:
            self._pos = a
        self._t += 1
        terminated = self._pos == self.goal
        truncated = not terminated and self._t >= self.max_episode_steps
        self._done = terminated or truncated
        return self._obs(), -1.0, terminated, truncated, self._info()

    def _obs(self) -> np.ndarray:
        return np.array([self._pos], dtype=np.int64)

    def _info(self) -> dict[str, Any]:
        return {"steps": self._t, "start": self._start, "shortest": int(self.shortest[self._start]),
                "reached": self._pos == self.goal}
