"""Aggregate scores with uncertainty: the interquartile mean and stratified-bootstrap confidence intervals.

The method of Agarwal et al. 2021 ("Deep RL at the Edge of the Statistical Precipice", the `rliable`
library): scores form a [runs, tasks] matrix per method; a bootstrap replicate resamples runs with
replacement *within each task* (stratified), and the interval is the percentile interval of the
aggregate over replicates. We implement it here because rliable 1.2 depends on `arch` < 8, which does
not import with pandas 3 (`deprecate_kwarg() missing ... 'new_arg_name'`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all entries: the mean of the middle 50% (scipy's 25%-trimmed mean)."""
    return float(sps.trim_mean(np.asarray(scores, dtype=float).ravel(), proportiontocut=0.25))


def mean(scores: np.ndarray) -> float:
    """Plain mean of all entries."""
    return float(np.mean(scores))


def stratified_bootstrap_ci(scores: np.ndarray, aggregate: Callable[[np.ndarray], float] = iqm,
                            reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, low, high) of `aggregate` over a [runs, tasks] score matrix."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    rng = np.random.default_rng(seed)
    n_runs, n_tasks = scores.shape
    idx = rng.integers(0, n_runs, size=(reps, n_runs, n_tasks))  # [reps, runs, tasks], resampled per task
    replicates = scores[idx, np.arange(n_tasks)[None, None, :]]  # [reps, runs, tasks]
    values = np.array([aggregate(r) for r in replicates])
    alpha = (1 - confidence) / 2
    return aggregate(scores), float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def difference_ci(a: np.ndarray, b: np.ndarray, aggregate: Callable[[np.ndarray], float] = mean,
                  reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Interval for aggregate(a) − aggregate(b), runs of a and b resampled independently within each task."""
    a, b = (np.asarray(x, dtype=float).reshape(len(x), -1) for x in (a, b))
    rng = np.random.default_rng(seed)
    ta = np.arange(a.shape[1])[None, None, :]
    ra = a[rng.integers(0, a.shape[0], size=(reps, *a.shape)), ta]
    rb = b[rng.integers(0, b.shape[0], size=(reps, *b.shape)), ta]
    diffs = np.array([aggregate(x) - aggregate(y) for x, y in zip(ra, rb)])
    alpha = (1 - confidence) / 2
    return (aggregate(a) - aggregate(b), float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha)))


def share_ci(groups: Sequence[np.ndarray], reference: float, reps: int = 2000, confidence: float = 0.95,
             seed: int = 0) -> tuple[float, float]:
    """Interval of (mean over groups of each group's seed mean) / `reference`, seeds resampled within each group
    (a task's or dataset's runs): how sure we are of a method's share of what it should reach. (nan, nan) when
    there is nothing to resample or the reference is not positive. Groups may hold different numbers of seeds, which
    `stratified_bootstrap_ci`'s [runs, tasks] matrix cannot."""
    groups = [np.asarray(g, dtype=float).ravel() for g in groups if len(g)]
    if not groups or not reference > 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    total = np.zeros(reps)
    for g in groups:
        total += g[rng.integers(0, len(g), size=(reps, len(g)))].mean(axis=1)
    values = total / len(groups) / reference
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def aggregate_table(df: pd.DataFrame, score: str = "normalized_score", method: str = "method",
                    task: str = "task", run: str = "seed", reps: int = 2000) -> pd.DataFrame:
    """One row per method: IQM and mean with 95% stratified-bootstrap intervals over a tidy table.

    `df` has one row per (method, task, run) — e.g. a seed's mean evaluation score on one dataset.
    Tasks with fewer runs for a method than others are resampled over the runs they have.
    """
    rows = []
    for name, g in df.groupby(method, sort=False):
        wide = g.pivot_table(index=run, columns=task, values=score, aggfunc="mean")
        matrix = wide.dropna().to_numpy()  # [runs, tasks], only runs present for every task
        if matrix.size == 0:
            continue
        for label, fn in (("IQM", iqm), ("mean", mean)):
            point, lo, hi = stratified_bootstrap_ci(matrix, fn, reps=reps)
            rows.append({method: name, "aggregate": label, "estimate": point, "ci_low": lo, "ci_high": hi,
                         "runs": matrix.shape[0], "tasks": matrix.shape[1]})
    return pd.DataFrame(rows)
