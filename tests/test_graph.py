"""Shortest-path graph: BFS, dynamics, seeding, random-walk datasets and their returns-to-go, parameter checks."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dtlib.envs
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.generate import generate_graph_dataset
from dtlib.envs import graph as gr
from dtlib.validate import ParameterError

# goal 0; 1->0, 2->1, 3->2, 3->1, 0->2 (out of the goal: irrelevant), 4->3, 5 isolated
EDGES = [(1, 0), (2, 1), (3, 2), (3, 1), (0, 2), (4, 3)]
ADJ = np.zeros((6, 6), dtype=int)
for i, j in EDGES:
    ADJ[i, j] = 1


def test_bfs_on_hand_built_graph():
    assert gr.shortest_path_lengths(ADJ, goal=0).tolist() == [0, 1, 2, 2, 3, gr.UNREACHABLE]
    assert gr.shortest_path_lengths(ADJ, goal=2).tolist() == [1, 2, 0, 1, 2, gr.UNREACHABLE]


def test_dynamics_on_hand_built_graph():
    env = gr.GraphShortestPathEnv(adjacency=ADJ, max_steps=5)
    obs, info = env.reset(seed=0, options={"start": 4})
    assert obs.tolist() == [4] and info["shortest"] == 3
    obs, r, term, trunc, _ = env.step(0)  # no edge 4->0: stay
    assert obs.tolist() == [4] and r == -1.0 and not term and not trunc
    for node in (3, 1, 0):  # along edges 4->3->1->0
        obs, r, term, trunc, info = env.step(node)
        assert obs.tolist() == [node] and r == -1.0
    assert term and not trunc and info["reached"] and info["steps"] == 4
    with pytest.raises(RuntimeError):
        env.step(1)
    env.reset(options={"start": 5})  # isolated: truncated after max_steps
    flags = [env.step(0)[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]


def test_random_graph_is_seeded_and_connected():
    a, b, c = gr.random_graph(20, 0.1, 0), gr.random_graph(20, 0.1, 0), gr.random_graph(20, 0.1, 1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.diag(a).any()
    assert (gr.shortest_path_lengths(a, 0) >= 0).all()  # connect=True: every node reaches the goal
    plain = gr.random_graph(20, 0.1, 0, connect=False)
    assert (plain <= a).all()  # connecting only adds edges


def test_seeded_reset_is_deterministic():
    starts = [gr.GraphShortestPathEnv().reset(seed=s)[0][0] for s in (3, 3, 4, 5, 6, 7)]
    assert starts[0] == starts[1] and len(set(starts[1:])) > 1
    assert 0 not in starts  # never starts at the goal


def test_random_walks_match_env_and_use_edges():
    ds = generate_graph_dataset(300, seed=2)
    env = gr.GraphShortestPathEnv()
    adj = env.adjacency
    for e in range(ds.n_episodes):
        s, n = ds.starts[e], ds.lengths[e]
        obs, _ = env.reset(options={"start": int(ds.observations[s, 0])})
        for t in range(n):
            assert obs[0] == ds.observations[s + t, 0]
            assert adj[obs[0], ds.actions[s + t]]  # a random walk moves along an existing edge
            obs, r, term, trunc, _ = env.step(ds.actions[s + t])
            assert r == ds.rewards[s + t] and term == ds.terminals[s + t] and trunc == ds.timeouts[s + t]


def test_returns_to_go_are_minus_steps_to_goal():
    ds = generate_graph_dataset(500, seed=4)
    rtg, t, ep = ds.returns_to_go(), ds.timesteps, ds.episode_index
    reached = ds.terminals[ds.starts + ds.lengths - 1]
    assert 0.2 < reached.mean() < 0.9  # some walks reach the goal, some do not
    steps_left = ds.lengths[ep] - t  # [N] steps from each step to the episode's end
    on_reaching = reached[ep]
    assert np.array_equal(rtg[on_reaching], -steps_left[on_reaching].astype(np.float32))
    steps = gr.steps_to_goal(ds)
    assert np.array_equal(np.isinf(steps), ~reached) and np.array_equal(steps[reached], ds.lengths[reached])
    shortest = gr.shortest_path_lengths(gr.adjacency_of(), 0)[ds.observations[ds.starts, 0]]
    assert (steps >= shortest).all()  # no walk beats the shortest path


def test_dataset_shapes_meta_and_roundtrip(tmp_path):
    ds = generate_graph_dataset(100, seed=1)
    assert ds.observations.dtype == np.int64 and ds.observations.shape == (ds.n_steps, 1)
    assert ds.actions.dtype == np.int64 and ds.actions.shape == (ds.n_steps,)
    assert ds.rewards.dtype == np.float32 and (ds.rewards == -1).all()
    assert ds.n_episodes == 100 and ds.lengths.max() <= gr.DEFAULTS["max_steps"]
    last = ds.starts + ds.lengths - 1
    assert np.all(ds.terminals[last] ^ ds.timeouts[last]) and ds.terminals.sum() + ds.timeouts.sum() == 100
    adj = np.zeros((20, 20), dtype=bool)
    adj[tuple(np.array(ds.meta["edges"]).T)] = True
    assert np.array_equal(adj, gr.adjacency_of())  # the graph is recoverable from the dataset alone
    assert ds.meta["env"] == gr.ENV_ID and ds.meta["seed"] == 1 and ds.meta["env_params"]["n_nodes"] == 20
    assert ds.meta["obs_vocab"] == [20] and ds.meta["n_actions"] == 20
    ds.save(tmp_path / "g.npz")
    back = EpisodeDataset.load(tmp_path / "g.npz")
    assert np.array_equal(back.observations, ds.observations) and np.array_equal(back.actions, ds.actions)
    assert np.array_equal(back.terminals, ds.terminals) and back.meta == ds.meta
    assert np.array_equal(generate_graph_dataset(100, seed=1).actions, ds.actions)


def test_registration_and_env_checker():
    env = gym.make(gr.ENV_ID)
    assert env.spec.max_episode_steps == gr.DEFAULTS["max_steps"]
    check_env(env.unwrapped, skip_render_check=True)
    assert env.action_space.n == 20 and list(env.observation_space.nvec) == [20]
    longer = dtlib.envs.make(gr.ENV_ID, max_steps=15)
    assert longer.spec.max_episode_steps == 15 == longer.unwrapped.max_episode_steps


@pytest.mark.parametrize("bad, name", [
    ({"n_nodes": 1}, "n_nodes"), ({"edge_prob": 1.5}, "edge_prob"), ({"goal": 20}, "goal"),
    ({"max_steps": 0}, "max_steps"), ({"graph_seed": -2}, "graph_seed"), ({"adjacency": [[0, 1]]}, "adjacency"),
    ({"adjacency": ADJ, "n_nodes": 5}, "n_nodes"), ({"nodes": 5}, "nodes"), ({"connect": 1}, "connect"),
])
def test_bad_parameters_name_themselves(bad, name):
    with pytest.raises(ParameterError, match=name):
        gr.GraphShortestPathEnv(**bad)
    with pytest.raises(ParameterError, match=name):
        generate_graph_dataset(10, seed=0, **bad)


def test_bad_start_and_walk_count():
    env = gr.GraphShortestPathEnv()
    with pytest.raises(ParameterError, match="start"):
        env.reset(options={"start": 0})
    with pytest.raises(ParameterError, match="n_walks"):
        generate_graph_dataset(0, seed=0)


def test_best_returns_to_go_prior():
    ds = generate_graph_dataset(5000, seed=0)
    best = gr.best_returns_to_go(ds, 20)
    shortest = gr.shortest_path_lengths(gr.adjacency_of(), 0)
    seen = np.isfinite(best)
    assert (best[seen] <= -shortest[seen]).all() and seen[1:].mean() > 0.9  # never beats the shortest path
    assert (best[seen] == -shortest[seen]).mean() > 0.8  # 5000 walks find most shortest paths
    tiny = EpisodeDataset.from_episodes([{"observations": np.array([[3], [2], [1]]), "actions": np.array([2, 1, 0]),
                                          "rewards": -np.ones(3), "terminals": np.array([0, 0, 1], bool)}])
    assert gr.best_returns_to_go(tiny, 6).tolist() == [-np.inf, -1, -2, -3, -np.inf, -np.inf]
