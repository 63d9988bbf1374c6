"""Continuous control (paper §5.2, Tables 2–3, Figure 4, the context and delayed-reward ablations).

    study = GymStudy(profile="small", envs=["hopper"], ...)     # the notebook's parameters, checked
    evals = run_sweep(jobs(study), runs_dir(profile), profile).evals   # one row per (run, eval episode)
    scores = seed_scores(evals)                    # one row per run x target: mean normalised score
    table2(scores)                                 # DT vs BC vs %BC, mean ± std over seeds, paper beside

The sweep is data: `study.run_configs()` lists every RunConfig (Table 2/3 grid, the K=1 ablation and the
delayed-reward runs). Reported numbers are the *last* evaluation (the paper's protocol, issue #16), with
the best over training beside it where `eval_every` produced more than one. Every run is scored at its env's
one target of the paper (`EnvSpec.paper_target`, the paper's appendix: one per env); methods that
do not condition on a target (BC, %BC, CQL) by the mean over whatever targets labelled their rollouts, so no
method gains from a best-of. The official code's two-target maximum stays only as the extra column
`last_max_over_targets` (issue 15).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from dtlib import paper
from dtlib.config import method_label
from dtlib.compute import PRECISION_CHOICES, precision_deviations, resolve_precision
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.baselines.cql import CQLConfig
from dtlib.experiment import RunConfig, build_model, run
from dtlib.specs import get_env_spec
from dtlib.sweep import DataSource, Job
from dtlib.train import load_model
from dtlib.profiles import check_profile
from dtlib.validate import check_choice, check_fields, check_int, check_items, check_range, check_template

GYM_ENVS = ("hopper", "halfcheetah", "walker2d")
GYM_DATASETS = ("medium", "medium-replay", "medium-expert")
GYM_METHODS = ("dt", "bc", "pct_bc", "cql")
RUN_KEYS = ["env", "dataset", "method", "pct", "context_len", "reward_mode", "seed"]
CONDITIONED = ("dt",)  # methods whose policy reads the target return (the others have none to pick)


@dataclass(frozen=True)
class GymStudy:
    """The Gym notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    envs: tuple[str, ...]  # hopper, halfcheetah, walker2d
    datasets: tuple[str, ...]  # medium, medium-replay, medium-expert
    methods: tuple[str, ...]  # dt, bc, pct_bc, cql
    pcts: tuple[float, ...]  # %BC fractions (Table 3: 0.1, 0.25, 0.4)
    seeds: tuple[int, ...]  # training seeds
    dt_steps: int  # DT gradient steps per run [paper: 100,000]
    bc_steps: int  # BC and %BC gradient steps per run [paper appendix: 25,000]
    cql_steps: int  # CQL gradient steps per run [CQL paper: 1,000,000]
    batch_size: int  # DT/BC batch [paper: 64]
    eval_episodes: int  # episodes per target [paper code: 100]
    eval_every: int  # steps between evaluations (0: only the last)
    context_ablation: tuple[int, ...]  # extra K values for DT on `context_envs` (paper §5.3: K=1)
    delayed: bool  # also train DT (and CQL) on delayed rewards (§5.6): `delayed_envs` x `delayed_datasets`
    figure4_points: int  # targets per medium-replay DT in the Figure 4 sweep
    dataset_template: str  # '' = our generated datasets; else e.g. '~/d4rl/{env}_{dataset}-v2.hdf5'
    threads: int  # torch CPU threads per run (0: the cores shared among the sweep's workers, dtlib.sweep)
    # CQL forward passes: 'fp32', 'bf16' (autocast: ~2.4x faster with AMX, ~8x slower on AVX2-only CPUs) or 'auto'
    # (bf16 only where the CPU multiplies bf16 in hardware, dtlib.compute); runs record the resolved value
    cql_precision: str = "fp32"
    delayed_datasets: tuple[str, ...] = ()  # datasets of the delayed-reward runs (empty: every dataset)
    precision: str = "fp32"  # DT and BC training: 'fp32', 'bf16' or 'auto', as cql_precision (docs/speed.md)
    dropout_masks: str = "bernoulli"  # DT and BC dropout: 'bernoulli' (paper) or 'packed' (2x cheaper masks)
    delayed_envs: tuple[str, ...] = ()  # envs of the delayed-reward runs (empty: the first env; paper: Hopper)
    context_envs: tuple[str, ...] = ()  # envs of the context-length runs (empty: the first env)
    # Learning rates (0 / 1: the paper's). DT and BC/%BC: AdamW's rate [paper 1e-4, set for 1e5 steps]; CQL: one
    # factor on its three Adam rates [actor 1e-4, critic 3e-4, temperature 1e-4]. A short budget may need more:
    # benchmarks/gym_lr_pilot.py measures it for every method alike (docs/studies.md)
    dt_lr: float = 0.0
    bc_lr: float = 0.0
    cql_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_items("envs", self.envs, GYM_ENVS)
        check_items("datasets", self.datasets, GYM_DATASETS)
        check_items("methods", self.methods, GYM_METHODS)
        check_items("pcts", self.pcts, low=1e-6, high=0.999)
        check_items("seeds", self.seeds, low=0, high=2**31 - 1, integer=True)
        for name in ("dt_steps", "bc_steps", "cql_steps", "batch_size", "eval_episodes", "figure4_points"):
            check_int(name, getattr(self, name), 1)
        check_int("eval_every", self.eval_every, 0)
        longest_k = get_env_spec(self.envs[0]).max_ep_len
        check_items("context_ablation", self.context_ablation, low=1, high=longest_k, integer=True, empty=True)
        check_template("dataset_template", self.dataset_template, ("env", "dataset"),
                       "'~/d4rl/{env}_{dataset}-v2.hdf5' or 'mujoco/{env}/{dataset}-v0'")
        check_int("threads", self.threads, 0, 256)
        check_choice("cql_precision", self.cql_precision, PRECISION_CHOICES)
        check_choice("precision", self.precision, PRECISION_CHOICES)
        check_choice("dropout_masks", self.dropout_masks, ["bernoulli", "packed"])
        check_items("delayed_datasets", self.delayed_datasets, self.datasets, empty=True)
        check_items("delayed_envs", self.delayed_envs, self.envs, empty=True)
        check_items("context_envs", self.context_envs, self.envs, empty=True)
        for name in ("dt_lr", "bc_lr"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_range("cql_lr_scale", self.cql_lr_scale, 1e-3, 1e3)
        check_fields(self)  # strict types of every field (bool is not an int, a string not a list); lists -> tuples

    @property
    def steps(self) -> dict[str, int]:
        """Gradient steps per method."""
        return {"dt": self.dt_steps, "bc": self.bc_steps, "pct_bc": self.bc_steps, "cql": self.cql_steps}

    def run_configs(self) -> list[RunConfig]:
        """Every run: the Table 2/3 grid, then the context-length and delayed-reward ablations."""
        base = RunConfig(self.envs[0], self.datasets[0])
        grid = []
        for env in self.envs:
            for ds in self.datasets:
                for m in self.methods:
                    for pct in (self.pcts if m == "pct_bc" else (1.0,)):
                        grid += [dataclasses.replace(base, env=env, dataset=ds, method=m, pct=pct, seed=s)
                                 for s in self.seeds]
        first = self.envs[0]
        for env in self.context_envs or (first,):
            for k in self.context_ablation:
                grid += [dataclasses.replace(base, env=env, dataset=ds, context_len=k, seed=s)
                         for ds in self.datasets for s in self.seeds]
        if self.delayed:
            for env in self.delayed_envs or (first,):
                for m in [m for m in self.methods if m in ("dt", "cql")]:
                    grid += [dataclasses.replace(base, env=env, dataset=ds, method=m, reward_mode="delayed", seed=s)
                             for ds in (self.delayed_datasets or self.datasets) for s in self.seeds]
        return grid

    def model_overrides(self, run_cfg: RunConfig) -> dict:
        """Model fields the profile sets: CQL's precision (resolved: no run sees 'auto') and learning rates,
        DT/BC dropout masks."""
        if run_cfg.method == "cql":
            scaled = cql_rates(self.cql_lr_scale) if self.cql_lr_scale != 1.0 else {}
            return {"precision": resolve_precision(self.cql_precision), **scaled}
        return {"dropout_masks": self.dropout_masks} if self.dropout_masks != "bernoulli" else {}

    def train_overrides(self, run_cfg: RunConfig) -> dict:
        """Steps (per method), the batch size and DT/BC's learning rate; warmup scaled with the step budget (10% of
        it, at most 10k)."""
        steps = self.steps[run_cfg.method]
        out = {"steps": steps, "eval_every": self.eval_every}
        if run_cfg.method != "cql":
            if self.precision != "fp32":
                out["precision"] = resolve_precision(self.precision)
            lr = self.dt_lr if run_cfg.method == "dt" else self.bc_lr
            if lr:
                out["lr"] = lr
            out.update(batch_size=self.batch_size, warmup_steps=min(10_000, max(1, steps // 10)),
                       checkpoint_every=max(1, min(1_000, steps)), log_every=max(1, min(100, steps // 10)))
        return out


# overrides that leave only a grid's plain runs (no K=1, no delayed rewards): the pilots' one-method grids
PLAIN_RUNS = {"context_ablation": [], "context_envs": [], "delayed": False, "delayed_datasets": [], "delayed_envs": []}


def profile_study(profile: str, **overrides) -> GymStudy:
    """The profile's Gym study (its `gym` notebook parameters that are GymStudy fields), with `overrides`."""
    from dtlib.profiles import load_profile

    fields = {f.name for f in dataclasses.fields(GymStudy)}
    params = {**load_profile(profile).notebook_params("gym"), **overrides}
    return GymStudy(**{k: v for k, v in params.items() if k in fields})


def dataset_source(study: GymStudy, env: str, dataset: str) -> str:
    """Where a dataset comes from: our generated Minari id for the profile, or the user's template."""
    if study.dataset_template:
        return study.dataset_template.format(env=env, dataset=dataset)
    from dtlib.data.generate_mujoco import profile_namespace

    return f"{profile_namespace(study.profile)}/{env}/{dataset}-v0"


def load_datasets(study: GymStudy) -> dict[tuple[str, str], EpisodeDataset]:
    """Every (env, dataset) the study needs, loaded once (clear DatasetError if one is missing or corrupt)."""
    from dtlib.data.generate_mujoco import load_dataset

    return {(env, ds): load_dataset(dataset_source(study, env, ds)) for env in study.envs for ds in study.datasets}


def eval_config(study: GymStudy) -> EvalConfig:
    return EvalConfig(episodes=study.eval_episodes)


def data_source(study: GymStudy, env: str, dataset: str) -> DataSource:
    """How a sweep worker loads one (env, dataset) (from files every worker can read)."""
    from dtlib.data.generate_mujoco import load_dataset

    return DataSource.of(load_dataset, source=dataset_source(study, env, dataset))


def jobs(study: GymStudy) -> list[Job]:
    """The grid as dtlib.sweep jobs: every run config with its data, evaluation and the profile's budgets.

    `run_sweep(jobs(study), runs_root, study.profile).evals` has one row per evaluation episode with the
    run's RUN_KEYS and folder (`run`) attached.
    """
    return [Job(cfg, data_source(study, cfg.env, cfg.dataset), eval_config(study), study.model_overrides(cfg),
                study.train_overrides(cfg), threads=study.threads) for cfg in study.run_configs()]


def seed_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per run × eval step × target: mean normalised score and return over its episodes."""
    keys = RUN_KEYS + ["run", "step", "target"]
    return (evals.groupby(keys, dropna=False)
            .agg(normalized_score=("normalized_score", "mean"), ret=("return", "mean"),
                 length=("length", "mean"), episodes=("episode", "count")).reset_index())


def one_target(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows a run is scored by: a return-conditioned method's at its env's paper target only, the others'
    at every target they were labelled with (their policy ignores it: the rows are averaged, never maxed)."""
    paper_target = scores["env"].map(lambda e: get_env_spec(e).paper_target)
    return scores[~scores["method"].isin(CONDITIONED) | (scores["target"] == paper_target)]


def run_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per run, scored at one target (`one_target`): the last evaluation ('last') and the best over
    training ('best'); `last_max_over_targets` is the official code's best of its two targets, an extra
    column only (the paper's tables use one target per env)."""
    keys = RUN_KEYS + ["run"]
    per_step = one_target(scores).groupby(keys + ["step"], dropna=False)["normalized_score"].mean().reset_index()
    last = per_step.sort_values("step").groupby(keys, dropna=False).tail(1).rename(
        columns={"normalized_score": "last"}).drop(columns="step")
    best = per_step.groupby(keys, dropna=False)["normalized_score"].max().rename("best").reset_index()
    step_max = scores.groupby(keys + ["step"], dropna=False)["normalized_score"].max().reset_index()
    best_of = step_max.sort_values("step").groupby(keys, dropna=False).tail(1).rename(
        columns={"normalized_score": "last_max_over_targets"}).drop(columns="step")
    return last.merge(best, on=keys).merge(best_of, on=keys)


def table2_runs(per_run: pd.DataFrame) -> pd.DataFrame:
    """The runs behind Table 2/3 (dense rewards, default K), one row per seed, methods by their table label."""
    df = per_run[(per_run["reward_mode"] == "dense") & (per_run["context_len"] == 0)].copy()
    df["method"] = [method_label(m, p) for m, p in zip(df["method"], df["pct"])]
    return df


def table2(per_run: pd.DataFrame) -> pd.DataFrame:
    """Table 2/3 analog: dense rewards, default K; mean ± std over seeds (last and best), the paper's beside."""
    df = table2_runs(per_run)
    extra = {"last_max_over_targets_mean": ("last_max_over_targets", "mean")} \
        if "last_max_over_targets" in df else {}  # the official code's two-target best: an extra column only
    out = (df.groupby(["env", "dataset", "method"])
           .agg(last_mean=("last", "mean"), last_std=("last", "std"), best_mean=("best", "mean"),
                best_std=("best", "std"), seeds=("seed", "nunique"), **extra).reset_index())
    t2 = paper.table("table2").set_index(["env", "dataset"])
    t3 = paper.table("table3").set_index(["env", "dataset"])
    peers = paper.table("peers_d4rl").set_index(["env", "dataset"])

    def paper_value(env: str, dataset: str, label: str) -> float:
        col = {"DT": "dt", "BC": "bc", "CQL": "cql"}.get(label)
        if col and (env, dataset) in t2.index:
            return float(t2.loc[(env, dataset), col])
        pct_col = f"pct_bc{label[:-3]}" if label.endswith("%BC") else None
        if pct_col and (env, dataset) in t3.index and pct_col in t3.columns:
            return float(t3.loc[(env, dataset), pct_col])
        return np.nan

    out["paper"] = [paper_value(e, d, m) for e, d, m in zip(out["env"], out["dataset"], out["method"])]
    for col in ("corl_last", "d3rlpy_final"):
        out[col] = [float(peers.loc[(e, d), col]) if m == "DT" and (e, d) in peers.index else np.nan
                    for e, d, m in zip(out["env"], out["dataset"], out["method"])]
    return out


def ablation_table(per_run: pd.DataFrame, env: str) -> pd.DataFrame:
    """K=1 vs default K and delayed vs dense, for `env`: mean ± std of the last evaluation over seeds."""
    df = per_run[(per_run["env"] == env) & (per_run["method"].isin(["dt", "cql"]))].copy()
    spec = get_env_spec(env)
    # CQL acts on the current state only (K = 1 in effect); DT's 0 means the spec's K
    df["K"] = np.where(df["method"] == "cql", 1, np.where(df["context_len"] == 0, spec.context_len, df["context_len"]))
    out = (df.groupby(["dataset", "method", "K", "reward_mode"])
           .agg(last_mean=("last", "mean"), last_std=("last", "std"), seeds=("seed", "nunique")).reset_index())
    delayed = paper.table("delayed").set_index(["env", "dataset"])

    def paper_value(row) -> float:
        if (env, row["dataset"]) not in delayed.index or (row["method"] == "dt" and row["K"] != spec.context_len):
            return np.nan
        col = f"{row['reward_mode']}_{row['method']}"
        return float(delayed.loc[(env, row["dataset"]), col]) if col in delayed.columns else np.nan

    out["paper"] = out.apply(paper_value, axis=1)
    return out


def ablation_tables(per_run: pd.DataFrame, study: "GymStudy") -> pd.DataFrame:
    """`ablation_table` for every env with context-length or delayed-reward runs, an `env` column first."""
    first = study.envs[0]
    envs = [e for e in study.envs if e in set(study.context_envs or (first,)) | set(study.delayed_envs or (first,))]
    parts = [ablation_table(per_run, env).assign(env=env) for env in envs]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["env"] + [c for c in out.columns if c != "env"]]


def _interval(a: np.ndarray, b: np.ndarray, reps: int = 2000) -> tuple[float, float, float]:
    """mean(a) − mean(b) over seeds with its 95% bootstrap interval (dtlib.stats.difference_ci)."""
    from dtlib.stats import difference_ci

    return difference_ci(np.asarray(a, float)[:, None], np.asarray(b, float)[:, None], reps=reps)


def method_gap(per_run: pd.DataFrame, dataset: str, a: str = "dt", b: str = "bc", reps: int = 2000) -> pd.DataFrame:
    """Method `a` minus method `b` (last evaluation, dense rewards, default K) on one dataset, per env, with a
    95% bootstrap interval over seeds."""
    df = per_run[(per_run["dataset"] == dataset) & (per_run["reward_mode"] == "dense")
                 & (per_run["context_len"] == 0)]
    rows = []
    la, lb = method_label(a), method_label(b)  # the claims' verdicts are dtlib.claims'; this table carries the numbers
    for env, g in df.groupby("env"):
        x, y = g[g["method"] == a]["last"].to_numpy(), g[g["method"] == b]["last"].to_numpy()
        if len(x) and len(y):
            d, lo, hi = _interval(x, y, reps)
            rows.append({"env": env, "dataset": dataset, "a": la, "b": lb, f"{a}_minus_{b}": d, "ci_low": lo,
                         "ci_high": hi, "seeds": f"{len(x)} vs {len(y)}"})
    return pd.DataFrame(rows)


def dt_vs_bc(per_run: pd.DataFrame, dataset: str, reps: int = 2000) -> pd.DataFrame:
    """DT minus BC (last evaluation) on one dataset, per env, with a 95% bootstrap interval."""
    return method_gap(per_run, dataset, "dt", "bc", reps)


def delayed_drop(per_run: pd.DataFrame, env: str, method: str, reps: int = 2000) -> pd.DataFrame:
    """Dense minus delayed reward (last evaluation, default K) per dataset for one method, with a 95% interval."""
    df = per_run[(per_run["env"] == env) & (per_run["method"] == method) & (per_run["context_len"] == 0)]
    rows = []
    for ds, g in df.groupby("dataset"):
        dense = g[g["reward_mode"] == "dense"]["last"].to_numpy()
        delayed = g[g["reward_mode"] == "delayed"]["last"].to_numpy()
        if len(dense) and len(delayed):
            d, lo, hi = _interval(dense, delayed, reps)
            rows.append({"env": env, "dataset": ds, "method": method, "dense": dense.mean(),
                         "delayed": delayed.mean(), "drop": d, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def dt_vs_cql_table(study: GymStudy, per_run: pd.DataFrame) -> pd.DataFrame:
    """DT − CQL with its interval on every dataset of the study (empty when CQL did not run)."""
    gaps = [method_gap(per_run, ds, "dt", "cql") for ds in study.datasets] if "cql" in study.methods else []
    return pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame()


def delayed_drop_table(study: GymStudy, per_run: pd.DataFrame) -> pd.DataFrame:
    """Dense − delayed with its interval for DT and CQL on the first env (empty without delayed runs)."""
    drops = [delayed_drop(per_run, study.envs[0], m) for m in ("dt", "cql") if m in study.methods]
    return pd.concat(drops, ignore_index=True) if drops else pd.DataFrame()


def figure4_targets(data: EpisodeDataset, points: int) -> list[float]:
    """Targets from well below the dataset's returns to 20% above its best episode (Figure 4's x-axis)."""
    returns = data.episode_returns
    return list(np.round(np.linspace(np.percentile(returns, 5), 1.2 * returns.max(), points), 1))


def figure4_sweep(study: GymStudy, runs_root: str | Path, data: dict, progress: bool = True) -> pd.DataFrame:
    """Achieved vs target return for every dense, default-K DT run on medium-replay: one row per episode."""
    frames = []
    for cfg in study.run_configs():
        if (cfg.method, cfg.dataset, cfg.reward_mode, cfg.context_len) != ("dt", "medium-replay", "dense", 0):
            continue
        ds = data[(cfg.env, cfg.dataset)]
        run_dir = run(cfg, ds, runs_root, eval_config(study), progress=False,
                      model_overrides=study.model_overrides(cfg), **study.train_overrides(cfg))
        model = load_model(run_dir, build_model(cfg, ds, study.model_overrides(cfg)))
        ev = evaluate(model, get_env_spec(cfg.env),
                      EvalConfig(episodes=study.eval_episodes, targets=tuple(figure4_targets(ds, study.figure4_points))),
                      progress=progress)
        frames.append(ev.assign(env=cfg.env, seed=cfg.seed, dataset_best=float(ds.episode_returns.max())))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def figure4_correlation(sweep: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of achieved vs target return, over targets within the dataset's return range."""
    rows = []
    for env, g in sweep.groupby("env"):
        inside = g[g["target"] <= g["dataset_best"]]
        means = inside.groupby("target")["return"].mean()
        rho, p = sps.spearmanr(means.index, means.to_numpy()) if len(means) > 2 else (np.nan, np.nan)
        rows.append({"env": env, "targets": len(means), "spearman_rho": rho, "p_value": p})
    return pd.DataFrame(rows)


def dataset_table(data: dict[tuple[str, str], EpisodeDataset]) -> pd.DataFrame:
    """One row per dataset: episodes, transitions and the D4RL-normalised episode scores' spread;
    `score_top10` is the mean over the episodes 10%BC clones (the best episodes holding 10% of the timesteps,
    `EpisodeDataset.top_fraction`): the level the claims' training precondition expects a method to be able to
    reach on this data (`claims.d4rl_training`)."""
    rows = []
    for (env, name), ds in data.items():
        spec = get_env_spec(env)
        score = spec.normalize(ds.episode_returns)
        rows.append({"env": env, "dataset": name, "episodes": ds.n_episodes, "transitions": ds.n_steps,
                     "score_mean": score.mean(), "score_min": score.min(), "score_median": np.median(score),
                     "score_max": score.max(),
                     "score_top10": float(spec.normalize(ds.top_fraction(0.1).episode_returns).mean()),
                     "source": ds.meta.get("dataset_id", ds.meta.get("source", ""))})
    return pd.DataFrame(rows)


def cql_rates(scale: float) -> dict[str, float]:
    """CQL's three Adam rates (CQLConfig's defaults: actor, critic, temperature) times `scale`."""
    return {f"{k}_lr": float(f"{getattr(CQLConfig, f'{k}_lr') * scale:.6g}") for k in ("actor", "critic", "temp")}


def lr_deviations(study: GymStudy) -> list[str]:
    """The learning rates that differ from the paper's, with the reason (one line each)."""
    why = (f"chosen for {study.steps['dt']} DT / {study.steps['bc']} BC / {study.steps['cql']} CQL steps by "
           "benchmarks/gym_lr_pilot.py (one rate grid per method, seeds outside the grid, best mean over the tasks; "
           "docs/studies.md)")
    items = []
    if study.dt_lr and study.dt_lr != 1e-4:
        items.append(f"DT learning rate {study.dt_lr:g} (paper 1e-4 for 100k steps), {why}.")
    if study.bc_lr and study.bc_lr != 1e-4 and {"bc", "pct_bc"} & set(study.methods):
        items.append(f"BC/%BC learning rate {study.bc_lr:g} (paper's DT setting 1e-4), {why}.")
    if study.cql_lr_scale != 1.0 and "cql" in study.methods:
        ours, paper_rates = cql_rates(study.cql_lr_scale), cql_rates(1.0)
        items.append(f"CQL learning rates x{study.cql_lr_scale:g}: actor {ours['actor_lr']:g}, critic "
                     f"{ours['critic_lr']:g}, temperature {ours['temp_lr']:g} (d3rlpy/CQL paper: "
                     f"{paper_rates['actor_lr']:g}, {paper_rates['critic_lr']:g}, {paper_rates['temp_lr']:g} "
                     f"for 1M steps), {why}.")
    return items


def deviations(study: GymStudy) -> list[str]:
    """This notebook's deviations from the paper, with the profile's numbers."""
    items = [
        "Datasets: " + ("this project's own D4RL-style datasets (notebook 10: SAC behaviour policies on Gymnasium "
                        "MuJoCo -v5), not D4RL's -v2 files; scores are not directly comparable with the paper's."
                        if not study.dataset_template else f"loaded from `{study.dataset_template}`."),
        "Environments: Gymnasium MuJoCo -v5 (mujoco 4 bindings) instead of gym -v3 on mujoco-py.",
        f"Training steps: DT {study.steps['dt']}, BC/%BC {study.steps['bc']}, CQL {study.steps['cql']} "
        "(paper: DT 100,000; BC 25,000 per its appendix; CQL numbers copied from the CQL paper at 1M).",
        f"Warmup: 10% of the steps, at most 10,000 (the official code: 10,000; the appendix: 100,000).",
        *lr_deviations(study),
        f"Seeds: {len(study.seeds)}; evaluation episodes per target: {study.eval_episodes} (paper code: 100).",
        "CQL is run by us on the same data (the paper copied its CQL numbers from Kumar et al. 2020).",
        "Reported score per run: the last evaluation at the env's one target, as the paper ("
        + ", ".join(f"{e} {get_env_spec(e).paper_target:g}" for e in study.envs) + "); the official code "
        "evaluates two targets per env and its better one is only an extra column (`last_max_over_targets`).",
    ]
    if study.delayed and study.delayed_datasets and set(study.delayed_datasets) != set(study.datasets):
        items.append(f"Delayed-reward runs on {', '.join(study.delayed_datasets)} only (paper: all three Hopper "
                     "datasets), to fit the profile's time budget.")
    if "pct_bc" in study.methods and set(study.pcts) != {0.1, 0.25, 0.4}:
        items.append(f"%BC fractions {', '.join(f'{p:g}' for p in study.pcts)} only (paper Table 3: 0.1, 0.25 and 0.4; "
                     "0.1 is its best on average, 56.7 vs 53.1 and 49.4), to fit the profile's time budget: 'best "
                     "%BC' is the best of these.")
    if study.context_ablation and len(study.context_envs) > 1:
        items.append(f"Context-length runs (K={', '.join(str(k) for k in study.context_ablation)}) on "
                     f"{', '.join(study.context_envs)}, so the context-length verdict rests on more than one env.")
    if study.delayed and len(study.delayed_envs) > 1:
        items.append(f"Delayed-reward runs on {', '.join(study.delayed_envs)} (paper: Hopper only), so the "
                     "delayed-reward verdict rests on more than one env.")
    if study.threads:
        items.append(f"torch ran on {study.threads} CPU thread(s); this changes speed, not results semantics.")
    cql = [f"CQL: {line}" for line in precision_deviations(study.cql_precision)]
    return items + precision_deviations(study.precision, study.dropout_masks) + cql
