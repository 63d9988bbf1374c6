"""Conservative Q-Learning (Kumar et al. 2020), the paper's TD-learning baseline, in dtlib's one training loop.

Continuous actions (D4RL, Table 2 and the delayed-reward table): SAC with two Q-networks and Polyak-
averaged targets, a tanh-Gaussian actor, automatic entropy temperature (target entropy −|A|) and the
CQL(H) penalty with sampled actions, per critic:

    penalty = logsumexp_j [ Q(s, a_j) − log μ(a_j) ]  −  Q(s, a_data),

a_j being N uniform actions (μ = 2^−|A|), N policy actions at s and N policy actions at s' (μ = π, the
samples detached) — the importance-sampled estimate of the CQL paper's eq. (4) as in CORL
`algorithms/offline/cql.py` and d3rlpy `CQLImpl`; like both we drop the constant −log 3N. The critic loss
is Σ_critics [TD-MSE + w · penalty] (or, with `lagrange`, α'·w·(penalty − gap) with α' learned to keep
the gap, CQL paper §F / d3rlpy). The TD target is r + γ(1 − terminal)·min_i Q̄_i(s', a'), a' ~ π(s'),
without the entropy term (CORL `backup_entropy=False`, the CQL code's deterministic backup).

Discrete actions (Key-to-Door, Atari): CQL(H) on a Q-network — logsumexp_a Q(s, a) − Q(s, a_data) added
with weight w to a double-DQN Huber TD loss (online net picks a', target net values it), as d3rlpy
`DiscreteCQL`. Observations go through dtlib.model's encoders (summed feature embeddings, the Atari CNN).

Key-to-Door fairness (the `history` option). The paper's CQL is a Markov Q-network on the current
observation; after phase 1 our observation does not show whether the key is held, so such a Q-network
cannot know it, while the DT sees the whole episode. `history=""` (the default) is the paper's setup.
`history="key_held"` appends one bit, "the key was picked up earlier in this episode", to the Q-network's
input. It is computed only from past observations and actions (a pickup is a move whose delta equals
the visible key's offset, `keydoor.episode_events`), i.e. from exactly what the DT's context holds, so
the model then reads windows of the whole episode (context_len = max_ep_len). Comparing the two
separates TD credit assignment over the 24-step gap from the memory a Markov critic lacks.

Defaults (the CQLConfig fields) are d3rlpy's `CQLConfig` where the brief's speed reference is d3rlpy:
two 256×256 critics and actor, batch 256, actor lr 1e-4, critic lr 3e-4, temperature lr 1e-4,
γ 0.99, τ 0.005, N = 10, weight w = 5 — also the CQL authors' Gym setting (min_q_weight 5, no Lagrange,
policy lr 1e-4, per their README command line; recalled, not re-read). Deviations from d3rlpy: no
Lagrange by default (d3rlpy learns α' from 1.0 with gap 10; CORL and the CQL authors' Gym runs keep it
fixed), and the target action is sampled from π(s') (CORL) rather than d3rlpy's tanh(mean).

Speed (benchmarks/bench_cql.py): the actor runs once on [s; s'] and all 1 + 3N sampled actions reuse
its mean/std; both critics are one batched ensemble whose first layer splits into W_s·s (once per
state) + W_a·a (per sampled action), so the 31 Q evaluations per state cost one action-sized matmul
each; the actor's Q(s, π(s)) uses detached critic weights (no wasted critic gradients).

Metrics (logged every `log_every` steps):
  train/critic_loss  Σ over critics of TD loss + weighted penalty    train/td_loss   mean TD loss per critic
  train/cql_penalty  mean penalty (logsumexp − data Q) per critic   train/q_data    mean Q(s, a_data)
  train/actor_loss   α·log π − min Q (continuous)                   train/temperature  SAC α (continuous)
  train/alpha_prime  the Lagrange multiplier (continuous, `lagrange` only)
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dtlib.compute import PRECISION_CHOICES, resolve_precision
from dtlib.data.episodes import EpisodeDataset
from dtlib.model import ENCODERS, Normalizer
from dtlib.train import TrainingDiverged
from dtlib.validate import check_choice, check_positive, check_range


@dataclass(frozen=True)
class CQLConfig:
    """Architecture and optimisation of one CQL agent; defaults: d3rlpy CQLConfig (see module docstring)."""

    obs_shape: tuple[int, ...]  # one step's observation shape
    act_dim: int  # continuous action dimension, or the number of discrete actions
    discrete: bool = False  # discrete: Q-network + CQL(H); else SAC-based CQL
    encoder: str = "linear"  # 'linear' (z-scored vector) | 'embedding' (discrete features) | 'cnn' (Atari)
    obs_vocab: tuple[int, ...] = ()  # 'embedding': vocabulary size of each observation feature
    embed_dim: int = 128  # 'embedding' / 'cnn' feature width [ours; DT's 128]
    hidden: tuple[int, ...] = (256, 256)  # MLP widths of critics and actor [d3rlpy default encoder 256×256]
    n_critics: int = 2  # continuous: Q ensemble size, min over it in targets [CQL, CORL, d3rlpy: 2]
    gamma: float = 0.99  # discount [CQL paper, CORL, d3rlpy]
    tau: float = 0.005  # Polyak rate of the target networks [CORL soft_target_update_rate, d3rlpy tau]
    target_update_interval: int = 0  # > 0: copy the target every N updates (DQN style) instead of Polyak
    actor_lr: float = 1e-4  # [d3rlpy actor_learning_rate; CQL README policy_lr 1e-4; CORL 3e-5]
    critic_lr: float = 3e-4  # Q-network learning rate (Adam) [CQL paper, CORL qf_lr, d3rlpy]
    temp_lr: float = 1e-4  # SAC temperature learning rate [d3rlpy temp_learning_rate]
    init_temperature: float = 1.0  # initial SAC α [d3rlpy initial_temperature; CORL log α = 0]
    backup_entropy: bool = False  # subtract α·log π(a'|s') in the target [CORL False; CQL deterministic backup]
    cql_weight: float = 5.0  # w, the penalty's weight [d3rlpy conservative_weight 5; CQL Gym 5; CORL 10]
    n_action_samples: int = 10  # N per source (uniform, π(s), π(s')) [CQL paper, CORL, d3rlpy: 10]
    cql_temp: float = 1.0  # logsumexp temperature [CORL cql_temp 1.0]
    lagrange: bool = False  # learn α' to hold the penalty at `target_gap` [CORL False; d3rlpy True]
    target_gap: float = 10.0  # the Lagrange threshold τ [d3rlpy alpha_threshold 10]
    alpha_prime_lr: float = 1e-4  # Lagrange multiplier learning rate [d3rlpy alpha_learning_rate]
    reward_scale: float = 1.0  # rewards are multiplied by this in the target [CORL gym: 1.0]
    # 'bf16': autocast the continuous forward passes (~2.4x faster critics with AMX, far slower on AVX2-only CPUs);
    # 'auto' resolves when the config is built (dtlib.compute: bf16 only with a bf16 matmul unit)
    precision: str = "fp32"
    history: str = ""  # '' = Markov Q on the observation (paper); 'key_held' = + Key-to-Door memory bit
    max_ep_len: int = 1000  # window length when `history` is on (the whole episode, as the DT's context)
    state_mean: tuple[float, ...] | None = None  # 'linear': normalisation statistics of the dataset
    state_std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check_positive("act_dim", self.act_dim, integer=True)
        check_choice("encoder", self.encoder, list(ENCODERS))
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("tau", self.tau, 0.0, 1.0)
        check_range("target_update_interval", self.target_update_interval, 0, 10**9)
        check_range("cql_weight", self.cql_weight, 0.0, 1e6)
        check_positive("n_action_samples", self.n_action_samples, integer=True)
        check_positive("n_critics", self.n_critics, integer=True)
        check_positive("cql_temp", self.cql_temp)
        check_choice("history", self.history, ["", *HISTORY])
        check_choice("precision", self.precision, PRECISION_CHOICES)
        if self.precision == "auto":  # an alias resolved once, here: the recorded value is fp32 or bf16
            object.__setattr__(self, "precision", resolve_precision("auto"))
        if self.history and not self.discrete:
            raise ValueError("history features are defined for Key-to-Door (discrete) only")

    @property
    def obs_dim(self) -> int:
        return int(math.prod(self.obs_shape))

    @property
    def n_history(self) -> int:
        return HISTORY[self.history].n_features if self.history else 0

    @property
    def context_len(self) -> int:
        """Steps the model reads at evaluation: the current one, or the whole episode for history features."""
        return self.max_ep_len if self.history else 1


# ------------------------------------------------------------------------------------ history features
@dataclass(frozen=True)
class HistoryFeature:
    """Features of the episode so far, derived from past observations and actions only."""

    n_features: int
    per_step: Callable[[EpisodeDataset], np.ndarray]  # dataset → [N, F] at every step
    from_window: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # states, actions, mask → [B, F]


def key_held_steps(data: EpisodeDataset) -> np.ndarray:
    """[N, 1] 1 where the key was picked up at an earlier step of the same episode (Key-to-Door)."""
    from dtlib.envs.keydoor import dataset_events

    key_step, _, _ = dataset_events(data)  # [E], -1 if never
    ks = np.repeat(key_step, data.lengths)  # [N]
    return ((ks >= 0) & (data.timesteps > ks)).astype(np.float32)[:, None]


def key_held_window(states: np.ndarray, actions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[B, 1] the same bit for the last step of each window [B, K, 6] whose actions [B, K] precede it."""
    from dtlib.envs.keydoor import episode_events

    b, k = actions.shape
    states = np.where(mask[..., None] > 0, states, 0)  # padding shows no object, so it is never a pickup
    key_step, _ = episode_events(states.reshape(-1, states.shape[-1]), actions.reshape(-1),
                                 starts=np.arange(b) * k)  # [B], position of the pickup in the window
    return ((key_step >= 0) & (key_step < k - 1)).astype(np.float32)[:, None]  # the last action is unset


HISTORY: dict[str, HistoryFeature] = {"key_held": HistoryFeature(1, key_held_steps, key_held_window)}


# ------------------------------------------------------------------------------------ losses
def cql_penalty(q_data: torch.Tensor, q_rand: torch.Tensor, q_pi: torch.Tensor, q_next_pi: torch.Tensor,
                logp_pi: torch.Tensor, logp_next_pi: torch.Tensor, act_dim: int, temp: float = 1.0) -> torch.Tensor:
    """Continuous CQL(H) penalty per critic [C]: mean_s [temp·logsumexp((Q − log μ)/temp) − Q(s, a_data)].

    q_data [C, B]; q_rand, q_pi, q_next_pi [C, B, N]; logp_pi, logp_next_pi [B, N] (the policy's
    log-densities of its own samples at s and s'); uniform actions on [−1, 1]^act_dim have log μ = act_dim·log ½.
    """
    log_uniform = act_dim * math.log(0.5)
    cat = torch.cat([q_rand - log_uniform, q_pi - logp_pi, q_next_pi - logp_next_pi], dim=-1)  # [C, B, 3N]
    return (temp * torch.logsumexp(cat / temp, dim=-1) - q_data).mean(-1)  # [C]


def discrete_cql_penalty(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Discrete CQL(H) penalty: mean_s [logsumexp_a Q(s, a) − Q(s, a_data)]; q [B, A], actions [B] long."""
    return (torch.logsumexp(q, dim=-1) - q.gather(1, actions[:, None]).squeeze(1)).mean()


def td_target(rewards: torch.Tensor, terminals: torch.Tensor, next_q: torch.Tensor, gamma: float) -> torch.Tensor:
    """r + γ (1 − terminal) Q(s', a'): only termination stops bootstrapping, never a time limit."""
    return rewards + gamma * (1.0 - terminals) * next_q


@torch.no_grad()
def polyak_(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target ← (1 − τ)·target + τ·online, in place (τ = 1 copies)."""
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


# ------------------------------------------------------------------------------------ networks
def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """C independent linear layers applied as one batched matmul; nn.Linear's initialisation per member."""

    def __init__(self, n: int, d_in: int, d_out: int, bias: bool = True, fan_in: int | None = None):
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in or d_in)
        self.weight = nn.Parameter(torch.empty(n, d_in, d_out).uniform_(-bound, bound))  # [C, in, out]
        self.bias = nn.Parameter(torch.empty(n, 1, d_out).uniform_(-bound, bound)) if bias else None  # [C, 1, out]

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:  # [R, in] or [C, R, in] -> [C, R, out]
        w = self.weight.detach() if detach else self.weight
        if self.bias is None:
            return torch.matmul(x, w)
        b = self.bias.detach() if detach else self.bias
        return torch.baddbmm(b, x.expand(w.shape[0], *x.shape[-2:]), w)


class EnsembleQ(nn.Module):
    """C critics Q_i(s, a) for M actions per state; the first layer is W_s·s (once per state) + W_a·a."""

    def __init__(self, n: int, obs_dim: int, act_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        fan_in = obs_dim + act_dim  # initialised as one Linear over [s, a]
        self.first_s = EnsembleLinear(n, obs_dim, hidden[0], fan_in=fan_in)
        self.first_a = EnsembleLinear(n, act_dim, hidden[0], bias=False, fan_in=fan_in)
        sizes = [*hidden, 1]
        self.rest = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, s: torch.Tensor, a: torch.Tensor, detach: bool = False, chunk_rows: int = 2048) -> torch.Tensor:
        """s [B, obs], a [B, M, A] → Q [C, B, M].

        The M actions go through in chunks of about `chunk_rows` rows: each chunk's activations stay in
        the CPU cache between a matmul and its ReLU (2x faster on a 2-core machine than one big pass).
        """
        b, m, _ = a.shape
        hs = self.first_s(s, detach).unsqueeze(2)  # [C, B, 1, H]
        step = max(1, chunk_rows // b)
        return torch.cat([self._rest(hs, a[:, i:i + step], detach) for i in range(0, m, step)], dim=-1)

    def _rest(self, hs: torch.Tensor, a: torch.Tensor, detach: bool) -> torch.Tensor:
        b, m, _ = a.shape
        ha = self.first_a(a.reshape(b * m, -1), detach).view(-1, b, m, hs.shape[-1])  # [C, B, m, H]
        h = F.relu(hs + ha).flatten(1, 2)  # [C, B*m, H]
        for i, layer in enumerate(self.rest):
            h = layer(h, detach)
            if i < len(self.rest) - 1:
                h = F.relu(h)
        return h.view(-1, b, m)  # [C, B, m]


def tanh_gaussian_sample(mean: torch.Tensor, log_std: torch.Tensor, n: int | None = None,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised a = tanh(μ + σε) and log π(a) (tanh-corrected); n samples → [B, n, A], [B, n]."""
    if n is not None:
        mean, log_std = mean.unsqueeze(1).expand(-1, n, -1), log_std.unsqueeze(1).expand(-1, n, -1)
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    u = mean + log_std.exp() * eps
    # log N(u; μ, σ) − Σ log(1 − tanh(u)²), the latter as 2(log 2 − u − softplus(−2u)) for stability
    logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    return torch.tanh(u), logp


class ContinuousCQL(nn.Module):
    """Actor, critic ensemble, target critics and the learned temperatures: one module, one checkpoint."""

    LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # [CORL, d3rlpy squashed Gaussian]

    def __init__(self, cfg: CQLConfig):
        super().__init__()
        if cfg.discrete or cfg.encoder != "linear":
            raise ValueError("ContinuousCQL is for vector observations and continuous actions")
        self.cfg = cfg
        self.norm = Normalizer(cfg)
        self.actor = mlp([cfg.obs_dim, *cfg.hidden, 2 * cfg.act_dim])
        self.critic = EnsembleQ(cfg.n_critics, cfg.obs_dim, cfg.act_dim, cfg.hidden)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_temp = nn.Parameter(torch.tensor(math.log(cfg.init_temperature)))
        self.log_alpha_prime = nn.Parameter(torch.tensor(0.0))  # α' = 1 at the start [d3rlpy initial_alpha]

    @property
    def context_len(self) -> int:
        return 1

    def policy(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised states [B, obs] → mean, log-std [B, A] of the pre-tanh Gaussian."""
        mean, log_std = self.actor(s).chunk(2, dim=-1)
        return mean, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    @torch.no_grad()
    def act(self, batch: dict[str, torch.Tensor], sample: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """tanh(mean) of the policy at the window's last state [B, A] (a sample with `sample`)."""
        mean, log_std = self.policy(self.norm(batch["states"][:, -1]))
        return tanh_gaussian_sample(mean, log_std, generator=generator)[0] if sample else torch.tanh(mean)


class QNetwork(nn.Module):
    """Observation encoder (+ history features) → MLP → one Q-value per discrete action."""

    def __init__(self, cfg: CQLConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Normalizer(cfg) if cfg.encoder == "linear" else ENCODERS[cfg.encoder](cfg)
        feat = cfg.obs_dim if cfg.encoder == "linear" else cfg.embed_dim
        self.head = mlp([feat + cfg.n_history, *cfg.hidden, cfg.act_dim])

    def forward(self, obs: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
        """obs [B, *obs] (+ history [B, F]) → Q [B, A]."""
        x = self.encoder(obs.unsqueeze(1)).flatten(1)  # [B, d] (encoders take [B, K, ...] windows, K = 1)
        if self.cfg.n_history:
            x = torch.cat([x, history.float()], dim=-1)  # [B, d + F]
        return self.head(x)


class DiscreteCQL(nn.Module):
    """Online and target Q-networks; acts greedily on the window's last observation."""

    def __init__(self, cfg: CQLConfig):
        super().__init__()
        if not cfg.discrete:
            raise ValueError("DiscreteCQL is for discrete actions")
        self.cfg = cfg
        self.q = QNetwork(cfg)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)

    @property
    def context_len(self) -> int:
        return self.cfg.context_len

    def history_of(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """History features [B, F] of each window's last step, from its past observations and actions."""
        if not self.cfg.history:
            return None
        feats = HISTORY[self.cfg.history].from_window(batch["states"].cpu().numpy(), batch["actions"].cpu().numpy(),
                                                      batch["mask"].cpu().numpy())
        return torch.as_tensor(feats, device=batch["states"].device)

    @torch.no_grad()
    def act(self, batch: dict[str, torch.Tensor], sample: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """argmax_a Q(s, a) at the window's last step [B] (with `sample`, a draw from softmax(Q))."""
        q = self.q(batch["states"][:, -1], self.history_of(batch))
        if sample:
            return torch.multinomial(torch.softmax(q, -1), 1, generator=generator).squeeze(-1)
        return q.argmax(-1)


def build_cql(cfg: CQLConfig) -> nn.Module:
    """The CQL agent for a config: DiscreteCQL or ContinuousCQL."""
    return DiscreteCQL(cfg) if cfg.discrete else ContinuousCQL(cfg)


# ------------------------------------------------------------------------------------ learner
class CQLLearner:
    """One CQL gradient step per `update(batch)` on a TransitionSampler batch; state for exact resume."""

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu"):
        self.model = model.to(device)
        self.cfg: CQLConfig = model.cfg
        self.updates = 0
        c = self.cfg
        # fused: one kernel per optimiser step instead of ~10 small ops per tensor (the same Adam up to rounding)
        adam = lambda params, lr: torch.optim.Adam(params, lr=lr, fused=True)  # noqa: E731
        if c.discrete:
            self.optimizers = {"critic": adam(model.q.parameters(), c.critic_lr)}
        else:
            self.optimizers = {"actor": adam(model.actor.parameters(), c.actor_lr),
                               "critic": adam(model.critic.parameters(), c.critic_lr),
                               "temp": adam([model.log_temp], c.temp_lr)}
            if c.lagrange:
                self.optimizers["alpha_prime"] = adam([model.log_alpha_prime], c.alpha_prime_lr)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        metrics = self._discrete(batch) if self.cfg.discrete else self._continuous(batch)
        self.updates += 1
        online, target = (self.model.q, self.model.q_target) if self.cfg.discrete else \
            (self.model.critic, self.model.critic_target)
        if self.cfg.target_update_interval:
            if self.updates % self.cfg.target_update_interval == 0:
                polyak_(target, online, 1.0)
        else:
            polyak_(target, online, self.cfg.tau)
        return metrics

    def _amp(self):
        """bf16 autocast of the forward passes when `precision='bf16'` (weights, optimiser and losses stay fp32)."""
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def _step(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def target(self, batch: dict[str, torch.Tensor], next_mean: torch.Tensor | None = None,
               next_log_std: torch.Tensor | None = None) -> torch.Tensor:
        """The TD target [B] (no gradient): r·scale + γ(1 − terminal)·Q̄(s', a')."""
        c, m = self.cfg, self.model
        with torch.no_grad():
            if c.discrete:
                nxt, hist = batch["next_observations"], batch.get("next_history")
                a2 = m.q(nxt, hist).argmax(-1, keepdim=True)  # double DQN: the online net picks a'
                next_q = m.q_target(nxt, hist).gather(1, a2).squeeze(1)  # [B]
            else:
                s2 = m.norm(batch["next_observations"])
                if next_mean is None:
                    next_mean, next_log_std = (x.float() for x in m.policy(s2))
                a2, logp2 = tanh_gaussian_sample(next_mean, next_log_std, 1)  # [B, 1, A], [B, 1]
                with self._amp():
                    next_q = m.critic_target(s2, a2).float().min(0).values.squeeze(-1)  # [B]
                if c.backup_entropy:
                    next_q = next_q - m.log_temp.exp() * logp2.squeeze(-1)
            return td_target(batch["rewards"].float() * c.reward_scale, batch["terminals"].float(), next_q, c.gamma)

    def _discrete(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c, m = self.cfg, self.model
        a = batch["actions"].long()
        y = self.target(batch)  # [B]
        q = m.q(batch["observations"], batch.get("history"))  # [B, A]
        q_data = q.gather(1, a[:, None]).squeeze(1)  # [B]
        td = F.smooth_l1_loss(q_data, y)  # Huber, as DQN / d3rlpy
        penalty = discrete_cql_penalty(q, a)
        loss = td + c.cql_weight * penalty
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss is {loss.item()}")
        self._step("critic", loss)
        return {"train/critic_loss": loss.item(), "train/td_loss": td.item(), "train/cql_penalty": penalty.item(),
                "train/q_data": q_data.mean().item()}

    def _continuous(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c, m = self.cfg, self.model
        s, s2 = m.norm(batch["observations"]), m.norm(batch["next_observations"])  # [B, obs]
        a = batch["actions"].float()  # [B, A]
        b, n = len(a), c.n_action_samples
        with self._amp():
            mean, log_std = m.policy(torch.cat([s, s2]))  # [2B, A]: one actor pass serves every sample below
        mean, log_std = mean.float(), log_std.float()
        a_pi, logp_pi = tanh_gaussian_sample(mean[:b], log_std[:b])  # [B, A], [B], with gradient

        # temperature: keep the policy's entropy near −|A| [SAC; CORL, d3rlpy]
        temp_loss = -(m.log_temp * (logp_pi.detach() - c.act_dim)).mean()
        temp = m.log_temp.exp().detach()

        # critics: TD + conservative penalty
        mu, ls = mean.detach(), log_std.detach()
        y = self.target(batch, mu[b:], ls[b:])  # [B]
        with torch.no_grad():
            a_rand = torch.rand(b, n, c.act_dim, device=a.device) * 2 - 1  # [B, N, A] uniform on [-1, 1]
            a_s, logp_s = tanh_gaussian_sample(mu[:b], ls[:b], n)  # [B, N, A], [B, N] at s
            a_s2, logp_s2 = tanh_gaussian_sample(mu[b:], ls[b:], n)  # [B, N, A] at s', valued at s
        with self._amp():
            q = m.critic(s, torch.cat([a[:, None], a_rand, a_s, a_s2], dim=1)).float()  # [C, B, 1 + 3N]
        q_data = q[:, :, 0]  # [C, B]
        td = (q_data - y).pow(2).mean(-1)  # [C]
        penalty = cql_penalty(q_data, q[:, :, 1:1 + n], q[:, :, 1 + n:1 + 2 * n], q[:, :, 1 + 2 * n:],
                              logp_s, logp_s2, c.act_dim, c.cql_temp)  # [C]
        metrics = {}
        if c.lagrange:
            alpha_prime = m.log_alpha_prime.exp().clamp(0.0, 1e6)
            conservative = alpha_prime.detach() * c.cql_weight * (penalty - c.target_gap)
            ap_loss = -(alpha_prime * c.cql_weight * (penalty.detach() - c.target_gap)).mean()
            metrics["train/alpha_prime"] = alpha_prime.item()
        else:
            conservative = c.cql_weight * penalty
        critic_loss = (td + conservative).sum()
        if not torch.isfinite(critic_loss):
            raise TrainingDiverged(f"loss is {critic_loss.item()}")
        self._step("critic", critic_loss)
        if c.lagrange:
            self._step("alpha_prime", ap_loss)

        # actor: maximise min_i Q_i(s, π(s)) + α·entropy, on the updated critics (d3rlpy's order)
        with self._amp():
            q_pi = m.critic(s, a_pi[:, None], detach=True).float().min(0).values.squeeze(-1)  # [B], no critic grads
        actor_loss = (temp * logp_pi - q_pi).mean()
        self._step("actor", actor_loss)
        self._step("temp", temp_loss)
        return {"train/critic_loss": critic_loss.item(), "train/td_loss": td.mean().item(),
                "train/cql_penalty": penalty.mean().item(), "train/q_data": q_data.mean().item(),
                "train/actor_loss": actor_loss.item(), "train/temperature": temp.item(), **metrics}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates,
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
