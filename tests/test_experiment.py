import numpy as np
import pytest

from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, build_model, run
from dtlib.model import MLPBC, DecisionTransformer
from dtlib.validate import ParameterError


def hopper_like(n_episodes=6, length=30, seed=0):
    rng = np.random.default_rng(seed)
    eps = [dict(observations=rng.standard_normal((length, 11)).astype(np.float32),
                actions=rng.uniform(-1, 1, (length, 3)).astype(np.float32),
                rewards=rng.uniform(0, 3, length).astype(np.float32) * (e + 1),
                timeouts=np.arange(length) == length - 1) for e in range(n_episodes)]
    return EpisodeDataset.from_episodes(eps, meta={"env": "hopper", "name": "synthetic"})


def test_bad_run_parameters_fail_at_once_naming_them():
    with pytest.raises(ParameterError, match="env='nosuchenv'"):
        RunConfig(env="nosuchenv", dataset="medium")
    with pytest.raises(ParameterError, match="method='cql2'"):
        RunConfig(env="hopper", dataset="medium", method="cql2")
    with pytest.raises(ParameterError, match="context_len=-1"):
        RunConfig(env="hopper", dataset="medium", context_len=-1)
    with pytest.raises(ParameterError, match="reward_mode"):
        RunConfig(env="hopper", dataset="medium", reward_mode="sparse")
    with pytest.raises(ValueError, match="pct_bc"):
        RunConfig(env="hopper", dataset="medium", method="pct_bc", pct=1.0)


def test_an_episode_longer_than_the_timestep_embedding_is_refused_not_clamped():
    # hopper's timestep embedding has 1,000 rows: a 1,200-step episode's later timesteps have none
    with pytest.raises(DatasetError, match=r"1200 steps.*max_ep_len=1000"):
        build_model(RunConfig("hopper", "x", "dt"), hopper_like(n_episodes=2, length=1200))
    assert build_model(RunConfig("hopper", "x", "dt"), hopper_like(n_episodes=2, length=1000)).cfg.max_ep_len == 1000


def test_models_per_method_follow_the_presets():
    data = hopper_like()
    dt = build_model(RunConfig("hopper", "x", "dt"), data)
    bc = build_model(RunConfig("hopper", "x", "bc"), data)
    assert isinstance(dt, DecisionTransformer) and dt.cfg.n_layer == 3 and dt.cfg.context_len == 20
    assert isinstance(bc, MLPBC) and bc.cfg.embed_dim == 256
    np.testing.assert_allclose(dt.embed_state.norm.mean.numpy(), data.state_stats()[0], rtol=1e-5)
    assert build_model(RunConfig("hopper", "x", "dt", context_len=1), data).cfg.context_len == 1


@pytest.mark.parametrize("method,pct,mode", [("dt", 1.0, "delayed"), ("pct_bc", 0.3, "dense")])
def test_a_run_trains_evaluates_and_is_skipped_when_finished(tmp_path, method, pct, mode):
    data = hopper_like()
    cfg = RunConfig("hopper", "synthetic", method, pct=pct, reward_mode=mode)
    ev = EvalConfig(episodes=2, max_steps=20)
    r = run(cfg, data, tmp_path, ev, progress=False, steps=20, warmup_steps=5, log_every=5, checkpoint_every=10)
    assert r.done and len(r.evals()) == 4 and set(r.evals()["step"]) == {20}
    conf = r.summary() and __import__("json").loads(r.config_path.read_text())
    assert conf["RunConfig"]["method"] == method and conf["EvalConfig"]["delayed"] == (mode == "delayed")
    assert "git_commit" in conf
    again = run(cfg, data, tmp_path, ev, progress=False, steps=20, warmup_steps=5, log_every=5,
                checkpoint_every=10)
    assert again.path == r.path


def test_discrete_domains_build_from_dataset_metadata(tmp_path):
    from dtlib.data.generate import generate_keydoor_dataset

    data = generate_keydoor_dataset(50, seed=0)
    model = build_model(RunConfig("keydoor", "50", "dt"), data)
    assert model.cfg.discrete and model.cfg.encoder == "embedding" and model.cfg.context_len == 40
    bc = build_model(RunConfig("keydoor", "50", "bc"), data)
    assert isinstance(bc, DecisionTransformer) and not bc.cfg.use_returns  # the paper's transformer BC
    r = run(RunConfig("keydoor", "50", "dt"), data, tmp_path, EvalConfig(episodes=3), progress=False, steps=4,
            warmup_steps=1, log_every=2, checkpoint_every=2)
    assert set(r.evals()["return"]) <= {0.0, 1.0}


def test_env_specs_agree_with_the_envs():
    import gymnasium as gym

    import dtlib.envs  # noqa: F401
    from dtlib.specs import ENVS

    for name in ("keydoor", "graph", "hopper"):
        env = gym.make(ENVS[name].env_id)
        assert env.spec.max_episode_steps == ENVS[name].max_ep_len, name


def test_same_run_config_twice_gives_identical_numbers(tmp_path):
    data = hopper_like()
    cfg = RunConfig("hopper", "synthetic", "dt", seed=3)
    kw = dict(progress=False, steps=10, warmup_steps=2, log_every=5, checkpoint_every=10)
    import random

    import torch

    def scramble_global_rngs(seed):  # whatever ran before a run must not change its numbers
        torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
        torch.randn(seed + 1), np.random.rand(seed + 1), random.random()

    scramble_global_rngs(1)
    a = run(cfg, data, tmp_path / "a", EvalConfig(episodes=2, max_steps=15), **kw)
    scramble_global_rngs(2)
    b = run(cfg, data, tmp_path / "b", EvalConfig(episodes=2, max_steps=15), **kw)
    assert a.path.name == b.path.name and a.path != b.path  # same config and code: two independent runs
    assert a.metrics()["train/action_loss"].equals(b.metrics()["train/action_loss"])
    assert a.evals()["return"].equals(b.evals()["return"])
    other = run(RunConfig("hopper", "synthetic", "dt", seed=4), data, tmp_path / "c",
                EvalConfig(episodes=2, max_steps=15), **kw)
    assert not other.metrics()["train/action_loss"].equals(a.metrics()["train/action_loss"])  # it can differ
