"""The Atari study: parameters checked before any work, the grid as data, tables on tiny fake and real runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtlib import atari_study
from dtlib.data.episodes import EpisodeDataset
from dtlib.sweep import run_sweep
from dtlib.validate import ParameterError

PARAMS = dict(profile="smoke", games=["pong"], dataset_source="build", behaviour_steps=2000,
              behaviour_learning_starts=1000, replay_steps=500_000, data_seed=0, methods=["dt", "bc", "pct_bc"],
              pcts=[0.1, 0.25], seeds=[0, 1], dt_steps=3, bc_steps=2, batch_size=2, context_len=4,
              context_ablation=[1], n_layer=1, n_head=1, embed_dim=8, eval_episodes=2, max_eval_steps=30,
              figure4_targets={"pong": [-21, 0, 20]}, threads=1)


def frames_dataset(returns=(-21.0, -20.0, -19.0), length: int = 12, n_actions: int = 6, seed: int = 0):
    """Episodes of random 84x84 frames (stacked by 4 on read) whose rewards sum to `returns`."""
    rng = np.random.default_rng(seed)
    n = len(returns) * length
    rewards = np.zeros(n, np.float32)
    rewards[np.arange(len(returns)) * length] = returns
    return EpisodeDataset(observations=rng.integers(0, 256, (n, 84, 84), dtype=np.uint8),
                          actions=rng.integers(0, n_actions, n), rewards=rewards,
                          terminals=np.arange(n) % length == length - 1, timeouts=np.zeros(n, bool),
                          starts=np.arange(len(returns)) * length, frame_stack=4,
                          meta={"n_actions": n_actions, "source": "test"})


def test_the_grid_is_data():
    study = atari_study.AtariStudy(**PARAMS)
    cfgs = study.run_configs()
    # (dt, bc, 2 x %BC) x 2 seeds + K=1 x 2 seeds
    assert len(cfgs) == 8 + 2 and len({c.name for c in cfgs}) == len(cfgs)
    assert {c.context_len for c in cfgs} == {4, 1} and {c.dataset for c in cfgs} == {"dqn-build"}
    assert sorted(c.pct for c in cfgs if c.method == "pct_bc") == [0.1, 0.1, 0.25, 0.25]
    dt = next(c for c in cfgs if c.method == "dt" and c.context_len == 4)
    bc = next(c for c in cfgs if c.method == "bc")
    k1 = next(c for c in cfgs if c.context_len == 1)
    assert study.eval_config(dt).targets == (-21.0, 0.0, 20.0) and study.eval_config(dt).sample_actions
    assert study.eval_config(bc).targets == (20.0,) and study.eval_config(k1).targets == (20.0,)
    assert study.train_overrides(bc, 100)["steps"] == 2 and study.train_overrides(dt, 100)["steps"] == 3
    paper_steps = atari_study.AtariStudy(**{**PARAMS, "dt_steps": 0, "batch_size": 0})
    assert paper_steps.train_overrides(dt, 500_000) == {**paper_steps.train_overrides(dt, 500_000), "steps": 4883,
                                                        "batch_size": 512}  # Pong: 5 epochs at batch 512
    # K=0 means the paper's K (Pong 50); an ablation K equal to it adds no runs
    paper_k = atari_study.AtariStudy(**{**PARAMS, "context_len": 0, "context_ablation": [50, 1]})
    assert paper_k.k("pong") == 50 and len(paper_k.run_configs()) == 10
    assert {c.context_len for c in paper_k.run_configs()} == {50, 1}  # explicit: the model's K is the paper's
    # small's grid: DT and BC only; the deviations say that %BC and K=1 were not run
    lean = atari_study.AtariStudy(**{**PARAMS, "methods": ["dt", "bc"], "context_ablation": []})
    assert {(c.method, c.context_len) for c in lean.run_configs()} == {("dt", 4), ("bc", 4)}
    said = " ".join(atari_study.deviations(lean))
    assert "%BC not run" in said and "No context-length runs" in said
    assert "%BC fractions: 10%, 25%" in " ".join(atari_study.deviations(study))


@pytest.mark.parametrize("bad,match", [
    ({"games": ["pacman"]}, r"games=\['pacman'\]: 'pacman' is not allowed"), ({"games": ["pong", "pong"]}, "repeats"),
    ({"methods": ["bc"]}, "must include 'dt'"), ({"methods": ["dt", "cql"]}, "'cql' is not allowed; methods"),
    ({"dataset_source": "/nonexistent/dqn"}, "replay_logs"), ({"dataset_source": ""}, "dataset_source"),
    ({"dt_steps": -1}, "dt_steps=-1"), ({"batch_size": 1.5}, "batch_size"), ({"embed_dim": 10, "n_head": 4}, "multiple of n_head"),
    ({"pcts": [1.0]}, r"pcts=\[1.0\]: 1.0 is not allowed"), ({"context_ablation": [0]}, "context_ablation"),
    ({"figure4_targets": {"mario": [1]}}, "figure4_targets='mario'"), ({"figure4_targets": [20]}, "dict"),
    ({"behaviour_learning_starts": 5000}, "behaviour_learning_starts"), ({"profile": "big"}, "profile='big'"),
    ({"precision": "fp16"}, "precision='fp16'"), ({"dropout_masks": "dense"}, "dropout_masks='dense'"),
    ({"encoder": "resnet"}, "encoder='resnet'"),
    ({"games": ["breakout"], "figure4_targets": {}, "encoder": "behaviour"}, "encoder='behaviour': no behaviour snap")])
def test_bad_parameters_are_named_before_any_work(bad, match):
    with pytest.raises(ParameterError, match=match) as error:
        atari_study.AtariStudy(**{**PARAMS, **bad})
    assert "\n" not in str(error.value)


def test_a_dqn_replay_folder_is_accepted_when_the_game_is_there(tmp_path):
    (tmp_path / "Pong" / "1" / "replay_logs").mkdir(parents=True)
    study = atari_study.AtariStudy(**{**PARAMS, "dataset_source": str(tmp_path)})
    assert study.source_label == "dqn-replay" and "DQN-replay run 1" in atari_study.deviations(study)[0]


def fake_evals() -> pd.DataFrame:
    """Eval rows as run_sweep returns them: DT beats BC and %BC, K=1 is worse, returns follow the targets."""
    rows = []

    def add(method, pct, k, seed, target, ret, step=3):
        for ep in range(2):
            rows.append({"step": step, "target": target, "episode": ep, "episode_seed": 10_000 + ep, "seed": seed, "return": ret + ep,
                         "normalized_score": 100 * (ret + ep + 21) / 36, "length": 800, "game": "pong",
                         "method": method, "pct": pct, "K": k, "run": f"{method}{pct}-K{k}-s{seed}"})

    for s in (0, 1):
        for t in (-21.0, 0.0, 20.0):
            add("dt", 1.0, 4, s, t, -15.0 + t / 4 + s)
        add("dt", 1.0, 4, s, 20.0, -99.0, step=1)  # an earlier evaluation: ignored (last step only)
        add("bc", 1.0, 4, s, 20.0, -20.0 + s * 0.5)
        add("pct_bc", 0.1, 4, s, 20.0, -21.0)
        add("dt", 1.0, 1, s, 20.0, -19.0)
    return pd.DataFrame(rows)


def test_tables_on_fake_runs():
    per_run = atari_study.run_scores(fake_evals())
    assert len(per_run) == 2 * (3 + 1 + 1 + 1) and (per_run["episodes"] == 2).all()
    ks = {"pong": 4}
    t1 = atari_study.table1(per_run, ks)
    assert list(t1["method"]) == ["DT", "BC"] and (t1["seeds"] == 2).all()
    assert t1.loc[0, "return_mean"] == pytest.approx(-15.0 + 5 + 0.5 + 0.5)  # episodes +0.5, seeds +0.5
    assert t1.loc[0, "paper_score"] == 106.1 and t1.loc[1, "paper_return"] == 9.7
    t4 = atari_study.table4(per_run, ks)
    assert list(t4["method"]) == ["DT", "10%BC", "BC"] and t4.loc[1, "paper_score"] == 2.5
    t5 = atari_study.table5(per_run, ks)
    assert list(t5["K"]) == [4, 1] and list(t5["paper_score"]) == [106.1, 2.5] and list(t5["paper_K"]) == [50, 1]
    data = {"pong": frames_dataset()}
    fig4 = atari_study.figure4(per_run, data, ks)
    assert len(fig4) == 6 and (fig4["dataset_best"] == -19.0).all()
    corr = atari_study.figure4_correlation(fig4)
    assert corr.loc[0, "spearman_rho"] == pytest.approx(1.0)
    assert atari_study.dataset_table(data).loc[0, "return_max"] == -19.0


def test_built_datasets_are_cached_and_the_tiny_sweep_runs(tmp_path, monkeypatch):
    from dtlib.data import atari_build

    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    calls = []

    def fake_build(cfg, progress=False):
        calls.append(cfg)
        return frames_dataset(seed=len(calls))

    monkeypatch.setattr(atari_build, "build_atari_dataset", fake_build)
    study = atari_study.AtariStudy(**{**PARAMS, "seeds": [0], "pcts": [0.4], "figure4_targets": {}})
    data = atari_study.load_datasets(study)
    again = atari_study.load_datasets(study)
    assert len(calls) == 1 and np.array_equal(data["pong"].observations, again["pong"].observations)
    assert calls[0].total_steps == 2000 and calls[0].learning_starts == 1000
    evals = atari_study.tidy(run_sweep(atari_study.jobs(study, data), tmp_path / "runs", workers=1, progress=False),
                             study)
    per_run = atari_study.run_scores(evals)
    assert set(per_run["method"]) == {"dt", "bc", "pct_bc"} and (per_run["length"] <= 30).all()
    assert set(per_run["encoder"]) == {"cnn"}
    ks = atari_study.study_ks(study)
    assert len(atari_study.table1(per_run, ks)) == 2 and len(atari_study.table5(per_run, ks)) == 2
    evals2 = atari_study.tidy(run_sweep(atari_study.jobs(study, again), tmp_path / "runs", workers=1,
                                        progress=False), study)  # finished runs reused
    assert evals2["return"].equals(evals["return"])


def test_precision_and_masks_reach_the_runs(tmp_path, monkeypatch):
    """bf16 and packed masks reach the CNN-DT's config (a run of its own); 'auto' is resolved before any config."""
    import json

    from dtlib.compute import resolve_precision
    from dtlib.data import atari_build

    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(atari_build, "build_atari_dataset", lambda cfg, progress=False: frames_dataset())
    tiny = {**PARAMS, "methods": ["dt"], "seeds": [0], "context_ablation": [], "dt_steps": 1, "eval_episodes": 1,
            "max_eval_steps": 5, "figure4_targets": {}}
    for precision, masks in [("fp32", "bernoulli"), ("bf16", "packed")]:
        study = atari_study.AtariStudy(**{**tiny, "precision": precision, "dropout_masks": masks})
        result = run_sweep(atari_study.jobs(study, atari_study.load_datasets(study)), tmp_path / precision,
                           workers=1, progress=False)
        (run,) = result.runs["run"]
        config = json.loads((tmp_path / precision / run / "config.json").read_text())
        assert config["ModelConfig"]["dropout_masks"] == masks and config["TrainConfig"]["precision"] == precision
        assert config["ModelConfig"]["n_layer"] == tiny["n_layer"]  # the profile's sizes still reach the model
    assert next((tmp_path / "fp32").glob("pong-*")).name != next((tmp_path / "bf16").glob("pong-*")).name
    auto = atari_study.AtariStudy(**{**tiny, "precision": "auto"})
    dt = auto.run_configs()[0]
    assert auto.train_overrides(dt, 100).get("precision", "fp32") == resolve_precision("auto", "auto")


def test_tables_read_the_paper_target_only_and_cannot_gain_from_a_best_of():
    """A default-K DT scores far better at an extra (Figure 4) target: Tables 1, 4 and 5 do not change."""
    evals = fake_evals()
    ks = {"pong": 4}
    before = atari_study.table1(atari_study.run_scores(evals), ks)
    extra = evals[(evals["method"] == "dt") & (evals["K"] == 4) & (evals["target"] == 20.0) & (evals["step"] == 3)]
    extra = extra.assign(target=25.0, **{"return": 21.0, "normalized_score": 120.0})
    after_runs = atari_study.run_scores(pd.concat([evals, extra], ignore_index=True))
    pd.testing.assert_frame_equal(atari_study.table1(after_runs, ks), before)
    assert atari_study.table5(after_runs, ks)["score_mean"].max() < 120.0
    assert after_runs["target"].max() == 25.0  # the better target is in the runs table, for Figure 4 only


def test_the_snapshot_mixture_source(tmp_path, monkeypatch):
    """'snapshots' needs committed snapshots (one-line error otherwise); its mixture is built once and reused."""
    from dtlib import atari_behaviour
    from dtlib.data import atari_replay

    monkeypatch.setattr(atari_behaviour, "committed_dir", lambda game: tmp_path / "behaviour" / game)
    with pytest.raises(ParameterError, match="dataset_source='snapshots'.*pong"):
        atari_study.AtariStudy(**{**PARAMS, "dataset_source": "snapshots"})
    folder = tmp_path / "behaviour" / "pong"
    folder.mkdir(parents=True)
    (folder / "snapshots.csv").write_text("snapshot,agent_steps,eval_return_mean,share\nstep_1,1,-21,1.0\n")
    (folder / "step_1.pt").write_bytes(b"weights v1")
    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    calls = []

    def fake_mix(cfg, progress=False):
        calls.append(cfg)
        ds = frames_dataset(seed=len(calls))
        ds.meta.update(generator="dtlib.data.atari_replay", episode_snapshot=["step_1"] * ds.n_episodes)
        return ds

    monkeypatch.setattr(atari_replay, "build_replay_dataset", fake_mix)
    study = atari_study.AtariStudy(**{**PARAMS, "dataset_source": "snapshots", "replay_steps": 36})
    assert study.source_label == "dqn-snapshots"
    first = atari_study.load_datasets(study)
    atari_study.load_datasets(study)
    assert len(calls) == 1 and calls[0].n_steps == 36 and calls[0].seed == 0
    table = atari_study.snapshot_returns(first)
    assert list(table["snapshot"]) == ["step_1"] * 3 and list(table["return"]) == [-21.0, -20.0, -19.0]
    (folder / "step_1.pt").write_bytes(b"weights v2")  # new snapshot weights: a new mixture
    atari_study.load_datasets(study)
    assert len(calls) == 2
    assert "snapshots trained here" in atari_study.deviations(study)[0]


def test_the_behaviour_encoder_reaches_every_run_and_the_deviations(tmp_path, monkeypatch):
    """encoder='behaviour': DT, BC and %BC all embed frames with the best committed Pong snapshot's torso, fixed
    (its own run identity), and the deviations say so; the paper's CNN stays the default."""
    import json

    from dtlib.data import atari_build

    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(atari_build, "build_atari_dataset", lambda cfg, progress=False: frames_dataset())
    tiny = {**PARAMS, "seeds": [0], "pcts": [0.4], "context_ablation": [], "dt_steps": 1, "bc_steps": 1,
            "eval_episodes": 1, "max_eval_steps": 5, "figure4_targets": {}}
    assert atari_study.AtariStudy(**tiny).encoder == "cnn"
    study = atari_study.AtariStudy(**{**tiny, "encoder": "behaviour"})
    for rc in study.run_configs():
        over = study.model_overrides(rc)
        assert over["encoder"] == "frozen_cnn" and over["encoder_weights"] == "behaviour/atari/pong/step_01200000.pt"
    assert "step_01200000.pt), fixed" in " ".join(atari_study.deviations(study))
    assert "CNN encoder unchanged" in " ".join(atari_study.deviations(atari_study.AtariStudy(**tiny)))
    result = run_sweep(atari_study.jobs(study, atari_study.load_datasets(study)), tmp_path / "runs", workers=1,
                       progress=False)
    assert len(result.runs) == 3
    for run in result.runs["run"]:
        config = json.loads((tmp_path / "runs" / run / "config.json").read_text())
        assert config["ModelConfig"]["encoder"] == "frozen_cnn"
    paper = run_sweep(atari_study.jobs(atari_study.AtariStudy(**tiny), atari_study.load_datasets(study)),
                      tmp_path / "runs", workers=1, progress=False)
    assert not set(paper.runs["run"]) & set(result.runs["run"])  # another encoder, other runs
