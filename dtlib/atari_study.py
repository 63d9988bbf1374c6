"""Atari (paper §5.1, Tables 1, 4, 5 and Figure 4's Atari panel), as functions of a checked study config.

    study = AtariStudy(profile="small", games=["pong"], ...)   # the notebook's parameters, checked
    data = load_datasets(study)                    # built here (a behaviour DQN's replay) or DQN-replay files
    evals = tidy(run_sweep(jobs(study, data), runs_dir(profile), profile))  # one row per (run, target, episode)
    per_run = run_scores(evals)                   # one row per run x target: mean return and gamer score
    table1(per_run), table4(per_run), table5(per_run, study), figure4(per_run, data)

The sweep is data: `study.run_configs()` lists every RunConfig (DT, BC and %BC per game and seed, then the
context-length ablation). The reported number of a run is its last evaluation (the paper's) at the paper's
target (Breakout 90, Qbert 2500, Pong 20, Seaquest 1450); the default-K DTs are also evaluated at the
Figure 4 targets in the same rollout. Actions are sampled from the softmax, as the official Atari code.
The claims (DT vs BC, %BC, K, Figure 4) and their preconditions are decided by `dtlib.claims` from these tables.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from dtlib import paper
from dtlib.compute import PRECISION_CHOICES, precision_deviations, resolve_precision
from dtlib.config import method_label
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, run
from dtlib.specs import get_env_spec
from dtlib.sweep import DataSource, Job, SweepResult
from dtlib.profiles import check_profile
from dtlib.validate import ParameterError, check_choice, check_fields, check_int, check_items

ATARI_GAMES = ("breakout", "qbert", "pong", "seaquest")
ATARI_METHODS = ("dt", "bc", "pct_bc")
ATARI_ENCODERS = ("cnn", "behaviour")  # the paper's CNN trained end to end | a behaviour snapshot's torso, fixed
REPLAY_FOLDERS = {"breakout": "Breakout", "qbert": "Qbert", "pong": "Pong", "seaquest": "Seaquest"}  # DQN-replay
PAPER_MODEL = {"n_layer": 6, "n_head": 8, "embed_dim": 128}  # [paper App. A, Atari]
PAPER_EVAL_EPISODES = 10  # [repo trainer_atari.py: 10 episodes after each epoch]
PAPER_EPOCHS = 5  # passes over the data [repo run.sh --epochs 5]: ~19.5k steps at batch 128 on 500k transitions
PAPER_BATCH = {"pong": 512}  # [paper App. A / repo run.sh]: 128, Pong 512
RUN_KEYS = ["game", "method", "pct", "K", "seed"]


@dataclass(frozen=True)
class AtariStudy:
    """The Atari notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    games: tuple[str, ...]  # breakout, qbert, pong, seaquest
    dataset_source: str  # 'build' (a behaviour DQN trained here) or a folder holding <Game>/1/replay_logs
    behaviour_steps: int  # build: agent steps of the behaviour DQN = transitions recorded [DQN-replay: 50M]
    behaviour_learning_starts: int  # build: random-action steps before the DQN learns [dopamine: 20k]
    replay_steps: int  # DQN-replay: transitions sampled from the files [paper: 500k = 1%]
    data_seed: int  # seed of the behaviour DQN / of the DQN-replay checkpoint draws
    methods: tuple[str, ...]  # dt, bc, pct_bc
    pcts: tuple[float, ...]  # %BC fractions [paper Table 4: 0.1, 0.25, 0.4]
    seeds: tuple[int, ...]  # training seeds [paper: 3]
    dt_steps: int  # DT gradient steps per run; 0 = the paper's 5 epochs over the data
    bc_steps: int  # BC and %BC gradient steps per run; 0 = the paper's 5 epochs over the data
    batch_size: int  # sequences per batch; 0 = the paper's (128; Pong 512)
    context_len: int  # K of the DT/BC runs; 0 = the paper's (30; Pong 50)
    context_ablation: tuple[int, ...]  # extra K values for DT (Table 5: K=1)
    n_layer: int  # transformer blocks [paper: 6]
    n_head: int  # attention heads [paper: 8]
    embed_dim: int  # width [paper: 128]
    eval_episodes: int  # per target [paper code: 10]
    max_eval_steps: int  # agent steps per evaluation episode (4 frames each) [paper: 27,000 = 108k frames]
    figure4_targets: dict[str, tuple[float, ...]]  # per game: targets the default-K DTs are also evaluated at
    threads: int  # torch CPU threads (0: torch's default)
    # DT, BC and %BC training: 'fp32', 'bf16' (autocast) or 'auto' (bf16 only on a GPU or CPU that multiplies bf16
    # in hardware, dtlib.compute); runs record the resolved value (docs/speed.md)
    precision: str = "fp32"
    dropout_masks: str = "bernoulli"  # DT, BC and %BC dropout: 'bernoulli' (paper) or 'packed' (cheaper masks)
    # the frame encoder of every run: 'cnn', the paper's, trained end to end; 'behaviour', the conv torso of the game's
    # best committed behaviour snapshot, fixed, with a trained Linear + Tanh on top (a deviation, docs/atari.md)
    encoder: str = "cnn"

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_items("games", self.games, ATARI_GAMES)
        if not isinstance(self.dataset_source, str) or not self.dataset_source:
            raise ParameterError(f"dataset_source={self.dataset_source!r} must be 'snapshots', 'build' or a "
                                 "DQN-replay folder")
        if self.dataset_source == "snapshots":
            from dtlib.atari_behaviour import committed_dir

            for g in self.games:
                if not (committed_dir(g) / "snapshots.csv").exists():
                    raise ParameterError(f"dataset_source='snapshots': no behaviour snapshots for {g} "
                                         f"({committed_dir(g)}/snapshots.csv); use 'build' or train and export "
                                         "them (python -m dtlib.atari_behaviour)")
        elif self.dataset_source != "build":
            for g in self.games:
                logs = Path(self.dataset_source).expanduser() / REPLAY_FOLDERS[g] / "1" / "replay_logs"
                if not logs.is_dir():
                    raise ParameterError(f"dataset_source={self.dataset_source!r}: no folder {logs} (copy it with "
                                         f"gsutil -m cp -R gs://atari-replay-datasets/dqn/{REPLAY_FOLDERS[g]} "
                                         f"{self.dataset_source}/), or use 'build'")
        for name in ("dt_steps", "bc_steps", "batch_size"):
            check_int(name, getattr(self, name), 0)  # 0: the paper's
        for name in ("behaviour_steps", "replay_steps", "n_layer", "n_head", "embed_dim", "eval_episodes"):
            check_int(name, getattr(self, name), 1)
        check_int("behaviour_learning_starts", self.behaviour_learning_starts, 0, self.behaviour_steps)
        check_int("data_seed", self.data_seed, 0, 2**31 - 1)
        check_items("methods", self.methods, ATARI_METHODS)
        if "dt" not in self.methods:
            raise ParameterError(f"methods={self.methods!r} must include 'dt' (every table compares against it)")
        check_items("pcts", self.pcts, low=1e-6, high=0.999)
        check_items("seeds", self.seeds, low=0, high=2**31 - 1, integer=True)
        if self.embed_dim % self.n_head:
            raise ParameterError(f"embed_dim={self.embed_dim} must be a multiple of n_head={self.n_head}")
        longest = min(get_env_spec(g).max_ep_len for g in ATARI_GAMES)  # the timestep embedding's size
        check_int("context_len", self.context_len, 0, longest)
        check_items("context_ablation", self.context_ablation, low=1, high=longest, integer=True, empty=True)
        check_int("max_eval_steps", self.max_eval_steps, 1, longest)
        if not isinstance(self.figure4_targets, dict):
            raise ParameterError(f"figure4_targets={self.figure4_targets!r} must be a dict game -> list of target "
                                 "returns")
        for g, targets in self.figure4_targets.items():
            check_choice("figure4_targets", g, ATARI_GAMES)
            check_items(f"figure4_targets[{g!r}]", targets, low=-1e6, high=1e6)
        check_int("threads", self.threads, 0, 256)
        check_choice("precision", self.precision, PRECISION_CHOICES)
        check_choice("dropout_masks", self.dropout_masks, ["bernoulli", "packed"])
        check_choice("encoder", self.encoder, ATARI_ENCODERS)
        if self.encoder == "behaviour":
            from dtlib.atari_behaviour import committed_dir

            for g in self.games:
                if not (committed_dir(g) / "snapshots.csv").exists():
                    raise ParameterError(f"encoder='behaviour': no behaviour snapshots for {g} "
                                         f"({committed_dir(g)}/snapshots.csv); use encoder='cnn'")
        check_fields(self)  # strict types of every field (bool is not an int, a string not a list); lists -> tuples

    @property
    def steps(self) -> dict[str, int]:
        """Gradient steps per method; 0 = the paper's 5 epochs over the data."""
        return {"dt": self.dt_steps, "bc": self.bc_steps, "pct_bc": self.bc_steps}

    @property
    def model(self) -> dict[str, int]:
        """The model sizes the runs override."""
        return {"n_layer": self.n_layer, "n_head": self.n_head, "embed_dim": self.embed_dim}

    def model_overrides(self, run_cfg: RunConfig) -> dict:
        """The ModelConfig fields a run overrides: the sizes, the dropout masks and the encoder (the last two left
        out when the paper's, so that older runs keep their identity)."""
        out = {**self.model, **({"dropout_masks": self.dropout_masks} if self.dropout_masks != "bernoulli" else {})}
        if self.encoder == "behaviour":
            out.update(encoder="frozen_cnn", encoder_weights=self.encoder_weights(run_cfg.env))
        return out

    @staticmethod
    def encoder_weights(game: str) -> str:
        """The snapshot whose conv torso `encoder: behaviour` uses for `game` (a path under the project root)."""
        from dtlib.atari_behaviour import best_snapshot
        from dtlib.paths import project_root

        return best_snapshot(game).relative_to(project_root()).as_posix()

    @property
    def source_label(self) -> str:
        """The dataset column of every run ('dqn-snapshots', 'dqn-build' or 'dqn-replay')."""
        return {"snapshots": "dqn-snapshots", "build": "dqn-build"}.get(self.dataset_source, "dqn-replay")

    def k(self, game: str) -> int:
        """The K of a game's default runs."""
        return self.context_len or get_env_spec(game).context_len

    def run_configs(self) -> list[RunConfig]:
        """Every run: DT, BC and %BC per game and seed (Tables 1 and 4), then DT at the ablation Ks (Table 5)."""
        grid = []
        for game in self.games:
            base = RunConfig(game, self.source_label, context_len=self.k(game))  # K explicit, also the paper's
            for m in self.methods:
                for pct in (self.pcts if m == "pct_bc" else (1.0,)):
                    grid += [dataclasses.replace(base, env=game, method=m, pct=pct, seed=s) for s in self.seeds]
            for k in self.context_ablation:
                if k != self.k(game):
                    grid += [dataclasses.replace(base, env=game, context_len=k, seed=s) for s in self.seeds]
        return grid

    def eval_config(self, run_cfg: RunConfig) -> EvalConfig:
        """Sampled actions (official code), the frame cap; default-K DTs also at the Figure 4 targets."""
        spec = get_env_spec(run_cfg.env)
        targets = spec.targets
        if run_cfg.method == "dt" and run_cfg.context_len == self.k(run_cfg.env):
            targets = tuple(sorted(set(spec.targets) | set(self.figure4_targets.get(run_cfg.env, ()))))
        return EvalConfig(episodes=self.eval_episodes, targets=targets, sample_actions=True,
                          max_steps=self.max_eval_steps, parallel=64)

    def batch(self, game: str) -> int:
        """Sequences per batch: the study's, or 0 for the paper's (128; Pong 512)."""
        return self.batch_size or PAPER_BATCH.get(game, 128)

    def train_overrides(self, run_cfg: RunConfig, n_transitions: int) -> dict:
        """Steps per method (0: the paper's 5 epochs over the data), the batch, a warmup of 10% of the steps (at
        most the preset's 100), checkpoints every 100 steps so a killed run resumes."""
        batch = self.batch(run_cfg.env)
        steps = self.steps[run_cfg.method] or -(-PAPER_EPOCHS * n_transitions // batch)
        out = {"steps": steps, "batch_size": batch, "warmup_steps": max(1, min(100, steps // 10)),
               "checkpoint_every": max(1, min(100, steps)), "log_every": max(1, min(50, steps // 10)),
               "eval_every": 0}
        precision = resolve_precision(self.precision, "auto")  # the runs train on CUDA where their worker has one
        return {**out, "precision": precision} if precision != "fp32" else out


# ------------------------------------------------------------------------------------------- datasets
def build_config(study: AtariStudy, game: str):
    """The behaviour DQN of one game (dtlib.data.atari_build; its other settings are the builder's defaults)."""
    from dtlib.data.atari_build import AtariBuildConfig

    return AtariBuildConfig(env=game, total_steps=study.behaviour_steps,
                            learning_starts=study.behaviour_learning_starts, seed=study.data_seed)


def built_dataset_path(study: AtariStudy, game: str) -> Path:
    """Where a built dataset is kept: the file name ends in a hash of its build config (shared by profiles)."""
    from dtlib.paths import data_dir

    cfg = build_config(study, game)
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode()).hexdigest()[:8]
    return data_dir() / "atari" / f"{game}-dqn{cfg.total_steps}-s{cfg.seed}-{digest}.npz"


def mix_config(study: AtariStudy, game: str):
    """The DQN-replay-like mixture of one game's committed behaviour snapshots (dtlib.data.atari_replay)."""
    from dtlib.data.atari_replay import ReplayMixConfig

    return ReplayMixConfig(env=game, n_steps=study.replay_steps, seed=study.data_seed)


def mix_dataset_path(study: AtariStudy, game: str) -> Path:
    """Where a regenerated mixture is kept: named by a hash of its config and of the snapshot files it rolls out."""
    from dtlib.paths import data_dir

    cfg = mix_config(study, game)
    h = hashlib.sha256(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode())
    for f in sorted(cfg.folder.glob("*")):
        if f.suffix in (".pt", ".csv", ".json"):
            h.update(f.name.encode() + f.read_bytes())
    return data_dir() / "atari" / f"{game}-mix{cfg.n_steps}-s{cfg.seed}-{h.hexdigest()[:8]}.npz"


def load_game_data(study: AtariStudy, game: str, progress: bool = False) -> EpisodeDataset:
    """One game's dataset: a finished build is reused (a killed build restarts), DQN-replay files are sampled."""
    if study.dataset_source == "snapshots":
        from dtlib.data.atari_replay import build_replay_dataset

        path = mix_dataset_path(study, game)
        if not path.exists():
            build_replay_dataset(mix_config(study, game), progress=progress).save(path)
        return EpisodeDataset.load(path)  # the saved copy: its meta (part of every run's identity) is JSON
    if study.dataset_source == "build":
        from dtlib.data.atari_build import build_atari_dataset

        path = built_dataset_path(study, game)
        if not path.exists():
            build_atari_dataset(build_config(study, game), progress=progress).save(path)
            gc.collect()  # SB3's agent holds reference cycles: free its buffer before the frames are read back
        return EpisodeDataset.load(path)  # always the saved copy: its meta (part of every run's hash) is JSON
    from dtlib.data.dqn_replay import DQNReplayConfig, load_dqn_replay

    cfg = DQNReplayConfig(root=str(Path(study.dataset_source).expanduser()), game=REPLAY_FOLDERS[game],
                          num_steps=study.replay_steps, seed=study.data_seed)
    ds = load_dqn_replay(cfg)
    ds.meta = json.loads(json.dumps(ds.meta, default=str))
    return ds


def load_datasets(study: AtariStudy, progress: bool = False) -> dict[str, EpisodeDataset]:
    """Every game's dataset, built or loaded once."""
    return {g: load_game_data(study, g, progress) for g in study.games}


def snapshot_returns(data: dict[str, EpisodeDataset]) -> pd.DataFrame:
    """One row per episode of the snapshot mixtures: game, the snapshot that played it, return, length."""
    from dtlib.data.atari_replay import episodes_table

    frames = [episodes_table(ds).assign(game=g) for g, ds in data.items()
              if ds.meta.get("generator") == "dtlib.data.atari_replay"]
    cols = ["game", "snapshot", "return", "length"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def dataset_table(data: dict[str, EpisodeDataset]) -> pd.DataFrame:
    """One row per game: size and the distribution of episode returns (raw game points), by thirds of the run."""
    rows = []
    for game, ds in data.items():
        ret = ds.episode_returns
        thirds = np.array_split(ret, 3) if len(ret) >= 3 else [ret]
        q = np.percentile(ret, [0, 25, 50, 75, 100])
        source = {"dtlib.data.atari_build": "built here (dtlib.data.atari_build)",
                  "dtlib.data.atari_replay": "behaviour snapshots (dtlib.data.atari_replay)"}.get(
            ds.meta.get("generator"), ds.meta.get("source", ""))
        rows.append({"game": game, "source": source, "episodes": ds.n_episodes,
                     "transitions": ds.n_steps, "return_min": q[0], "return_q25": q[1], "return_median": q[2],
                     "return_q75": q[3], "return_max": q[4], "return_mean": ret.mean(),
                     "return_mean_by_third": " / ".join(f"{t.mean():.1f}" for t in thirds),
                     "episode_len_mean": ds.lengths.mean(),
                     "gamer_score_max": float(get_env_spec(game).normalize(ret.max()))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------- sweep
def jobs(study: AtariStudy, data: dict[str, EpisodeDataset]) -> list[Job]:
    """The grid as dtlib.sweep jobs; `data` (from `load_datasets`, which builds what is missing) sizes the
    paper's epochs, and each worker loads its game's data itself (`load_game_data`: the saved copy).

    GPU: the runs train on CUDA wherever their worker has one (none of them requires it)."""
    return [Job(cfg, DataSource.of(load_game_data, study=study, game=cfg.env), study.eval_config(cfg),
                study.model_overrides(cfg), study.train_overrides(cfg, data[cfg.env].n_steps), threads=study.threads)
            for cfg in study.run_configs()]


def tidy(result: SweepResult, study: AtariStudy) -> pd.DataFrame:
    """One row per evaluation episode with the run's game, method, pct, K, seed, frame encoder (the study's:
    'cnn' or 'behaviour'), last training loss and training wall time (the env's reset seed is `episode_seed`)."""
    extra = result.runs.set_index("run")[["final_loss", "wall_s"]].rename(columns={"wall_s": "train_s"})
    ev = result.evals.rename(columns={"env": "game", "context_len": "K"})
    ev = ev.join(extra, on="run").assign(encoder=study.encoder)
    return ev.drop(columns=[c for c in ("dataset", "reward_mode", "return_head", "use_returns", "history")
                            if c in ev])


def run_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per run x target at the last evaluation: mean return, gamer-normalised score, length, and the
    run's last training loss (cross-entropy; ln(actions) = a uniform guess: 1.79 for Pong's 6, 1.39 for 4)."""
    last = evals[evals["step"] == evals.groupby("run")["step"].transform("max")]
    keys = RUN_KEYS + ["run", "target"] + (["encoder"] if "encoder" in evals else [])
    if "final_loss" not in last:
        last = last.assign(final_loss=np.nan)
    return (last.groupby(keys, dropna=False)
            .agg(ret=("return", "mean"), score=("normalized_score", "mean"), length=("length", "mean"),
                 episodes=("episode", "count"), final_loss=("final_loss", "first")).reset_index())


def _at_paper_target(per_run: pd.DataFrame) -> pd.DataFrame:
    """Rows at each game's paper target (the one number Tables 1, 4 and 5 report; never a best-of targets)."""
    paper_target = per_run["game"].map(lambda g: get_env_spec(g).paper_target)
    return per_run[per_run["target"] == paper_target]


def _default_k(per_run: pd.DataFrame, study_k: dict[str, int]) -> pd.DataFrame:
    return per_run[per_run["K"] == per_run["game"].map(study_k)]


def _summarise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return (df.groupby(keys, sort=False, dropna=False)
            .agg(score_mean=("score", "mean"), score_std=("score", "std"), return_mean=("ret", "mean"),
                 return_std=("ret", "std"), seeds=("seed", "nunique"),
                 per_seed_return=("ret", lambda r: " ".join(f"{v:.1f}" for v in r))).reset_index())


def study_ks(study: AtariStudy) -> dict[str, int]:
    return {g: study.k(g) for g in study.games}


def table1(per_run: pd.DataFrame, study_k: dict[str, int]) -> pd.DataFrame:
    """Table 1 (gamer-normalised) and Table 12 (raw) analog: DT vs BC, mean ± std over seeds, the paper's beside."""
    df = _default_k(_at_paper_target(per_run), study_k)
    df = df[df["method"].isin(["dt", "bc"])].sort_values(["game", "method"], ascending=[True, False])
    out = _summarise(df.assign(method=df["method"].map({"dt": "DT", "bc": "BC"})), ["game", "method"])
    t1 = paper.table("table1").set_index("game")
    col = {"DT": "dt", "BC": "bc"}
    for ours, theirs in (("paper_score", ""), ("paper_score_std", "_std"), ("paper_return", "_raw"),
                         ("paper_return_std", "_raw_std")):
        out[ours] = [float(t1.loc[g, col[m] + theirs]) for g, m in zip(out["game"], out["method"])]
    return out


def table4(per_run: pd.DataFrame, study_k: dict[str, int]) -> pd.DataFrame:
    """Table 4 analog: DT against %BC at each fraction and BC (= 100%BC), gamer-normalised, the paper's beside."""
    df = _default_k(_at_paper_target(per_run), study_k).copy()
    df["method"] = [method_label(m, p) for m, p in zip(df["method"], df["pct"])]
    df["pct_kept"] = np.where(df["method"] == "DT", np.nan, df["pct"] * 100)
    out = _summarise(df.sort_values(["game", "pct_kept"], na_position="first"), ["game", "method", "pct_kept"])
    t4 = paper.table("table4").set_index("game")

    def paper_col(label: str) -> str:
        return {"DT": "dt", "BC": "bc"}.get(label, f"pct_bc{label[:-3]}")

    for ours, suffix in (("paper_score", ""), ("paper_score_std", "_std")):
        out[ours] = [float(t4.loc[g, paper_col(m) + suffix]) if paper_col(m) + suffix in t4.columns else np.nan
                     for g, m in zip(out["game"], out["method"])]
    return out


def table5(per_run: pd.DataFrame, study_k: dict[str, int]) -> pd.DataFrame:
    """Table 5 analog: DT at the study's K against the ablation Ks (K=1), the paper's K=30/50 and K=1 beside."""
    df = _at_paper_target(per_run)
    df = df[df["method"] == "dt"]
    out = _summarise(df.sort_values(["game", "K"], ascending=[True, False]), ["game", "K"])
    t5 = paper.table("table5").set_index("game")
    out["paper_K"] = [get_env_spec(g).context_len if k == study_k.get(g) else (1 if k == 1 else np.nan)
                      for g, k in zip(out["game"], out["K"])]
    out["paper_score"] = [float(t5.loc[g, "dt"]) if k == study_k.get(g) else
                          (float(t5.loc[g, "dt_k1"]) if k == 1 else np.nan) for g, k in zip(out["game"], out["K"])]
    out["paper_score_std"] = [float(t5.loc[g, "dt_std"]) if k == study_k.get(g) else
                              (float(t5.loc[g, "dt_k1_std"]) if k == 1 else np.nan)
                              for g, k in zip(out["game"], out["K"])]
    return out


def figure4(per_run: pd.DataFrame, data: dict[str, EpisodeDataset], study_k: dict[str, int]) -> pd.DataFrame:
    """Atari panel of Figure 4: achieved vs target return of the default-K DTs, one row per game x seed x target."""
    df = _default_k(per_run, study_k)
    df = df[df["method"] == "dt"]
    best = {g: float(ds.episode_returns.max()) for g, ds in data.items()}
    return (df[["game", "seed", "target", "ret", "episodes"]].rename(columns={"ret": "return"})
            .assign(dataset_best=lambda d: d["game"].map(best)).sort_values(["game", "target", "seed"])
            .reset_index(drop=True))


def figure4_correlation(fig4: pd.DataFrame) -> pd.DataFrame:
    """Per game: Spearman ρ of the seed-mean achieved return against the target, and the achieved range."""
    rows = []
    for game, g in fig4.groupby("game"):
        means = g.groupby("target")["return"].mean()
        varies = len(means) > 2 and means.nunique() > 1
        rho, p = sps.spearmanr(means.index, means.to_numpy()) if varies else (np.nan, np.nan)
        rows.append({"game": game, "targets": len(means), "spearman_rho": rho, "p_value": p,
                     "achieved_min": means.min(), "achieved_max": means.max()})
    return pd.DataFrame(rows)


def deviations(study: AtariStudy) -> list[str]:
    """This notebook's deviations from the paper, with the profile's numbers."""
    m, ks = study.model, ", ".join(f"{g} {study.k(g)}" for g in study.games)
    if study.dataset_source == "snapshots":
        from dtlib.data.atari_replay import DEVIATIONS

        data = (f"Data: not DQN-replay but its like, regenerated from behaviour snapshots trained here: "
                f"{study.replay_steps:,} transitions per game from ε-greedy rollouts (ε 0.01, sticky actions 0.25) "
                "of snapshots along one behaviour agent's learning curve (dtlib.data.atari_replay); "
                + "; ".join(DEVIATIONS) + "; rewards are raw game points")
    items = [
        data if study.dataset_source == "snapshots" else
        ("Data: " + (f"built here, not DQN-replay: the whole replay of one stable-baselines3 DQN run of "
                     f"{study.behaviour_steps:,} agent steps per game ({study.behaviour_learning_starts:,} random "
                     "steps first; dtlib.data.atari_build), against 500k transitions sampled from a 50M-step "
                     "dopamine DQN run — much weaker and less varied play; rewards are raw game points"
                     if study.dataset_source == "build" else
                     f"DQN-replay run 1 from `{study.dataset_source}`, {study.replay_steps:,} transitions "
                     "sampled as the official create_dataset.py (rewards clipped to [-1, 1] by dopamine)")),
        f"Model: {m['n_layer']} layers, {m['n_head']} heads, width {m['embed_dim']} (paper: 6, 8, 128); "
        + ("the paper's CNN encoder unchanged." if study.encoder == "cnn" else
           "frame encoder: not the paper's CNN trained end to end but the conv torso of each game's best "
           "committed behaviour snapshot (" + ", ".join(f"{g}: {study.encoder_weights(g)}" for g in study.games)
           + "), fixed, with a trained Linear + Tanh on top, for DT, BC and %BC alike: "
           "features learned online by the agent that played the data's best episodes, so every method starts "
           "from a representation the paper's runs had to learn from pixels (docs/atari.md)."),
        f"Context K: {ks} (paper: 30; Pong 50).",
        "Training: DT " + (f"{study.steps['dt']:,} gradient steps" if study.steps["dt"] else "5 epochs")
        + ", BC/%BC " + (f"{study.steps['bc']:,} gradient steps" if study.steps["bc"] else "5 epochs") + " at "
        + (f"batch {study.batch_size}" if study.batch_size else "the paper's batch")
        + " (paper: 5 epochs over 500k transitions, ~19.5k steps at batch 128, Pong 512); warmup 10% of the steps "
        "(at most 100; the code: ~1 step), then cosine decay.",
        f"Seeds: {len(study.seeds)} (paper: 3); evaluation episodes per target: {study.eval_episodes} "
        f"(paper code: {PAPER_EVAL_EPISODES}); episodes capped at {study.max_eval_steps:,} agent steps "
        f"= {4 * study.max_eval_steps:,} frames (paper: 108,000 frames).",
        (f"%BC fractions: {', '.join(f'{p:.0%}' for p in study.pcts) or 'none'} (paper: 10%, 25%, 40%)."
         if "pct_bc" in study.methods else "%BC not run (paper Table 4: 10%, 25%, 40%): its row reads 'not run'."),
        (f"Context-length runs: K={', '.join(str(k) for k in study.context_ablation)} (paper Table 5: K=1)."
         if study.context_ablation else "No context-length runs (paper Table 5: K=1): its row reads 'not run'."),
        f"Games: {', '.join(study.games)} (paper: breakout, qbert, pong, seaquest).",
        "Emulator: ale-py 0.12's ROMs and Gymnasium's preprocessing (DQN-replay: atari-py <= 0.2.5).",
        "BC is the DT transformer without return tokens (the paper's Atari BC); CQL, QR-DQN and REM are not run.",
        "Reported number: the last checkpoint's mean over episodes at the paper's target (Breakout 90, Qbert 2500, "
        "Pong 20, Seaquest 1450 — the paper's, not the code's 14000/1150); actions sampled from the softmax.",
    ]
    if study.threads:
        items.append(f"torch ran on {study.threads} CPU thread(s); this changes speed, not what is computed.")
    return items + precision_deviations(study.precision, study.dropout_masks, "auto")
