"""Key-to-Door: dynamics, seeding, the batch simulator, outcome helpers, random datasets, parameter checks."""
import gymnasium as gym
from gymnasium.utils.env_checker import check_env
import numpy as np
import pytest

import dtlib.envs
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.generate import generate_keydoor_dataset, random_success_rate, simulate_keydoor_random
from dtlib.envs import keydoor as kd
from dtlib.validate import ParameterError

UP, DOWN, LEFT, RIGHT = range(4)
L1, L2, L3 = kd.DEFAULTS["key_steps"], kd.DEFAULTS["distractor_steps"], kd.DEFAULTS["door_steps"]
W = kd.DEFAULTS["width"]
# agent starts at (0, 0) in every room; key at (0, 2); door at (0, 1)
LAYOUT = {"start1": 0, "key": 2, "start2": 0, "apples": [], "start3": 0, "door": 1}


def run(actions, layout=LAYOUT, **params):
    """Step a fresh env through `actions` (stopping at the episode's end); lists of obs, rewards, flags, infos."""
    env = kd.KeyToDoorEnv(**params)
    obs, info = env.reset(seed=0, options={"layout": layout})
    out = {"obs": [obs], "rewards": [], "terminated": [], "truncated": [], "infos": [info]}
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        for k, v in zip(("obs", "rewards", "terminated", "truncated", "infos"), (obs, r, term, trunc, info)):
            out[k].append(v)
        if term or trunc:
            break
    return out


def test_seeded_reset_is_deterministic():
    actions = np.random.default_rng(1).integers(4, size=kd.episode_steps())
    runs = []
    for seed in (7, 7, 8):
        env = kd.KeyToDoorEnv()
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for a in actions:
            obs, r, term, trunc, _ = env.step(a)
            trace += [obs, np.array([r, term, trunc])]
            if term or trunc:
                break
        runs.append(np.concatenate([np.ravel(x) for x in trace]))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_success_only_with_key():
    with_key = run([RIGHT, RIGHT] + [DOWN] * (L1 - 2) + [DOWN] * L2 + [RIGHT])
    assert with_key["infos"][2]["has_key"] and with_key["infos"][-1]["key_step"] == 1
    assert with_key["obs"][1][3] == kd.KEY and with_key["obs"][2][3] == kd.NONE  # the key vanishes on pickup
    assert with_key["terminated"][-1] and len(with_key["rewards"]) == L1 + L2 + 1
    assert with_key["rewards"][-1] == 1.0 and sum(with_key["rewards"]) == 1.0
    assert with_key["infos"][-1]["outcome"] == "success" and with_key["infos"][-1]["door_step"] == L1 + L2

    no_key = run([DOWN] * (L1 + L2) + [RIGHT])
    assert no_key["terminated"][-1] and sum(no_key["rewards"]) == 0.0  # the door without the key: no reward
    assert no_key["infos"][-1]["outcome"] == "no key" and not no_key["infos"][-1]["success"]


def test_episode_is_truncated_at_max_steps_without_door():
    out = run([RIGHT, RIGHT] + [DOWN] * (L1 + L2 + L3 + 5))  # picks the key, never meets the door (row 0, col 1)
    assert len(out["rewards"]) == kd.episode_steps() == kd.KeyToDoorEnv().max_episode_steps
    assert out["truncated"][-1] and not any(out["terminated"]) and not any(out["truncated"][:-1])
    assert sum(out["rewards"]) == 0.0 and out["infos"][-1]["outcome"] == "key, no door"


def test_observation_after_phase_1_does_not_reveal_the_key():
    later = list(np.random.default_rng(3).integers(4, size=L2 + L3))
    with_key = run([RIGHT, RIGHT] + [LEFT] * (L1 - 2) + later)
    without = run([LEFT] * L1 + later)
    assert with_key["infos"][-1]["has_key"] and not without["infos"][-1]["has_key"]
    n = min(len(with_key["obs"]), len(without["obs"]))
    assert n > L1 + 1
    assert np.array_equal(np.array(with_key["obs"][L1:n]), np.array(without["obs"][L1:n]))
    assert [o[0] for o in with_key["obs"][L1 - 1:L1 + 1]] == [0, 1]  # the phase feature changes at t = L1


def test_walls_and_phase_starts():
    out = run([UP, LEFT] + [DOWN] * 10)
    assert list(out["obs"][1][1:3]) == [0, 0] and list(out["obs"][2][1:3]) == [0, 0]  # bumped into walls
    assert list(out["obs"][L1][1:3]) == [0, 0]  # teleported to room 2's start


def test_batch_simulator_matches_env():
    params = {"distractor": "apples", "n_apples": 3}
    for p in ({}, params):
        sim = simulate_keydoor_random(60, seed=5, **p)
        for e in range(60):
            layout = {k[len("layout_"):]: v[e] for k, v in sim.items() if k.startswith("layout_")}
            out = run(sim["actions"][e], layout=layout, **p)
            n = len(out["rewards"])
            assert sim["alive"][e].sum() == n
            assert np.array_equal(np.array(out["obs"][:n]), sim["observations"][e, :n])
            assert np.allclose(out["rewards"], sim["rewards"][e, :n])
            assert out["terminated"] == list(sim["terminated"][e, :n])
            assert out["truncated"] == list(sim["truncated"][e, :n])
            assert out["infos"][-1]["key_step"] == sim["key_step"][e]
            assert out["infos"][-1]["door_step"] == sim["door_step"][e]


def test_events_derived_from_dataset_match_simulation():
    sim = simulate_keydoor_random(3000, seed=11)
    ds = generate_keydoor_dataset(3000, seed=11)
    key_step, door_step, labels = kd.dataset_events(ds)
    assert np.array_equal(key_step, sim["key_step"]) and np.array_equal(door_step, sim["door_step"])
    success = labels == "success"
    assert set(labels) == set(kd.OUTCOMES)
    assert np.array_equal(success, ds.episode_returns == 1.0)  # return is 1 exactly on success
    assert kd.outcome(-1, 5) == "no key" and kd.outcome(3, -1) == "key, no door" and kd.outcome(3, 20) == "success"


def test_random_success_rate_in_documented_band():
    # module docstring: 3.16% over 1M episodes (paper's random baseline 3.1%); 100K episodes: sd 0.06 points
    rate = random_success_rate(100_000, seed=1)
    assert 0.026 <= rate <= 0.037


def test_random_policy_through_gymnasium_env():
    env = dtlib.envs.make(kd.ENV_ID)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    successes, episodes = 0, 0
    while episodes < 1500:
        assert env.observation_space.contains(obs)
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        if term or trunc:
            successes += r == 1.0
            episodes += 1
            obs, _ = env.reset()
    assert 0.01 <= successes / episodes <= 0.06  # 3.2% expected; sd 0.45 points over 1500 episodes


def test_registration_and_env_checker():
    env = gym.make(kd.ENV_ID)
    assert env.spec.max_episode_steps == kd.episode_steps()
    check_env(env.unwrapped, skip_render_check=True)
    longer = dtlib.envs.make(kd.ENV_ID, distractor_steps=50)
    assert longer.spec.max_episode_steps == L1 + 50 + L3 == longer.unwrapped.max_episode_steps
    assert isinstance(env.action_space, gym.spaces.Discrete) and env.action_space.n == 4
    assert list(env.observation_space.nvec) == [3, 5, 5, 4, 9, 9]


def test_dataset_shapes_meta_and_roundtrip(tmp_path):
    ds = generate_keydoor_dataset(200, seed=3)
    assert ds.observations.dtype == np.int64 and ds.observations.shape == (ds.n_steps, 6)
    assert ds.actions.dtype == np.int64 and ds.actions.shape == (ds.n_steps,)
    assert ds.rewards.dtype == np.float32 and ds.n_episodes == 200
    assert ds.lengths.max() <= kd.episode_steps()
    last = ds.starts + ds.lengths - 1
    assert np.all(ds.terminals[last] ^ ds.timeouts[last])  # every episode ends exactly one way
    assert ds.terminals.sum() + ds.timeouts.sum() == 200
    assert np.all(ds.timeouts[last] == (ds.lengths == kd.episode_steps()) & ~ds.terminals[last])
    assert ds.meta["env"] == kd.ENV_ID and ds.meta["seed"] == 3 and ds.meta["policy"] == "uniform random"
    assert ds.meta["env_params"] == kd.DEFAULTS
    assert ds.meta["obs_vocab"] == [3, 5, 5, 4, 9, 9] and ds.meta["n_actions"] == 4
    assert (ds.observations < np.array(ds.meta["obs_vocab"])).all() and (ds.observations >= 0).all()
    path = tmp_path / "kd.npz"
    ds.save(path)
    back = EpisodeDataset.load(path)
    for name in ("observations", "actions", "rewards", "terminals", "timeouts", "starts"):
        assert np.array_equal(getattr(back, name), getattr(ds, name)) and getattr(back, name).dtype == getattr(ds, name).dtype
    assert back.meta == ds.meta
    again = generate_keydoor_dataset(200, seed=3)
    assert np.array_equal(again.actions, ds.actions) and np.array_equal(again.observations, ds.observations)


@pytest.mark.parametrize("bad, name", [
    ({"height": 0}, "height"), ({"width": 2.5}, "width"), ({"key_steps": -1}, "key_steps"),
    ({"distractor": "fruit"}, "distractor"), ({"n_apples": 25}, "n_apples"),
    ({"apple_reward": float("nan")}, "apple_reward"), ({"room": 5}, "room"),
])
def test_bad_parameters_name_themselves(bad, name):
    with pytest.raises(ParameterError, match=name):
        kd.KeyToDoorEnv(**bad)
    with pytest.raises(ParameterError, match=name):
        generate_keydoor_dataset(10, seed=0, **bad)


def test_bad_generator_arguments():
    with pytest.raises(ParameterError, match="n_episodes"):
        generate_keydoor_dataset(0, seed=0)
    with pytest.raises(ParameterError, match="seed"):
        generate_keydoor_dataset(10, seed=-1)
    with pytest.raises(ValueError, match="action"):
        env = kd.KeyToDoorEnv()
        env.reset(seed=0)
        env.step(4)


def test_cached_dataset_and_command_line(tmp_path, monkeypatch):
    from dtlib.data import generate

    monkeypatch.setenv("DTLIB_DATA", str(tmp_path))
    first = generate.keydoor_dataset(50, seed=2)
    path = generate.dataset_path("keydoor", 50, 2)
    assert path.exists() and path.parent == tmp_path / "keydoor"
    assert np.array_equal(generate.keydoor_dataset(50, seed=2).actions, first.actions)  # read back
    assert generate.dataset_path("keydoor", 50, 2, height=6) != path  # other parameters, other file
    path.write_bytes(b"truncated")  # a corrupt file is regenerated, not trusted
    assert np.array_equal(generate.keydoor_dataset(50, seed=2).observations, first.observations)
    generate.main(["keydoor", "--episodes", "20", "--seed", "1", "--out", str(tmp_path / "cli.npz")])
    assert EpisodeDataset.load(tmp_path / "cli.npz").n_episodes == 20


def test_trace_events_classify_recorded_rollouts():
    success = run([RIGHT, RIGHT] + [DOWN] * (L1 - 2 + L2) + [RIGHT])
    no_key = run([DOWN] * (L1 + L2) + [RIGHT])
    key_only = run([RIGHT, RIGHT] + [DOWN] * (L1 + L2 + L3))
    traces = [{"observations": o["obs"][:-1], "actions": a} for o, a in (
        (success, [RIGHT, RIGHT] + [DOWN] * (L1 - 2 + L2) + [RIGHT]), (no_key, [DOWN] * (L1 + L2) + [RIGHT]),
        (key_only, [RIGHT, RIGHT] + [DOWN] * (L1 + L2 + L3 - 2)))]
    key_step, door_step, labels = kd.trace_events(traces)
    assert key_step.tolist() == [1, -1, 1] and door_step.tolist() == [L1 + L2, L1 + L2, -1]
    assert labels.tolist() == ["success", "no key", "key, no door"]
    with pytest.raises(ParameterError, match="traces"):
        kd.trace_events([])
