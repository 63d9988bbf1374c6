"""The summary reads only tidy tables: verdicts computed from them, "not run" where they are missing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtlib import report, summary
from dtlib.validate import ParameterError

PROFILE = "smoke"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def cfg():
    return summary.check_params(PROFILE, 300, 5.0)


def gym_runs(dt: float = 80.0, bc: float = 30.0, cql: float = 40.0, k1: float = 20.0, dt_delayed: float = 78.0,
             cql_delayed: float = 5.0, pct: float = 79.0) -> pd.DataFrame:
    """gym_runs rows for hopper × 3 datasets × 3 seeds; scores = the given level + a small per-seed jitter."""
    rows = []
    for ds in ("medium", "medium-replay", "medium-expert"):
        for seed in range(3):
            jitter = [-1.0, 0.0, 1.0][seed]
            for method, p, k, mode, level in (("dt", 1.0, 0, "dense", dt), ("bc", 1.0, 0, "dense", bc),
                                              ("cql", 1.0, 0, "dense", cql), ("dt", 1.0, 1, "dense", k1),
                                              ("dt", 1.0, 0, "delayed", dt_delayed),
                                              ("cql", 1.0, 0, "delayed", cql_delayed),
                                              ("pct_bc", 0.1, 0, "dense", pct)):
                rows.append({"env": "hopper", "dataset": ds, "method": method, "pct": p, "context_len": k,
                             "reward_mode": mode, "seed": seed, "run": f"r{len(rows)}", "last": level + jitter,
                             "best": level + jitter})
    return pd.DataFrame(rows)


def by_claim(df: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(r["claim"], r["domain"]): r for _, r in df.iterrows()}


def test_check_params_names_the_bad_one():
    with pytest.raises(ParameterError, match="bootstrap_reps"):
        summary.check_params("small", 0, 5.0)
    with pytest.raises(ParameterError, match="profile"):
        summary.check_params("huge", 10, 5.0)


def test_without_tables_everything_is_not_run_and_nothing_fails(home, cfg):
    tables = summary.load_tables(PROFILE)
    assert tables == {}
    claims = summary.claims(tables, cfg)
    assert set(claims["verdict"]) == {summary.NOT_RUN} and len(claims) == len(summary.CLAIMS)
    assert claims["paper_numbers"].str.len().min() > 0  # the paper's side is always there
    for name, df in summary.paper_tables(tables).items():
        assert set(df["note"]) == {summary.NOT_RUN}, name
        assert df["paper"].notna().all()
    figs = summary.figures(tables, PROFILE)
    assert all(f.path is None and f.status == summary.NOT_RUN for f in figs)
    assert set(summary.inventory(tables)["status"]) == {summary.NOT_RUN}
    path = summary.write_section(PROFILE, claims, summary.paper_tables(tables), figs,
                                 summary.gather_deviations(PROFILE, order=[]), summary.inventory(tables))
    page = path.read_text()
    assert page.startswith('<section class="dtlib-summary" id="summary">') and "smoke — not evidence" in page
    assert f"0 supported, 0 not supported, {len(claims)} not run at this profile" in page


def test_d4rl_claims_follow_the_numbers(home, cfg):
    good = by_claim(summary.claims({"gym_runs": gym_runs()}, cfg))
    for key in [("DT vs TD learning", "D4RL"), ("DT vs BC on low-quality data", "D4RL"), ("Context length", "D4RL"),
                ("Delayed rewards", "D4RL"), ("%BC", "D4RL")]:
        row = good[key]
        assert row["verdict"] == summary.SUPPORTED, key
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"] and np.isfinite(row["ci_low"])
        assert "3 vs 3 seed(s)" in row["runs"]
    assert good[("DT vs BC on low-quality data", "D4RL")]["estimate"] == pytest.approx(50.0)
    assert "+55.1 on our 1 task(s)" in good[("DT vs BC on low-quality data", "D4RL")]["paper_numbers"]  # 82.7 − 27.6
    assert good[("Key-to-Door credit assignment", "Key-to-Door")]["verdict"] == summary.NOT_RUN
    assert good[("Atari", "Atari")]["verdict"] == summary.NOT_RUN

    bad = by_claim(summary.claims({"gym_runs": gym_runs(dt=20.0, k1=40.0, dt_delayed=5.0, pct=40.0)}, cfg))
    for key in [("DT vs TD learning", "D4RL"), ("DT vs BC on low-quality data", "D4RL"), ("Context length", "D4RL"),
                ("Delayed rewards", "D4RL"), ("%BC", "D4RL")]:
        assert bad[key]["verdict"] == summary.NOT_SUPPORTED, key
    # DT robust to delay but not above CQL under delayed rewards: the second condition fails
    tie = by_claim(summary.claims({"gym_runs": gym_runs(dt_delayed=78.0, cql_delayed=90.0)}, cfg))
    assert tie[("Delayed rewards", "D4RL")]["verdict"] == summary.NOT_SUPPORTED


def test_matches_uses_the_margin(home):
    close = {"gym_runs": gym_runs(dt=40.0, cql=42.0)}  # DT 2 points below CQL, seeds ±1
    assert by_claim(summary.claims(close, summary.check_params(PROFILE, 300, 5.0)))[
        ("DT vs TD learning", "D4RL")]["verdict"] == summary.SUPPORTED
    assert by_claim(summary.claims(close, summary.check_params(PROFILE, 300, 1.0)))[
        ("DT vs TD learning", "D4RL")]["verdict"] == summary.NOT_SUPPORTED


def test_return_conditioning_spearman_and_interval(cfg):
    rows = [{"env": "hopper", "seed": s, "episode": e, "target": t, "return": t * 0.9 + e, "dataset_best": 1000.0}
            for t in (100.0, 300.0, 500.0, 700.0, 2000.0) for s in range(2) for e in range(3)]
    sweep = pd.DataFrame(rows)
    r = summary.spearman_ci(sweep, "env", 300)
    assert r["estimate"] == pytest.approx(1.0) and r["ci_low"] == pytest.approx(1.0)
    assert "hopper (4 targets)" in r["runs"]  # 2000 lies above the data's best and is left out
    assert by_claim(summary.claims({"gym_figure4": sweep}, cfg))[("Return conditioning", "D4RL")]["verdict"] \
        == summary.SUPPORTED
    flat = sweep.assign(**{"return": 5.0})
    row = by_claim(summary.claims({"gym_figure4": flat}, cfg))[("Return conditioning", "D4RL")]
    assert row["verdict"] == summary.NOT_SUPPORTED and "same at every target" in row["evidence"]
    few = sweep[sweep["target"] <= 300]
    row = by_claim(summary.claims({"gym_figure4": few}, cfg))[("Return conditioning", "D4RL")]
    assert row["verdict"] == summary.NOT_SUPPORTED and "fewer than 3 targets" in row["evidence"]


def keydoor_tables(dt: float) -> dict[str, pd.DataFrame]:
    per_seed = pd.DataFrame([{"dataset": ds, "method": m, "seed": s, "step": 100,
                              "success_%": {"DT": dt, "CQL": 0.0, "BC": 1.0, "%BC": 90.0}[m] + s}
                             for ds in ("1k", "10k") for m in ("DT", "CQL", "BC", "%BC") for s in range(3)])
    table6 = pd.DataFrame([{"dataset": ds, "method": m, "n_seeds": 3, "mean_%": v, "std_%": 1.0,
                            "per_seed_%": "", "paper_%": 0.0}
                           for ds in ("1k", "10k") for m, v in (("DT", dt + 1), ("CQL", 1.0), ("Random", 3.1))])
    return {"keydoor_per_seed": per_seed, "keydoor_table6": table6}


def test_keydoor_needs_dt_above_cql_and_level_with_pct_bc(home, cfg):
    key = ("Key-to-Door credit assignment", "Key-to-Door")
    assert by_claim(summary.claims(keydoor_tables(88.0), cfg))[key]["verdict"] == summary.SUPPORTED
    row = by_claim(summary.claims(keydoor_tables(8.0), cfg))[key]  # above CQL and random, far below %BC
    assert row["verdict"] == summary.NOT_SUPPORTED and "DT − %BC = -82.0" in row["evidence"]
    no_pct = keydoor_tables(8.0)
    no_pct["keydoor_per_seed"] = no_pct["keydoor_per_seed"].query("method != '%BC'")
    assert by_claim(summary.claims(no_pct, cfg))[key]["verdict"] == summary.SUPPORTED  # then DT − random decides
    no_pct["keydoor_per_seed"]["success_%"] = no_pct["keydoor_per_seed"]["success_%"].clip(upper=2.0)
    assert by_claim(summary.claims(no_pct, cfg))[key]["verdict"] == summary.NOT_SUPPORTED
    t6 = summary.side_by_side("table6", keydoor_tables(60.0))
    dt = t6[(t6["trajectories"] == 1000) & (t6["method"] == "DT")].iloc[0]
    assert dt["paper"] == 71.8 and dt["ours"] == 61.0 and dt["note"] == ""
    assert t6.loc[t6["method"] == "BC", "note"].eq(summary.NOT_RUN).all()  # BC ran in no table6 row here


def atari_runs() -> pd.DataFrame:
    rows = []
    for seed in range(2):
        for method, pct, k, score in (("dt", 1.0, 30, 60.0), ("bc", 1.0, 30, 20.0), ("pct_bc", 0.1, 30, 10.0),
                                      ("dt", 1.0, 1, 5.0)):
            rows.append({"game": "breakout", "method": method, "pct": pct, "K": k, "seed": seed, "run": "r",
                         "target": 90.0, "ret": 0.0, "score": score + seed, "length": 10, "episodes": 1})
        rows.append({"game": "breakout", "method": "dt", "pct": 1.0, "K": 30, "seed": seed, "run": "r",
                     "target": 10.0, "ret": 0.0, "score": -50.0, "length": 10, "episodes": 1})  # not the paper's target
    return pd.DataFrame(rows)


def test_atari_rows_come_from_atari_tables(home, cfg):
    claims = by_claim(summary.claims({"atari_runs": atari_runs()}, cfg))
    for key in [("Atari", "Atari"), ("Context length", "Atari"), ("%BC", "Atari")]:
        assert claims[key]["verdict"] == summary.SUPPORTED, key
    assert claims[("Atari", "Atari")]["estimate"] == pytest.approx(40.0)
    t1 = pd.DataFrame([{"game": "breakout", "method": "DT", "score_mean": 61.0, "score_std": 0.7, "seeds": 2},
                       {"game": "breakout", "method": "BC", "score_mean": 21.0, "score_std": 0.7, "seeds": 2}])
    side = summary.side_by_side("table1", {"atari_table1": t1})
    rows = {(g, m): r for g, m, r in zip(side["game"], side["method"], side.to_dict("records"))}
    assert rows[("breakout", "DT")]["ours"] == 61.0 and rows[("breakout", "DT")]["paper"] == 267.5
    assert rows[("breakout", "CQL")]["note"] == summary.NOT_IN_REPLICATION
    assert rows[("pong", "DT")]["note"] == summary.NOT_RUN


def test_table2_side_by_side_paper_peers_ours(home):
    t2 = pd.DataFrame([{"env": "hopper", "dataset": "medium", "method": m, "last_mean": v, "last_std": 1.0,
                        "best_mean": v, "best_std": 1.0, "seeds": 3, "paper": 0.0, "corl_last": 0.0,
                        "d3rlpy_final": 0.0} for m, v in (("DT", 50.0), ("CQL", 40.0), ("BC", 45.0), ("10%BC", 48.0),
                                                          ("50%BC", 47.0))])
    df = summary.side_by_side("table2", {"gym_table2": t2})
    row = lambda env, m: df[(df["env"] == env) & (df["dataset"] == "medium") & (df["method"] == m)].iloc[0]  # noqa
    assert row("hopper", "DT")["ours"] == 50.0 and row("hopper", "DT")["paper"] == 67.6
    assert "CORL 65.1 ± 1.6" in row("hopper", "DT")["peers"]
    assert row("walker2d", "DT")["note"] == summary.NOT_RUN
    assert row("hopper", "BEAR")["note"] == summary.NOT_IN_REPLICATION
    shown = summary.display_table(df)
    assert "50.0 ± 1.0 (3 seeds)" in set(shown["ours"]) and "67.6 ± 1.0" in set(shown["paper"])
    assert list(df["dataset"].drop_duplicates()) == ["medium-expert", "medium", "medium-replay"]  # the paper's order
    assert not df["method"].str.endswith("%BC").any()  # Table 2 has no %BC column
    t3 = summary.side_by_side("table3", {"gym_table2": t2})
    hop = t3[(t3["env"] == "hopper") & (t3["dataset"] == "medium")].set_index("method")
    assert hop.loc["10%BC", "ours"] == 48.0 and hop.loc["10%BC", "paper"] == 65.9
    assert hop.loc["50%BC", "ours"] == 47.0 and np.isnan(hop.loc["50%BC", "paper"])  # ours beyond the paper's
    assert hop.loc["25%BC", "note"] == summary.NOT_RUN and "CQL" not in hop.index


def test_figures_drawn_from_tables_and_section_links_them(home, cfg):
    fig6 = pd.DataFrame({"kind": ["random walk", "shortest path", "DT", "DT"], "steps": [3.0, 2.0, 2.0, np.inf]})
    tables = {"graph_fig6": fig6, "graph_summary": pd.DataFrame([{"max_steps": 10}])}
    figs = summary.figures(tables, PROFILE)
    drawn = [f for f in figs if f.path is not None]
    assert [f.name for f in drawn] == ["figure6_graph"] and drawn[0].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report.deviations("gym", PROFILE, ["uses `x` <b>"])
    report.deviations("summary", PROFILE, summary.deviations(cfg))
    devs = summary.gather_deviations(PROFILE, order=["gym", "summary"])
    assert list(devs["notebook"].drop_duplicates()) == ["gym", "summary"]
    path = summary.write_section(PROFILE, summary.claims(tables, cfg), summary.paper_tables(tables), figs, devs,
                                 summary.inventory(tables))
    page = path.read_text()
    assert '<img src="summary/figure6_graph.png"' in page and "<code>x</code> &lt;b&gt;" in page
    assert page.index("<h3>Claims</h3>") < page.index("<h3>Figures</h3>") < page.index("Deviations from the paper")
    inline = summary.figures_html(figs, PROFILE, inline=True)
    assert 'src="data:image/png;base64,' in inline and "not run at this profile" in inline


def test_summary_notebook_needs_every_earlier_notebook():
    """Any upstream change (a new result, a new notebook such as 40_atari) makes the summary stale."""
    from dtlib import pipeline

    nbs = pipeline.discover()
    last = nbs[-1]
    assert last.key == "summary" and last.needs == tuple(nb.key for nb in nbs[:-1])


def test_graph_claim_from_the_path_summary(cfg):
    def summary_table(reached: float, ratios: list[float]) -> dict[str, pd.DataFrame]:
        rows = [{"kind": "random walk", "seed": "—", "paths": 100, "reached_%": 47.0, "mean_steps_reached": 4.2,
                 "mean_shortest_same_starts": np.nan, "ratio": np.nan}]
        rows += [{"kind": "DT", "seed": str(i), "paths": 50, "reached_%": reached, "mean_steps_reached": 3.0 * r,
                  "mean_shortest_same_starts": 3.0, "ratio": r} for i, r in enumerate(ratios)]
        rows.append({**rows[-1], "seed": "all"})  # the pooled row is not a seed
        return {"graph_path_summary": pd.DataFrame(rows)}

    key = ("Shortest paths from random walks", "Graph")
    good = by_claim(summary.claims(summary_table(100.0, [1.0, 1.02, 1.05]), cfg))[key]
    assert good["verdict"] == summary.SUPPORTED and good["runs"] == "3 seed(s)"
    assert good["estimate"] == pytest.approx(1.0233, abs=1e-3) and "random walks reach it in 47%" in good["evidence"]
    assert by_claim(summary.claims(summary_table(60.0, [1.0, 1.0, 1.0]), cfg))[key]["verdict"] == summary.NOT_SUPPORTED
    assert by_claim(summary.claims(summary_table(100.0, [1.0, 1.5, 1.6]), cfg))[key]["verdict"] == summary.NOT_SUPPORTED
    assert by_claim(summary.claims({}, cfg))[key]["verdict"] == summary.NOT_RUN


def test_atari_claims_at_the_random_play_floor_are_not_testable():
    cfg = summary.check_params(profile="smoke", bootstrap_reps=200, match_margin=5.0)
    verdicts = pd.DataFrame({"game": ["pong", "breakout"],
                             "claim": ["some method scores above random play (precondition)"] * 2,
                             "ours": ["", ""], "verdict": ["no: every method is at the random-play floor"] * 2})
    assert summary.atari_floor({"atari_verdicts": verdicts}) \
        == "every method at the random-play floor in breakout, pong (atari_verdicts)"
    assert summary.atari_floor({"atari_verdicts": verdicts.assign(verdict=["yes", "no"])}) == ""
    rows = summary.claims({"atari_verdicts": verdicts}, cfg)
    assert set(rows[rows["domain"] == "Atari"]["verdict"]) == {summary.NOT_RUN}  # no runs: still "not run"
    computed = by_claim(summary.claims({"atari_runs": atari_runs()}, cfg))
    floored = by_claim(summary.claims({"atari_runs": atari_runs(), "atari_verdicts": verdicts}, cfg))
    for key, row in floored.items():
        if key[1] == "Atari" and computed[key]["verdict"] in (summary.SUPPORTED, summary.NOT_SUPPORTED):
            assert row["verdict"] == summary.NOT_TESTABLE and row["evidence"].endswith("(atari_verdicts)")
            assert row["estimate"] == computed[key]["estimate"]  # the numbers stay; only the reading changes
    assert any(r["verdict"] == summary.NOT_TESTABLE for r in floored.values())
