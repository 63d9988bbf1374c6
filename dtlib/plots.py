"""Figures as pure functions of tidy tables: `fig_xxx(df) -> Figure`. No figure trains or evaluates anything.

Each figure is readable without the code: titled, axes labelled with units, legends naming what is drawn.
The notebooks stamp smoke-profile figures with `dtlib.report.label_figure`. Every report draws with one
seaborn theme (`set_theme`, applied when this module is imported); curves over seeds are seaborn
`lineplot`s with their confidence bands, bars over seeds seaborn `barplot`s of per-seed rows with their 95%
bootstrap interval and every seed as a dot.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dtlib.config import method_label

THEME = {"style": "whitegrid", "context": "notebook", "palette": "tab10", "font_scale": 0.9}


def set_theme() -> None:
    """The one look of every report's figures (seaborn's whitegrid, matplotlib's tab10 colours)."""
    sns.set_theme(**THEME)


set_theme()

OUTCOME_COLORS = {"no key": "tab:red", "key, no door": "tab:orange", "success": "tab:green"}
KIND_COLORS = {"random walk": "tab:gray", "shortest path": "tab:blue", "DT": "tab:green"}
OURS = "ours (mean, 95% bootstrap CI over seeds; dots: seeds)"


def _seed_bars(ax: plt.Axes, runs: pd.DataFrame, x: str, y: str, order: list, hue: str | None = None,
               hue_order: list | None = None, palette: dict | None = None, color: str | None = None) -> None:
    """Bars of the seed mean with seaborn's 95% bootstrap interval over seeds, every seed a dot on its bar."""
    where = dict(data=runs, x=x, y=y, order=order, hue=hue, hue_order=hue_order, ax=ax, legend=False)
    sns.barplot(**where, palette=palette, color=color, errorbar=("ci", 95), n_boot=1000, seed=0, capsize=0.2,
                err_kws={"color": "0.2", "linewidth": 1.2})
    sns.stripplot(**where, dodge=hue is not None, jitter=0.08, size=4, alpha=0.8, edgecolor="white", linewidth=0.5,
                  palette={h: "0.15" for h in hue_order} if hue else None, color=None if hue else "0.15")


def _paper_marks(ax: plt.Axes, x: np.ndarray, values: np.ndarray, width: float) -> None:
    """The paper's value as a black horizontal mark across each bar's slot (none where the paper has none)."""
    keep = ~np.isnan(values)
    ax.hlines(values[keep], x[keep] - width / 2, x[keep] + width / 2, color="black", lw=2, zorder=4, label="paper")


def fig_keydoor_success(runs: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """Table 6 as bars: our success rate per method (seed mean, 95% bootstrap CI, each seed a dot), the paper's
    value as a black mark on each bar, one panel per dataset.

    `runs`: one row per run (dataset, method, seed, success_%), e.g. `keydoor_study.learning_curves` of
    `final_evals`. `table`: rows of `keydoor_study.success_table`; it fixes the slots (every dataset x method,
    in order), the paper's value (paper_%) and the Random row (mean_%, a closed form without seeds). A method
    without runs keeps its slot, empty and labelled "not run".
    """
    datasets = list(dict.fromkeys(table["dataset"]))
    random_label = method_label("random")
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), sharey=True, squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        slots = table[table["dataset"] == ds].reset_index(drop=True)
        methods = list(slots["method"])
        part = runs[(runs["dataset"] == ds) & runs["method"].isin(methods)]
        seeds = part.groupby("method")["seed"].nunique()
        if len(part):
            _seed_bars(ax, part, "method", "success_%", methods, color="tab:blue")
        ticks = []
        for x, row in slots.iterrows():
            if row["method"] == random_label:  # a closed form: one value, no seeds, no interval
                ax.bar(x, row["mean_%"], 0.8, color="tab:gray", alpha=0.5, hatch="//")
                ticks.append(f"{row['method']}\n(closed form)")
            elif row["method"] in seeds:
                n = seeds[row["method"]]
                ticks.append(f"{row['method']}\n({n} seed{'s' if n > 1 else ''})")
            else:
                ax.text(x, 2, "not run", ha="center", va="bottom", fontsize=9, style="italic", color="0.3")
                ticks.append(f"{row['method']}\n(not run)")
        _paper_marks(ax, np.arange(len(slots)), slots["paper_%"].to_numpy(dtype=float), 0.8)
        ax.set_xticks(np.arange(len(slots)), ticks)
        ax.set_xlim(-0.6, len(slots) - 0.4)
        ax.set(title=f"{ds} random trajectories", xlabel=None, ylabel=None, ylim=(0, 105))
    axes[0][0].set_ylabel("success rate (%)")
    fig.legend(handles=[Patch(color="tab:blue", label=OURS),
                        Patch(facecolor="tab:gray", alpha=0.5, hatch="//", label="random policy (closed form)"),
                        Line2D([], [], color="black", lw=2, label="paper (Table 6)")],
               loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Key-to-Door success rate (Table 6)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels, clear of the bars
    return fig


def fig_return_probabilities(avg: pd.DataFrame, phase_starts: Sequence[int] = ()) -> Figure:
    """Figure 5 left: the critic's predicted return (P(success)) per step, averaged over episodes by outcome.

    `avg`: rows of `keydoor_study.average_by_outcome` (outcome, t, mean, sem, n); `phase_starts`: steps at
    which phases 2 and 3 begin (dotted lines).
    """
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for outcome, g in avg.groupby("outcome", observed=True, sort=False):
        n_eps = int(g["n"].max())
        ax.plot(g["t"], g["mean"], color=OUTCOME_COLORS.get(str(outcome)), label=f"{outcome} ({n_eps} episodes)")
        ax.fill_between(g["t"], g["mean"] - g["sem"].fillna(0), g["mean"] + g["sem"].fillna(0),
                        color=OUTCOME_COLORS.get(str(outcome)), alpha=0.2)
    for i, t in enumerate(phase_starts):
        ax.axvline(t - 0.5, color="k", ls=":", lw=1)
        ax.text(t, 1.02, f"phase {i + 2}", fontsize=8, va="bottom")
    ax.set_xlabel("timestep in the episode")
    ax.set_ylabel("predicted return = P(success)")
    ax.set_ylim(-0.05, 1.1)
    ax.set_title("Running return predictions by episode outcome (mean ± s.e.)", fontsize=10)
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()
    return fig


def fig_attention(att: pd.DataFrame) -> Figure:
    """Figure 5 right: attention of every timestep's state token over earlier steps, superimposed.

    `att`: rows of `keydoor_study.attention_table` (layer, query_t, key_t, weight, key_step, door_step);
    one panel per layer, one faint line per query step, the key pickup and door steps marked.
    """
    layers = sorted(att["layer"].unique())
    fig, axes = plt.subplots(1, len(layers), figsize=(5 * len(layers), 3.6), sharey=True, squeeze=False)
    key_step, door_step = int(att["key_step"].iloc[0]), int(att["door_step"].iloc[0])
    for ax, layer in zip(axes[0], layers):
        part = att[att["layer"] == layer]
        for q, g in part.groupby("query_t"):
            g = g[g["key_t"] <= q]  # causal: later steps get no weight
            ax.plot(g["key_t"], g["weight"], color="tab:purple", alpha=0.25, lw=1)
        if key_step >= 0:
            ax.axvline(key_step, color="tab:orange", ls="--", label=f"key picked up (t={key_step})")
        if door_step >= 0:
            ax.axvline(door_step, color="tab:green", ls="--", label=f"door reached (t={door_step})")
        ax.set_title(f"layer {layer} (heads averaged)", fontsize=10)
        ax.set_xlabel("attended timestep")
    axes[0][0].set_ylabel("attention weight (one line per query step)")
    axes[0][0].legend(fontsize=8, loc="upper right")
    fig.suptitle("Attention over one successful episode, all timesteps superimposed")
    fig.tight_layout()
    return fig


def fig_steps_histogram(steps: pd.DataFrame, max_steps: int) -> Figure:
    """Figure 6: histogram of steps to reach the goal per kind of path; ∞ = goal not reached.

    `steps`: rows of `graph_study.steps_table` (kind, steps); bars are the fraction of each kind's paths.
    """
    labels = [str(b) for b in range(1, max_steps + 1)] + ["∞"]
    kinds = list(dict.fromkeys(steps["kind"]))
    counts = steps.groupby("kind")["steps"].size()
    binned = steps.assign(bin=[labels[-1] if not np.isfinite(v) else str(int(v)) for v in steps["steps"]],
                          kind=[f"{k} ({counts[k]} paths)" for k in steps["kind"]])
    frac = (binned.groupby("kind")["bin"].value_counts(normalize=True).rename("fraction").reset_index())
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.barplot(frac, x="bin", y="fraction", hue="kind", order=labels, ax=ax,
                hue_order=[f"{k} ({counts[k]} paths)" for k in kinds],
                palette=[KIND_COLORS.get(k, "tab:purple") for k in kinds])
    ax.set_xlabel("steps to reach the goal (∞: not reached)")
    ax.set_ylabel("fraction of paths")
    ax.set_title("Shortest paths on a graph: random walks, BFS shortest paths and the DT (Figure 6)", fontsize=10)
    ax.legend(fontsize=8, title=None)
    fig.tight_layout()
    return fig


def fig_gym_scores(runs: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """Table 2/3 as bars: last-evaluation score per method (seed mean, 95% bootstrap CI, each seed a dot), the
    paper's value as a black mark on each bar, one panel per env.

    `runs`: one row per run (env, dataset, method, seed, last), e.g. `gym_study.table2_runs`; `table`: rows of
    `gym_study.table2`, whose `paper` column gives the paper's value per (env, dataset, method).
    """
    envs = list(dict.fromkeys(runs["env"]))
    methods = list(dict.fromkeys(runs["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=len(methods))))
    paper = table.set_index(["env", "dataset", "method"])["paper"]
    width = 0.8 / len(methods)  # seaborn's dodge: 0.8 per category shared by the hue levels
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4), sharey=True, squeeze=False)
    for ax, env in zip(axes[0], envs):
        part = runs[runs["env"] == env]
        datasets = list(dict.fromkeys(part["dataset"]))
        _seed_bars(ax, part, "dataset", "last", datasets, hue="method", hue_order=methods, palette=palette)
        x = [i + (j - (len(methods) - 1) / 2) * width for i in range(len(datasets)) for j in range(len(methods))]
        values = [paper.get((env, d, m), np.nan) for d in datasets for m in methods]
        _paper_marks(ax, np.array(x), np.array(values, dtype=float), width)
        ax.set(title=env, xlabel=None, ylabel=None)
        ax.axhline(0, color="gray", lw=0.5)
    axes[0][0].set_ylabel("D4RL-normalised score (last evaluation)")
    axes[0][-1].legend(handles=[Patch(color=palette[m], label=m) for m in methods]
                       + [Line2D([], [], color="black", lw=2, label="paper")],
                       title=OURS.replace("CI over", "CI\nover"), title_fontsize=8, fontsize=8,
                       loc="upper left", bbox_to_anchor=(1, 1))
    fig.suptitle("DT vs BC, %BC and CQL (Table 2/3 analog); black marks: the paper")
    fig.tight_layout()
    return fig


def fig_target_return(sweep: pd.DataFrame, panel: str = "medium-replay") -> Figure:
    """Figure 4 analog: achieved vs target return (mean over seeds, band: 95% bootstrap interval over seeds),
    the diagonal and the data's best.

    `sweep`: rows of `gym_study.figure4_sweep` (env, seed, target, return, dataset_best).
    """
    envs = list(dict.fromkeys(sweep["env"]))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs):
        part = sweep[sweep["env"] == env]
        per_seed = part.groupby(["target", "seed"])["return"].mean().reset_index()  # one point per seed
        n_seeds = per_seed["seed"].nunique()
        sns.lineplot(per_seed, x="target", y="return", marker="o", errorbar=("ci", 95), n_boot=1000, seed=0,
                     ax=ax, label=f"DT (mean over {n_seeds} seed{'s' if n_seeds > 1 else ''}, 95% CI)")
        lim = [min(per_seed["target"].min(), per_seed["return"].min()),
               max(per_seed["target"].max(), per_seed["return"].max())]
        ax.plot(lim, lim, ls="--", color="gray", label="achieved = target")
        ax.axvline(part["dataset_best"].iloc[0], color="tab:red", ls=":", label="best episode in the data")
        ax.set_xlabel("target return")
        ax.set_ylabel("achieved return")
        ax.set_title(f"{env} {panel}")
        ax.legend(fontsize=8)
    fig.suptitle("Achieved vs target return (Figure 4 analog)")
    fig.tight_layout()
    return fig


def fig_learning_curves(curves: pd.DataFrame) -> Figure:
    """Success rate against gradient steps, one panel per dataset: each seed faint, the seed mean bold with
    its 95% bootstrap band over seeds.

    `curves`: rows of `keydoor_study.learning_curves` (dataset, method, seed, step, success_%).
    """
    datasets = list(dict.fromkeys(curves["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), sharey=True, squeeze=False)
    methods = list(dict.fromkeys(curves["method"]))
    palette = dict(zip(methods, sns.color_palette(n_colors=len(methods))))
    seeds = curves.groupby("method")["seed"].nunique()
    labelled = curves.assign(method=[f"{m} ({seeds[m]} seed{'s' if seeds[m] > 1 else ''})" for m in curves["method"]])
    palette = {f"{m} ({seeds[m]} seed{'s' if seeds[m] > 1 else ''})": c for m, c in palette.items()}
    for ax, ds in zip(axes[0], datasets):
        part = labelled[labelled["dataset"] == ds]
        sns.lineplot(part, x="step", y="success_%", hue="method", units="seed", estimator=None, palette=palette,
                     alpha=0.3, lw=1, legend=False, ax=ax)
        sns.lineplot(part, x="step", y="success_%", hue="method", palette=palette, marker="o", lw=2,
                     errorbar=("ci", 95), n_boot=1000, seed=0, ax=ax, legend=ax is axes[0][0])
        ax.set_title(f"{ds} random trajectories")
        ax.set_xlabel("gradient steps")
        ax.set_ylim(-2, 102)
    axes[0][0].set_ylabel("success rate (%)")
    if axes[0][0].get_legend() is not None:
        axes[0][0].legend(fontsize=8, title=None)
    fig.suptitle("Key-to-Door success during training (faint: seeds, bold: mean, band: 95% CI over seeds)")
    fig.tight_layout()
    return fig


def fig_snapshot_returns(episodes: pd.DataFrame) -> Figure:
    """Histogram of the Atari dataset's episode returns, stacked by the behaviour snapshot that played them."""
    games = list(dict.fromkeys(episodes["game"]))
    fig, axes = plt.subplots(1, len(games), figsize=(5.5 * len(games), 3.6), squeeze=False)
    for ax, game in zip(axes[0], games):
        part = episodes[episodes["game"] == game]
        sns.histplot(part, x="return", hue="snapshot", multiple="stack", binwidth=2, ax=ax)
        ax.set(title=f"{game}: episode returns in the dataset", xlabel="episode return (raw game points)",
               ylabel="episodes")
    fig.tight_layout()
    return fig
