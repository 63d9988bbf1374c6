import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from conftest import HORIZON, PUSH_SPEC, PushEnv, push_dataset
from dtlib.baselines.cql import (CQLConfig, CQLLearner, ContinuousCQL, DiscreteCQL, EnsembleQ, cql_penalty,
                                 discrete_cql_penalty, key_held_steps, key_held_window, polyak_,
                                 tanh_gaussian_sample)
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.transitions import TransitionSampler, transition_indices
from dtlib.data.windows import to_torch
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.results import RunDir
from dtlib.specs import EnvSpec
from dtlib.train import TrainConfig, train


# ----------------------------------------------------------------------------- penalties and targets
def test_continuous_penalty_matches_a_hand_computed_case():
    # one critic, one state, N = 1: logsumexp of [Q_rand − log ½^A, Q_pi − log π, Q_next − log π'] − Q_data
    q_data = torch.tensor([[1.0]])
    q_rand, q_pi, q_next = torch.tensor([[[2.0]]]), torch.tensor([[[0.5]]]), torch.tensor([[[-1.0]]])
    logp, logp2 = torch.tensor([[-0.3]]), torch.tensor([[0.2]])
    act_dim = 2
    expected = math.log(math.exp(2.0 - 2 * math.log(0.5)) + math.exp(0.5 + 0.3) + math.exp(-1.0 - 0.2)) - 1.0
    got = cql_penalty(q_data, q_rand, q_pi, q_next, logp, logp2, act_dim)
    assert got.shape == (1,) and got.item() == pytest.approx(expected, rel=1e-6)
    # the temperature scales inside and outside the logsumexp
    t = 2.0
    expected_t = t * math.log(math.exp((2.0 + 2 * math.log(2)) / t) + math.exp(0.8 / t) + math.exp(-1.2 / t)) - 1.0
    assert cql_penalty(q_data, q_rand, q_pi, q_next, logp, logp2, act_dim, t).item() == pytest.approx(expected_t)


def test_discrete_penalty_matches_a_hand_computed_case():
    q = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    a = torch.tensor([2, 0])
    expected = ((math.log(math.e + math.e**2 + math.e**3) - 3.0) + (math.log(3.0) - 0.0)) / 2
    assert discrete_cql_penalty(q, a).item() == pytest.approx(expected, rel=1e-6)
    # the penalty is smallest when the data action has the largest Q: it pushes Q towards the data's actions
    assert discrete_cql_penalty(q, torch.tensor([2, 0])) < discrete_cql_penalty(q, torch.tensor([0, 0]))


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    mean, log_std = torch.randn(5, 3), torch.randn(5, 3) * 0.3
    torch.manual_seed(0)
    a, logp = tanh_gaussian_sample(mean, log_std)
    dist = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()), torch.distributions.TanhTransform(cache_size=1))
    torch.testing.assert_close(logp, dist.log_prob(a.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1), rtol=1e-3, atol=1e-3)


def test_ensemble_critics_are_independent_mlps_over_state_and_action():
    q = EnsembleQ(2, obs_dim=3, act_dim=2, hidden=(8, 8))
    s, a = torch.randn(4, 3), torch.randn(4, 5, 2)
    out = q(s, a)  # [C, B, M]
    assert out.shape == (2, 4, 5)
    i = 1  # critic 1 by hand, on state 2 / action 3
    x = torch.cat([s[2], a[2, 3]])
    w1 = torch.cat([q.first_s.weight[i], q.first_a.weight[i]])  # [5, 8]
    h = torch.relu(x @ w1 + q.first_s.bias[i, 0])
    h = torch.relu(h @ q.rest[0].weight[i] + q.rest[0].bias[i, 0])
    torch.testing.assert_close(out[i, 2, 3], (h @ q.rest[1].weight[i] + q.rest[1].bias[i, 0])[0])


def test_polyak_update_is_exact():
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in target.parameters()]
    polyak_(target, online, 0.1)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)


def continuous_batch(b=8, obs=2, act=1, terminals=None):
    g = torch.Generator().manual_seed(0)
    return {"observations": torch.randn(b, obs, generator=g), "actions": torch.rand(b, act, generator=g) * 2 - 1,
            "rewards": torch.ones(b), "next_observations": torch.randn(b, obs, generator=g),
            "terminals": torch.zeros(b) if terminals is None else terminals}


def test_learner_moves_targets_by_polyak_and_leaves_them_out_of_the_gradient():
    torch.manual_seed(0)
    model = ContinuousCQL(CQLConfig(obs_shape=(2,), act_dim=1, hidden=(16, 16), tau=0.25))
    learner = CQLLearner(model)
    target_before = [p.clone() for p in model.critic_target.parameters()]
    learner.update(continuous_batch())
    for t, b, o in zip(model.critic_target.parameters(), target_before, model.critic.parameters()):
        assert not t.requires_grad
        torch.testing.assert_close(t, 0.75 * b + 0.25 * o)  # the online critic after its step
    # DQN-style hard copies every N updates (discrete)
    model = DiscreteCQL(CQLConfig(obs_shape=(2,), act_dim=3, discrete=True, hidden=(8,), target_update_interval=2))
    learner = CQLLearner(model)
    b = {**continuous_batch(), "actions": torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])}
    first = [p.clone() for p in model.q_target.parameters()]
    learner.update(b)
    assert all(torch.equal(p, q) for p, q in zip(model.q_target.parameters(), first))
    learner.update(b)
    assert all(torch.equal(p, q) for p, q in zip(model.q_target.parameters(), model.q.parameters()))


@pytest.mark.parametrize("discrete", [False, True])
def test_td_target_bootstraps_through_timeouts_but_not_terminals(discrete):
    torch.manual_seed(0)
    if discrete:
        model = DiscreteCQL(CQLConfig(obs_shape=(2,), act_dim=3, discrete=True, hidden=(8,), gamma=0.5))
        last = model.q_target.head[-1]
    else:
        model = ContinuousCQL(CQLConfig(obs_shape=(2,), act_dim=1, hidden=(8,), gamma=0.5))
        last = model.critic_target.rest[-1]
    with torch.no_grad():  # target Q ≡ 100 everywhere
        last.weight.zero_()
        last.bias.fill_(100.0)
    learner = CQLLearner(model)
    batch = continuous_batch(b=2, terminals=torch.tensor([1.0, 0.0]))
    if discrete:
        batch["actions"] = torch.tensor([0, 1])
    y = learner.target(batch)
    torch.testing.assert_close(y, torch.tensor([1.0, 1.0 + 0.5 * 100.0]))


# ----------------------------------------------------------------------------- transitions
def two_episodes():
    """Episode 0 terminates after 3 steps; episode 1 is cut by a time limit after 2 steps."""
    obs = np.arange(5, dtype=np.float32)[:, None]
    return EpisodeDataset(observations=obs, actions=np.zeros((5, 1), np.float32), rewards=np.arange(5) * 1.0,
                          terminals=np.array([0, 0, 1, 0, 0], bool), timeouts=np.array([0, 0, 0, 0, 1], bool),
                          starts=np.array([0, 3]))


def test_transitions_stay_inside_episodes_and_mark_only_terminations_done():
    idx, nxt, done = transition_indices(two_episodes())
    assert idx.tolist() == [0, 1, 2, 3]  # step 4 (the timeout) has no stored next observation
    assert nxt.tolist() == [1, 2, 2, 4]  # never across the episode boundary 2 → 3
    assert done.tolist() == [0, 0, 1, 0]
    b = TransitionSampler(two_episodes(), seed=0).sample(64)
    assert set(b["observations"][:, 0]) == {0.0, 1.0, 2.0, 3.0}
    np.testing.assert_array_equal(b["terminals"], b["observations"][:, 0] == 2.0)
    s, s2 = b["observations"][:, 0], b["next_observations"][:, 0]
    np.testing.assert_array_equal(s2, np.where(s == 2.0, 2.0, s + 1))


def test_transition_sampler_resumes_its_stream():
    a = TransitionSampler(push_dataset(20), seed=3)
    a.sample(5)
    state = a.state_dict()
    x = a.sample(7)
    b = TransitionSampler(push_dataset(20), seed=99)
    b.load_state_dict(state)
    np.testing.assert_array_equal(x["observations"], b.sample(7)["observations"])


# ----------------------------------------------------------------------------- Key-to-Door history bit
def test_key_held_bit_is_the_same_from_the_dataset_and_from_evaluation_windows():
    from dtlib.data.generate import generate_keydoor_dataset

    data = generate_keydoor_dataset(200, seed=1)
    held = key_held_steps(data)[:, 0]  # [N]
    assert 0 < held.mean() < 0.5  # some episodes pick the key up
    # windows of the whole episode so far, as evaluation builds them (left padding, current action unset)
    starts, lengths = data.starts, data.lengths
    for e in range(30):
        for t in range(lengths[e]):
            i = starts[e] + t
            win_s = np.zeros((1, 40, 6), np.int64)
            win_a = np.zeros((1, 40), np.int64)
            mask = np.zeros((1, 40), np.float32)
            k = t + 1
            win_s[0, 40 - k:] = data.observations[starts[e]:i + 1]
            win_a[0, 40 - k:-1] = data.actions[starts[e]:i]  # the current action is not chosen yet
            mask[0, 40 - k:] = 1
            assert key_held_window(win_s, win_a, mask)[0, 0] == held[i], (e, t)


# ----------------------------------------------------------------------------- training through dtlib.train
TRAIN = TrainConfig(steps=60, batch_size=32, log_every=10, checkpoint_every=20)
SMALL = CQLConfig(obs_shape=(2,), act_dim=1, hidden=(32, 32), n_action_samples=4)


def cql_run(root, cfg=TRAIN, sampler_cls=TransitionSampler, evaluate_fn=None):
    data = push_dataset(60)
    torch.manual_seed(0)
    mean, std = data.state_stats()
    model = ContinuousCQL(dataclasses.replace(SMALL, state_mean=tuple(mean.tolist()), state_std=tuple(std.tolist())))
    run = RunDir(root, "cql", {"cfg": dataclasses.asdict(cfg)})
    train(run, CQLLearner(model), sampler_cls(data, seed=cfg.seed), cfg, evaluate=evaluate_fn, progress=False)
    return run, model


class Killed(Exception):
    pass


def test_cql_training_is_deterministic_and_resumes_exactly(tmp_path):
    ev = lambda m: evaluate(m, PUSH_SPEC, EvalConfig(episodes=2, targets=(0.0,)), env_fn=PushEnv)  # noqa: E731
    r1, m1 = cql_run(tmp_path / "a", evaluate_fn=ev)
    r2, m2 = cql_run(tmp_path / "b", evaluate_fn=ev)
    assert r1.metrics()["train/critic_loss"].equals(r2.metrics()["train/critic_loss"])
    assert r1.evals()["return"].equals(r2.evals()["return"])
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))

    class KillingSampler(TransitionSampler):
        calls = 0

        def sample(self, batch_size):
            KillingSampler.calls += 1
            if KillingSampler.calls == 47:  # checkpoints at 20 and 40 exist
                raise Killed()
            return super().sample(batch_size)

    with pytest.raises(Killed):
        cql_run(tmp_path / "k", sampler_cls=KillingSampler)
    run, resumed = cql_run(tmp_path / "k")
    assert list(run.metrics()["step"]) == [10, 20, 30, 40, 50, 60]
    # every tensor, targets and temperature included, equals the uninterrupted run's
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), resumed.state_dict().values()))


def test_continuous_cql_beats_a_random_policy_on_push():
    """PushEnv pays the action each step: optimum +5, a uniformly random policy ~0, the data's mean ~0."""
    data = push_dataset(300)
    torch.manual_seed(0)
    mean, std = data.state_stats()
    cfg = dataclasses.replace(SMALL, hidden=(64, 64), critic_lr=1e-3, actor_lr=1e-3, temp_lr=1e-3, cql_weight=1.0,
                              state_mean=tuple(mean.tolist()), state_std=tuple(std.tolist()))
    learner, sampler = CQLLearner(ContinuousCQL(cfg)), TransitionSampler(data, seed=0)
    for _ in range(800):
        learner.update(to_torch(sampler.sample(128)))
    df = evaluate(learner.model, PUSH_SPEC, EvalConfig(episodes=5, targets=(0.0,)), env_fn=PushEnv)
    assert df["return"].mean() > 3.5  # random ≈ 0 ± 1.3; seeds 0-2 give 4.0-4.2 (weight 5: 3.6-3.9)


class Corridor(gym.Env):
    """Cells 0..4, start at 0; actions left/right; reaching cell 4 ends with reward 1; 8 steps at most."""

    observation_space = gym.spaces.MultiDiscrete([5])
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return np.array([self.pos]), {}

    def step(self, action):
        self.pos = int(np.clip(self.pos + (1 if int(action) == 1 else -1), 0, 4))
        self.t += 1
        done = self.pos == 4
        return np.array([self.pos]), float(done), done, self.t >= 8 and not done, {}


CORRIDOR_SPEC = EnvSpec("corridor", "keydoor", "corridor", 8, 1.0, (1.0,), 1, source="test task")


def corridor_dataset(n, seed):
    rng = np.random.default_rng(seed)
    env, episodes = Corridor(), []
    for _ in range(n):
        o, _ = env.reset()
        obs, acts, rews, terms, touts = [], [], [], [], []
        while True:
            a = int(rng.integers(2))
            o2, r, term, trunc, _ = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(term), touts.append(trunc)
            o = o2
            if term or trunc:
                break
        episodes.append({"observations": np.array(obs), "actions": np.array(acts), "rewards": np.array(rews),
                         "terminals": np.array(terms), "timeouts": np.array(touts)})
    return EpisodeDataset.from_episodes(episodes)


def test_discrete_cql_beats_a_random_policy_on_a_corridor():
    data = corridor_dataset(200, seed=0)
    random_success = (data.episode_returns > 0).mean()
    assert random_success < 0.3
    torch.manual_seed(0)
    cfg = CQLConfig(obs_shape=(1,), act_dim=2, discrete=True, encoder="embedding", obs_vocab=(5,), embed_dim=16,
                    hidden=(32,), critic_lr=3e-3, cql_weight=1.0, tau=0.05)
    learner, sampler = CQLLearner(DiscreteCQL(cfg)), TransitionSampler(data, seed=0)
    for _ in range(400):
        learner.update(to_torch(sampler.sample(64)))
    df = evaluate(learner.model, CORRIDOR_SPEC, EvalConfig(episodes=3), env_fn=Corridor)
    assert (df["return"] == 1.0).all() and (df["length"] == 4).all()  # straight to the goal


# ----------------------------------------------------------------------------- one more `method` in experiment.run
def test_cql_runs_through_experiment_run_on_gym_and_keydoor(tmp_path):
    import json

    from dtlib.data.generate import generate_keydoor_dataset
    from dtlib.experiment import RunConfig, build_model, run
    from test_experiment import hopper_like

    gym_cfg = RunConfig("hopper", "synthetic", "cql", reward_mode="delayed")
    model = build_model(gym_cfg, hopper_like())
    assert isinstance(model, ContinuousCQL) and model.cfg.hidden == (256, 256) and model.cfg.cql_weight == 5.0
    ev = EvalConfig(episodes=2, max_steps=10)
    r = run(gym_cfg, hopper_like(), tmp_path, ev, progress=False, steps=6, batch_size=16, log_every=3,
            checkpoint_every=3)
    conf = json.loads(r.config_path.read_text())
    assert r.done and conf["CQLConfig"]["n_action_samples"] == 10 and conf["model_class"] == "ContinuousCQL"
    assert set(r.evals()["target"]) == {3600.0} and len(r.evals()) == 2  # one target: the policy ignores it
    assert {"train/critic_loss", "train/cql_penalty", "train/actor_loss"} <= set(r.metrics().columns)

    data = generate_keydoor_dataset(30, seed=0)
    for history in ("", "key_held"):
        cfg = RunConfig("keydoor", "30", "cql", history=history)
        r = run(cfg, data, tmp_path, EvalConfig(episodes=2), progress=False, steps=4, batch_size=8,
                log_every=2, checkpoint_every=2)
        model = build_model(cfg, data)
        assert isinstance(model, DiscreteCQL) and model.context_len == (40 if history else 1)
        assert r.done and len(r.evals()) == 2 and ("key_held" in r.path.name) == bool(history)
    with pytest.raises(ValueError, match="CQL option"):
        RunConfig("keydoor", "30", "dt", history="key_held")
