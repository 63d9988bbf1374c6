"""Key-to-Door (paper §5.4–5.5): Table 6's sweep and Figure 5's critic study, as functions of a config.

    cfg = KeyDoorStudy(profile="small", datasets=[1000, 10000], ...)    # the notebook's parameters, checked
    evals, runs = tables(run_sweep(jobs(cfg), runs_dir(profile), profile))   # one row per eval episode; per run
    table = success_table(evals, random_rate)       # Table 6: mean ± std over seeds, the paper's beside

Figure 5 uses a separate "critic" DT trained with `use_returns=False, return_head=True`: with return tokens
as input its return head could copy them (an episode's return-to-go is its constant binary outcome), so
without them it must predict P(success | states and actions so far). Its predictions on held-out
random episodes, averaged per outcome group, are Figure 5 left; its attention on one successful
episode is Figure 5 right. Letters: E episodes, K context steps, L layers, H heads, T tokens.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dtlib import paper
from dtlib.compute import PRECISION_CHOICES, precision_deviations, resolve_precision
from dtlib.config import METHODS, get_preset, method_label
from dtlib.data.episodes import EpisodeDataset
from dtlib.data.generate import keydoor_dataset
from dtlib.data.windows import to_torch, window_batch
from dtlib.envs import keydoor
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, build_model, run
from dtlib.specs import get_env_spec
from dtlib.sweep import DataSource, Job, SweepResult
from dtlib.train import load_model
from dtlib.profiles import check_profile
from dtlib.validate import ParameterError, check_choice, check_fields, check_int, check_items, check_range

ENV = "keydoor"
# Table 6 of the paper (success rate, %), docs/paper-reference.md §2.6; keys: trajectories in the dataset.
PAPER_TABLE6 = {int(row.pop("trajectories")): row for row in paper.table("table6").to_dict("records")}
CRITIC_HELDOUT_SEED = 1_000_003  # seed of the held-out random episodes the critic is read on (not a training set)


@dataclass(frozen=True)
class KeyDoorStudy:
    """The Key-to-Door notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    datasets: tuple[int, ...]  # random trajectories per dataset (Table 6 rows: 1K, 10K)
    methods: tuple[str, ...]  # 'dt', 'bc', 'pct_bc' (and 'cql' once dtlib has it)
    pct: float  # %BC: fraction of timesteps kept, best episodes first
    seeds: tuple[int, ...]  # training seeds per (dataset, method)
    data_seed: int  # seed of the random-policy datasets
    steps: dict[str, int]  # gradient steps per run, per method
    eval_every: int  # steps between evaluations during training (learning curves); the last one is Table 6's
    eval_episodes: int  # evaluation episodes per run
    random_episodes: int  # episodes behind the random policy's success rate
    critic_dataset: int  # trajectories the Figure 5 critic trains on
    critic_steps: int  # gradient steps of the critic
    critic_episodes: int  # held-out random episodes the critic's predictions are averaged over
    threads: int  # torch CPU threads (1 is fastest for these tiny models on a loaded 2-core machine)
    # DT, BC, %BC, critic and CQL training: 'fp32', 'bf16' (autocast) or 'auto' (bf16 only where the CPU multiplies
    # bf16 in hardware, dtlib.compute); runs record the resolved value (docs/speed.md)
    precision: str = "fp32"
    dropout_masks: str = "bernoulli"  # DT, BC, %BC and critic dropout: 'bernoulli' (paper) or 'packed' (cheaper masks)
    dt_batch_size: int = 0  # episodes per DT batch; 0 = the preset's (32). More successes per batch: see docs/studies.md

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_items("datasets", self.datasets, low=1, integer=True)
        check_items("methods", self.methods, METHODS)
        check_range("pct", self.pct, 1e-6, 0.999999)
        check_items("seeds", self.seeds, low=0, high=2**31 - 1, integer=True)
        check_int("data_seed", self.data_seed, 0)
        if not isinstance(self.steps, dict) or set(self.steps) != set(self.methods):
            raise ParameterError(f"steps={self.steps!r} must be a dict giving each method in {list(self.methods)} "
                                 "(and no other) its gradient steps")
        for m, value in self.steps.items():
            check_int(f"steps[{m!r}]", value, 1)
        for name in ("eval_every", "eval_episodes", "random_episodes", "critic_dataset", "critic_steps",
                     "critic_episodes"):
            check_int(name, getattr(self, name), 1)
        check_int("threads", self.threads, 1, 256)
        check_choice("precision", self.precision, PRECISION_CHOICES)
        check_choice("dropout_masks", self.dropout_masks, ["bernoulli", "packed"])
        check_int("dt_batch_size", self.dt_batch_size, 0, 4096)
        check_fields(self)  # strict types of every field (bool is not an int, a string not a list); lists -> tuples

    def model_overrides(self, run_cfg: RunConfig) -> dict:
        """Model fields the study sets: CQL's precision, the DTs' dropout masks (the defaults left out, so that runs
        made before these fields existed keep their identity; 'auto' is resolved: no config sees it)."""
        if run_cfg.method == "cql":
            precision = resolve_precision(self.precision)  # as CQLConfig would
            return {"precision": precision} if precision != "fp32" else {}
        return {"dropout_masks": self.dropout_masks} if self.dropout_masks != "bernoulli" else {}

    def train_overrides(self, run_cfg: RunConfig, steps: int) -> dict:
        """TrainConfig fields: the steps and, for DT/BC, the resolved precision (CQL's is a model field)."""
        out = {"steps": steps}
        if run_cfg.method == "dt" and not run_cfg.return_head and self.dt_batch_size:  # Table 6's DTs, not the critic
            out["batch_size"] = self.dt_batch_size
        precision = resolve_precision(self.precision, "auto")  # as TrainConfig(device='auto') would: CUDA if present
        if run_cfg.method != "cql" and precision != "fp32":
            out["precision"] = precision
        return out

    def run_configs(self) -> list[RunConfig]:
        """The Table 6 sweep: dataset x method x seed, as RunConfigs (sweeps are data)."""
        base = RunConfig(ENV, "1k")
        return [dataclasses.replace(base, dataset=dataset_label(n), method=m, seed=s,
                                    pct=self.pct if m == "pct_bc" else 1.0)
                for n in self.datasets for m in self.methods for s in self.seeds]

    def critic_config(self) -> RunConfig:
        """Figure 5's critic: no return tokens in, a return head out (it predicts P(success | history))."""
        return RunConfig(ENV, dataset_label(self.critic_dataset), "dt", seed=self.seeds[0],
                         use_returns=False, return_head=True)


def dataset_label(n_episodes: int) -> str:
    """'1k', '10k', or the plain number when it is not a multiple of 1000."""
    return f"{n_episodes // 1000}k" if n_episodes % 1000 == 0 else str(n_episodes)


def dataset_summary(cfg: KeyDoorStudy) -> pd.DataFrame:
    """One row per dataset: episodes, steps, success / key-pickup rates and what %BC keeps."""
    rows = []
    for n in sorted(set(cfg.datasets) | {cfg.critic_dataset}):
        data = keydoor_dataset(n, cfg.data_seed)
        kept = data.top_fraction(cfg.pct)
        rows.append({"dataset": dataset_label(n), "episodes": data.n_episodes, "steps": data.n_steps,
                     "success_episodes": int((data.episode_returns > 0).sum()),
                     "success_rate_%": 100 * data.meta["success_rate"], "key_rate_%": 100 * data.meta["key_rate"],
                     "pct_bc_episodes": kept.n_episodes,
                     "pct_bc_success_%": 100 * float((kept.episode_returns > 0).mean())})
    return pd.DataFrame(rows)


def data_source(n_episodes: int, data_seed: int) -> DataSource:
    """How a sweep worker gets a random-policy dataset (generated once, cached under data_dir())."""
    return DataSource.of(keydoor_dataset, n_episodes=n_episodes, seed=data_seed)


def jobs(cfg: KeyDoorStudy) -> list[Job]:
    """The Table 6 sweep and Figure 5's critic as dtlib.sweep jobs (the critic trains alongside the grid)."""
    eval_cfg = EvalConfig(episodes=cfg.eval_episodes)
    grid = [Job(rc, data_source(_n_of(rc.dataset), cfg.data_seed), eval_cfg, cfg.model_overrides(rc),
                {**cfg.train_overrides(rc, cfg.steps[rc.method]), "eval_every": cfg.eval_every}, threads=cfg.threads)
            for rc in cfg.run_configs()]
    rc = cfg.critic_config()
    critic = Job(rc, data_source(cfg.critic_dataset, cfg.data_seed), EvalConfig(episodes=1), cfg.model_overrides(rc),
                 cfg.train_overrides(rc, cfg.critic_steps), threads=cfg.threads)
    return grid + [critic]


def tables(result: SweepResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's Table 6 runs (the critic left out) as (evals, runs).

    evals has one row per evaluation episode and evaluation point (dataset, method, seed, step, episode,
    return, success: the return is 1 on success, else 0); runs one row per run (its folder and the training
    wall time including evaluations, summed over resumes, from summary.json).
    """
    table6 = lambda df: df[df["use_returns"] & ~df["return_head"]]  # noqa: E731  (the critic has neither)
    ev = table6(result.evals)
    evals = pd.DataFrame({"dataset": ev["dataset"].to_numpy(), "method": ev["method"].to_numpy(),
                          "seed": ev["seed"].to_numpy(), "step": ev["step"].to_numpy(),
                          "episode": ev["episode"].to_numpy(), "return": ev["return"].to_numpy(),
                          "success": ev["return"].to_numpy() > 0.5})
    runs = table6(result.runs)[["dataset", "method", "seed", "run", "wall_s"]].reset_index(drop=True)
    return evals, runs


def _n_of(label: str) -> int:
    return int(label[:-1]) * 1000 if label.endswith("k") else int(label)


def final_evals(evals: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last evaluation (the trained policy's; earlier ones are learning-curve points)."""
    if "step" not in evals:
        return evals
    last = evals.groupby(["dataset", "method", "seed"])["step"].transform("max")
    return evals[evals["step"] == last]


def learning_curves(evals: pd.DataFrame) -> pd.DataFrame:
    """Success rate (%) per (dataset, method, seed, step): one point per evaluation during training."""
    return (evals.groupby(["dataset", "method", "seed", "step"], sort=False)["success"].mean() * 100).rename(
        "success_%").reset_index().assign(method=lambda d: d["method"].map(method_label))


def success_table(evals: pd.DataFrame, random_rate: float, datasets: tuple[int, ...],
                  methods: tuple[str, ...] = ("dt", "cql", "bc", "pct_bc")) -> pd.DataFrame:
    """Table 6: success rate (%) mean ± std over seeds per (dataset, method), the paper's number beside.

    One row per dataset x method in `methods` + random; a method without runs (e.g. CQL before dtlib
    has it) gets a row saying "not yet run" instead of a number. Each run counts with its final evaluation.
    """
    evals = final_evals(evals)
    per_seed = (evals.groupby(["dataset", "method", "seed"])["success"].mean() * 100).rename("success_%")
    rows = []
    for n in datasets:
        label = dataset_label(n)
        for m in methods:
            values = per_seed.loc[label, m].to_numpy() if (label, m) in per_seed.index.droplevel(2) else np.array([])
            paper = PAPER_TABLE6.get(n, {}).get(m, np.nan)
            rows.append({"dataset": label, "method": method_label(m), "n_seeds": len(values),
                         "mean_%": values.mean() if len(values) else np.nan,
                         "std_%": values.std(ddof=1) if len(values) > 1 else np.nan,
                         "per_seed_%": ", ".join(f"{v:.0f}" for v in values) if len(values) else "not yet run",
                         "paper_%": paper})
        rows.append({"dataset": label, "method": method_label("random"), "n_seeds": 1, "mean_%": 100 * random_rate,
                     "std_%": np.nan, "per_seed_%": "closed form (random policy)",
                     "paper_%": PAPER_TABLE6.get(n, {}).get("random", np.nan)})
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Table 6 for reading: 'ours' as 'mean ± std (n seeds)', the paper's number beside it."""
    def ours(r) -> str:
        if r["n_seeds"] == 0:
            return "not yet run"
        spread = "" if np.isnan(r["std_%"]) else f" ± {r['std_%']:.1f}"
        seeds = f" ({r['n_seeds']} seed{'s' if r['n_seeds'] > 1 else ''})" if r["method"] != "Random" else ""
        return f"{r['mean_%']:.1f}{spread}{seeds}"

    out = table.assign(ours=table.apply(ours, axis=1), paper=table["paper_%"].map(
        lambda v: "—" if np.isnan(v) else f"{v:.1f}"))
    datasets = list(table["dataset"].drop_duplicates())
    wide = out.pivot(index="method", columns="dataset", values=["ours", "paper"])
    return wide.reindex(index=table["method"].drop_duplicates(),
                        columns=pd.MultiIndex.from_product([["ours", "paper"], datasets]))


# ------------------------------------------------------------------------------------------- Figure 5
def train_critic(cfg: KeyDoorStudy, runs_root: str | Path, progress: bool = False) -> torch.nn.Module:
    """Train (or reuse) Figure 5's critic DT and return it loaded, in eval mode."""
    rc = cfg.critic_config()
    data = keydoor_dataset(cfg.critic_dataset, cfg.data_seed)
    overrides = cfg.model_overrides(rc)
    run_dir = run(rc, data, runs_root, EvalConfig(episodes=1), progress=progress, model_overrides=overrides,
                  **cfg.train_overrides(rc, cfg.critic_steps))
    return load_model(run_dir, build_model(rc, data, overrides))


def heldout_episodes(cfg: KeyDoorStudy) -> EpisodeDataset:
    """Fresh random-policy episodes the critic never saw (Figure 5 is read on these)."""
    return keydoor_dataset(cfg.critic_episodes, CRITIC_HELDOUT_SEED)


def episode_windows(data: EpisodeDataset, episodes: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Whole episodes as left-padded windows of K steps starting at step 0 (the model's batch format)."""
    length = np.minimum(data.lengths[episodes], k)  # [E]
    offset = np.arange(k)[None, :] - (k - length)[:, None]  # [E, K], negative on the left padding
    valid = offset >= 0
    idx = data.starts[episodes][:, None] + np.maximum(offset, 0)  # [E, K] dataset steps
    return window_batch(data, idx, valid, data.returns_to_go(), data.timesteps)


@torch.no_grad()
def running_return_probabilities(model: torch.nn.Module, data: EpisodeDataset, batch: int = 256) -> pd.DataFrame:
    """Figure 5 left, per step: the critic's predicted return at every step of every episode of `data`.

    Columns: episode, t, p (predicted return = P(success) for the binary reward), outcome, key_step, door_step.
    """
    if model.predict_return is None:
        raise ParameterError("model has no return head: train it with return_head=True")
    key_step, door_step, outcome = keydoor.dataset_events(data)
    k = model.context_len
    frames = []
    for lo in range(0, data.n_episodes, batch):
        eps = np.arange(lo, min(lo + batch, data.n_episodes))
        win = episode_windows(data, eps, k)
        p = model(to_torch(win))["return"].numpy()  # [E, K]
        e_idx, pos = np.nonzero(win["mask"] > 0)
        frames.append(pd.DataFrame({"episode": eps[e_idx], "t": win["timesteps"][e_idx, pos], "p": p[e_idx, pos]}))
    df = pd.concat(frames, ignore_index=True)
    return df.assign(outcome=outcome[df["episode"]], key_step=key_step[df["episode"]],
                     door_step=door_step[df["episode"]])


def average_by_outcome(probs: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard error and count of the predicted return per (outcome, t): Figure 5 left's curves."""
    g = probs.groupby(["outcome", "t"])["p"]
    out = pd.DataFrame({"mean": g.mean(), "sem": g.sem(), "n": g.size()}).reset_index()
    out["outcome"] = pd.Categorical(out["outcome"], categories=list(keydoor.OUTCOMES), ordered=True)
    return out.sort_values(["outcome", "t"], ignore_index=True)


def pick_success_episode(data: EpisodeDataset, min_gap: int = 4) -> int:
    """A successful episode whose key pickup comes well before the end of phase 1 (index into `data`).

    The first success with the key picked at least `min_gap` steps into the episode, so that the attention
    plot shows steps both before and after the pickup; the first success if none qualifies.
    """
    key_step, _, outcome = keydoor.dataset_events(data)
    success = np.flatnonzero(outcome == keydoor.OUTCOMES[2])
    if len(success) == 0:
        raise ParameterError("no successful episode in the data; raise critic_episodes")
    late = success[key_step[success] >= min_gap]
    return int(late[0] if len(late) else success[0])


@torch.no_grad()
def attention_table(model: torch.nn.Module, data: EpisodeDataset, episode: int) -> pd.DataFrame:
    """Figure 5 right: attention of every state token of one episode, averaged over heads, per layer.

    Key tokens are summed per step (its state and action, and return token if any), so a row says how
    much the prediction at `query_t` attends to step `key_t`. Columns: layer, query_t, key_t, weight,
    key_step, door_step.
    """
    win = episode_windows(data, np.array([episode]), model.context_len)
    att = model(to_torch(win), need_weights=True)["attention"][0].mean(dim=1).numpy()  # [L, T, T], heads averaged
    n = model.cfg.tokens_per_step
    length = int(win["mask"].sum())
    pad = model.context_len - length
    att = att[:, pad * n:, pad * n:]  # [L, n*len, n*len] real tokens only
    per_step = att.reshape(len(att), length, n, length, n).sum(axis=4)  # [L, len(query), n, len(key)]
    state_rows = per_step[:, :, n - 2]  # [L, len, len] queries at the state tokens
    key_step, door_step, _ = keydoor.dataset_events(data.select(np.array([episode])))
    layer, q, kk = np.meshgrid(np.arange(len(att)), np.arange(length), np.arange(length), indexing="ij")
    return pd.DataFrame({"layer": layer.ravel() + 1, "query_t": q.ravel(), "key_t": kk.ravel(),
                         "weight": state_rows.ravel(), "key_step": int(key_step[0]), "door_step": int(door_step[0])})


def phase_starts(data: EpisodeDataset) -> tuple[int, int]:
    """Steps at which the distractor room and the door room begin (for the figures' phase marks)."""
    p = keydoor.check_params(**data.meta.get("env_params", {}))
    return p["key_steps"], p["key_steps"] + p["distractor_steps"]


def event_attention(att: pd.DataFrame) -> pd.DataFrame:
    """Per layer: mean attention of the door-room state tokens on the key-pickup step (and the one after,
    where the key has vanished from view) against their mean attention on any other earlier step."""
    key = int(att["key_step"].iloc[0])
    door_room = att[(att["query_t"] > key + 1) & (att["key_t"] <= att["query_t"])]
    door_room = door_room[door_room["query_t"] >= door_room["query_t"].max() - 7]  # the last 8 steps
    on_key = door_room["key_t"].isin([key, key + 1])
    return pd.DataFrame({"on key pickup (t, t+1)": door_room[on_key].groupby("layer")["weight"].mean(),
                         "on any other earlier step": door_room[~on_key].groupby("layer")["weight"].mean()})


def deviations(cfg: KeyDoorStudy) -> list[str]:
    """This notebook's departures from the paper, for `report.deviations`."""
    env = keydoor.check_params()
    preset = get_preset(ENV, "dt")
    return [
        f"Environment sizes are ours (the paper states none): {env['height']}x{env['width']} rooms, phases of "
        f"{env['key_steps']} / {env['distractor_steps']} / {env['door_steps']} steps, an empty middle room, "
        "observations = (phase, cell, visible object, offset to it) instead of pixels; Hung et al. 2019 use "
        "7x11 rooms, 15 / 90 / 15 steps and 5x5 pixel views. Sizes chosen so that a random policy succeeds "
        f"about as often as the paper's {paper.table('table6')['random'].iloc[0]:g}%.",
        f"Model: the Gym DT architecture at width {preset.model['embed_dim']}, {preset.model['n_layer']} layers "
        f"({preset.model.get('n_head', 1)} attention heads where the Gym DT has 1, dropout 0.1), "
        f"batch {cfg.dt_batch_size or preset.train['batch_size']} episodes (the critic "
        f"{preset.train['batch_size']}), lr {preset.train['lr']:g} after "
        f"{preset.train['warmup_steps']} warmup steps (preset 'keydoor/dt'; the paper gives no Key-to-Door "
        "hyperparameters).",
        "Gradient steps per run differ by method (" + ", ".join(f"{method_label(m)} {n}" for m, n in cfg.steps.items())
        + "): DT meets a successful episode in ~3% of its windows, %BC in all of them, and BC only has to copy "
        f"the random policy; {len(cfg.seeds)} seed(s), {cfg.eval_episodes} evaluation episodes per run (argmax "
        "actions). The paper states none of these for Key-to-Door.",
        f"%BC keeps the best {100 * cfg.pct:g}% of timesteps (successes only); the paper does not say which "
        "fraction its Table 6 %BC used.",
        "BC is the DT transformer without return tokens (as the paper's Atari BC), not an MLP.",
        ("CQL: dtlib's discrete CQL(H) (`dtlib.baselines.cql`, preset 'keydoor/cql': a Markov Q-network on the "
         f"current observation, d3rlpy DiscreteCQL settings, sizes ours) for {cfg.steps['cql']} steps; the paper "
         "states no CQL settings for Key-to-Door." if "cql" in cfg.methods else
         "CQL: not run (not in `methods`); its row says so."),
        "Figure 5's critic is a DT without return tokens and with a return head (otherwise the head could copy "
        "the constant binary return-to-go it is given); it is read on held-out random episodes.",
        f"Datasets: {', '.join(dataset_label(n) for n in cfg.datasets)} random trajectories from data seed "
        f"{cfg.data_seed} (one dataset per size, shared by all training seeds).",
    ] + precision_deviations(cfg.precision, cfg.dropout_masks, "auto")
