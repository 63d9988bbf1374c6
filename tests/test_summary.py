"""The summary reads only tidy tables and renders dtlib.claims' verdicts and rules; "not run" where tables are missing.

The rules themselves are tested in test_claims.py."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dtlib import claims as claims_mod
from dtlib import report, summary
from dtlib.profiles import profiles_dir
from dtlib.validate import ParameterError

PROFILE = "smoke"


@pytest.fixture
def home(tmp_path, monkeypatch):
    shutil.copytree(profiles_dir(), tmp_path / "profiles")  # SummaryConfig checks its profile against profiles/
    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def cfg():
    return summary.SummaryConfig(PROFILE, 300, 5.0)


def test_check_params_names_the_bad_one():
    with pytest.raises(ParameterError, match="bootstrap_reps"):
        summary.SummaryConfig("small", 0, 5.0)
    with pytest.raises(ParameterError, match="profile"):
        summary.SummaryConfig("huge", 10, 5.0)


def test_without_tables_everything_is_not_run_and_nothing_fails(home, cfg):
    tables = summary.load_tables(PROFILE)
    assert tables == {}
    claims = claims_mod.claims(tables, cfg.rules)
    assert set(claims["verdict"]) == {summary.NOT_RUN} and len(claims) == len(claims_mod.CLAIMS)
    for name, df in summary.paper_tables(tables).items():
        assert set(df["note"]) == {summary.NOT_RUN}, name
        assert df["paper"].notna().all()
    figs = summary.figures(tables, PROFILE)
    assert all(f.path is None and f.status == summary.NOT_RUN for f in figs)
    assert set(summary.inventory(tables)["status"]) == {summary.NOT_RUN}
    path = summary.write_section(PROFILE, claims, summary.paper_tables(tables), figs,
                                 summary.gather_deviations(PROFILE, order=[]), summary.inventory(tables),
                                 claims_mod.rules_table(cfg.rules))
    page = path.read_text()
    assert page.startswith('<section class="dtlib-summary" id="summary">') and "smoke — not evidence" in page
    assert f"0 supported, 0 not supported, 0 undecided at this budget, {len(claims)} not run at this profile" in page


def keydoor_tables(dt: float) -> dict[str, pd.DataFrame]:
    per_seed = pd.DataFrame([{"dataset": ds, "method": m, "seed": s, "step": 100,
                              "success_%": {"DT": dt, "CQL": 0.0, "BC": 1.0, "%BC": 90.0}[m] + s}
                             for ds in ("1k", "10k") for m in ("DT", "CQL", "BC", "%BC") for s in range(3)])
    table6 = pd.DataFrame([{"dataset": ds, "method": m, "n_seeds": 3, "mean_%": v, "std_%": 1.0,
                            "per_seed_%": "", "paper_%": 0.0}
                           for ds in ("1k", "10k") for m, v in (("DT", dt + 1), ("CQL", 1.0), ("Random", 3.1))])
    return {"keydoor_per_seed": per_seed, "keydoor_table6": table6}


def test_table6_side_by_side():
    t6 = summary.side_by_side("table6", keydoor_tables(60.0))
    dt = t6[(t6["trajectories"] == 1000) & (t6["method"] == "DT")].iloc[0]
    assert dt["paper"] == 71.8 and dt["ours"] == 61.0 and dt["note"] == ""
    assert t6.loc[t6["method"] == "BC", "note"].eq(summary.NOT_RUN).all()  # BC ran in no table6 row here


def test_table1_side_by_side():
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
    path = summary.write_section(PROFILE, claims_mod.claims(tables, cfg.rules), summary.paper_tables(tables), figs,
                                 devs, summary.inventory(tables), claims_mod.rules_table(cfg.rules))
    page = path.read_text()
    assert '<img src="summary/figure6_graph.png"' in page and "<code>x</code> &lt;b&gt;" in page
    assert page.index("<h3>Claims</h3>") < page.index("<h3>The rules behind the verdicts</h3>") \
        < page.index("<h3>Figures</h3>") < page.index("Deviations from the paper")
    assert "wider than ±7.5: undecided" in page  # the rules table is rendered
    inline = summary.figures_html(figs, PROFILE, inline=True)
    assert 'src="data:image/png;base64,' in inline and "not run at this profile" in inline


def test_summary_notebook_needs_every_earlier_notebook():
    """Any upstream change (a new result, a new notebook such as 40_atari) makes the summary stale."""
    from dtlib import pipeline

    nbs = pipeline.discover()
    last = nbs[-1]
    assert last.key == "summary" and last.needs == tuple(nb.key for nb in nbs[:-1])


def test_an_undecided_row_is_shown_as_such_with_its_interval(home, cfg):
    row = {"claim": "DT vs TD learning", "domain": "D4RL", "paper_says": "", "paper_numbers": "",
           "measure": "DT − CQL",
           "estimate": -5.0, "ci_low": -25.0, "ci_high": 15.0, "runs": "3 vs 3 seed(s) × 1 task(s)", "rule": "r",
           "verdict": summary.UNDECIDED, "evidence": "", "tables": "gym_runs"}
    html = summary.claims_html(pd.DataFrame([row], columns=claims_mod.CLAIM_COLUMNS))
    assert '<span class="undecided">undecided at this budget</span>' in html and "[-25.00, +15.00]" in html
    page = summary.section_html(PROFILE, pd.DataFrame([row]), {}, [], summary.gather_deviations(PROFILE, order=[]),
                                summary.inventory({}), claims_mod.rules_table(cfg.rules))
    assert "0 supported, 0 not supported, 1 undecided at this budget, 0 not run" in page
