import numpy as np
import pandas as pd
import pytest

from dtlib.stats import aggregate_table, difference_ci, iqm, stratified_bootstrap_ci


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.array([0, 1, 2, 3, 4, 5, 6, 100])) == pytest.approx(np.mean([2, 3, 4, 5]))


def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_more_runs():
    rng = np.random.default_rng(0)
    few = rng.normal(50, 10, size=(3, 4))
    many = rng.normal(50, 10, size=(60, 4))
    p, lo, hi = stratified_bootstrap_ci(few)
    assert lo <= p <= hi
    _, lo2, hi2 = stratified_bootstrap_ci(many)
    assert hi2 - lo2 < hi - lo


def test_stratification_keeps_tasks_apart():
    # task 0 always scores 0, task 1 always 100: every stratified replicate has mean exactly 50
    scores = np.array([[0.0, 100.0]] * 5)
    assert stratified_bootstrap_ci(scores, aggregate=np.mean) == (50.0, 50.0, 50.0)


def test_difference_interval_excludes_zero_only_for_a_real_gap():
    rng = np.random.default_rng(1)
    a, b = rng.normal(60, 2, (5, 3)), rng.normal(40, 2, (5, 3))
    d, lo, hi = difference_ci(a, b)
    assert lo > 0 and d == pytest.approx(a.mean() - b.mean())
    _, lo, hi = difference_ci(a, a + rng.normal(0, 0.1, a.shape))
    assert lo < 0 < hi


def test_aggregate_table_from_a_tidy_frame():
    df = pd.DataFrame([{"method": m, "task": t, "seed": s, "normalized_score": base + s}
                       for m, base in (("dt", 70), ("bc", 40)) for t in ("a", "b") for s in range(3)])
    out = aggregate_table(df, reps=200)
    assert set(out["method"]) == {"dt", "bc"} and set(out["aggregate"]) == {"IQM", "mean"}
    dt_mean = out.query("method == 'dt' and aggregate == 'mean'").iloc[0]
    assert dt_mean["estimate"] == pytest.approx(71) and dt_mean["runs"] == 3 and dt_mean["tasks"] == 2
