"""One run of a sweep: (env, dataset, method, seed, K, reward mode) → a trained, evaluated run folder.

This is what the notebooks call; sweeps are loops over `dataclasses.replace(run_cfg, ...)`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from dtlib.baselines.cql import HISTORY, CQLConfig, CQLLearner, build_cql
from dtlib.config import METHODS, get_preset
from dtlib.data.episodes import DatasetError, EpisodeDataset
from dtlib.data.transitions import TransitionSampler
from dtlib.data.windows import WindowSampler
from dtlib.evaluate import EvalConfig, evaluate
from dtlib.model import DecisionTransformer, MLPBC, ModelConfig
from dtlib.identity import run_identity
from dtlib.results import RunDir, config_dict, note_use
from dtlib.seeding import seed_everything
from dtlib.specs import get_env_spec
from dtlib.train import SupervisedLearner, TrainConfig, train
from dtlib.validate import check_choice, check_positive, check_range


@dataclass(frozen=True)
class RunConfig:
    """What distinguishes one run from another in a sweep."""

    env: str  # a key of dtlib.specs.ENVS
    dataset: str  # the dataset's name, for labels and the run folder ('medium-replay', '1k')
    method: str = "dt"  # 'dt' | 'bc' | 'pct_bc' | 'cql'
    seed: int = 0  # training seed (batches, init, dropout)
    pct: float = 1.0  # %BC: fraction of timesteps kept, best episodes first (1.0 = plain BC)
    context_len: int = 0  # K; 0 = the env spec's K (BC: its preset's)
    reward_mode: str = "dense"  # 'dense' or 'delayed' (all reward at the episode's last step, §5.6)
    return_head: bool = False  # DT also predicts returns-to-go (Key-to-Door critic study)
    use_returns: bool = True  # False: DT without return tokens
    history: str = ""  # CQL: '' = Markov Q (paper); 'key_held' = + the DT context's key bit (dtlib.baselines.cql)

    def __post_init__(self) -> None:
        spec = get_env_spec(self.env)
        check_choice("method", self.method, METHODS)
        check_range("pct", self.pct, 1e-6, 1.0)
        if self.method == "pct_bc" and self.pct >= 1.0:
            raise ValueError("method='pct_bc' needs pct < 1 (pct=1.0 is plain 'bc')")
        check_range("context_len", self.context_len, 0, spec.max_ep_len)
        if self.context_len != 0:
            check_positive("context_len", self.context_len, integer=True)
        check_choice("reward_mode", self.reward_mode, ["dense", "delayed"])
        check_choice("history", self.history, ["", *HISTORY])
        if self.history and self.method != "cql":
            raise ValueError(f"history={self.history!r} is a CQL option; method is {self.method!r}")

    @property
    def name(self) -> str:
        method = f"{self.method}{int(round(self.pct * 100))}" if self.method == "pct_bc" else self.method
        method += f"+{self.history}" if self.history else ""
        method += ("" if self.use_returns else "-noR") + ("+rhead" if self.return_head else "")  # Figure 5's critic
        k = f"-K{self.context_len}" if self.context_len else ""
        return f"{self.env}-{self.dataset}-{method}{k}-{self.reward_mode}-s{self.seed}"


def build_model(run_cfg: RunConfig, data: EpisodeDataset, overrides: dict | None = None) -> torch.nn.Module:
    """The run's model, sized from the data and the preset (normalisation statistics from all the data).

    `overrides` replaces preset model fields (a profile's scaled sizes, CQL's precision); they enter the
    run's config and so its folder name.
    """
    spec = get_env_spec(run_cfg.env)
    preset = get_preset(spec.domain, run_cfg.method)
    longest = int(data.lengths.max())
    if longest > spec.max_ep_len:  # its later timesteps would have no row in the timestep embedding
        raise DatasetError(f"{data.meta.get('path', data.meta.get('name', 'the dataset'))}: an episode of {longest} "
                           f"steps is longer than {spec.name}'s max_ep_len={spec.max_ep_len} (the timestep "
                           "embedding's size); split it at its episode ends or fix the terminal/timeout flags")
    preset_model = {**preset.model, **(overrides or {})}
    if run_cfg.method == "cql":
        return _build_cql(run_cfg, data, spec.max_ep_len, preset_model)
    fields = {"context_len": spec.context_len, "max_ep_len": spec.max_ep_len, "return_scale": spec.reward_scale,
              **preset_model}
    if run_cfg.context_len:
        fields["context_len"] = run_cfg.context_len
    obs_vocab = tuple(int(v) for v in data.meta.get("obs_vocab", ()))
    discrete = data.discrete
    is_mlp = spec.domain == "gym" and run_cfg.method != "dt"
    if spec.domain == "gym":
        mean, std = data.state_stats()  # over all data, before %BC filtering, as the official code
        fields.update(state_mean=tuple(mean.tolist()), state_std=tuple(std.tolist()))
    if run_cfg.method != "dt" and not is_mlp:
        fields["use_returns"] = False  # the paper's transformer BC (Atari)
    else:
        fields["use_returns"] = run_cfg.use_returns
    n_actions = int(data.meta.get("n_actions", data.act_dim)) if discrete else data.act_dim
    cfg = ModelConfig(obs_shape=data.obs_shape, act_dim=n_actions, discrete=discrete, obs_vocab=obs_vocab,
                      return_head=run_cfg.return_head, **fields)
    return MLPBC(cfg) if is_mlp else DecisionTransformer(cfg)


def _build_cql(run_cfg: RunConfig, data: EpisodeDataset, max_ep_len: int, preset_model: dict) -> torch.nn.Module:
    """The CQL agent: sizes from the data, hyperparameters from the preset (CQLConfig defaults otherwise)."""
    fields = dict(preset_model)
    if data.discrete:
        fields.update(discrete=True, act_dim=int(data.meta.get("n_actions", data.act_dim)),
                      obs_vocab=tuple(int(v) for v in data.meta.get("obs_vocab", ())))
    else:
        mean, std = data.state_stats()
        fields.update(act_dim=data.act_dim, state_mean=tuple(mean.tolist()), state_std=tuple(std.tolist()))
    return build_cql(CQLConfig(obs_shape=data.obs_shape, history=run_cfg.history, max_ep_len=max_ep_len, **fields))


def record_runtime(run_dir: RunDir, train_cfg: TrainConfig) -> None:
    """Write where the run first trained into its config.json as 'runtime' (device, precision, threads, host).

    Not part of the folder's hash: a run resumed on another machine keeps its folder (a CUDA run's numbers
    differ from a CPU run's in the last digits; dtlib.sweep sends runs to GPU workers only when asked)."""
    import os

    from dtlib import io

    config = io.read_json(run_dir.config_path)
    if "runtime" in config:
        return
    device = train_cfg.torch_device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    config["runtime"] = {"device": str(device), "device_name": name, "precision": train_cfg.precision,
                         "torch_threads": torch.get_num_threads(), "host": os.uname().nodename}
    io.write_json(run_dir.config_path, config)


def run(run_cfg: RunConfig, data: EpisodeDataset, runs_root: str | Path, eval_cfg: EvalConfig,
        progress: bool = True, model_overrides: dict | None = None, **train_overrides) -> RunDir:
    """Train (or resume, or skip if finished) and evaluate one run; returns its folder."""
    spec = get_env_spec(run_cfg.env)
    preset = get_preset(spec.domain, run_cfg.method)
    train_cfg = TrainConfig(**{**preset.train, "seed": run_cfg.seed, **train_overrides})
    if data.n_steps == 0:
        raise DatasetError("empty dataset")
    seed_everything(run_cfg.seed)  # the initial weights depend on the seed only
    model = build_model(run_cfg, data, model_overrides)
    train_data = data.delayed() if run_cfg.reward_mode == "delayed" else data
    if run_cfg.method == "pct_bc":
        train_data = train_data.top_fraction(run_cfg.pct)
    eval_cfg = dataclasses.replace(eval_cfg, delayed=run_cfg.reward_mode == "delayed")
    if run_cfg.method == "cql":  # the policy ignores the target: one rollout set, labelled with the first target
        eval_cfg = dataclasses.replace(eval_cfg, targets=tuple(eval_cfg.targets or spec.targets)[:1])
    # identity: the code, behaviour files and data the result depends on; part of the folder's hash
    config = config_dict(run_cfg, model.cfg, train_cfg, eval_cfg, dataset_meta=data.meta,
                         model_class=type(model).__name__, identity=run_identity(spec.name, spec.domain, data))
    run_dir = RunDir(runs_root, run_cfg.name, config)
    record_runtime(run_dir, train_cfg)
    if run_cfg.method == "cql":
        history = HISTORY[run_cfg.history].per_step if run_cfg.history else None
        sampler = TransitionSampler(train_data, seed=run_cfg.seed, history=history)
        learner = CQLLearner(model, train_cfg.torch_device)
    else:
        # whole-episode context (K covers the longest episode): windows start at the episode's first step
        sampler = WindowSampler(train_data, model.context_len, seed=run_cfg.seed,
                                from_start=model.context_len >= spec.max_ep_len)
        learner = SupervisedLearner(model, train_cfg)
    train(run_dir, learner, sampler, train_cfg, evaluate=lambda m: evaluate(m, spec, eval_cfg), progress=progress)
    note_use(run_dir)  # the pipeline's index checks every run a report reads against today's code
    return run_dir
