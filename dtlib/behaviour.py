"""Behaviour policies for the D4RL-style MuJoCo datasets: SAC (stable-baselines3) trained with checkpoints.

D4RL's recipe (Fu et al. 2020, `scripts/generation/mujoco/`): train SAC online; the policy is snapshotted as
`medium` when it first reaches about a third of expert performance, and the replay buffer collected up to that
moment is `medium-replay`; the best policy the training reaches is `expert`. One training run here produces all
three, resumably (a run folder holds the SB3 model, its replay buffer and the training curve):

    python -m dtlib.behaviour hopper --steps 300000 --deadline 2026-11-26T09:45   # resumes if the folder exists

Exported policies are small files: a tanh-Gaussian MLP's weights under D4RL's names (`fc0`, `fc1`, `last_fc`,
`last_fc_log_std`, as D4RL's `metadata/policy/...`) plus a JSON of config, seed, training steps and score.
`Policy` runs them with numpy, so dataset generation does not need stable-baselines3.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from dtlib import io
from dtlib.data.episodes import EpisodeDataset
from dtlib.paths import data_dir, git_commit, project_root
from dtlib.specs import get_env_spec
from dtlib.validate import ParameterError

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SB3's clamp on the actor's log std (sac/policies.py)


@dataclass(frozen=True)
class SACConfig:
    """One behaviour-policy training run. Defaults: stable-baselines3 SAC's, which match D4RL's rlkit SAC sizes."""

    env: str = "hopper"  # dtlib env name (specs.ENVS), a Gymnasium MuJoCo v5 env
    seed: int = 0  # seeds SB3 (torch, action noise) and the training env's resets
    total_steps: int = 1_000_000  # env steps of training [D4RL trained its SAC policies for ~1M+ steps]
    learning_starts: int = 10_000  # uniformly random steps before the first update [rl-zoo3 hopper/walker SAC]
    batch_size: int = 256  # [SB3 default = rlkit SAC]
    learning_rate: float = 3e-4  # [SB3 default = rlkit SAC]
    gamma: float = 0.99  # discount
    tau: float = 0.005  # target-network Polyak rate
    net_arch: tuple[int, ...] = (256, 256)  # actor and critic hidden sizes [D4RL policy fc0/fc1: 256]
    eval_every: int = 10_000  # env steps between evaluations of the current policy
    eval_episodes: int = 10  # stochastic-policy episodes per evaluation (the way the datasets are collected)
    checkpoint_every: int = 20_000  # env steps between resumable checkpoints (model + replay buffer)
    medium_score: float = 33.0  # D4RL-normalised score at which the policy is snapshotted as `medium` (~1/3)
    medium_watch: float = 20.0  # once any evaluation scores this much (and no medium yet), evaluate every...
    eval_every_near_medium: int = 1_000  # ...this many steps, so a fast-learning policy cannot jump the range

    @property
    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `stable_baselines3.SAC`."""
        return dict(learning_starts=self.learning_starts, batch_size=self.batch_size,
                    learning_rate=self.learning_rate, gamma=self.gamma, tau=self.tau,
                    buffer_size=self.total_steps, seed=self.seed,
                    policy_kwargs=dict(net_arch=list(self.net_arch)))


def run_dir(env: str, seed: int) -> Path:
    """The git-ignored training folder of one behaviour policy (SB3 model, replay buffer, curve)."""
    return data_dir() / "behaviour_runs" / f"{env}-seed{seed}"


def committed_dir(env: str) -> Path:
    """The committed folder of one env's exported policies (`medium.pt`, `expert.pt`, their JSON, the curve)."""
    return project_root() / "behaviour" / env


# ----------------------------------------------------------------------------- exported policies
class Policy:
    """A tanh-Gaussian MLP policy (SAC's actor) evaluated with numpy; `act` samples, `mean_action` is greedy."""

    def __init__(self, weights: dict[str, np.ndarray], info: dict | None = None) -> None:
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self.info = dict(info or {})

    def _heads(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.asarray(obs, dtype=np.float64)
        for name in ("fc0", "fc1"):
            h = np.maximum(h @ self.w[f"{name}/weight"].T + self.w[f"{name}/bias"], 0.0)  # ReLU MLP
        mean = h @ self.w["last_fc/weight"].T + self.w["last_fc/bias"]
        log_std = np.clip(h @ self.w["last_fc_log_std/weight"].T + self.w["last_fc_log_std/bias"],
                          LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std

    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """tanh(mean): the deterministic action."""
        return np.tanh(self._heads(obs)[0])

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A sampled action tanh(mean + std * eps) and its log-probability (D4RL's infos/action_log_probs)."""
        mean, log_std = self._heads(obs)
        eps = rng.standard_normal(mean.shape)
        u = mean + np.exp(log_std) * eps
        a = np.tanh(u)
        logp = (-0.5 * eps**2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1) - np.log(1 - a**2 + 1e-6).sum(-1)
        return a, logp

    @classmethod
    def untrained(cls, obs_dim: int, act_dim: int, seed: int, hidden: int = 256, info: dict | None = None) -> "Policy":
        """A randomly initialised policy (PyTorch's default Linear init): for tests and smoke runs only."""
        rng = np.random.default_rng(seed)
        sizes = {"fc0": (hidden, obs_dim), "fc1": (hidden, hidden), "last_fc": (act_dim, hidden),
                 "last_fc_log_std": (act_dim, hidden)}
        w = {}
        for name, (out, inp) in sizes.items():
            bound = 1 / np.sqrt(inp)
            w[f"{name}/weight"] = rng.uniform(-bound, bound, (out, inp))
            w[f"{name}/bias"] = rng.uniform(-bound, bound, out)
        return cls(w, {"role": "untrained", "seed": seed, "training_steps": 0, **(info or {})})

    @classmethod
    def from_sb3(cls, model: Any, info: dict | None = None) -> "Policy":
        """The actor of a stable-baselines3 SAC model."""
        sd = {k: v.detach().cpu().numpy() for k, v in model.policy.actor.state_dict().items()}
        names = {"latent_pi.0": "fc0", "latent_pi.2": "fc1", "mu": "last_fc", "log_std": "last_fc_log_std"}
        weights = {f"{names[k.rsplit('.', 1)[0]]}/{k.rsplit('.', 1)[1]}": v for k, v in sd.items()}
        return cls(weights, info)

    def save(self, path: str | Path) -> None:
        """`<path>.pt` (torch tensors, float32) and `<path>.json` (provenance and score)."""
        import torch

        path = Path(path)
        io.torch_save(path.with_suffix(".pt"), {k: torch.tensor(v, dtype=torch.float32) for k, v in self.w.items()})
        io.write_json(path.with_suffix(".json"), self.info)

    @classmethod
    def load(cls, path: str | Path) -> "Policy":
        """Read what `save` wrote (`path` with or without suffix)."""
        import torch

        path = Path(path)
        weights = torch.load(path.with_suffix(".pt"), map_location="cpu", weights_only=True)
        info = io.read_json(path.with_suffix(".json")) if path.with_suffix(".json").exists() else {}
        return cls({k: v.numpy() for k, v in weights.items()}, info)


def evaluate_policy(policy: Policy, env_id: str, episodes: int, seed: int, stochastic: bool = True) -> np.ndarray:
    """[episodes] returns of `policy` in `env_id` (1000-step limit), resets seeded seed, seed+1, ..."""
    import gymnasium as gym

    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            a = policy.act(obs, rng)[0] if stochastic else policy.mean_action(obs)
            obs, r, term, trunc, _ = env.step(a)
            total, done = total + float(r), term or trunc
        returns.append(total)
    env.close()
    return np.array(returns)


# ----------------------------------------------------------------------------- training
def replay_dataset(model: Any, meta: dict) -> EpisodeDataset:
    """The SB3 replay buffer's transitions so far as episodes (D4RL's medium-replay); the partial last one is cut."""
    buf = model.replay_buffer
    n = buf.buffer_size if buf.full else buf.pos
    dones = buf.dones[:n, 0].astype(bool)
    timeouts = buf.timeouts[:n, 0].astype(bool)  # SB3 stores time-limit truncations apart from terminations
    return EpisodeDataset.from_flat(buf.observations[:n, 0].astype(np.float32), buf.actions[:n, 0].astype(np.float32),
                                    buf.rewards[:n, 0], dones & ~timeouts, timeouts, meta=meta)


def _provenance(cfg: SACConfig, steps: int, **extra: Any) -> dict:
    spec = get_env_spec(cfg.env)
    import stable_baselines3

    return {"env": cfg.env, "env_id": spec.env_id, "algorithm": "SAC (stable-baselines3 "
            f"{stable_baselines3.__version__})", "config": dataclasses.asdict(cfg), "seed": cfg.seed,
            "training_steps": steps, "ref_min_score": spec.ref_min, "ref_max_score": spec.ref_max,
            "git_commit": git_commit(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def near_medium(state: dict, cfg: SACConfig) -> bool:
    """Whether a run evaluates on the fine schedule: some evaluation reached `medium_watch`, none yet
    `medium_score` (a later, lower evaluation does not end it: scores are noisy near the threshold)."""
    return state["medium_step"] is None and any(r["normalized_score"] >= cfg.medium_watch for r in state["curve"])


def _same_config(stored: dict, cfg: SACConfig) -> bool:
    """Whether a run folder's config.json is `cfg`; fields added to SACConfig after the run started (absent
    from the file) take `cfg`'s value, so older run folders still resume."""
    want = json.loads(json.dumps(dataclasses.asdict(cfg)))
    return set(stored) <= set(want) and {k: stored.get(k, v) for k, v in want.items()} == want


def train(cfg: SACConfig, out: Path | None = None, deadline: float | None = None, export: bool = True) -> Path:
    """Train (or resume) one behaviour policy; snapshot `medium` (+ its replay buffer) and the best as `expert`.

    Stops at `cfg.total_steps` or at the unix time `deadline`, checkpointing first. Returns the run folder.
    """
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)  # the CPUs are shared; one thread is also the fastest for 256-wide MLPs
    spec = get_env_spec(cfg.env)
    out = Path(out or run_dir(cfg.env, cfg.seed))
    out.mkdir(parents=True, exist_ok=True)
    state = io.read_json(out / "state.json") if (out / "state.json").exists() else {"curve": [], "best": None,
                                                                                    "medium_step": None}
    if (out / "config.json").exists() and not _same_config(io.read_json(out / "config.json"), cfg):
        raise ParameterError(f"{out} holds a run with another config ({out / 'config.json'}); use another folder")
    env = gym.make(spec.env_id)
    if (out / "sac.zip").exists():  # resume: same weights, optimiser and replay buffer; env resets re-seeded
        model = SAC.load(out / "sac.zip", env=env, device="cpu")
        model.load_replay_buffer(out / "replay.pkl")
        model.set_random_seed(cfg.seed + model.num_timesteps)
    else:
        model = SAC("MlpPolicy", env, device="cpu", verbose=0, **cfg.sb3_kwargs)
        io.write_json(out / "config.json", dataclasses.asdict(cfg))
    t_start, steps_start = time.time(), model.num_timesteps

    def checkpoint() -> None:
        with io.atomic_path(out / "sac.zip") as tmp:
            model.save(tmp.with_suffix(".zip"))
            tmp.with_suffix(".zip").replace(tmp)
        with io.atomic_path(out / "replay.pkl") as tmp:
            model.save_replay_buffer(tmp)
        io.write_json(out / "state.json", state)

    def evaluate() -> None:
        step = model.num_timesteps
        policy = Policy.from_sb3(model)
        returns = evaluate_policy(policy, spec.env_id, cfg.eval_episodes, seed=10_000 + step)
        score = float(spec.normalize(returns.mean()))
        elapsed = time.time() - t_start
        row = {"step": step, "return_mean": float(returns.mean()), "return_std": float(returns.std()),
               "normalized_score": score, "wall_s": round(elapsed, 1),
               "updates_per_s": round(max(step - max(steps_start, cfg.learning_starts), 0) / max(elapsed, 1e-9), 1)}
        state["curve"].append(row)
        print(json.dumps(row), flush=True)
        if state["medium_step"] is None and score >= cfg.medium_score:
            state["medium_step"] = step
            info = _provenance(cfg, step, role="medium", eval=row)
            policy.info = info
            policy.save(out / "medium")
            replay_dataset(model, {**info, "role": "medium-replay"}).save(out / "medium_replay.npz")
        if state["best"] is None or score > state["best"]["normalized_score"]:
            state["best"] = row
            policy.info = _provenance(cfg, step, role="expert", eval=row)
            policy.save(out / "expert")
        io.write_json(out / "state.json", state)

    class Hooks(BaseCallback):
        def _on_step(self) -> bool:
            n = self.model.num_timesteps
            if n % cfg.eval_every == 0 or (n % cfg.eval_every_near_medium == 0 and near_medium(state, cfg)):
                evaluate()
            if n % cfg.checkpoint_every == 0:
                checkpoint()
            return deadline is None or time.time() < deadline

    remaining = cfg.total_steps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=Hooks(), reset_num_timesteps=False)
        checkpoint()
    if export:
        export_run(cfg.env, out)
    return out


def export_run(env: str, out: Path) -> Path:
    """Copy a run's small artifacts (policies, curve, config; the replay buffer if < 20 MB) to `behaviour/<env>/`."""
    import shutil

    dest = committed_dir(env)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("medium.pt", "medium.json", "expert.pt", "expert.json", "config.json"):
        if (out / name).exists():
            shutil.copy2(out / name, dest / name)
    state = io.read_json(out / "state.json")
    import pandas as pd

    io.write_csv(dest / "curve.csv", pd.DataFrame(state["curve"]))
    replay = out / "medium_replay.npz"
    if replay.exists() and replay.stat().st_size < 20e6:  # small enough to commit: `small` needs no retraining
        shutil.copy2(replay, dest / "medium_replay.npz")
    return dest


def snapshot_medium_now(env: str, seed: int = 0, out: Path | None = None, note: str = "") -> Path:
    """For a run that never reached `medium_score`: export its current policy and replay buffer as medium."""
    from stable_baselines3 import SAC

    out = Path(out or run_dir(env, seed))
    cfg = SACConfig(**{k: tuple(v) if k == "net_arch" else v for k, v in io.read_json(out / "config.json").items()})
    model = SAC.load(out / "sac.zip", device="cpu")
    model.load_replay_buffer(out / "replay.pkl")
    state = io.read_json(out / "state.json")
    last = state["curve"][-1]
    note = note or (f"threshold {cfg.medium_score} not reached within the budget; medium = the policy at the "
                    f"last checkpoint (step {model.num_timesteps}), evaluated at step {last['step']}")
    info = _provenance(cfg, model.num_timesteps, role="medium", eval=last, note=note)
    Policy.from_sb3(model, info).save(out / "medium")
    replay_dataset(model, {**info, "role": "medium-replay"}).save(out / "medium_replay.npz")
    state["medium_step"] = model.num_timesteps
    io.write_json(out / "state.json", state)
    return out


def curves_table(envs: list[str] | tuple[str, ...]) -> "Any":
    """The committed training curves, one row per env x evaluation (step, return, normalised score)."""
    import pandas as pd

    frames = [pd.read_csv(committed_dir(e) / "curve.csv").assign(env=e) for e in envs
              if (committed_dir(e) / "curve.csv").exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def policies_table(envs: list[str] | tuple[str, ...]) -> "Any":
    """One row per committed policy: env, role, training steps, evaluation score and return, note."""
    import pandas as pd

    rows = []
    for env in envs:
        for role in ("medium", "expert"):
            path = committed_dir(env) / f"{role}.json"
            if path.exists():
                info = io.read_json(path)
                ev = info.get("eval", {})
                rows.append({"env": env, "role": role, "training_steps": info.get("training_steps"),
                             "eval_return": ev.get("return_mean"), "eval_normalized": ev.get("normalized_score"),
                             "eval_episodes": info.get("config", {}).get("eval_episodes"),
                             "net_arch": "x".join(str(h) for h in info.get("config", {}).get("net_arch", [])),
                             "updates_per_s": ev.get("updates_per_s"), "note": info.get("note", "")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("env")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=SACConfig.total_steps)
    p.add_argument("--deadline", default=None, help="UTC time to stop at (ISO, e.g. 2026-11-26T09:45)")
    p.add_argument("--net-arch", type=int, nargs="+", default=list(SACConfig.net_arch),
                   help="hidden sizes of actor and critics (D4RL: 256 256)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    deadline = None
    if a.deadline:
        deadline = datetime.fromisoformat(a.deadline).replace(tzinfo=timezone.utc).timestamp()
    train(SACConfig(env=a.env, seed=a.seed, total_steps=a.steps, net_arch=tuple(a.net_arch)),
          Path(a.out) if a.out else None, deadline)


if __name__ == "__main__":
    main()
