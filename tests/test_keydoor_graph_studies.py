"""Key-to-Door (Table 6, Figure 5) and graph (Figure 6) study functions and their figures, on tiny budgets."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dtlib import graph_study, keydoor_study, plots  # noqa: E402
from dtlib.data.generate import generate_graph_dataset, generate_keydoor_dataset  # noqa: E402
from dtlib.envs import graph, keydoor  # noqa: E402
from dtlib.sweep import run_sweep  # noqa: E402
from dtlib.validate import ParameterError  # noqa: E402

KD = dict(profile="smoke", datasets=[60], methods=["dt", "bc", "pct_bc"], pct=0.1, seeds=[0, 1], data_seed=0,
          steps={"dt": 3, "bc": 2, "pct_bc": 2}, eval_every=2, eval_episodes=2, random_episodes=1000, critic_dataset=60, critic_steps=3, critic_episodes=80,
          threads=1)


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DTLIB_DATA", str(tmp_path / "data"))
    return tmp_path


def test_keydoor_params_are_checked_by_name():
    cfg = keydoor_study.KeyDoorStudy(**KD)
    assert len(cfg.run_configs()) == 1 * 3 * 2
    assert {rc.pct for rc in cfg.run_configs() if rc.method == "pct_bc"} == {0.1}
    critic = cfg.critic_config()
    assert critic.return_head and not critic.use_returns  # return tokens in would let the head copy them
    for name, bad in [("methods", ["dt", "sac"]), ("seeds", [0, 0]), ("pct", 1.0), ("steps", {"dt": 3}),
                      ("steps", {"dt": 3, "bc": 0, "pct_bc": 2}),
                      ("datasets", []), ("profile", "huge"), ("threads", 1.5), ("precision", "fp16"),
                      ("dropout_masks", "dense")]:
        with pytest.raises(ParameterError, match=name) as error:
            keydoor_study.KeyDoorStudy(**{**KD, name: bad})
        assert "\n" not in str(error.value)


def test_keydoor_dt_batch_size_reaches_the_dts_not_the_critic():
    cfg = keydoor_study.KeyDoorStudy(**{**KD, "dt_batch_size": 128})
    by_method = {rc.method: cfg.train_overrides(rc, 5) for rc in cfg.run_configs()}
    assert by_method["dt"]["batch_size"] == 128
    assert "batch_size" not in by_method["bc"] and "batch_size" not in by_method["pct_bc"]
    assert "batch_size" not in cfg.train_overrides(cfg.critic_config(), 5)
    assert "batch 128 episodes" in " ".join(keydoor_study.deviations(cfg))
    default = keydoor_study.KeyDoorStudy(**KD)  # 0: the preset's; nothing overridden, run identities unchanged
    assert all("batch_size" not in default.train_overrides(rc, 5) for rc in default.run_configs())
    with pytest.raises(ParameterError, match="dt_batch_size"):
        keydoor_study.KeyDoorStudy(**{**KD, "dt_batch_size": -1})


def test_keydoor_transformers_have_the_presets_heads_and_the_report_says_so():
    """Table 6's DT, BC, %BC and Figure 5's critic share the preset's 4 heads of 16; the graph keeps the Gym DT's 1."""
    from dtlib.config import get_preset
    from dtlib.experiment import build_model

    data = generate_keydoor_dataset(5, seed=1)
    cfg = keydoor_study.KeyDoorStudy(**KD)
    for rc in [*cfg.run_configs(), cfg.critic_config()]:
        if rc.method != "cql":
            model = build_model(rc, data)
            assert model.cfg.n_head == 4 and model.cfg.embed_dim // model.cfg.n_head == 16, rc.name
    assert get_preset("graph", "dt").model.get("n_head", 1) == 1
    assert "4 attention heads where the Gym DT has 1" in " ".join(keydoor_study.deviations(cfg))


def run_configs(result, root) -> dict:
    """config.json of every run of a sweep, by (method, critic)."""
    runs = result.runs
    assert (runs["status"] == "done").all(), runs["error"].tolist()
    return {(m, bool(h)): json.loads((root / r / "config.json").read_text())
            for m, h, r in zip(runs["method"], runs["return_head"], runs["run"])}


def test_keydoor_precision_and_masks_reach_every_run(data_home):
    """bf16 and packed masks reach the DT and critic configs (CQL: its precision), so their folders differ from the
    fp32 / Bernoulli runs'; 'auto' reaches no config (resolved); train_critic finds the sweep's critic."""
    from dtlib.compute import resolve_precision

    base = {**KD, "datasets": [60], "methods": ["dt", "cql"], "seeds": [0], "steps": {"dt": 1, "cql": 1},
            "eval_every": 1, "eval_episodes": 1, "critic_steps": 1}
    configs = {}
    for precision, masks in [("fp32", "bernoulli"), ("bf16", "packed"), ("auto", "bernoulli")]:
        cfg = keydoor_study.KeyDoorStudy(**{**base, "precision": precision, "dropout_masks": masks})
        result = run_sweep(keydoor_study.jobs(cfg), data_home / "runs", workers=1)
        configs[precision] = run_configs(result, data_home / "runs")
        keydoor_study.train_critic(cfg, data_home / "runs")  # the sweep's critic, not a new one
    for dt in [("dt", False), ("dt", True)]:  # Table 6's DT and Figure 5's critic
        assert configs["fp32"][dt]["ModelConfig"]["dropout_masks"] == "bernoulli"
        assert configs["fp32"][dt]["TrainConfig"]["precision"] == "fp32"
        assert configs["bf16"][dt]["ModelConfig"]["dropout_masks"] == "packed"
        assert configs["bf16"][dt]["TrainConfig"]["precision"] == "bf16"
        assert configs["auto"][dt]["TrainConfig"]["precision"] == resolve_precision("auto", "auto")
    assert configs["fp32"][("cql", False)]["CQLConfig"]["precision"] == "fp32"
    assert configs["bf16"][("cql", False)]["CQLConfig"]["precision"] == "bf16"
    assert configs["auto"][("cql", False)]["CQLConfig"]["precision"] == resolve_precision("auto")
    folders = list((data_home / "runs").glob("keydoor-*"))
    # 'auto' = fp32 (AVX2): all three 'auto' runs are the fp32 runs, reused; 'auto' = bf16 (AMX, AVX512-BF16): its
    # DT and critic (bf16, Bernoulli masks) are new, its CQL (bf16; CQL has no dropout masks) is the bf16 CQL, reused
    assert len(folders) == 6 + 2 * (resolve_precision("auto") != "fp32")


def test_dataset_labels():
    assert keydoor_study.dataset_label(1000) == "1k" and keydoor_study.dataset_label(10_000) == "10k"
    assert keydoor_study.dataset_label(60) == "60" and keydoor_study._n_of("10k") == 10_000


def test_success_table_mean_std_over_seeds_and_missing_methods():
    evals = pd.DataFrame({"dataset": "1k", "method": ["dt"] * 4 + ["bc"] * 4, "seed": [0, 0, 1, 1] * 2,
                          "success": [1, 1, 1, 0, 0, 0, 0, 0]})
    table = keydoor_study.success_table(evals, 0.031, (1000,))
    dt = table.set_index("method").loc["DT"]
    assert dt["mean_%"] == 75.0 and np.isclose(dt["std_%"], np.std([100, 50], ddof=1)) and dt["paper_%"] == 71.8
    cql = table.set_index("method").loc["CQL"]
    assert cql["n_seeds"] == 0 and cql["per_seed_%"] == "not yet run" and np.isnan(cql["mean_%"])
    assert table.set_index("method").loc["Random", "mean_%"] == pytest.approx(3.1)
    shown = keydoor_study.format_table(table)
    assert shown.loc["CQL", ("ours", "1k")] == "not yet run" and shown.loc["DT", ("paper", "1k")] == "71.8"
    per_seed = keydoor_study.learning_curves(evals.assign(step=1))  # one row per run, as the notebook passes
    ax = plots.fig_keydoor_success(per_seed, table).axes[0]
    assert sorted(p.get_height() for p in ax.patches) == pytest.approx([0, 3.1, 75])  # BC, Random, DT; no CQL, %BC
    assert [t.get_text() for t in ax.get_xticklabels()] == ["DT\n(2 seeds)", "CQL\n(not run)", "BC\n(2 seeds)",
                                                           "%BC\n(not run)", "Random\n(closed form)"]
    assert [t.get_text() for t in ax.texts] == ["not run", "not run"]  # the empty CQL and %BC slots
    dt_interval = next(line.get_ydata() for line in ax.lines if np.nanmean(line.get_xdata()) == 0)  # DT's, capped
    assert (np.nanmin(dt_interval), np.nanmax(dt_interval)) == (50, 100)  # bootstrap CI of the mean of 100 and 50
    marks = next(c for c in ax.collections if c.get_label() == "paper")
    assert len(marks.get_segments()) == 5 and marks.get_segments()[0][0][1] == 71.8  # every slot, DT's first


def test_sweep_critic_and_figure5_tables(data_home):
    cfg = keydoor_study.KeyDoorStudy(**{**KD, "methods": ["dt", "pct_bc"], "seeds": [0],
                                        "steps": {"dt": 3, "pct_bc": 2}})
    evals, runs = keydoor_study.tables(run_sweep(keydoor_study.jobs(cfg), data_home / "runs", workers=1))
    final = keydoor_study.final_evals(evals)
    assert len(final) == 2 * 2 and set(final["method"]) == {"dt", "pct_bc"} and (runs["wall_s"] > 0).all()
    curves = keydoor_study.learning_curves(evals)  # dt evaluated at step 2 and at its end (3); %BC at 2
    assert curves.groupby("method")["step"].apply(list).to_dict() == {"DT": [2, 3], "%BC": [2]}
    plots.fig_learning_curves(curves)
    steps = {m: json.loads((data_home / "runs" / r / "summary.json").read_text())["steps"]
             for m, r in zip(runs["method"], runs["run"])}
    assert steps == {"dt": 3, "pct_bc": 2}  # steps per method
    again, _ = keydoor_study.tables(run_sweep(keydoor_study.jobs(cfg), data_home / "runs", workers=1))  # reused
    pd.testing.assert_frame_equal(evals, again)
    summary = keydoor_study.dataset_summary(cfg)
    assert summary["episodes"].tolist() == [60]

    critic = keydoor_study.train_critic(cfg, data_home / "runs")
    assert not critic.cfg.use_returns and critic.predict_return is not None
    held = keydoor_study.heldout_episodes(cfg)
    probs = keydoor_study.running_return_probabilities(critic, held, batch=32)
    assert len(probs) == held.n_steps and set(probs["outcome"]) <= set(keydoor.OUTCOMES)
    avg = keydoor_study.average_by_outcome(probs)
    assert avg.groupby("outcome", observed=True)["n"].max().sum() == held.n_episodes
    plots.fig_return_probabilities(avg, (8, 32))

    ep = keydoor_study.pick_success_episode(held)
    att = keydoor_study.attention_table(critic, held, ep)
    length = int(held.lengths[ep])
    assert att["query_t"].nunique() == length and att["layer"].nunique() == critic.cfg.n_layer
    # per layer, each state token's attention (summed over steps up to and including its own) is 1
    per_query = att.groupby(["layer", "query_t"])["weight"].sum()
    assert np.allclose(per_query, 1.0, atol=1e-4)
    assert (att.loc[att["key_t"] > att["query_t"], "weight"].abs() < 1e-6).all()  # causal
    assert att["key_step"].iloc[0] >= 0 and att["door_step"].iloc[0] > att["key_step"].iloc[0]
    plots.fig_attention(att)


def test_episode_windows_match_whole_episodes():
    data = generate_keydoor_dataset(5, seed=1)
    win = keydoor_study.episode_windows(data, np.arange(5), 40)
    for e in range(5):
        n = data.lengths[e]
        assert win["mask"][e].sum() == n and (win["timesteps"][e, -n:] == np.arange(n)).all()
        assert (win["states"][e, -n:] == data.observations[data.starts[e]:data.starts[e] + n]).all()


GR = dict(profile="smoke", n_walks=200, data_seed=0, seeds=[0], steps=3, eval_episodes=5, threads=1)


def test_graph_params_are_checked_by_name():
    assert graph_study.GraphStudy(**GR).run_config(0).env == "graph"
    for name, bad in [("n_walks", 0), ("seeds", []), ("data_seed", -1), ("eval_episodes", "5"),
                      ("precision", "fp16"), ("dropout_masks", "dense")]:
        with pytest.raises(ParameterError, match=name) as error:
            graph_study.GraphStudy(**{**GR, name: bad})
        assert "\n" not in str(error.value)


def test_graph_precision_and_masks_reach_the_runs(data_home):
    """bf16 and packed masks reach the DT's config (a run of its own); 'auto' is resolved before any config;
    dt_paths rolls out the sweep's runs (it trains none of its own)."""
    from dtlib.compute import resolve_precision

    data = generate_graph_dataset(GR["n_walks"], seed=0)
    for precision, masks in [("fp32", "bernoulli"), ("bf16", "packed")]:
        cfg = graph_study.GraphStudy(**{**GR, "steps": 1, "eval_episodes": 1, "precision": precision,
                                        "dropout_masks": masks})
        graph_study.dt_paths(cfg, data, data_home / precision)
        (folder,) = (data_home / precision).glob("graph-*")
        config = json.loads((folder / "config.json").read_text())
        assert config["ModelConfig"]["dropout_masks"] == masks and config["TrainConfig"]["precision"] == precision
    assert next((data_home / "fp32").glob("graph-*")).name != next((data_home / "bf16").glob("graph-*")).name
    auto = graph_study.GraphStudy(**{**GR, "precision": "auto"})
    assert auto.train_overrides().get("precision", "fp32") == resolve_precision("auto", "auto")


def test_return_prior_is_minus_shortest_with_enough_walks():
    data = generate_graph_dataset(20_000, seed=0)
    params = data.meta["env_params"]
    shortest = graph.shortest_path_lengths(graph.adjacency_of(**params), params["goal"])
    prior = graph_study.return_prior(data)
    nodes = np.array([n for n in range(len(shortest)) if n != params["goal"] and shortest[n] <= 3])
    assert np.array_equal(prior(nodes[:, None]), -shortest[nodes])


def test_path_outcomes_follow_edges():
    adj = np.zeros((4, 4), dtype=bool)
    adj[1, 2] = adj[2, 0] = adj[3, 1] = True  # 3 -> 1 -> 2 -> 0
    traces = [{"observations": [[3], [1], [2]], "actions": [1, 2, 0]},  # the shortest path
              {"observations": [[3], [3]], "actions": [2, 2]}]  # bumps into a missing edge twice
    out = graph_study.path_outcomes(traces, adj, goal=0)
    assert out["steps"].tolist() == [3.0, np.inf] and out["shortest"].tolist() == [3, 3]


def test_graph_dt_paths_and_figure6(data_home):
    cfg = graph_study.GraphStudy(**GR)
    data = generate_graph_dataset(cfg.n_walks, seed=0)
    paths = graph_study.dt_paths(cfg, data, data_home / "runs")
    assert len(paths) == cfg.eval_episodes and (paths["shortest"] >= 1).all()
    steps = graph_study.steps_table(data, paths)
    assert list(dict.fromkeys(steps["kind"])) == list(graph_study.KINDS)
    by_kind = {kind: g["steps"].to_numpy() for kind, g in steps.groupby("kind", sort=False)}
    np.testing.assert_array_equal(by_kind["random walk"], graph.steps_to_goal(data))  # one row per walk; inf: never
    np.testing.assert_array_equal(by_kind["DT"], paths["steps"].to_numpy(float))
    reached = np.isfinite(by_kind["DT"])
    assert np.isfinite(by_kind["shortest path"]).all() and (by_kind["random walk"] >= 1).all()
    assert (by_kind["DT"][reached] >= by_kind["shortest path"][reached]).all()  # no path beats the shortest one
    summary = graph_study.path_summary(data, paths)
    assert summary.set_index("kind").loc["shortest path", "reached_%"] == 100.0
    plots.fig_steps_histogram(steps, max_steps=10)
    assert graph_study.graph_summary(data)["nodes"].item() == graph.DEFAULTS["n_nodes"]
    torch.set_num_threads(1)
