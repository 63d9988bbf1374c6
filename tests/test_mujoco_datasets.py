"""Dataset generation with tiny budgets and untrained policies: shapes, flags, metadata, determinism, reuse."""
from pathlib import Path

import numpy as np
import pytest

from dtlib import behaviour
from dtlib.data import generate_mujoco as gm
from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.data.minari_io import load_minari
from dtlib.validate import ParameterError


@pytest.fixture
def policies(tmp_path, monkeypatch):
    """Untrained stand-ins for the committed Hopper policies and medium-replay buffer, in a temporary folder."""
    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    monkeypatch.setattr(behaviour, "committed_dir", lambda env: tmp_path / "behaviour" / env)
    folder = tmp_path / "behaviour" / "hopper"
    folder.mkdir(parents=True)
    for role, seed in (("medium", 1), ("expert", 2)):
        info = {"role": role, "algorithm": "untrained", "config": {"hidden": 32}, "training_steps": 10 * seed,
                "eval": {"normalized_score": float(seed)}}
        behaviour.Policy.untrained(11, 3, seed, hidden=32, info=info).save(folder / role)
    replay, _ = gm.rollout("Hopper-v5", 600, seed=5)
    replay.meta = {"role": "medium-replay", "algorithm": "untrained", "training_steps": 10}
    replay.save(folder / "medium_replay.npz")
    return folder


def test_timeouts_and_terminations_are_recorded_apart():
    ds, finals = gm.rollout("HalfCheetah-v5", 2500, seed=0)  # HalfCheetah never terminates: 1000-step cuts
    assert ds.n_steps == 2000 and ds.n_episodes == 2 and finals.shape == (2, 17)  # the partial third is cut
    np.testing.assert_array_equal(np.flatnonzero(ds.timeouts), [999, 1999])
    assert not ds.terminals.any()
    hop, _ = gm.rollout("Hopper-v5", 300, seed=0)  # random Hopper falls within tens of steps: terminations
    assert hop.terminals.sum() == hop.n_episodes and not hop.timeouts.any()
    assert hop.observations.shape == (hop.n_steps, 11) and hop.actions.shape == (hop.n_steps, 3)
    assert np.abs(hop.actions).max() <= 1.0


def test_rollouts_are_deterministic_given_the_seed():
    p = behaviour.Policy.untrained(11, 3, seed=0, hidden=32)
    a, fa = gm.rollout("Hopper-v5", 400, seed=3, policy=p)
    b, fb = gm.rollout("Hopper-v5", 400, seed=3, policy=p)
    c, _ = gm.rollout("Hopper-v5", 400, seed=4, policy=p)
    np.testing.assert_array_equal(a.observations, b.observations)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a.actions[:10], c.actions[:10])


def test_build_writes_five_kinds_with_metadata_and_reuses_them(policies):
    cfg = gm.MujocoDataConfig(envs=("hopper",), n_steps=500, replay_steps=300, namespace="dtlib-test")
    table = gm.build_datasets(cfg)
    assert list(table["kind"]) == list(gm.KINDS) and not table["reused"].any()
    ds = {k: load_minari(cfg.dataset_id("hopper", k)) for k in gm.KINDS}
    med, exp, me = ds["medium"], ds["expert"], ds["medium-expert"]
    assert med.meta["behaviour_training_steps"] == 10 and exp.meta["behaviour_training_steps"] == 20
    assert med.meta["ref_min_score"] == -20.272305 and med.meta["ref_max_score"] == 3234.3
    assert med.meta["settings"] == {"kind": "medium", "size": 500, "seed": 0, "policies": "committed",
                                    "train_steps": None, "policy_digest": gm.policy_digest("hopper", "medium")}
    assert med.meta["env_id"] == "Hopper-v5" and "git_commit" in med.meta and "dtlib_version" in med.meta
    assert ds["random"].meta["algorithm"] == "uniform random policy"
    assert 0 < ds["medium-replay"].n_steps <= 300  # the buffer's first whole episodes
    # medium-expert = medium's episodes, then expert's
    assert me.n_steps == med.n_steps + exp.n_steps and me.n_episodes == med.n_episodes + exp.n_episodes
    np.testing.assert_array_equal(me.observations, np.concatenate([med.observations, exp.observations]))
    np.testing.assert_array_equal(me.starts, np.concatenate([med.starts, exp.starts + med.n_steps]))
    np.testing.assert_allclose(me.episode_returns, np.concatenate([med.episode_returns, exp.episode_returns]))
    assert not np.array_equal(med.actions[:50], exp.actions[:50])  # different policies
    again = gm.build_datasets(cfg)  # same settings: reused, not regenerated
    assert again["reused"].all() and (again["generation_s"] == 0).all()
    assert again.drop(columns=["generation_s", "reused"]).equals(table.drop(columns=["generation_s", "reused"]))
    behaviour.Policy.untrained(11, 3, 9, hidden=32, info={"role": "expert"}).save(policies / "expert")
    newer = gm.build_datasets(gm.replace(cfg, kinds=("medium", "expert")))  # a new checkpoint: regenerated
    assert list(newer["reused"]) == [True, False]
    bigger = gm.build_datasets(gm.replace(cfg, n_steps=700, kinds=("medium",)))  # new settings: regenerated
    assert not bigger["reused"].iloc[0] and load_minari(cfg.dataset_id("hopper", "medium")).n_steps <= 700


def test_envs_built_in_parallel_give_the_same_arrays(policies):
    """workers=2 builds each env in its own process: the same table rows (env order) and identical arrays."""
    cfg = gm.MujocoDataConfig(envs=("hopper", "halfcheetah"), kinds=("random",), n_steps=1200)
    one = gm.build_datasets(gm.replace(cfg, namespace="dtlib-one"), workers=1)
    two = gm.build_datasets(gm.replace(cfg, namespace="dtlib-two"), workers=2)
    assert list(two["env"]) == ["hopper", "halfcheetah"] and not two["reused"].any()
    cols = ["env", "kind", "episodes", "transitions", "return_mean"]
    assert one[cols].equals(two[cols])
    for env in cfg.envs:
        a, b = (load_minari(gm.replace(cfg, namespace=ns).dataset_id(env, "random")) for ns in ("dtlib-one", "dtlib-two"))
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)
    with pytest.raises(ParameterError, match="workers=0"):
        gm.build_datasets(cfg, workers=0)


def test_missing_policy_and_bad_parameters_are_clear(policies):
    with pytest.raises(DatasetError, match="no committed behaviour policy for walker2d"):
        gm.build_datasets(gm.MujocoDataConfig(envs=("walker2d",), kinds=("medium",), n_steps=100))
    with pytest.raises(ParameterError, match=r"envs=\('ant',\): 'ant' is not allowed"):
        gm.MujocoDataConfig(envs=("ant",))
    with pytest.raises(ParameterError, match="n_steps=0"):
        gm.MujocoDataConfig(profile="small", envs=["hopper"], kinds=["medium"], n_steps=0)
    with pytest.raises(ParameterError, match="profile='huge'"):
        gm.MujocoDataConfig(profile="huge", envs=["hopper"], kinds=["medium"])
    assert gm.MujocoDataConfig(profile="paper", envs=["hopper"]).dataset_id("hopper", "medium") == "dtlib/hopper/medium-v0"
    assert gm.MujocoDataConfig(profile="smoke").dataset_id("hopper", "medium") == "dtlib-smoke/hopper/medium-v0"


def test_sac_run_snapshots_medium_replay_and_expert_and_resumes(tmp_path):
    """A 300-step SAC run: stopped at a deadline, resumed, medium + its replay buffer saved, numpy actor = SB3's."""
    import dataclasses

    from stable_baselines3 import SAC

    cfg = behaviour.SACConfig(total_steps=300, learning_starts=100, eval_every=100, eval_episodes=1,
                              checkpoint_every=100, medium_score=-1e9, net_arch=(32, 32))
    out = behaviour.train(cfg, tmp_path / "run", deadline=0.0, export=False)  # past deadline: stops at once
    assert SAC.load(out / "sac.zip", device="cpu").num_timesteps == 1
    behaviour.train(cfg, out, export=False)  # the same command resumes from the checkpoint
    state = behaviour.io.read_json(out / "state.json")
    assert [r["step"] for r in state["curve"]] == [100, 200, 300] and state["medium_step"] == 100
    assert state["best"]["step"] in (100, 200, 300) and (out / "expert.pt").exists()
    replay = EpisodeDataset.load(out / "medium_replay.npz")  # the buffer at step 100, unfinished episode cut
    assert replay.n_steps <= 100 and replay.terminals.sum() + replay.timeouts.sum() == replay.n_episodes
    assert replay.meta["training_steps"] == 100 and replay.meta["role"] == "medium-replay"
    model = SAC.load(out / "sac.zip", device="cpu")
    assert model.num_timesteps == 300
    policy = behaviour.Policy.from_sb3(model)
    obs = np.random.default_rng(0).normal(size=(5, 11))
    np.testing.assert_allclose(policy.mean_action(obs), model.predict(obs, deterministic=True)[0], atol=1e-5)
    with pytest.raises(ParameterError, match="holds a run with another config"):
        behaviour.train(dataclasses.replace(cfg, total_steps=400), out, export=False)


def test_sac_evaluates_often_near_the_medium_threshold_and_old_run_folders_resume(tmp_path):
    """Between `medium_watch` and the medium snapshot evaluations come every `eval_every_near_medium` steps
    (a fast learner cannot jump D4RL's medium range); a config.json written before those fields existed resumes."""
    import dataclasses

    cfg = behaviour.SACConfig(total_steps=300, learning_starts=100, eval_every=100, eval_episodes=1,
                              checkpoint_every=100, medium_score=1e9, medium_watch=-1e9,
                              eval_every_near_medium=50, net_arch=(32, 32))
    out = behaviour.train(cfg, tmp_path / "run", deadline=0.0, export=False)
    old = {k: v for k, v in behaviour.io.read_json(out / "config.json").items()
           if k not in ("medium_watch", "eval_every_near_medium")}
    behaviour.io.write_json(out / "config.json", old)  # as written by an older dtlib
    behaviour.train(cfg, out, export=False)
    state = behaviour.io.read_json(out / "state.json")
    assert [r["step"] for r in state["curve"]] == [100, 150, 200, 250, 300] and state["medium_step"] is None
    far = dataclasses.replace(cfg, total_steps=200, medium_watch=1e9)  # never near: the coarse schedule only
    behaviour.train(far, tmp_path / "far", export=False)
    assert [r["step"] for r in behaviour.io.read_json(tmp_path / "far" / "state.json")["curve"]] == [100, 200]


def test_fine_evaluation_starts_at_the_watch_score_and_lasts_until_the_medium_snapshot():
    cfg = behaviour.SACConfig(medium_watch=20.0)
    curve = lambda *scores: [{"normalized_score": x} for x in scores]  # noqa: E731
    assert not behaviour.near_medium({"curve": curve(), "medium_step": None}, cfg)
    assert not behaviour.near_medium({"curve": curve(5.0, 19.9), "medium_step": None}, cfg)
    assert behaviour.near_medium({"curve": curve(5.0, 21.4), "medium_step": None}, cfg)
    assert behaviour.near_medium({"curve": curve(5.0, 21.4, 19.8), "medium_step": None}, cfg)  # a dip: still near
    assert not behaviour.near_medium({"curve": curve(21.4, 36.1), "medium_step": 190_000}, cfg)


def test_dataset_deviations_give_each_medium_snapshot_its_share_of_the_expert():
    import pandas as pd

    from dtlib.data import generate_mujoco as gm

    policies = pd.DataFrame([
        {"env": "walker2d", "role": "medium", "training_steps": 190_000, "eval_normalized": 36.1, "net_arch": "256x256",
         "note": ""},
        {"env": "walker2d", "role": "expert", "training_steps": 370_000, "eval_normalized": 93.5, "net_arch": "256x256",
         "note": ""}])
    items = gm.deviations(gm.MujocoDataConfig(envs=["walker2d"], kinds=["medium"], n_steps=10, train_steps=10),
                          pd.DataFrame(), policies)
    medium = [d for d in items if d.startswith("walker2d: the medium snapshot")]
    assert len(medium) == 1 and "36.1" in medium[0] and "(39% of the expert's; D4RL: ~1/3)" in medium[0]
    assert any("best evaluation within the training budget (370,000 SAC steps" in d for d in items)


def test_split_overlong_cuts_an_episode_that_outlasts_the_time_limit():
    """A replay buffer's episode longer than the env's limit is two whose flag was lost: cut at the limit."""
    n = 25
    rng = np.random.default_rng(0)
    terminals, timeouts = np.zeros(n, bool), np.zeros(n, bool)
    timeouts[[4, 23]] = True  # episodes of 5 and 19 steps (the second over a limit of 10); 1 trailing step unflagged
    ds = EpisodeDataset.from_flat(rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32),
                                  rng.normal(size=n).astype(np.float32), terminals, timeouts)
    out = gm.split_overlong(ds, 10)
    assert list(out.lengths) == [5, 10, 9] and out.meta["split_overlong"] == 1
    assert out.timeouts[14] and np.array_equal(out.observations, ds.observations[:24])
    assert gm.split_overlong(out, 10) is out  # nothing over the limit: returned as is


def test_the_committed_halfcheetah_replay_buffer_loads_within_the_time_limit():
    ds, _, _ = gm.generate("halfcheetah", "medium-replay", gm.MujocoDataConfig(envs=["halfcheetah"],
                                                                                kinds=["medium-replay"]))
    raw = EpisodeDataset.load(Path(gm.__file__).resolve().parents[2] / "behaviour" / "halfcheetah" / "medium_replay.npz")
    assert max(raw.lengths) > 1000 >= max(ds.lengths) and ds.n_steps == raw.n_steps
