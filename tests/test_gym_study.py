import numpy as np
import pytest

from dtlib import gym_study
from dtlib.specs import get_env_spec
from dtlib.sweep import run_sweep
from dtlib.validate import ParameterError
from test_experiment import hopper_like

PARAMS = dict(profile="smoke", envs=["hopper"], datasets=["medium", "medium-replay"], methods=["dt", "bc", "pct_bc"],
              pcts=[0.5], seeds=[0, 1], dt_steps=6, bc_steps=6, cql_steps=6, batch_size=8, eval_episodes=2,
              eval_every=3, context_ablation=[1], delayed=True, figure4_points=3, dataset_template="", threads=1)


def test_the_sweep_is_data():
    study = gym_study.GymStudy(**PARAMS)
    cfgs = study.run_configs()
    # 2 datasets x (dt, bc, 1 %BC) x 2 seeds + K=1 on 2 datasets x 2 seeds + delayed DT 2 x 2
    assert len(cfgs) == 12 + 4 + 4
    assert len({c.name for c in cfgs}) == len(cfgs)
    assert {c.context_len for c in cfgs} == {0, 1} and {c.reward_mode for c in cfgs} == {"dense", "delayed"}
    assert gym_study.dataset_source(study, "hopper", "medium") == "dtlib-smoke/hopper/medium-v0"


@pytest.mark.parametrize("bad,match", [({"envs": ["ant"]}, r"envs=\['ant'\]: 'ant' is not allowed"), ({"dt_steps": -5}, "dt_steps=-5"),
                                       ({"datasets": []}, "datasets"), ({"dataset_template": "x.hdf5"}, "template")])
def test_bad_parameters_are_named(bad, match):
    with pytest.raises(ParameterError, match=match):
        gym_study.GymStudy(**{**PARAMS, **bad})


def test_sweep_tables_and_figure4_on_synthetic_data(tmp_path):
    for i, ds in enumerate(("medium", "medium-replay")):
        hopper_like(n_episodes=6, length=25, seed=i).save(tmp_path / f"hopper_{ds}.npz")
    study = gym_study.GymStudy(**{**PARAMS, "dataset_template": str(tmp_path / "{env}_{dataset}.npz")})
    data = gym_study.load_datasets(study)
    import dataclasses

    study = dataclasses.replace(study, eval_episodes=1)
    evals = run_sweep(gym_study.jobs(study), tmp_path / "runs", workers=1, progress=False).evals
    scores = gym_study.seed_scores(evals)
    per_run = gym_study.run_scores(scores)
    assert len(per_run) == len(study.run_configs())
    assert (per_run["best"] >= per_run["last"]).all()
    t2 = gym_study.table2(per_run)
    assert set(t2["method"]) == {"DT", "BC", "50%BC"}
    dt_row = t2[(t2["method"] == "DT") & (t2["dataset"] == "medium-replay")].iloc[0]
    assert dt_row["paper"] == 82.7 and dt_row["corl_last"] == pytest.approx(81.77) and dt_row["seeds"] == 2
    from dtlib import plots

    assert len(plots.fig_gym_scores(gym_study.table2_runs(per_run), t2).axes[0].patches) == len(t2)  # a bar per row
    ab = gym_study.ablation_table(per_run, "hopper")
    both = gym_study.ablation_tables(per_run, study)
    assert list(both.columns[:2]) == ["env", "dataset"] and set(both["env"]) == {"hopper"} and len(both) == len(ab)
    assert set(ab["K"]) == {1, 20} and set(ab["reward_mode"]) == {"dense", "delayed"}
    assert (ab[ab["method"] == "dt"]["K"] == 1).sum() == 2  # the K=1 runs on both datasets
    assert ab.query("dataset == 'medium-replay' and reward_mode == 'delayed'")["paper"].iloc[0] == 78.5
    assert len(gym_study.dt_vs_bc(per_run, "medium", reps=100)) == 1
    sweep = gym_study.figure4_sweep(study, tmp_path / "runs", data, progress=False)
    assert sweep["target"].nunique() == 3 and set(sweep["seed"]) == {0, 1}
    corr = gym_study.figure4_correlation(sweep)
    assert list(corr["env"]) == ["hopper"]
    assert len(gym_study.dataset_table(data)) == 2 and len(gym_study.deviations(study)) >= 6
    for (env, name), ds in data.items():  # score_top10: the mean score of exactly the episodes 10%BC clones
        row = gym_study.dataset_table({(env, name): ds}).iloc[0]
        top = get_env_spec(env).normalize(ds.top_fraction(0.1).episode_returns)
        assert row["score_top10"] == pytest.approx(top.mean()) and row["score_mean"] <= row["score_top10"] \
            <= row["score_max"]
    assert (per_run["last_max_over_targets"] >= per_run["last"]).all()  # the extra best-of column, never the score


def test_figure4_targets_span_below_to_above_the_best_episode():
    ds = hopper_like()
    t = gym_study.figure4_targets(ds, 5)
    assert t[0] < np.median(ds.episode_returns) and t[-1] > ds.episode_returns.max() and len(t) == 5


def test_gym_figures_render_from_tables():
    import pandas as pd
    from matplotlib.collections import PathCollection

    from dtlib import plots

    runs = pd.DataFrame({"env": "hopper", "dataset": ["medium"] * 4 + ["medium-replay"] * 3,
                         "method": ["DT", "DT", "BC", "BC", "DT", "DT", "BC"], "seed": [0, 1, 0, 1, 0, 1, 0],
                         "last": [50, 54, 40, 42, 60, 64, 20]})
    t = pd.DataFrame({"env": "hopper", "dataset": ["medium", "medium", "medium-replay", "medium-replay"],
                      "method": ["DT", "BC"] * 2, "paper": [67.6, 63.9, 82.7, np.nan]})
    ax = plots.fig_gym_scores(runs, t).axes[0]
    assert ax.get_title() == "hopper" and sorted(p.get_height() for p in ax.patches) == [20, 41, 52, 62]  # seed means
    centres = sorted(round(p.get_x() + p.get_width() / 2, 6) for p in ax.patches)
    marks = next(c for c in ax.collections if c.get_label() == "paper").get_segments()
    assert len(marks) == 3  # none where the paper has no number
    assert {round((a[0] + b[0]) / 2, 6) for a, b in marks} <= set(centres)  # each mark centred on its bar
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == len(runs)  # every seed a dot
    legend = ax.get_legend()
    assert "95% bootstrap CI" in legend.get_title().get_text() and legend.get_texts()[-1].get_text() == "paper"
    sweep = pd.DataFrame({"env": "hopper", "seed": [0, 0, 1, 1], "target": [100, 200, 100, 200],
                          "return": [90, 180, 110, 170], "dataset_best": 150.0})
    fig = plots.fig_target_return(sweep)
    assert fig.axes[0].get_xlabel() == "target return"


def test_parallel_workers_give_the_same_runs_as_one_process(tmp_path):
    """Runs trained on a LocalCluster of 2 workers equal those trained in-process (seeded by config only)."""
    import dataclasses

    hopper_like(n_episodes=6, length=25, seed=0).save(tmp_path / "hopper_medium.npz")
    base = gym_study.GymStudy(**{**PARAMS, "datasets": ["medium"], "methods": ["dt", "cql"],
                                     "context_ablation": [], "delayed": False, "seeds": [0],
                                     "dataset_template": str(tmp_path / "{env}_{dataset}.npz")})
    base = dataclasses.replace(base, eval_episodes=1, eval_every=0)
    data = gym_study.load_datasets(base)
    one = run_sweep(gym_study.jobs(base), tmp_path / "one", workers=1, progress=False).evals
    two = run_sweep(gym_study.jobs(base), tmp_path / "two", workers=2, progress=False).evals
    cols = ["run", "target", "episode", "return"]
    assert one[cols].equals(two[cols])
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith((".", "logs"))) \
        == sorted(set(one["run"]))


def test_cql_precision_enters_the_run_config():
    study = gym_study.GymStudy(**{**PARAMS, "methods": ["cql"], "cql_precision": "bf16"})
    cql = [c for c in study.run_configs() if c.method == "cql"][0]
    assert study.model_overrides(cql) == {"precision": "bf16"}
    with pytest.raises(ParameterError, match="cql_precision"):
        gym_study.GymStudy(**{**PARAMS, "cql_precision": "fp16"})


def test_auto_precision_and_packed_masks_reach_the_runs_resolved():
    """'auto' becomes this machine's precision (bf16 only with a bf16 matmul unit) before any run config is built."""
    from dtlib.compute import resolve_precision

    study = gym_study.GymStudy(**{**PARAMS, "methods": ["dt", "bc", "cql"], "cql_precision": "auto",
                                  "precision": "auto", "dropout_masks": "packed"})
    by_method = {c.method: c for c in study.run_configs()}
    here = resolve_precision("auto")
    assert study.model_overrides(by_method["cql"]) == {"precision": here}
    for method in ("dt", "bc"):
        assert study.model_overrides(by_method[method]) == {"dropout_masks": "packed"}
        assert study.train_overrides(by_method[method]).get("precision", "fp32") == here
    paper = gym_study.GymStudy(**PARAMS)  # defaults: fp32 and Bernoulli masks, no overrides (existing runs keep)
    assert paper.model_overrides(by_method["dt"]) == {} and "precision" not in paper.train_overrides(by_method["dt"])
    for bad in ({"precision": "fp16"}, {"dropout_masks": "dense"}):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            gym_study.GymStudy(**{**PARAMS, **bad})


def _per_run(rows):
    import pandas as pd

    out = []
    for method, mode, scores in rows:
        for seed, s in enumerate(scores):
            out.append({"env": "hopper", "dataset": "medium-expert", "method": method, "pct": 1.0, "context_len": 0,
                        "reward_mode": mode, "seed": seed, "run": f"{method}-{mode}-{seed}", "last": s, "best": s})
    return pd.DataFrame(out)


def test_delayed_drop_reads_the_numbers():
    collapse = _per_run([("dt", "dense", [60, 61, 62]), ("cql", "dense", [50, 52, 54]),
                         ("cql", "delayed", [2, 3, 4])])
    drop = gym_study.delayed_drop(collapse, "hopper", "cql", reps=200).iloc[0]
    assert drop["dense"] == 52 and drop["delayed"] == 3 and drop["drop"] == 49 and drop["ci_low"] > 0
    gap = gym_study.method_gap(collapse, "medium-expert", "dt", "cql", reps=200).iloc[0]
    assert gap["dt_minus_cql"] == 9 and gap["ci_low"] <= 9 <= gap["ci_high"] and "verdict" not in gap


def test_delayed_runs_can_be_limited_to_some_datasets():
    study = gym_study.GymStudy(**{**PARAMS, "delayed_datasets": ["medium-replay"]})
    delayed = [c for c in study.run_configs() if c.reward_mode == "delayed"]
    assert {c.dataset for c in delayed} == {"medium-replay"} and len(delayed) == 2  # DT x 2 seeds
    assert any("medium-replay only" in d for d in gym_study.deviations(study))
    with pytest.raises(ParameterError, match="delayed_datasets"):
        gym_study.GymStudy(**{**PARAMS, "delayed_datasets": ["expert"]})


def test_delayed_runs_on_several_envs():
    study = gym_study.GymStudy(**{**PARAMS, "envs": ["hopper", "walker2d"], "delayed_envs": ["hopper", "walker2d"],
                                  "delayed_datasets": ["medium-replay"]})
    delayed = [c for c in study.run_configs() if c.reward_mode == "delayed"]
    assert {(c.env, c.dataset) for c in delayed} == {("hopper", "medium-replay"), ("walker2d", "medium-replay")}
    assert any("paper: Hopper only" in d for d in gym_study.deviations(study))
    first_only = gym_study.GymStudy(**{**PARAMS, "envs": ["hopper", "walker2d"]})
    assert {c.env for c in first_only.run_configs() if c.reward_mode == "delayed"} == {"hopper"}
    with pytest.raises(ParameterError, match="delayed_envs"):
        gym_study.GymStudy(**{**PARAMS, "delayed_envs": ["halfcheetah"]})  # not among envs


def test_context_runs_on_several_envs():
    study = gym_study.GymStudy(**{**PARAMS, "envs": ["hopper", "walker2d"], "context_envs": ["hopper", "walker2d"]})
    k1 = [c for c in study.run_configs() if c.context_len == 1]
    assert {(c.env, c.dataset, c.seed) for c in k1} == {(e, d, s) for e in ("hopper", "walker2d")
                                                         for d in ("medium", "medium-replay") for s in (0, 1)}
    assert all(c.method == "dt" and c.reward_mode == "dense" for c in k1)
    assert any("context-length verdict rests on more than one env" in d for d in gym_study.deviations(study))
    first_only = gym_study.GymStudy(**{**PARAMS, "envs": ["hopper", "walker2d"]})
    assert {c.env for c in first_only.run_configs() if c.context_len == 1} == {"hopper"}
    with pytest.raises(ParameterError, match="context_envs"):
        gym_study.GymStudy(**{**PARAMS, "context_envs": ["halfcheetah"]})  # not among envs


def test_dt_vs_cql_and_delayed_tables_cover_the_study():
    runs = _per_run([("dt", "dense", [60, 61, 62]), ("cql", "dense", [50, 52, 54]), ("cql", "delayed", [2, 3, 4])])
    study = gym_study.GymStudy(**{**PARAMS, "datasets": ["medium-expert"], "methods": ["dt", "cql"]})
    gaps = gym_study.dt_vs_cql_table(study, runs)
    assert list(gaps["dataset"]) == ["medium-expert"] and gaps["dt_minus_cql"].iloc[0] == 9
    drops = gym_study.delayed_drop_table(study, runs)
    assert list(drops["method"]) == ["cql"] and drops["drop"].iloc[0] == 49
    no_cql = gym_study.GymStudy(**{**PARAMS, "datasets": ["medium-expert"], "methods": ["dt"]})
    assert gym_study.dt_vs_cql_table(no_cql, runs).empty


def _scores(env: str, rows: list[tuple[str, float, float]]):
    """seed_scores rows of one run per method at the last step: (method, target, normalised score)."""
    import pandas as pd

    return pd.DataFrame([{"env": env, "dataset": "medium", "method": m, "pct": 1.0, "context_len": 0,
                          "reward_mode": "dense", "seed": 0, "run": f"{env}-{m}", "step": 10, "target": t,
                          "normalized_score": v, "ret": 0.0, "length": 1000, "episodes": 10} for m, t, v in rows])


@pytest.mark.parametrize("env,paper_target,other", [("hopper", 3600.0, 1800.0), ("halfcheetah", 6000.0, 12000.0),
                                                    ("walker2d", 5000.0, 2500.0)])
def test_every_method_is_scored_at_one_target_and_cannot_gain_from_a_best_of(env, paper_target, other):
    """Issue 15: DT at its env's one paper target, BC/CQL (no target) by the mean of their rollouts, never a max."""
    scores = _scores(env, [("dt", paper_target, 40.0), ("dt", other, 70.0), ("bc", paper_target, 30.0),
                           ("bc", other, 50.0), ("cql", other, 20.0)])
    per_run = gym_study.run_scores(scores).set_index("method")
    assert per_run.loc["dt", "last"] == 40.0 and per_run.loc["dt", "best"] == 40.0  # not the better 70
    assert per_run.loc["bc", "last"] == 40.0  # its two rollout sets averaged, not the better 50
    assert per_run.loc["cql", "last"] == 20.0  # one rollout set, whatever target labels it
    assert per_run.loc["dt", "last_max_over_targets"] == 70.0  # the official best-of, only as an extra column
    # a better score at any other target changes no method's score
    extra = _scores(env, [("dt", 99.0, 100.0), ("dt", other, 100.0)])
    again = gym_study.run_scores(pd_concat(scores, extra)).set_index("method")
    assert again.loc["dt", "last"] == 40.0
    t2 = gym_study.table2(per_run.reset_index()).set_index("method")
    assert t2.loc["DT", "last_mean"] == 40.0 and t2.loc["DT", "last_max_over_targets_mean"] == 70.0


def pd_concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_packed_masks_are_a_written_deviation():
    assert not any("PackedDropout" in d for d in gym_study.deviations(gym_study.GymStudy(**PARAMS)))
    packed = gym_study.GymStudy(**{**PARAMS, "dropout_masks": "packed"})
    assert sum("PackedDropout" in d for d in gym_study.deviations(packed)) == 1


def test_learning_rates_reach_every_method_and_the_deviations():
    """dt_lr / bc_lr set TrainConfig.lr of DT and BC/%BC; cql_lr_scale scales CQL's three Adam rates; 0 / 1 keep
    the paper's (the same run configs as before, so finished runs stay valid); a changed rate is a deviation."""
    from dtlib.experiment import RunConfig

    base = gym_study.GymStudy(**{**PARAMS, "methods": ["dt", "bc", "pct_bc", "cql"]})
    dt, bc, pct, cql = (RunConfig("hopper", "medium", method=m, pct=p)
                        for m, p in (("dt", 1.0), ("bc", 1.0), ("pct_bc", 0.1), ("cql", 1.0)))
    assert all("lr" not in base.train_overrides(c) for c in (dt, bc, pct, cql))
    assert set(base.model_overrides(cql)) == {"precision"}
    assert gym_study.lr_deviations(base) == []
    tuned = gym_study.GymStudy(**{**PARAMS, "methods": ["dt", "bc", "pct_bc", "cql"], "dt_lr": 1e-3, "bc_lr": 3e-4,
                                  "cql_lr_scale": 3})
    assert tuned.train_overrides(dt)["lr"] == 1e-3
    assert tuned.train_overrides(bc)["lr"] == tuned.train_overrides(pct)["lr"] == 3e-4
    assert "lr" not in tuned.train_overrides(cql)
    assert tuned.model_overrides(cql) == {"precision": "fp32", "actor_lr": 3e-4, "critic_lr": 9e-4, "temp_lr": 3e-4}
    assert isinstance(tuned.cql_lr_scale, float)  # an int from YAML is stored as a number
    lines = gym_study.lr_deviations(tuned)
    assert len(lines) == 3 and "DT learning rate 0.001" in lines[0] and "critic 0.0009" in lines[2]
    assert all(line in gym_study.deviations(tuned) for line in lines)
    # the paper's rates written out give the paper's runs and no deviation
    paper = gym_study.GymStudy(**{**PARAMS, "dt_lr": 1e-4, "bc_lr": 1e-4, "cql_lr_scale": 1.0})
    assert gym_study.lr_deviations(paper) == []


@pytest.mark.parametrize("bad,match", [({"dt_lr": -1e-3}, r"dt_lr=-0.001 must be a number in \[0.0, 1.0\]"),
                                       ({"bc_lr": "1e-3"}, "bc_lr"), ({"cql_lr_scale": 0}, "cql_lr_scale=0")])
def test_bad_learning_rates_are_named(bad, match):
    with pytest.raises(ParameterError, match=match):
        gym_study.GymStudy(**{**PARAMS, **bad})


def test_profile_study_is_the_profiles_gym_parameters_with_overrides():
    small = gym_study.profile_study("small")
    assert small.bc_steps == 12000 and small.context_envs == ("hopper", "walker2d", "halfcheetah")
    assert gym_study.profile_study("small", seeds=[3], bc_steps=5).seeds == (3,)
    assert gym_study.profile_study("small", seeds=[3], bc_steps=5).bc_steps == 5


def test_plain_runs_leave_one_method_grid_without_ablations():
    study = gym_study.profile_study("small", methods=["bc"], **gym_study.PLAIN_RUNS)
    assert study.context_ablation == () and not study.delayed and study.context_envs == ()
