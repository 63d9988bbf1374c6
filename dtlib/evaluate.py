"""The one return-conditioned evaluation: many episodes in lockstep, one batched model call per step.

Protocol (paper §3, official `evaluate_episode_rtg`): the first return-to-go is the target; after each
step it is decremented by the reward received (not in delayed-reward mode); the policy sees the last K
steps of (return-to-go, state, action, timestep), left-padded with a mask. Continuous actions are the
deterministic tanh output; discrete ones argmax or sampled. Every episode is seeded: episode i of every
target resets with `seed + i`.

Envs are a list of Gymnasium envs stepped in lockstep, finished episodes dropped from the batch (a
`gymnasium.vector` env keeps stepping or auto-resetting finished sub-envs, which wastes the step or needs
masking); the model sees one batch of all unfinished episodes per step. Letters: N episodes, K context.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # text bars: no ipywidgets needed, and they read in the HTML reports

from dtlib.model import FRAME_ENCODERS
from dtlib.specs import EnvSpec
from dtlib.validate import ParameterError, check_choice, check_list, check_positive


@dataclass(frozen=True)
class EvalConfig:
    """How to evaluate one policy."""

    episodes: int = 100  # episodes per target [repo: num_eval_episodes=100; Atari: 10]
    targets: tuple[float, ...] = ()  # target returns; empty = the env spec's targets
    seed: int = 10_000  # episode i resets with seed + i (disjoint from training seeds)
    sample_actions: bool = False  # discrete actions: sample from the softmax (paper Atari) instead of argmax
    delayed: bool = False  # delayed-reward mode: the return-to-go is not decremented [repo mode='delayed']
    max_steps: int = 0  # cap on episode length; 0 = the spec's max_ep_len
    parallel: int = 100  # episodes stepped together (memory bound for Atari)
    env_kwargs: tuple[tuple[str, Any], ...] = ()  # extra gym.make arguments, e.g. (('seed_graph', 1),)
    cache_embeddings: bool = True  # CNN encoders: embed each step's frames once per episode, not once per window
    precision: str = "fp32"  # 'bf16': autocast the model's forward passes (opt-in; ~1.7x on AMX CPUs, see README)

    def __post_init__(self) -> None:
        check_positive("episodes", self.episodes, integer=True)
        check_choice("precision", self.precision, ["fp32", "bf16"])
        check_positive("parallel", self.parallel, integer=True)
        if self.targets:
            check_list("targets", list(self.targets))


def make_env(spec: EnvSpec, **kwargs: Any) -> gym.Env:
    """The evaluation env of a spec (Atari with the paper's preprocessing, see dtlib.envs.atari)."""
    if spec.domain == "atari":
        from dtlib.envs.atari import make_atari_env

        return make_atari_env(spec.env_id, **kwargs)
    if spec.domain in ("keydoor", "graph"):
        import dtlib.envs  # noqa: F401  (registers dtlib/ ids)
    return gym.make(spec.env_id, **kwargs)


class _Windows:
    """The last K steps of N running episodes, kept as left-padded arrays (the model's batch format)."""

    def __init__(self, n: int, k: int, obs_shape: tuple, obs_dtype, act_shape: tuple, act_dtype):
        self.states = np.zeros((n, k, *obs_shape), dtype=obs_dtype)  # [N, K, *obs]
        self.actions = np.zeros((n, k, *act_shape), dtype=act_dtype)  # [N, K, A] or [N, K]
        self.rtg = np.zeros((n, k), dtype=np.float32)  # [N, K]
        self.timesteps = np.zeros((n, k), dtype=np.int64)  # [N, K]
        self.mask = np.zeros((n, k), dtype=np.float32)  # [N, K]

    def push(self, rows: np.ndarray, obs: np.ndarray, rtg: np.ndarray, t: int) -> None:
        """Shift the windows of `rows` left by one step and write the new step (its action still 0)."""
        for arr in (self.states, self.actions, self.rtg, self.timesteps, self.mask):
            arr[rows, :-1] = arr[rows, 1:]
        self.states[rows, -1] = obs
        self.actions[rows, -1] = 0
        self.rtg[rows, -1] = rtg
        self.timesteps[rows, -1] = t
        self.mask[rows, -1] = 1.0

    def batch(self, rows: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(getattr(self, k)[rows], device=device)
                for k in ("states", "actions", "rtg", "timesteps", "mask")}


class _EmbeddingCache:
    """Each window step's state embedding, computed once when the step arrives (CNN encoders: one frame stack
    per step instead of K). Pads hold the embedding of a zero observation, as the uncached forward computes."""

    def __init__(self, model: torch.nn.Module, n: int, k: int, obs_shape: tuple, obs_dtype, device: torch.device):
        self.model = model
        pad = model.embed_state(torch.zeros((1, 1, *obs_shape), dtype=torch.from_numpy(np.zeros(0, obs_dtype)).dtype,
                                            device=device))  # [1, 1, d]
        self.emb = pad.expand(n, k, -1).clone()  # [N, K, d]

    def push(self, rows: np.ndarray, obs: np.ndarray, device: torch.device) -> None:
        """Shift the windows of `rows` left by one step and embed the new observations."""
        idx = torch.as_tensor(rows, device=device)
        new = self.model.embed_state(torch.as_tensor(obs, device=device).unsqueeze(1))  # [n, 1, d]
        self.emb[idx] = torch.cat([self.emb[idx, 1:], new.to(self.emb.dtype)], dim=1)

    def __getitem__(self, rows: np.ndarray) -> torch.Tensor:
        return self.emb[torch.as_tensor(rows, device=self.emb.device)]  # [n, K, d]


def caches_state_embeddings(model: torch.nn.Module) -> bool:
    """Whether the rollout embeds each step once: a DT with a CNN encoder (BC-by-DT included)."""
    cfg = getattr(model, "cfg", None)
    return getattr(cfg, "encoder", None) in FRAME_ENCODERS and hasattr(model, "embed_state")


@torch.inference_mode()  # no autograd bookkeeping at all: cheaper per op than no_grad
def evaluate(model: torch.nn.Module, spec: EnvSpec, cfg: EvalConfig,
             env_fn: Callable[[], gym.Env] | None = None, record: bool = False, progress: bool = False,
             return_prior: Callable[[np.ndarray], np.ndarray] | None = None,
             observe: Callable[[int, gym.Env], None] | None = None,
             ) -> pd.DataFrame | tuple[pd.DataFrame, list[dict]]:
    """Roll out `model` for `cfg.episodes` seeded episodes per target; one row per episode.

    Columns: target, episode, seed, return, normalized_score, length. With `record`, also returns one
    dict per episode (observations, actions, rewards, target) in the same order as the rows.
    `return_prior(observations [n, *obs]) -> [n]` replaces the target and its decrement: the return-to-go
    at every step is the prior's value for the current observation (the graph example's "largest
    possible return at each node", paper Fig. 2); the target then only labels the rows.
    `observe(row, env)` is called after each episode's reset and after every step it takes (`row`: the
    episode's row in the result): the frame-capture hook of `dtlib.render`; it must not step the env.
    """
    targets = list(cfg.targets or spec.targets)
    jobs = [(target, i) for target in targets for i in range(cfg.episodes)]
    env_fn = env_fn or (lambda: make_env(spec, **dict(cfg.env_kwargs)))
    if cfg.max_steps > spec.max_ep_len:
        raise ParameterError(f"max_steps={cfg.max_steps} exceeds {spec.name}'s max_ep_len={spec.max_ep_len}: "
                             f"allowed 0 (the spec's) to {spec.max_ep_len}, the timesteps the model embeds")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(cfg.seed)  # sampling never touches global RNGs
    rows, traces = [], []
    bar = tqdm(total=len(jobs), desc=f"eval {spec.name}", disable=not progress, mininterval=2.0)
    for chunk in range(0, len(jobs), cfg.parallel):
        part = jobs[chunk:chunk + cfg.parallel]
        hook = None if observe is None else (lambda j, env, _o=chunk: observe(_o + j, env))
        r, tr = _rollout(model, spec, cfg, env_fn, part, device, generator, record, return_prior, hook)
        rows += r
        traces += tr
        bar.update(len(part))
    bar.close()
    model.train(was_training)
    df = pd.DataFrame(rows)
    df["normalized_score"] = spec.normalize(df["return"].to_numpy())
    return (df, traces) if record else df


def _rollout(model, spec: EnvSpec, cfg: EvalConfig, env_fn, jobs, device, generator, record, return_prior,
             observe=None):
    n = len(jobs)
    envs = [env_fn() for _ in range(n)]
    max_steps = cfg.max_steps or spec.max_ep_len
    seeds = [cfg.seed + i for _, i in jobs]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)])  # [N, *obs]
    for j, env in enumerate(envs if observe is not None else []):
        observe(j, env)
    space = envs[0].action_space
    discrete = isinstance(space, gym.spaces.Discrete)
    k = model.context_len
    win = _Windows(n, k, obs.shape[1:], obs.dtype, () if discrete else space.shape,
                   np.int64 if discrete else np.float32)
    cache = (_EmbeddingCache(model, n, k, obs.shape[1:], obs.dtype, device)
             if cfg.cache_embeddings and caches_state_embeddings(model) else None)
    rtg = np.array([t for t, _ in jobs], dtype=np.float32)  # [N]
    if return_prior is not None:
        rtg = np.asarray(return_prior(obs), dtype=np.float32)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    alive = np.arange(n)
    traces = [{"observations": [], "actions": [], "rewards": [], "target": t} for t, _ in jobs] if record else []
    for t in range(max_steps):
        win.push(alive, obs[alive], rtg[alive], t)
        batch = win.batch(alive, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            if cache is not None:
                cache.push(alive, obs[alive], device)
                batch["state_emb"] = cache[alive]  # [n_alive, K, d]
            act = model.act(batch, sample=cfg.sample_actions, generator=generator)
        act = (act.float() if act.is_floating_point() else act).cpu().numpy()  # [n_alive, ...]
        win.actions[alive, -1] = act
        still = []
        for j, e in enumerate(alive):
            o, reward, terminated, truncated, _ = envs[e].step(act[j])
            if record:
                traces[e]["observations"].append(obs[e].copy())
                traces[e]["actions"].append(act[j])
                traces[e]["rewards"].append(float(reward))
            if observe is not None:
                observe(e, envs[e])
            obs[e] = o
            returns[e] += reward
            lengths[e] += 1
            if return_prior is not None:
                rtg[e] = return_prior(o[None])[0]
            elif not cfg.delayed:
                rtg[e] -= reward
            if not (terminated or truncated):
                still.append(e)
        alive = np.array(still, dtype=np.int64)
        if len(alive) == 0:
            break
    for env in envs:
        env.close()
    rows = [{"target": target, "episode": i, "seed": s, "return": float(returns[j]), "length": int(lengths[j])}
            for j, ((target, i), s) in enumerate(zip(jobs, seeds))]
    return rows, traces
