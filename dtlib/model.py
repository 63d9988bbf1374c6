"""The Decision Transformer (paper Figure 1, §3) and the MLP behaviour-cloning baseline.

Letters in shape comments: B batch, K steps in the context window, T = n_tok * K tokens,
d embedding width, A action dimension (or number of discrete actions).

A batch (training and evaluation alike) is a dict of tensors:
  states    [B, K, *obs_shape]  raw observations (the model normalises / rescales them itself)
  actions   [B, K, A] float (continuous) or [B, K] long (discrete)
  rtg       [B, K]    undiscounted returns-to-go in env units (the model divides by return_scale)
  timesteps [B, K]    step index within the episode
  mask      [B, K]    1 for real steps, 0 for left padding
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one Decision Transformer; the defaults are the paper's Gym settings."""

    obs_shape: tuple[int, ...]  # one step's observation shape: (17,), (4, 84, 84), (n_features,)
    act_dim: int  # continuous action dimension, or the number of discrete actions
    discrete: bool = False  # discrete actions: logits + cross-entropy; else tanh + MSE [paper §3]
    encoder: str = "linear"  # 'linear' (vectors) | 'cnn' (Atari frames) | 'frozen_cnn' | 'embedding' (small discrete obs)
    # 'frozen_cnn': the conv torso of this behaviour-agent snapshot (a path under the project root), kept fixed
    encoder_weights: str = ""
    obs_vocab: tuple[int, ...] = ()  # 'embedding': vocabulary size of each observation feature
    embed_dim: int = 128  # d [paper Gym: 128; Atari: 128]
    n_layer: int = 3  # transformer blocks [paper Gym: 3; Atari: 6]
    n_head: int = 1  # attention heads [paper Gym: 1; Atari: 8]
    dropout: float = 0.1  # embedding, attention and residual dropout [paper: 0.1]
    dropout_masks: str = "bernoulli"  # 'bernoulli': nn.Dropout | 'packed': PackedDropout, ~2x cheaper on CPU
    activation: str = "relu"  # MLP nonlinearity in the blocks [paper Gym: ReLU; Atari: GeLU]
    context_len: int = 20  # K, steps per window [paper Gym: 20; Atari: 30, Pong 50]
    max_ep_len: int = 1000  # size of the learned timestep embedding
    return_scale: float = 1000.0  # returns-to-go are divided by this [repo gym: scale=1000]
    use_returns: bool = True  # False drops the return tokens: the paper's Atari "BC" transformer
    return_head: bool = False  # also predict the return-to-go from each state token (Key-to-Door critic, §5.5)
    state_mean: tuple[float, ...] | None = field(default=None, compare=False)  # 'linear': normalisation
    state_std: tuple[float, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.dropout_masks not in DROPOUTS:
            raise ValueError(f"unknown dropout_masks={self.dropout_masks!r}; choose one of {sorted(DROPOUTS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def tokens_per_step(self) -> int:
        return 3 if self.use_returns else 2

    @property
    def obs_dim(self) -> int:
        return int(math.prod(self.obs_shape))


# ---------------------------------------------------------------------------------------- dropout
class PackedDropout(nn.Module):
    """Dropout whose masks take 16 bits of a 64-bit random word each: four mask entries per draw of torch's
    generator instead of one Bernoulli draw per entry, so about 2x cheaper than `nn.Dropout` on CPU, where
    the draws are a sixth of a DT training step (README, Speed). Same expectation: the drop probability is
    rounded to a multiple of 1/65536 (0.1 -> 0.100006) and kept values are scaled by 1 / (1 - p). Seeded by
    torch's global generator, like `nn.Dropout`; the masks differ from `nn.Dropout`'s, so results do too.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.cut = round(p * 65536)  # entries whose 16-bit word (as unsigned) is below this are dropped
        self.p = self.cut / 65536

    def keep(self, shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        """A boolean mask of `shape`, True (kept) with probability 1 - p, entries independent."""
        n = math.prod(shape)
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2**63, 2**63 - 1)
        u = words.view(torch.int16)[:n].view(shape)  # uniform on [-32768, 32767]
        return u >= self.cut - 32768

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.cut == 0:
            return x
        keep = self.keep(x.shape, x.device).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p:.6f}"


DROPOUTS = {"bernoulli": nn.Dropout, "packed": PackedDropout}


# ---------------------------------------------------------------------------------------- adapters
class Normalizer(nn.Module):
    """z-scores observation vectors with the dataset's statistics, kept as buffers so checkpoints carry them."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        mean = torch.zeros(cfg.obs_dim) if cfg.state_mean is None else torch.tensor(cfg.state_mean)
        std = torch.ones(cfg.obs_dim) if cfg.state_std is None else torch.tensor(cfg.state_std)
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    def forward(self, s: torch.Tensor) -> torch.Tensor:  # [B, K, obs_dim] -> [B, K, obs_dim]
        return (s.float() - self.mean) / self.std


class VectorEncoder(nn.Module):
    """Linear embedding of a normalised observation vector (Gym)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = Normalizer(cfg)
        self.proj = nn.Linear(cfg.obs_dim, cfg.embed_dim)

    def forward(self, s: torch.Tensor) -> torch.Tensor:  # [B, K, obs_dim] -> [B, K, d]
        return self.proj(self.norm(s))


class AtariEncoder(nn.Module):
    """The paper's Atari CNN: 32-64-64 channels, 8/4/3 kernels, strides 4/2/1, then Linear + Tanh."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c, h, w = cfg.obs_shape
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(), nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            n_flat = self.conv(torch.zeros(1, c, h, w)).shape[1]  # 3136 for 84x84
        self.proj = nn.Sequential(nn.Linear(n_flat, cfg.embed_dim), nn.Tanh())

    def forward(self, s: torch.Tensor) -> torch.Tensor:  # [B, K, C, H, W] uint8 -> [B, K, d]
        b, k = s.shape[:2]
        x = self.conv(s.reshape(b * k, *s.shape[2:]).float() / 255.0)  # [B*K, 3136]
        return self.proj(x).reshape(b, k, -1)


class DiscreteObsEncoder(nn.Module):
    """Sum of one embedding per discrete observation feature (Key-to-Door, the graph)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if not cfg.obs_vocab or len(cfg.obs_vocab) != cfg.obs_dim:
            raise ValueError(f"encoder='embedding' needs obs_vocab with {cfg.obs_dim} sizes, got {cfg.obs_vocab}")
        self.register_buffer("offsets", torch.tensor([0, *cfg.obs_vocab[:-1]]).cumsum(0))
        self.emb = nn.Embedding(sum(cfg.obs_vocab), cfg.embed_dim)

    def forward(self, s: torch.Tensor) -> torch.Tensor:  # [B, K, F] long -> [B, K, d]
        return self.emb(s.long() + self.offsets).sum(dim=-2)


class FrozenCNNEncoder(nn.Module):
    """A trained conv torso, fixed, then a learned Linear + Tanh: Atari frames at a CPU budget (a deviation).

    The torso is a behaviour agent's (dtlib.atari_behaviour.DuelingQNet: 8/4/3 kernels, strides 4/2/1, ReLU),
    read from the snapshot `cfg.encoder_weights`; its weights are buffers, so no gradient, optimizer state or
    weight decay touches them and a step costs a forward pass of the torso only. The paper trains its CNN
    end to end; `small` freezes one so that a few thousand steps on 2 cores can learn Pong (docs/atari.md).
    """

    STRIDES = (4, 2, 1)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from dtlib.paths import project_root

        if not cfg.encoder_weights:
            raise ValueError("encoder='frozen_cnn' needs encoder_weights: a behaviour snapshot's path")
        path = project_root() / cfg.encoder_weights
        if not path.is_file():
            raise FileNotFoundError(f"encoder_weights={cfg.encoder_weights!r}: no file {path}")
        state = torch.load(path, weights_only=True, map_location="cpu")
        for i, layer in enumerate((0, 2, 4)):  # DuelingQNet.torso's Conv2d layers
            self.register_buffer(f"w{i}", state[f"torso.{layer}.weight"].float())
            self.register_buffer(f"b{i}", state[f"torso.{layer}.bias"].float())
        c, h, w = cfg.obs_shape
        if self.w0.shape[1] != c:
            raise ValueError(f"encoder_weights={cfg.encoder_weights!r} takes {self.w0.shape[1]} frames, obs has {c}")
        n_flat = self.torso(torch.zeros(1, c, h, w)).shape[1]  # c3 * 49 for 84x84
        self.proj = nn.Sequential(nn.Linear(n_flat, cfg.embed_dim), nn.Tanh())

    @torch.no_grad()
    def torso(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, H, W] uint8 -> [N, c3 * h * w]
        x = x.float() / 255.0
        for i, stride in enumerate(self.STRIDES):
            x = F.relu(F.conv2d(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"), stride=stride))
        return x.flatten(1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:  # [B, K, C, H, W] uint8 -> [B, K, d]
        b, k = s.shape[:2]
        return self.proj(self.torso(s.reshape(b * k, *s.shape[2:]))).reshape(b, k, -1)


ENCODERS = {"linear": VectorEncoder, "cnn": AtariEncoder, "frozen_cnn": FrozenCNNEncoder,
            "embedding": DiscreteObsEncoder}
FRAME_ENCODERS = ("cnn", "frozen_cnn")  # encode each frame stack on its own: the rollout caches the embeddings


def action_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, discrete: bool) -> torch.Tensor:
    """Mean over real (mask > 0) steps: cross-entropy for discrete actions, MSE for continuous ones."""
    m = mask.reshape(-1) > 0
    if discrete:
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1])[m], target.reshape(-1).long()[m])
    return F.mse_loss(pred.reshape(-1, pred.shape[-1])[m], target.reshape(-1, target.shape[-1])[m].float())


def check_batch(cfg: ModelConfig, states: torch.Tensor, k: int) -> None:
    """A clear error for observations of the wrong shape or windows longer than the model's context."""
    if tuple(states.shape[2:]) != tuple(cfg.obs_shape):
        raise ValueError(f"observations have shape {tuple(states.shape[2:])} per step but the model expects "
                         f"{tuple(cfg.obs_shape)}")
    if k > cfg.context_len:
        raise ValueError(f"window of {k} steps exceeds the model's context_len={cfg.context_len}")


# ---------------------------------------------------------------------------------------- backbone
WRITTEN_OUT_CHUNKS = 3  # query chunks of the written-out attention (benchmarks/attention_paths.py)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention: torch's scaled_dot_product_attention, or written out when training with packed
    dropout masks.

    With dropout on, torch's CPU kernel falls back to its unfused path and draws one Bernoulli per attention
    weight ([B, h, T, T]: with 4 heads at Key-to-Door's T = 120, the dearest op of a step). With
    `dropout_masks='packed'` training computes the same attention step by step instead: scores, the additive
    mask, softmax, a packed mask (`PackedDropout.keep`) applied by `torch.where`, the values, and the 1 / (1 - p)
    scale on the [B, h, Q, d/h] output rather than on the weights. Evaluation (no dropout) always uses the fused
    kernel; both compute softmax(QK^T / sqrt(d/h) + mask) V, equal up to float rounding (tested).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.embed_dim, 3 * cfg.embed_dim)
        self.proj = nn.Linear(cfg.embed_dim, cfg.embed_dim)
        self.packed = PackedDropout(cfg.dropout) if cfg.dropout_masks == "packed" and cfg.dropout > 0 else None

    def forward(self, x: torch.Tensor, bias: torch.Tensor, need_weights: bool = False,
                query: slice | None = None):
        """`bias`: additive mask [B, 1, T, T] (0 may attend, -inf may not). `query`: attend from these token
        positions only (Q of them); keys and values still span all T."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)  # [B, h, T, d/h]
        if query is not None:
            q, bias = q[:, :, query], bias[:, :, query]  # [B, h, Q, d/h], [B, 1, Q, T]
        if self.training and self.packed is not None:
            y = self._written_out(q, k, v, bias, query)
        else:
            drop = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)  # [B, h, Q, d/h]
        weights = None
        if need_weights:
            # the attention matrix itself: the same kernel applied to identity values, softmax(QK^T/√d) @ I
            eye = torch.eye(t, device=x.device, dtype=q.dtype).expand(b, self.n_head, t, t)
            weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=bias)  # [B, h, Q, T]
        return self.proj(y.transpose(1, 2).reshape(b, -1, d)), weights  # [B, Q, d]

    def _written_out(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                     query: slice | None = None) -> torch.Tensor:
        """softmax(QK^T / sqrt(d/h) + bias), packed dropout, times V: [B, h, Q, d/h].

        The mask is causal, so a query at token position i gives weight 0 to every key after i: the queries go in
        WRITTEN_OUT_CHUNKS consecutive chunks, each against the keys up to its last query only, which skips about
        a third of the [Q, T] scores, weights and masks (the same result: a skipped key's weight is exp(-inf) = 0).
        `query`: the token positions of q's rows (None: all T).
        """
        t = k.shape[2]
        positions = range(t)[query] if query is not None else range(t)
        n = len(positions)
        edges = [round(n * i / WRITTEN_OUT_CHUNKS) for i in range(WRITTEN_OUT_CHUNKS + 1)]
        outs = []
        for lo, hi in zip(edges, edges[1:]):
            if hi == lo:
                continue
            end = positions[hi - 1] + 1  # keys 0 .. end - 1 are all the chunk's queries may see
            qc, kc, vc, bc = q[:, :, lo:hi], k[:, :, :end], v[:, :, :end], bias[:, :, lo:hi, :end]
            scores = (qc * qc.shape[-1] ** -0.5) @ kc.transpose(-2, -1)  # [B, h, q, end]
            weights = torch.softmax(scores.add_(bc), dim=-1)  # in place: the product is not kept for backward
            weights = torch.where(self.packed.keep(weights.shape, weights.device), weights, 0.0)
            outs.append(weights @ vc)  # [B, h, q, d/h]
        return torch.cat(outs, dim=2) * (1.0 / (1.0 - self.packed.p))


class Block(nn.Module):
    """Pre-LayerNorm transformer block (GPT-2 / minGPT layout): attention and an MLP, each residual."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.embed_dim
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(cfg)
        act = {"relu": nn.ReLU, "gelu": nn.GELU}[cfg.activation]
        drop = DROPOUTS[cfg.dropout_masks]
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), act(), nn.Linear(4 * d, d), drop(cfg.dropout))
        self.resid_drop = drop(cfg.dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, need_weights: bool = False,
                query: slice | None = None):
        a, w = self.attn(self.ln1(x), bias, need_weights, query)
        x = (x if query is None else x[:, query]) + self.resid_drop(a)  # [B, Q, d]
        return x + self.mlp(self.ln2(x)), w


class DecisionTransformer(nn.Module):
    """Returns-to-go, states and actions → interleaved tokens → causal transformer → actions from state tokens."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.embed_state = ENCODERS[cfg.encoder](cfg)
        self.embed_action = nn.Embedding(cfg.act_dim, d) if cfg.discrete else nn.Linear(cfg.act_dim, d)
        self.embed_return = nn.Linear(1, d)
        self.embed_timestep = nn.Embedding(cfg.max_ep_len, d)  # added to every token of a step [paper §3]
        self.embed_ln = nn.LayerNorm(d)
        self.drop = DROPOUTS[cfg.dropout_masks](cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        head = nn.Linear(d, cfg.act_dim)
        self.predict_action = head if cfg.discrete else nn.Sequential(head, nn.Tanh())
        self.predict_return = nn.Linear(d, 1) if cfg.return_head else None
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        # GPT-2 initialisation, as the official code's HuggingFace GPT-2 / minGPT
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def context_len(self) -> int:
        return self.cfg.context_len

    def _attention_bias(self, mask: torch.Tensor) -> torch.Tensor:
        """Additive attention mask, 0 = may attend, -inf = may not: causal, padded keys hidden. [B, 1, T, T]"""
        b, k = mask.shape
        n = self.cfg.tokens_per_step
        t = n * k
        keep = mask.bool().repeat_interleave(n, dim=1)  # [B, T]
        causal = torch.ones(t, t, dtype=torch.bool, device=mask.device).tril()  # [T, T]
        allowed = causal & keep[:, None, :]  # [B, T, T]
        allowed = allowed | torch.eye(t, dtype=torch.bool, device=mask.device)  # pads see themselves: no NaN
        bias = torch.zeros(allowed.shape, dtype=torch.float32, device=mask.device).masked_fill_(~allowed, -math.inf)
        return bias.unsqueeze(1)  # [B, 1, T, T], broadcast over heads

    def forward(self, batch: dict[str, torch.Tensor], need_weights: bool = False,
                last_only: bool = False) -> dict[str, torch.Tensor]:
        """Predictions for every step of the window: `action` [B, K, A] (+ `return` [B, K], `attention`).

        Only the state tokens' outputs are read, so the last block computes its queries, output projection
        and MLP at those K of the 3K tokens (all 3K still serve as its keys and values): the same predictions,
        up to float rounding, for a sixth fewer matmul FLOPs per training step with 3 layers (docs/speed.md).
        `last_only`: predict the last step only ([B, 1, A]), what `act` needs; the last block then computes
        just the last state token (about a quarter fewer FLOPs per rollout step). `need_weights` computes
        every token in every block (the attention maps are T x T).
        """
        if need_weights and last_only:
            raise ValueError("need_weights needs every query: call with last_only=False")
        cfg = self.cfg
        states, actions, mask = batch["states"], batch["actions"], batch["mask"]
        b, k = mask.shape
        check_batch(cfg, states, k)
        time = self.embed_timestep(batch["timesteps"].long())  # [B, K, d]; never clamped: a timestep >= max_ep_len is an IndexError
        # the rollout may pass each step's state embedding, computed once when the step arrived (a CNN then
        # encodes one frame stack per step, not K): exact, as each state is embedded on its own
        s = batch["state_emb"] if "state_emb" in batch else self.embed_state(states)  # [B, K, d]
        a = self.embed_action(actions.long() if cfg.discrete else actions.float())  # [B, K, d]
        tokens = [s, a]
        if cfg.use_returns:
            r = self.embed_return(batch["rtg"].float().unsqueeze(-1) / cfg.return_scale)  # [B, K, d]
            tokens = [r, s, a]
        n = cfg.tokens_per_step
        x = torch.stack(tokens, dim=2) + time.unsqueeze(2)  # [B, K, n, d], the timestep on every token of a step
        x = x.reshape(b, n * k, cfg.embed_dim)  # [B, T, d]: (R_1, s_1, a_1, R_2, ...)
        x = self.drop(self.embed_ln(x))
        bias = self._attention_bias(mask)
        # the last block's queries: the token s_K (R_K, s_K, a_K end the sequence), or every s_t token
        state_queries = slice(n * k - 2, n * k - 1) if last_only else slice(n - 2, n * k, n)
        weights = []
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1 and not need_weights
            x, w = block(x, bias, need_weights, state_queries if last else None)
            weights.append(w)
        x = self.ln_f(x)  # [B, K, d] at the state tokens ([B, 1, d] with last_only; [B, T, d] with need_weights)
        if need_weights:
            x = x.reshape(b, k, n, cfg.embed_dim)[:, :, n - 2]  # [B, K, d], output at each s_t token
        state_out = x
        out = {"action": self.predict_action(state_out)}  # [B, K, A]
        if self.predict_return is not None:
            out["return"] = self.predict_return(state_out).squeeze(-1) * cfg.return_scale  # [B, K]
        if need_weights:
            out["attention"] = torch.stack(weights, dim=1)  # [B, n_layer, n_head, T, T]
        return out

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Action loss on every real step (+ return-to-go MSE when the return head is on)."""
        out = self(batch)
        loss = action_loss(out["action"], batch["actions"], batch["mask"], self.cfg.discrete)
        metrics = {"train/action_loss": loss.item()}
        if self.predict_return is not None:
            m = batch["mask"] > 0
            ret_loss = F.mse_loss(out["return"][m] / self.cfg.return_scale,
                                  batch["rtg"][m].float() / self.cfg.return_scale)
            metrics["train/return_loss"] = ret_loss.item()
            loss = loss + ret_loss
        return loss, metrics

    @torch.no_grad()
    def act(self, batch: dict[str, torch.Tensor], sample: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """The action for the last step of each window: [B, A] continuous, [B] discrete (argmax or sampled)."""
        logits = self(batch, last_only=True)["action"][:, -1]  # [B, A]
        if not self.cfg.discrete:
            return logits
        if sample:
            return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)
        return logits.argmax(-1)


# ---------------------------------------------------------------------------------------- baseline
class MLPBC(nn.Module):
    """Behaviour cloning as the paper's BC / %BC: an MLP on the last K states predicts the last action.

    As the official `MLPBCModel`: K states concatenated (zeros for left padding), Linear → [ReLU, Dropout,
    Linear] × (n_layer − 1) → ReLU, Dropout, Linear, Tanh. Paper appendix: 3 layers, width 256.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.encoder != "linear" or cfg.discrete:
            raise ValueError("MLPBC is for vector observations and continuous actions; use "
                             "DecisionTransformer(use_returns=False) for Atari / discrete BC, as the paper")
        self.cfg = cfg
        self.norm = Normalizer(cfg)
        drop = DROPOUTS[cfg.dropout_masks]
        layers: list[nn.Module] = [nn.Linear(cfg.context_len * cfg.obs_dim, cfg.embed_dim)]
        for _ in range(cfg.n_layer - 1):
            layers += [nn.ReLU(), drop(cfg.dropout), nn.Linear(cfg.embed_dim, cfg.embed_dim)]
        layers += [nn.ReLU(), drop(cfg.dropout), nn.Linear(cfg.embed_dim, cfg.act_dim), nn.Tanh()]
        self.mlp = nn.Sequential(*layers)

    @property
    def context_len(self) -> int:
        return self.cfg.context_len

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        check_batch(self.cfg, batch["states"], self.cfg.context_len)
        # [B, K, obs_dim], pads zeroed (the official code pads raw states with 0 before normalising)
        s = self.norm(batch["states"]) * batch["mask"].unsqueeze(-1)
        return {"action": self.mlp(s.flatten(1))}  # [B, A], the action at the last step

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = F.mse_loss(self(batch)["action"], batch["actions"][:, -1].float())
        return loss, {"train/action_loss": loss.item()}

    @torch.no_grad()
    def act(self, batch: dict[str, torch.Tensor], sample: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        return self(batch)["action"]
