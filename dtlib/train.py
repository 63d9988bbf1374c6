"""The one training loop: DT, BC and (later) CQL differ only by the learner and the batch sampler passed in.

A learner has `update(batch) -> metrics`, `state_dict()`, `load_state_dict()` and a `model` with
`act(batch)`. The loop owns progress, logging, NaN checks, checkpoints and resume: a killed run resumes
from its last checkpoint and ends with exactly the weights an uninterrupted run gives.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import pandas as pd
import torch
from tqdm import tqdm  # text bars: no ipywidgets needed, and they read in the HTML reports

from dtlib import io
from dtlib.compute import PRECISION_CHOICES, resolve_precision
from dtlib.data.windows import to_torch
from dtlib.results import RunDir
from dtlib.seeding import rng_state, seed_everything, set_rng_state
from dtlib.validate import check_choice, check_positive, check_range


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


# A gradient-norm limit this large never binds (clip_grad_norm_ scales by min(1, limit / norm) = 1 unless the norm
# exceeds it, and a norm of 1e9 has diverged anyway), so the learner skips clipping: the official BC does not clip.
NO_CLIP = 1e9


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults are the paper's Gym settings (docs/paper-reference.md §3.1)."""

    steps: int = 100_000  # gradient steps [paper: 1e5]
    batch_size: int = 64  # [paper Gym: 64; Atari: 128, Pong 512]
    lr: float = 1e-4  # [paper Gym: 1e-4; Atari: 6e-4]
    weight_decay: float = 1e-4  # [paper Gym: 1e-4; Atari: 0.1]
    decay_all_params: bool = True  # Gym code decays every parameter; Atari only Linear/Conv weights [repo]
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas [Atari: (0.9, 0.95)]
    # Deviation note: the paper's appendix says "linear warmup for the first 1e5 steps", the code warms up
    # for 1e4 (LambdaLR min((step+1)/1e4, 1)); we follow the code, whose runs produced Table 2.
    warmup_steps: int = 10_000
    schedule: str = "constant"  # after warmup: 'constant' (Gym) or 'cosine' decay to 10% (Atari)
    grad_clip: float = 0.25  # max gradient norm [paper Gym: 0.25; Atari: 1.0]; >= NO_CLIP: none (official BC)
    log_every: int = 100  # steps between rows of metrics.csv
    checkpoint_every: int = 1_000  # steps between checkpoints
    eval_every: int = 0  # steps between evaluations; 0 = only at the end
    seed: int = 0  # seeds torch/numpy/python and the batch sampler
    device: str = "auto"  # 'auto' (CUDA when present), 'cpu' or 'cuda'
    # 'bf16': autocast the forward pass and loss to bfloat16 (weights, gradients and AdamW stay fp32): 1.5-2.4x
    # per DT step on CPUs with a bf16 matmul unit, ~8x slower on AVX2-only CPUs (docs/speed.md); the paper's
    # runs were fp32. 'auto' is resolved when the config is built (dtlib.compute.resolve_precision: bf16 only
    # with such a unit), so a config, and the run's identity, always holds the precision it really trains in.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_positive("steps", self.steps, integer=True)
        check_choice("precision", self.precision, PRECISION_CHOICES)
        check_choice("device", self.device, ["auto", "cpu", "cuda"])
        if self.precision == "auto":  # an alias resolved once, here: the recorded value is fp32 or bf16
            object.__setattr__(self, "precision", resolve_precision("auto", self.device))
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("lr", self.lr)
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        check_range("warmup_steps", self.warmup_steps, 0, 10**9)
        check_choice("schedule", self.schedule, ["constant", "cosine"])
        check_positive("grad_clip", self.grad_clip)
        check_positive("log_every", self.log_every, integer=True)
        check_positive("checkpoint_every", self.checkpoint_every, integer=True)
        check_range("eval_every", self.eval_every, 0, 10**9)

    @property
    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Linear warmup, then constant or cosine decay to a 10% floor (minGPT's Atari schedule, by step)."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return max(0.1, 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))

    return f


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """All parameters decayed (Gym code), or only Linear/Conv weights (minGPT / Atari code)."""
    if cfg.decay_all_params:
        return [{"params": list(model.parameters()), "weight_decay": cfg.weight_decay}]
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            is_weight = name == "weight" and isinstance(module, (torch.nn.Linear, torch.nn.Conv2d))
            (decay if is_weight else no_decay).append(p)
    # nn.MultiheadAttention's in_proj_weight is a Linear weight in all but name
    decay += [p for n, p in model.named_parameters() if n.endswith("in_proj_weight")]
    no_decay = [p for p in no_decay if not any(p is q for q in decay)]
    return [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class SupervisedLearner:
    """AdamW + warmup schedule + gradient clipping on `model.loss(batch)`: serves DT and BC alike."""

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig):
        self.model = model.to(cfg.torch_device)
        self.cfg = cfg
        # fused: one kernel per step for all parameters (CPU and CUDA) instead of ~10 small ops per tensor;
        # the same AdamW update up to float rounding
        self.optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, betas=cfg.betas, fused=True)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg))

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        with torch.autocast(self.cfg.torch_device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            loss, metrics = self.model.loss(batch)
        loss = loss.float()
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss is {loss.item()}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip < NO_CLIP:  # at NO_CLIP the clip factor is exactly 1: skip the norms (BC: ~10 %)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        metrics["train/lr"] = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        return metrics

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])


class Learner(Protocol):
    model: torch.nn.Module

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class Sampler(Protocol):
    def sample(self, batch_size: int) -> dict: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


EvalFn = Callable[[torch.nn.Module], pd.DataFrame]


def train(run: RunDir, learner: Learner, sampler: Sampler, cfg: TrainConfig,
          evaluate: EvalFn | None = None, progress: bool = True) -> RunDir:
    """Train `learner` for `cfg.steps`, resuming from the run's checkpoint; skip a finished run.

    `evaluate(model) -> DataFrame` runs at every `eval_every` steps and at the end; its rows get a `step`
    column and go to eval.csv. Evaluation must not touch the global RNGs (dtlib.evaluate seeds its own),
    so that training is identical with or without it.
    """
    if run.done:
        if evaluate is not None and _final_eval_missing(run, cfg):  # a folder left by the old write order
            _evaluate_final(run, learner, cfg, evaluate)
        return run
    seed_everything(cfg.seed)
    step, wall_before, metrics_rows, eval_frames = 0, 0.0, [], []
    if run.checkpoint_path.exists():
        ckpt = torch.load(run.checkpoint_path, weights_only=True, map_location=cfg.torch_device)
        learner.load_state_dict(ckpt["learner"])
        sampler.load_state_dict(ckpt["sampler"])
        set_rng_state(ckpt["rng"])
        step, wall_before = ckpt["step"], ckpt["wall_s"]
        metrics_rows = run.metrics().query("step <= @step").to_dict("records") if run.metrics_path.exists() else []
        evals = run.evals()
        eval_frames = [evals[evals["step"] <= step]] if len(evals) else []
    start = time.perf_counter()
    wall = lambda: wall_before + time.perf_counter() - start  # noqa: E731

    def save_checkpoint() -> None:
        # Results first, the checkpoint last: a kill between these writes leaves the previous checkpoint, so the
        # resumed run redoes the steps (and evaluations) after it; rows beyond the checkpoint's step are dropped.
        io.write_csv(run.metrics_path, pd.DataFrame(metrics_rows))
        if eval_frames:
            io.write_csv(run.eval_path, pd.concat(eval_frames, ignore_index=True))
        io.torch_save(run.checkpoint_path, {"learner": learner.state_dict(), "sampler": sampler.state_dict(),
                                            "rng": rng_state(), "step": step, "wall_s": wall()})

    def run_eval() -> None:
        df = evaluate(learner.model)
        df.insert(0, "step", step)
        eval_frames.append(df)

    device = cfg.torch_device
    bar = tqdm(total=cfg.steps, initial=step, desc=run.path.name, disable=not progress, mininterval=2.0)
    while step < cfg.steps:
        batch = to_torch(sampler.sample(cfg.batch_size), device)
        try:
            metrics = learner.update(batch)
        except TrainingDiverged as e:
            bar.close()
            raise TrainingDiverged(f"{run.path.name}: {e} at step {step + 1}; the last good checkpoint "
                                   f"({run.checkpoint_path}) is kept") from None
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            metrics_rows.append({"step": step, **metrics, "time/wall_s": wall()})
            # the learner's headline loss: the action loss (DT, BC) or the critic loss (CQL)
            main = metrics.get("train/action_loss", metrics.get("train/critic_loss", float("nan")))
            bar.set_postfix(loss=f"{main:.4f}")
        if evaluate is not None and cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            run_eval()
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            if step == cfg.steps and evaluate is not None:
                run_eval()
            save_checkpoint()
    bar.close()
    if evaluate is not None and _final_eval_missing(run, cfg):  # resumed from a final checkpoint without its eval
        _evaluate_final(run, learner, cfg, evaluate)
    io.write_json(run.summary_path, {"steps": step, "wall_s": wall(), "git_commit": run.config.get("git_commit")
                                     or io.read_json(run.config_path).get("git_commit")})
    return run


def _final_eval_missing(run: RunDir, cfg: TrainConfig) -> bool:
    """True when eval.csv has no rows for the last step (a run killed between its last checkpoint and eval.csv
    by code that wrote the checkpoint first)."""
    evals = run.evals()
    return run.checkpoint_path.exists() and (len(evals) == 0 or not (evals["step"] == cfg.steps).any())


def _evaluate_final(run: RunDir, learner: Learner, cfg: TrainConfig, evaluate: EvalFn) -> None:
    """Evaluate the final checkpoint's weights and append the rows to eval.csv (evaluation seeds its own RNGs)."""
    ckpt = torch.load(run.checkpoint_path, weights_only=True, map_location=cfg.torch_device)
    if ckpt["step"] != cfg.steps:
        raise RuntimeError(f"{run.path.name}: the checkpoint is at step {ckpt['step']}, not the last step {cfg.steps}")
    learner.load_state_dict(ckpt["learner"])
    df = evaluate(learner.model)
    df.insert(0, "step", cfg.steps)
    evals = run.evals()
    io.write_csv(run.eval_path, pd.concat([evals, df], ignore_index=True) if len(evals) else df)


def load_model(run: RunDir, model: torch.nn.Module) -> torch.nn.Module:
    """Load the trained weights (and normalisation statistics) of a run into `model`."""
    ckpt = torch.load(run.checkpoint_path, weights_only=True, map_location="cpu")
    model.load_state_dict(ckpt["learner"]["model"])
    return model.eval()
