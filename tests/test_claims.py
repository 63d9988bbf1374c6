"""dtlib.claims: every rule, once, decided from the tables only (supported / not supported / undecided)."""
from __future__ import annotations

import ast
import inspect

import numpy as np
import pandas as pd
import pytest

from dtlib import claims, stats
from dtlib.claims import NOT_RUN, NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, UNDECIDED, ClaimRules, Criterion
from dtlib.profiles import load_profile

# The interval rules are tested at synthetic levels, some far below the paper's scores: the training precondition
# (d4rl_trained_min, keydoor_trained_min) is off here and tested on its own below.
RULES = ClaimRules(bootstrap_reps=300, match_margin=5.0, d4rl_trained_min=0.0, keydoor_trained_min=0.0)


def gym_runs(dt: float = 80.0, bc: float = 30.0, cql: float = 40.0, k1: float = 20.0, dt_delayed: float = 78.0,
             cql_delayed: float = 5.0, pct: float = 79.0, spread: float = 1.0, env: str = "hopper") -> pd.DataFrame:
    """gym_runs rows for one env × 3 datasets × 3 seeds; scores = the given level + a per-seed jitter of ±spread."""
    rows = []
    for ds in ("medium", "medium-replay", "medium-expert"):
        for seed in range(3):
            jitter = [-spread, 0.0, spread][seed]
            for method, p, k, mode, level in (("dt", 1.0, 0, "dense", dt), ("bc", 1.0, 0, "dense", bc),
                                              ("cql", 1.0, 0, "dense", cql), ("dt", 1.0, 1, "dense", k1),
                                              ("dt", 1.0, 0, "delayed", dt_delayed),
                                              ("cql", 1.0, 0, "delayed", cql_delayed),
                                              ("pct_bc", 0.1, 0, "dense", pct)):
                # DT's seeds vary one way, the others' the other way: a spread widens every DT − X interval
                sign = 1.0 if method == "dt" else -1.0
                rows.append({"env": env, "dataset": ds, "method": method, "pct": p, "context_len": k,
                             "reward_mode": mode, "seed": seed, "run": f"r{len(rows)}",
                             "last": level + sign * jitter, "best": level + sign * jitter})
    return pd.DataFrame(rows)


def by_claim(df: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(r["claim"], r["domain"]): r for _, r in df.iterrows()}


D4RL_KEYS = [("DT vs TD learning", "D4RL"), ("DT vs BC on low-quality data", "D4RL"), ("Context length", "D4RL"),
             ("Delayed rewards", "D4RL"), ("%BC", "D4RL")]


# ------------------------------------------------------------------------------------------- one test
@pytest.mark.parametrize("lo,hi,expected", [
    (-4.0, 10.0, SUPPORTED),          # wholly above −5
    (-20.0, -6.0, NOT_SUPPORTED),     # wholly below
    (-8.0, 4.0, NOT_SUPPORTED),       # straddles −5 but only ±6 wide: decided against
    (-25.0, 10.0, UNDECIDED),         # straddles −5 and ±17.5 wide: undecided at this budget
    (-12.5, 2.5, NOT_SUPPORTED),      # exactly ±7.5: still decided
])
def test_an_interval_against_its_threshold(lo, hi, expected):
    test = Criterion("DT − CQL", -5.0, "above", "points", 7.5)
    assert test.judge({"estimate": (lo + hi) / 2, "ci_low": lo, "ci_high": hi}) == expected
    assert test.judge(None) == NOT_RUN
    assert "undecided" in test.text() and "±7.5" in test.text()


def test_below_and_at_least_tests_and_no_undecided_without_a_width():
    below = Criterion("ratio", 1.2, "below")
    assert below.judge({"estimate": 1.0, "ci_low": 0.9, "ci_high": 1.2}) == SUPPORTED
    assert below.judge({"estimate": 1.1, "ci_low": 0.5, "ci_high": 3.0}) == NOT_SUPPORTED  # no width: never undecided
    at_least = Criterion("ρ", 0.8, "at_least")
    assert at_least.judge({"estimate": 0.8, "ci_low": -1.0, "ci_high": 1.0}) == SUPPORTED
    assert at_least.judge({"estimate": 0.79, "ci_low": 0.7, "ci_high": 0.9}) == NOT_SUPPORTED


def test_tests_combine_with_and():
    assert claims.combine([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert claims.combine([SUPPORTED, UNDECIDED]) == UNDECIDED
    assert claims.combine([UNDECIDED, NOT_SUPPORTED]) == NOT_SUPPORTED  # one decided "no" decides the claim
    assert claims.combine([]) == NOT_RUN


# ------------------------------------------------------------------------------------------- D4RL
def test_d4rl_claims_follow_the_numbers():
    good = by_claim(claims.claims({"gym_runs": gym_runs()}, RULES))
    for key in D4RL_KEYS:
        row = good[key]
        assert row["verdict"] == SUPPORTED, key
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"] and np.isfinite(row["ci_low"])
        assert "3 vs 3 seed(s)" in row["runs"]
    assert good[("DT vs BC on low-quality data", "D4RL")]["estimate"] == pytest.approx(50.0)
    assert "+55.1 on our 1 task(s)" in good[("DT vs BC on low-quality data", "D4RL")]["paper_numbers"]  # 82.7 − 27.6
    assert good[("Key-to-Door credit assignment", "Key-to-Door")]["verdict"] == NOT_RUN
    assert good[("Atari", "Atari")]["verdict"] == NOT_RUN

    bad = by_claim(claims.claims({"gym_runs": gym_runs(dt=20.0, k1=40.0, dt_delayed=5.0, pct=40.0)}, RULES))
    for key in D4RL_KEYS:
        assert bad[key]["verdict"] == NOT_SUPPORTED, key
    # DT robust to delay but not above CQL under delayed rewards: the second test fails
    tie = by_claim(claims.claims({"gym_runs": gym_runs(dt_delayed=78.0, cql_delayed=90.0)}, RULES))
    assert tie[("Delayed rewards", "D4RL")]["verdict"] == NOT_SUPPORTED


def test_matches_uses_the_margin():
    close = {"gym_runs": gym_runs(dt=40.0, cql=42.0)}  # DT 2 points below CQL, seeds ±1
    key = ("DT vs TD learning", "D4RL")
    assert by_claim(claims.claims(close, RULES))[key]["verdict"] == SUPPORTED
    strict = ClaimRules(bootstrap_reps=300, match_margin=1.0, d4rl_trained_min=0.0)
    assert by_claim(claims.claims(close, strict))[key]["verdict"] == NOT_SUPPORTED
    assert "−1" in by_claim(claims.claims(close, strict))[key]["rule"].replace("-", "−")


def test_a_wide_interval_across_the_threshold_is_undecided_and_carries_its_interval():
    """DT − CQL = −5 ± a seed spread of 30 points: the interval straddles −5 far wider than ±7.5."""
    key = ("DT vs TD learning", "D4RL")
    wide = by_claim(claims.claims({"gym_runs": gym_runs(dt=40.0, cql=45.0, spread=30.0)}, RULES))[key]
    assert wide["verdict"] == UNDECIDED
    assert wide["ci_low"] < -5.0 < wide["ci_high"] and (wide["ci_high"] - wide["ci_low"]) / 2 > 7.5
    assert UNDECIDED in wide["evidence"] and "wider than ±7.5" in wide["evidence"]
    # the same mean difference with a narrow spread is decided: the interval lies on one side or is narrow
    narrow = by_claim(claims.claims({"gym_runs": gym_runs(dt=40.0, cql=45.0, spread=1.0)}, RULES))[key]
    assert narrow["verdict"] == NOT_SUPPORTED
    # and a wide interval wholly above the threshold is decided in favour
    high = by_claim(claims.claims({"gym_runs": gym_runs(dt=90.0, cql=40.0, spread=15.0)}, RULES))[key]
    assert high["verdict"] == SUPPORTED


def test_power_projects_the_seeds_an_undecided_interval_needs():
    """The half-width with 3 seeds, scaled by 1/sqrt(seeds), gives the seeds that reach the undecided limit."""
    tables = {"gym_runs": gym_runs(dt=40.0, cql=45.0, spread=30.0)}
    pw = claims.power(tables, RULES, ["D4RL"])
    row = pw[pw["measure"] == "DT − CQL"].iloc[0]
    assert row["test_verdict"] == UNDECIDED and row["seeds"] == 3
    expected = int(np.ceil(3 * (row["half_width"] / 7.5) ** 2))
    assert row["seeds_for_undecided_width"] == expected > 3
    wide = by_claim(claims.claims(tables, RULES))[("DT vs TD learning", "D4RL")]
    assert f"about {expected} seeds per method and task instead of 3" in wide["evidence"]
    # a decided test needs no more seeds than it has; the claims table keeps its columns
    narrow = claims.power({"gym_runs": gym_runs(dt=90.0, cql=40.0, spread=1.0)}, RULES, ["D4RL"])
    assert (narrow["seeds_for_undecided_width"] == narrow["seeds"]).all()
    assert list(claims.claims(tables, RULES).columns) == claims.CLAIM_COLUMNS
    assert claims.seeds_needed({"n": 4, "ci_low": -20.0, "ci_high": 10.0}, 7.5) == 16  # ±15 → ±7.5: 4 × 2²


def test_claims_pool_every_env_they_have():
    both = pd.concat([gym_runs(env="hopper"), gym_runs(env="walker2d")], ignore_index=True)
    row = by_claim(claims.claims({"gym_runs": both}, RULES))[("DT vs TD learning", "D4RL")]
    assert "× 6 task(s)" in row["runs"] and "walker2d/medium" in row["evidence"]


def test_return_conditioning_spearman_and_interval():
    rows = [{"env": "hopper", "seed": s, "episode": e, "target": t, "return": t * 0.9 + e, "dataset_best": 1000.0}
            for t in (100.0, 300.0, 500.0, 700.0, 2000.0) for s in range(2) for e in range(3)]
    sweep = pd.DataFrame(rows)
    r = claims.spearman_ci(sweep, "env", 300)
    assert r["estimate"] == pytest.approx(1.0) and r["ci_low"] == pytest.approx(1.0)
    assert "hopper (4 targets)" in r["runs"]  # 2000 lies above the data's best and is left out
    key = ("Return conditioning", "D4RL")
    assert by_claim(claims.claims({"gym_figure4": sweep}, RULES))[key]["verdict"] == SUPPORTED
    row = by_claim(claims.claims({"gym_figure4": sweep.assign(**{"return": 5.0})}, RULES))[key]
    assert row["verdict"] == NOT_SUPPORTED and "same at every target" in row["evidence"]
    row = by_claim(claims.claims({"gym_figure4": sweep[sweep["target"] <= 300]}, RULES))[key]
    assert row["verdict"] == NOT_SUPPORTED and "fewer than 3 targets" in row["evidence"]


# ------------------------------------------------------------------------------------------- Key-to-Door
def keydoor_tables(dt: float, spread: float = 1.0) -> dict[str, pd.DataFrame]:
    per_seed = pd.DataFrame([{"dataset": ds, "method": m, "seed": s, "step": 100,
                              "success_%": {"DT": dt + spread * (s - 1), "CQL": 0.0 + s, "BC": 1.0 + s,
                                            "%BC": 90.0 + s}[m]}
                             for ds in ("1k", "10k") for m in ("DT", "CQL", "BC", "%BC") for s in range(3)])
    table6 = pd.DataFrame([{"dataset": ds, "method": m, "n_seeds": 3, "mean_%": v, "std_%": 1.0,
                            "per_seed_%": "", "paper_%": 0.0}
                           for ds in ("1k", "10k") for m, v in (("DT", dt + 1), ("CQL", 1.0), ("Random", 3.1))])
    return {"keydoor_per_seed": per_seed, "keydoor_table6": table6}


def test_keydoor_needs_dt_above_cql_and_level_with_pct_bc():
    key = ("Key-to-Door credit assignment", "Key-to-Door")
    assert by_claim(claims.claims(keydoor_tables(89.0), RULES))[key]["verdict"] == SUPPORTED
    row = by_claim(claims.claims(keydoor_tables(8.0), RULES))[key]  # above CQL and random, far below %BC
    assert row["verdict"] == NOT_SUPPORTED and "DT − %BC = -83.0" in row["evidence"]
    no_pct = keydoor_tables(8.0)
    no_pct["keydoor_per_seed"] = no_pct["keydoor_per_seed"].query("method != '%BC'")
    assert by_claim(claims.claims(no_pct, RULES))[key]["verdict"] == SUPPORTED  # then DT − random decides
    no_pct["keydoor_per_seed"]["success_%"] = no_pct["keydoor_per_seed"]["success_%"].clip(upper=2.0)
    assert by_claim(claims.claims(no_pct, RULES))[key]["verdict"] == NOT_SUPPORTED


def test_keydoor_undecided_uses_its_own_width_of_10_points():
    """DT − %BC = −6 across −5: DT seeds ±20 (an interval of ±11.8) → undecided; ±14 (±8.3) → decided."""
    key = ("Key-to-Door credit assignment", "Key-to-Door")
    wide = by_claim(claims.claims(keydoor_tables(85.0, spread=20.0), RULES))[key]
    assert wide["verdict"] == UNDECIDED and "DT − %BC" in wide["evidence"] and UNDECIDED in wide["evidence"]
    assert wide["measure"].startswith("DT − %BC") and wide["ci_low"] < -5 < wide["ci_high"]  # the deciding interval
    narrow = by_claim(claims.claims(keydoor_tables(85.0, spread=14.0), RULES))[key]
    assert narrow["verdict"] == NOT_SUPPORTED  # ±8.3 would be "undecided" under D4RL's ±7.5, not under ±10
    assert 7.5 < (narrow["ci_high"] - narrow["ci_low"]) / 2 < 10 and narrow["measure"].startswith("DT − %BC")


# ------------------------------------------------------------------------------------------- Graph
def graph_tables(reached: float, ratios: list[float]) -> dict[str, pd.DataFrame]:
    rows = [{"kind": "random walk", "seed": "—", "paths": 100, "reached_%": 47.0, "mean_steps_reached": 4.2,
             "mean_shortest_same_starts": np.nan, "ratio": np.nan}]
    rows += [{"kind": "DT", "seed": str(i), "paths": 50, "reached_%": reached, "mean_steps_reached": 3.0 * r,
              "mean_shortest_same_starts": 3.0, "ratio": r} for i, r in enumerate(ratios)]
    rows.append({**rows[-1], "seed": "all", "reached_%": 0.0})  # the pooled row is not a seed: never read
    return {"graph_path_summary": pd.DataFrame(rows)}


def test_graph_claim_from_the_path_summary():
    key = ("Shortest paths from random walks", "Graph")
    good = by_claim(claims.claims(graph_tables(100.0, [1.0, 1.02, 1.05]), RULES))[key]
    assert good["verdict"] == SUPPORTED and good["runs"] == "3 seed(s)"
    assert good["estimate"] == pytest.approx(1.0233, abs=1e-3) and "random walks reach it in 47%" in good["evidence"]
    assert by_claim(claims.claims(graph_tables(60.0, [1.0, 1.0, 1.0]), RULES))[key]["verdict"] == NOT_SUPPORTED
    assert by_claim(claims.claims(graph_tables(100.0, [1.0, 1.5, 1.6]), RULES))[key]["verdict"] == NOT_SUPPORTED
    assert by_claim(claims.claims({}, RULES))[key]["verdict"] == NOT_RUN


# ------------------------------------------------------------------------------------------- Atari
def atari_runs(level: float = 1.0) -> pd.DataFrame:
    rows = []
    for seed in range(2):
        for method, pct, k, score in (("dt", 1.0, 30, 60.0), ("bc", 1.0, 30, 20.0), ("pct_bc", 0.1, 30, 10.0),
                                      ("dt", 1.0, 1, 5.0)):
            rows.append({"game": "breakout", "method": method, "pct": pct, "K": k, "seed": seed, "run": "r",
                         "target": 90.0, "ret": 0.0, "score": level * (score + seed), "length": 10, "episodes": 1})
        rows.append({"game": "breakout", "method": "dt", "pct": 1.0, "K": 30, "seed": seed, "run": "r",
                     "target": 10.0, "ret": 0.0, "score": 500.0, "length": 10, "episodes": 1})  # not the paper's target
    return pd.DataFrame(rows)


def test_atari_claims_are_read_at_the_paper_target_only():
    rows = by_claim(claims.claims({"atari_runs": atari_runs()}, RULES))
    for key in [("Atari", "Atari"), ("Context length", "Atari"), ("%BC", "Atari")]:
        assert rows[key]["verdict"] == SUPPORTED, key
    assert rows[("Atari", "Atari")]["estimate"] == pytest.approx(40.0)  # the 500 at target 10 is never read


def test_atari_rows_say_when_the_frame_encoder_was_a_fixed_behaviour_torso():
    """The verdicts do not change with the encoder, but their evidence names the deviation, read from atari_runs."""
    plain = by_claim(claims.claims({"atari_runs": atari_runs().assign(encoder="cnn")}, RULES))
    fixed = by_claim(claims.claims({"atari_runs": atari_runs().assign(encoder="behaviour")}, RULES))
    for key in [("Atari", "Atari"), ("Context length", "Atari"), ("%BC", "Atari")]:
        assert fixed[key]["verdict"] == plain[key]["verdict"] == SUPPORTED
        assert "fixed, not a CNN learned from pixels" in fixed[key]["evidence"]
        assert "fixed" not in plain[key]["evidence"]
    assert "fixed" not in by_claim(claims.claims({"atari_runs": atari_runs()}, RULES))[("Atari", "Atari")]["evidence"]


def test_atari_floor_is_computed_from_the_runs_not_from_words():
    floored_runs = atari_runs(level=0.05)  # every method within 5 gamer-normalised points of random play
    pre = claims.atari_preconditions({"atari_runs": floored_runs}, RULES)
    assert list(pre["game"]) == ["breakout"] and not pre["above_random_floor"].iloc[0]
    assert "breakout" in claims.atari_floor({"atari_runs": floored_runs}, RULES)
    floored = by_claim(claims.claims({"atari_runs": floored_runs}, RULES))
    computed = by_claim(claims.claims({"atari_runs": atari_runs()}, RULES))
    for key in [("Atari", "Atari"), ("Context length", "Atari"), ("%BC", "Atari")]:
        assert floored[key]["verdict"] == NOT_TESTABLE and np.isfinite(floored[key]["estimate"])
    # an old verdict table in English is ignored: only the numbers decide
    words = pd.DataFrame({"game": ["breakout"], "claim": ["some method scores above random play (precondition)"],
                          "ours": [""], "verdict": ["no: every method is at the random-play floor"]})
    again = by_claim(claims.claims({"atari_runs": atari_runs(), "atari_verdicts": words}, RULES))
    assert again[("Atari", "Atari")]["verdict"] == computed[("Atari", "Atari")]["verdict"] == SUPPORTED
    assert set(claims.claims({"atari_datasets": pd.DataFrame()}, RULES).query("domain == 'Atari'")["verdict"]) \
        == {NOT_RUN}


def test_atari_data_span_precondition():
    ds = pd.DataFrame({"game": ["pong"], "return_min": [-21.0], "return_max": [-19.0]})
    pre = claims.atari_preconditions({"atari_datasets": ds}, RULES).iloc[0]
    assert pre["data_span_%"] == pytest.approx(100 * 2 / 36) and not pre["informative"]
    assert np.isnan(pre["best_score"])


# ------------------------------------------------------------------------------------------- the rules
def test_every_claim_is_listed_once_in_the_rules_table_with_the_text_its_verdict_used():
    table = claims.rules_table(RULES)
    rows = claims.claims({}, RULES)
    assert len(rows) == len(claims.CLAIMS) and set(rows["verdict"]) == {NOT_RUN}
    assert rows["paper_numbers"].str.len().min() > 0  # the paper's side is always there
    shown = dict(zip(zip(table["claim"], table["domain"]), table["rule"]))
    for _, r in rows.iterrows():
        assert shown[(r["claim"], r["domain"])] == r["rule"]
    assert "±7.5" in shown[("DT vs TD learning", "D4RL")] and "±10" in shown[("Key-to-Door credit assignment",
                                                                               "Key-to-Door")]
    assert ("Atari preconditions", "Atari") in shown
    assert ("D4RL preconditions", "D4RL") in shown
    assert list(claims.claims({}, RULES, ["Graph"])["domain"]) == ["Graph"]


def test_claims_never_import_the_summary():
    tree = ast.parse(inspect.getsource(claims))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
               {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and "summary" in m for m in imported), imported


def test_a_d4rl_comparison_with_an_undertrained_method_is_not_testable():
    """CQL at ~1/8 of its paper score makes 'DT beats CQL' say nothing about the paper; trained methods are judged."""
    rules = ClaimRules(bootstrap_reps=300, match_margin=5.0)  # the default precondition: 50% of the paper's score
    hopper = {"medium": (67.6, 63.9, 58.0), "medium-replay": (82.7, 27.6, 48.6), "medium-expert": (107.6, 79.6, 111.0)}
    paper_dt, paper_bc, paper_cql = (np.mean([v[i] for v in hopper.values()]) for i in range(3))
    weak_cql = by_claim(claims.claims({"gym_runs": gym_runs(dt=paper_dt, bc=paper_bc, cql=10.0)}, rules))
    row = weak_cql[("DT vs TD learning", "D4RL")]
    assert row["verdict"] == NOT_TESTABLE and "undertrained at this budget: CQL 10.0" in row["evidence"]
    # the cost, from dtlib.plan
    assert "to train it as the `paper` profile: the `paper` profile's 1,000,000 steps, ~" in row["evidence"]
    assert "DT " not in row["evidence"].split("undertrained at this budget:")[1]  # DT is trained: not named
    assert weak_cql[("Return conditioning", "D4RL")]["verdict"] == NOT_RUN  # no Figure 4 table: untouched
    trained = by_claim(claims.claims({"gym_runs": gym_runs(dt=paper_dt, bc=paper_bc, cql=paper_cql)}, rules))
    assert trained[("DT vs TD learning", "D4RL")]["verdict"] == SUPPORTED  # DT 80.3 vs CQL 72.5, seeds ±1
    share = claims.d4rl_training({"gym_runs": gym_runs(dt=paper_dt / 4)}).set_index("method")["share"]
    assert share["dt"] == pytest.approx(0.25) and claims.d4rl_undertrained({"gym_runs": gym_runs(dt=paper_dt / 4)},
                                                                           rules, "d4rl_context").startswith(
        "undertrained at this budget: DT")


def test_the_d4rl_precondition_caps_the_paper_score_by_what_our_data_reaches():
    """A method is judged against min(paper, our data's best-10% mean) per task: CQL at 25 on data whose best
    episodes score 30 is trained; the same CQL on data as good as D4RL's is not; a missing datasets table leaves
    the paper's score as the reference."""
    rules = ClaimRules(bootstrap_reps=300, match_margin=5.0)
    runs = gym_runs(dt=28.0, bc=20.0, cql=25.0, pct=26.0)
    weak = pd.DataFrame({"env": "hopper", "dataset": ["medium", "medium-replay", "medium-expert"],
                         "score_top10": [30.0, 30.0, 30.0]})
    train = claims.d4rl_training({"gym_runs": runs, "gym_datasets": weak}).set_index("method")
    assert train.loc["cql", "reference"] == pytest.approx(30.0) and train.loc["cql", "data_top10"] == 30.0
    assert train.loc["cql", "share"] == pytest.approx(25.0 / 30.0)
    assert train.loc["bc", "reference"] == pytest.approx(np.mean([30.0, 27.6, 30.0]))  # hopper-mr BC 27.6 < 30
    row = by_claim(claims.claims({"gym_runs": runs, "gym_datasets": weak}, rules))[("DT vs TD learning", "D4RL")]
    assert row["verdict"] != NOT_TESTABLE  # both trained against what the data allows: judged
    strong = weak.assign(score_top10=120.0)
    row = by_claim(claims.claims({"gym_runs": runs, "gym_datasets": strong}, rules))[("DT vs TD learning", "D4RL")]
    assert row["verdict"] == NOT_TESTABLE and "CQL 25.0 vs" in row["evidence"] and "(the paper's score)" in \
        row["evidence"]
    bare = claims.d4rl_training({"gym_runs": runs}).set_index("method")
    assert np.isnan(bare.loc["cql", "data_top10"]) and bare.loc["cql", "reference"] == bare.loc["cql", "paper"]


def test_keydoor_claim_is_not_testable_while_dt_has_not_learned():
    """DT at 8% (vs Table 6's 71.8 / 94.6) is an untrained DT, not a refutation; %BC trained; at 89% it is judged."""
    key = ("Key-to-Door credit assignment", "Key-to-Door")
    rules = ClaimRules(bootstrap_reps=300, match_margin=5.0)  # the default precondition: 50% of the paper's success
    row = by_claim(claims.claims(keydoor_tables(8.0), rules))[key]
    assert row["verdict"] == NOT_TESTABLE and "undertrained at this budget: DT 8.0% vs the paper's 83.2%" in \
        row["evidence"] and "DT − %BC = -83.0" in row["evidence"]  # the numbers stay in the row
    assert "%BC " not in row["evidence"].split("undertrained at this budget:")[1]  # %BC at 91%: trained, not named
    # what training DT as the `paper` profile costs: its steps at its batch, priced by dtlib.plan's measured step
    steps = load_profile("paper").notebook_params("keydoor")["steps"]["dt"]
    assert f"to train it as the `paper` profile: the `paper` profile's {steps:,} steps at batch 128, ~" in \
        row["evidence"] and "(dtlib.plan)" in row["evidence"]
    assert by_claim(claims.claims(keydoor_tables(89.0), rules))[key]["verdict"] == SUPPORTED
    train = claims.keydoor_training(keydoor_tables(8.0)).set_index("method")
    assert train.loc["DT", "share"] == pytest.approx(8.0 / np.mean([71.8, 94.6]))
    assert train.loc["%BC", "datasets"] == "10k, 1k" and train.loc["%BC", "share"] > 0.9
    # one dataset only: its own paper number (1K: 71.8) is the reference
    one = keydoor_tables(40.0)
    one["keydoor_per_seed"] = one["keydoor_per_seed"].query("dataset == '1k'")
    assert claims.keydoor_training(one).set_index("method").loc["DT", "paper"] == pytest.approx(71.8)
    assert claims.keydoor_undertrained(one, rules) == ""  # 40 / 71.8 = 56% >= 50%
    assert claims.keydoor_undertrained({}, rules) == ""  # no tables: nothing to say
    assert "Key-to-Door precondition" in set(claims.rules_table(rules)["claim"])


def test_a_trained_share_near_the_line_makes_the_claim_undecided_not_flipped():
    """The trained check carries the share's interval: a DT whose seeds put its share on both sides of 50% neither
    makes the Key-to-Door claim 'not testable' nor lets it be judged — it reads undecided, with the interval; seeds
    clearly below still read 'not testable', seeds clearly above are judged."""
    key = ("Key-to-Door credit assignment", "Key-to-Door")
    rules = ClaimRules(bootstrap_reps=300, match_margin=5.0)
    half = 0.5 * np.mean([71.8, 94.6])  # 41.6: Table 6's mean success over 1K and 10K, halved
    wide = keydoor_tables(half + 1.0, spread=30.0)  # DT seeds 12.6 / 42.6 / 72.6 on each dataset
    train = claims.keydoor_training(wide).set_index("method")
    assert train.loc["DT", "share_low"] < 0.5 < train.loc["DT", "share_high"] and train.loc["DT", "share"] > 0.5
    row = by_claim(claims.claims(wide, rules))[key]
    assert row["verdict"] == UNDECIDED and "whether it is trained is undecided" in row["evidence"]
    assert "DT 42.6% vs the paper's 83.2% (51% [" in row["evidence"] and "%BC 9" not in row["evidence"]
    # the same mean a little under the line is not 'not testable' either: its interval straddles too
    assert by_claim(claims.claims(keydoor_tables(half - 1.0, spread=30.0), rules))[key]["verdict"] == UNDECIDED
    assert by_claim(claims.claims(keydoor_tables(half - 1.0, spread=1.0), rules))[key]["verdict"] == NOT_TESTABLE
    assert by_claim(claims.claims(keydoor_tables(89.0, spread=1.0), rules))[key]["verdict"] == SUPPORTED


def test_a_d4rl_baseline_near_the_trained_line_makes_the_comparison_undecided():
    """CQL at half its reference with seeds ±30 points: 'DT beats CQL' is undecided, not judged and not 'not
    testable'; with seeds ±1 at a fifth of it, 'not testable' as before."""
    rules = ClaimRules(bootstrap_reps=300, match_margin=5.0)
    runs = gym_runs(dt=80.0, bc=30.0, cql=36.0, pct=79.0)
    ref = claims.d4rl_training({"gym_runs": runs}).set_index("method").loc["cql", "reference"]
    runs = runs.copy()
    cql = (runs["method"] == "cql") & (runs["reward_mode"] == "dense")
    runs.loc[cql, "last"] = 0.5 * ref + (runs.loc[cql, "seed"] - 1) * 30.0
    train = claims.d4rl_training({"gym_runs": runs}).set_index("method")
    assert train.loc["cql", "share_low"] < 0.5 < train.loc["cql", "share_high"]
    row = by_claim(claims.claims({"gym_runs": runs}, rules))[("DT vs TD learning", "D4RL")]
    assert row["verdict"] == UNDECIDED and "whether it is trained is undecided" in row["evidence"] and "CQL " in \
        row["evidence"]
    low = by_claim(claims.claims({"gym_runs": gym_runs(cql=0.2 * ref)}, rules))[("DT vs TD learning", "D4RL")]
    assert low["verdict"] == NOT_TESTABLE


def test_share_ci_resamples_seeds_within_each_group():
    lo, hi = stats.share_ci([np.array([10.0, 10.0]), np.array([30.0, 30.0])], 40.0)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)  # no spread: the share itself
    lo, hi = stats.share_ci([np.array([0.0, 40.0]), np.array([20.0])], 20.0, reps=500)
    assert 0.4 < lo < 0.6 and 1.4 < hi < 1.6  # group 1's mean is 0, 20 or 40; group 2 fixed at 20
    assert all(np.isnan(stats.share_ci([], 10.0))) and all(np.isnan(stats.share_ci([np.array([1.0])], 0.0)))
