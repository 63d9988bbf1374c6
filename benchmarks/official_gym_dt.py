"""Our DT / BC training and evaluation against the official Gym code's, measured interleaved in one process (issue 3).

The issue quotes the official implementation at ~7.1 steps/s "on this CPU"; this VM's speed drifts by a quarter
between sessions (Hopper's own stepping: 7.9k-12k steps/s in our runs), so a number measured at another time is no
baseline. This script rebuilds the official training step from its description (`docs/paper-reference.md`
§4.1-4.2: written from the description, not copied) and times it beside ours on the same data, alternating:

  official: per-sample `get_batch` in Python/numpy (trajectories drawn ∝ length, uniform start, return-to-go by a
  reversed Python loop over the rest of the episode, left padding by concatenation), HuggingFace GPT-2 (`n_inner`
  512, ReLU, dropout 0.1, *eager* attention as in transformers 4.5, the learned positions zeroed and frozen: the
  official `trajectory_gpt2.py` drops them), the three prediction heads, masked action MSE, `zero_grad → backward →
  clip_grad_norm_(0.25) → AdamW.step`, LambdaLR warmup;
  official BC: the same `get_batch`, `MLPBCModel` (3 x 256, the paper's BC size), `ActTrainer` (MSE on the last
  action, no clipping);
  official evaluation: `evaluate_episode_rtg` + `get_action`, one episode at a time (histories grown by torch.cat,
  the window left-padded every step, the full three-head forward) on Hopper-v5;
  ours: `WindowSampler` + `SupervisedLearner.update` (fp32 default, and the opt-in bf16 + packed dropout masks for
  DT; the gym/bc preset's MLPBC for BC).

Needs `transformers` (not a project dependency: `pip install transformers` into the venv, or
`pip install --target DIR transformers` and `--extra-path DIR`). Same Hopper-shaped synthetic data as
benchmarks/run.py. Nothing here asserts a time.

    .venv/bin/python benchmarks/official_gym_dt.py [--threads 1] [--rounds 3] [--steps 10]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (benchmarks/run.py: data, model config, our TrainBench)

from dtlib.config import get_preset  # noqa: E402
from dtlib.model import MLPBC, DecisionTransformer  # noqa: E402
from dtlib.train import TrainConfig  # noqa: E402

K, BATCH, MAX_EP_LEN, SCALE, EMBED = 20, 64, 1000, 1000.0, 128


def discount_cumsum(x: np.ndarray, gamma: float) -> np.ndarray:
    out = np.zeros_like(x)
    out[-1] = x[-1]
    for t in reversed(range(x.shape[0] - 1)):  # the official per-element loop
        out[t] = x[t] + gamma * out[t + 1]
    return out


class OfficialBatches:
    """The official `get_batch`: one Python iteration per sample (docs/paper-reference.md §4.1)."""

    def __init__(self, data, seed: int = 0):
        self.trajs = [{"observations": data.observations[s:e], "actions": data.actions[s:e],
                       "rewards": data.rewards[s:e], "terminals": data.terminals[s:e]}
                      for s, e in zip(data.starts, np.append(data.starts[1:], data.n_steps))]
        lengths = np.array([len(t["rewards"]) for t in self.trajs])
        self.p_sample = lengths / lengths.sum()
        self.state_mean, self.state_std = data.state_stats()
        random.seed(seed)
        np.random.seed(seed)

    def __call__(self, batch_size: int = BATCH):
        idx = np.random.choice(np.arange(len(self.trajs)), size=batch_size, replace=True, p=self.p_sample)
        s, a, r, d, rtg, timesteps, mask = [], [], [], [], [], [], []
        for i in idx:
            traj = self.trajs[int(i)]
            si = random.randint(0, traj["rewards"].shape[0] - 1)
            s.append(traj["observations"][si:si + K].reshape(1, -1, bench.OBS_DIM))
            a.append(traj["actions"][si:si + K].reshape(1, -1, bench.ACT_DIM))
            r.append(traj["rewards"][si:si + K].reshape(1, -1, 1))
            d.append(traj["terminals"][si:si + K].reshape(1, -1))
            timesteps.append(np.arange(si, si + s[-1].shape[1]).reshape(1, -1))
            timesteps[-1][timesteps[-1] >= MAX_EP_LEN] = MAX_EP_LEN - 1
            rtg.append(discount_cumsum(traj["rewards"][si:], gamma=1.0)[:s[-1].shape[1] + 1].reshape(1, -1, 1))
            if rtg[-1].shape[1] <= s[-1].shape[1]:
                rtg[-1] = np.concatenate([rtg[-1], np.zeros((1, 1, 1))], axis=1)
            tlen = s[-1].shape[1]
            s[-1] = np.concatenate([np.zeros((1, K - tlen, bench.OBS_DIM)), s[-1]], axis=1)
            s[-1] = (s[-1] - self.state_mean) / self.state_std
            a[-1] = np.concatenate([np.ones((1, K - tlen, bench.ACT_DIM)) * -10.0, a[-1]], axis=1)
            r[-1] = np.concatenate([np.zeros((1, K - tlen, 1)), r[-1]], axis=1)
            d[-1] = np.concatenate([np.ones((1, K - tlen)) * 2, d[-1]], axis=1)
            rtg[-1] = np.concatenate([np.zeros((1, K - tlen, 1)), rtg[-1]], axis=1) / SCALE
            timesteps[-1] = np.concatenate([np.zeros((1, K - tlen)), timesteps[-1]], axis=1)
            mask.append(np.concatenate([np.zeros((1, K - tlen)), np.ones((1, tlen))], axis=1))
        f = lambda x, dt=torch.float32: torch.from_numpy(np.concatenate(x, axis=0)).to(dtype=dt)  # noqa: E731
        return f(s), f(a), f(r), f(d, torch.long), f(rtg), f(timesteps, torch.long), f(mask)


class Conv1D451(nn.Module):
    """GPT-2's 'Conv1D': y = b + x W with W stored [in, out], applied as one addmm over the flattened tokens."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, in] -> [B, T, out]
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Block451(nn.Module):
    """One GPT-2 block as transformers 4.5.1 computes it (written from its description, not copied): layer norm,
    fused q/k/v Conv1D, scores q k^T / sqrt(d_head), the causal mask by `where` against -1e4, the additive padding
    mask, softmax, attention dropout, @ v, output Conv1D, residual dropout; then layer norm, Conv1D 4d, ReLU,
    Conv1D d, dropout; each half residual."""

    def __init__(self, d: int, n_head: int, p: float, n_positions: int = 1024):
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.attn_proj = Conv1D451(d, 3 * d), Conv1D451(d, d)
        self.c_fc, self.mlp_proj = Conv1D451(d, 4 * d), Conv1D451(4 * d, d)
        self.attn_drop, self.resid_drop, self.mlp_drop = nn.Dropout(p), nn.Dropout(p), nn.Dropout(p)
        self.register_buffer("causal", torch.tril(torch.ones(n_positions, n_positions, dtype=torch.bool)))

    def forward(self, x: torch.Tensor, pad_bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        heads = lambda y: y.view(b, t, self.n_head, d // self.n_head).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = heads(q), heads(k), heads(v)  # [B, h, T, d/h]
        w = torch.matmul(q, k.transpose(-1, -2)) / (float(v.shape[-1]) ** 0.5)  # [B, h, T, T]
        w = torch.where(self.causal[:t, :t], w, torch.tensor(-1e4, dtype=w.dtype)) + pad_bias
        w = self.attn_drop(nn.functional.softmax(w, dim=-1))
        a = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(b, t, d)  # [B, T, d]
        x = x + self.resid_drop(self.attn_proj(a))
        return x + self.mlp_drop(self.mlp_proj(torch.relu(self.c_fc(self.ln_2(x)))))


class Gpt2Stack451(nn.Module):
    """The official `trajectory_gpt2.GPT2Model` (transformers 4.5.1, learned positions removed) in plain torch:
    embedding dropout, the blocks, a final layer norm. `forward(inputs_embeds=, attention_mask=)` as HF's."""

    def __init__(self, d: int = EMBED, n_layer: int = 3, n_head: int = 1, p: float = 0.1):
        super().__init__()
        self.drop = nn.Dropout(p)
        self.h = nn.ModuleList(Block451(d, n_head, p) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        pad_bias = (1.0 - attention_mask[:, None, None, :].to(inputs_embeds.dtype)) * -10000.0  # [B, 1, 1, T]
        x = self.drop(inputs_embeds)
        for block in self.h:
            x = block(x, pad_bias)
        return {"last_hidden_state": self.ln_f(x)}


STACKS = ("hf", "v451")  # transformers 5.x GPT2Model (eager attention) | the rebuilt 4.5.1 block in plain torch


def transformers_version() -> str | None:
    """transformers' version when importable (the official DT's 'hf' stack needs it), else None."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers.__version__


class OfficialDT(nn.Module):
    """The official Gym model's computation (docs/paper-reference.md §4.2) on GPT-2: HuggingFace's (`stack='hf'`,
    transformers 5.x with eager attention) or the rebuilt transformers-4.5.1 block the official code vendors
    (`stack='v451'`)."""

    def __init__(self, stack: str = "hf"):
        super().__init__()
        if stack not in STACKS:
            raise ValueError(f"stack={stack!r}; choose one of {STACKS}")
        if stack == "v451":
            self.transformer = Gpt2Stack451()
        else:
            from transformers import GPT2Config, GPT2Model

            cfg = GPT2Config(vocab_size=1, n_embd=EMBED, n_layer=3, n_head=1, n_inner=4 * EMBED,
                             activation_function="relu", n_positions=1024, resid_pdrop=0.1, attn_pdrop=0.1)
            cfg._attn_implementation = "eager"  # transformers 4.5's attention: matmul, mask, softmax, dropout, matmul
            self.transformer = GPT2Model(cfg)
            nn.init.zeros_(self.transformer.wpe.weight)  # the official GPT-2 has no learned positions
            self.transformer.wpe.weight.requires_grad_(False)
        self.embed_timestep = nn.Embedding(MAX_EP_LEN, EMBED)
        self.embed_return = nn.Linear(1, EMBED)
        self.embed_state = nn.Linear(bench.OBS_DIM, EMBED)
        self.embed_action = nn.Linear(bench.ACT_DIM, EMBED)
        self.embed_ln = nn.LayerNorm(EMBED)
        self.predict_state = nn.Linear(EMBED, bench.OBS_DIM)
        self.predict_action = nn.Sequential(nn.Linear(EMBED, bench.ACT_DIM), nn.Tanh())
        self.predict_return = nn.Linear(EMBED, 1)

    def forward(self, states, actions, returns_to_go, timesteps, attention_mask):
        b, k = states.shape[:2]
        time_emb = self.embed_timestep(timesteps)
        stacked = torch.stack((self.embed_return(returns_to_go) + time_emb, self.embed_state(states) + time_emb,
                               self.embed_action(actions) + time_emb), dim=1).permute(0, 2, 1, 3).reshape(b, 3 * k, EMBED)
        stacked = self.embed_ln(stacked)
        mask = torch.stack((attention_mask,) * 3, dim=1).permute(0, 2, 1).reshape(b, 3 * k)
        x = self.transformer(inputs_embeds=stacked, attention_mask=mask)["last_hidden_state"]
        x = x.reshape(b, k, 3, EMBED).permute(0, 2, 1, 3)
        return self.predict_state(x[:, 2]), self.predict_action(x[:, 1]), self.predict_return(x[:, 2])


class OfficialBC(nn.Module):
    """The official `MLPBCModel` (docs/paper-reference.md §4.3) at the paper's BC size: 3 layers of 256 on the last K states."""

    def __init__(self, hidden: int = 256, n_layer: int = 3, dropout: float = 0.1):
        super().__init__()
        layers = [nn.Linear(K * bench.OBS_DIM, hidden)]
        for _ in range(n_layer - 1):
            layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden)]
        layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, bench.ACT_DIM), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, states, actions, rewards, attention_mask=None, target_return=None):
        states = states[:, -K:].reshape(states.shape[0], -1)
        return None, self.model(states).reshape(states.shape[0], 1, bench.ACT_DIM), None


@torch.no_grad()
def official_eval(model: OfficialDT, steps: int, state_mean: np.ndarray, state_std: np.ndarray) -> dict:
    """The official `evaluate_episode_rtg` + `get_action`, one Hopper episode of `steps` steps (docs/paper-reference.md §4.2):
    histories grown by `torch.cat` every step, the last K steps left-padded, the full forward with three heads."""
    env = bench.hopper_env()
    model.eval()
    mean, std = torch.from_numpy(state_mean), torch.from_numpy(state_std)
    state, _ = env.reset(seed=0)
    states = torch.from_numpy(state).reshape(1, bench.OBS_DIM).float()
    actions, rewards = torch.zeros((0, bench.ACT_DIM)), torch.zeros(0)
    target_return = torch.tensor(bench.HOPPER.targets[0] / SCALE).reshape(1, 1)
    timesteps = torch.tensor(0).reshape(1, 1)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for t in range(steps):
        actions = torch.cat([actions, torch.zeros((1, bench.ACT_DIM))], dim=0)
        rewards = torch.cat([rewards, torch.zeros(1)])
        s = ((states - mean) / std).float().reshape(1, -1, bench.OBS_DIM)[:, -K:]
        a, g, ts = actions.reshape(1, -1, bench.ACT_DIM)[:, -K:], target_return.reshape(1, -1, 1)[:, -K:], \
            timesteps.reshape(1, -1)[:, -K:]
        n = s.shape[1]
        mask = torch.cat([torch.zeros(K - n), torch.ones(n)]).reshape(1, -1)
        s = torch.cat([torch.zeros((1, K - n, bench.OBS_DIM)), s], dim=1)
        a = torch.cat([torch.zeros((1, K - n, bench.ACT_DIM)), a], dim=1)
        g = torch.cat([torch.zeros((1, K - n, 1)), g], dim=1).float()
        ts = torch.cat([torch.zeros((1, K - n), dtype=torch.long), ts], dim=1)
        action = model(s, a, g, ts, mask)[1][0, -1]
        actions[-1] = action
        state, reward, *_ = env.step(action.numpy())
        states = torch.cat([states, torch.from_numpy(state).reshape(1, bench.OBS_DIM).float()], dim=0)
        rewards[-1] = reward
        target_return = torch.cat([target_return, (target_return[0, -1] - reward / SCALE).reshape(1, 1)], dim=1)
        timesteps = torch.cat([timesteps, torch.ones((1, 1), dtype=torch.long) * (t + 1)], dim=1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    model.train()
    return {"env_steps_per_s": steps / wall, "cpu_ms_per_lockstep": 1000 * cpu / steps, "ms_per_lockstep": 1000 * wall / steps}


class OfficialStep:
    """One official `SequenceTrainer.train_step` (DT) or `ActTrainer.train_step` (BC) per call + its scheduler step."""

    def __init__(self, data, warmup: int, bc: bool = False, hidden: int = 256, stack: str = "hf"):
        torch.manual_seed(0)
        self.bc = bc
        self.model = OfficialBC(hidden) if bc else OfficialDT(stack)
        self.batches = OfficialBatches(data)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=1e-4)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min((s + 1) / 10_000, 1))
        if warmup:
            self(warmup)

    def __call__(self, steps: int) -> dict:
        self.model.train()
        sample_s, wall0, cpu0 = 0.0, time.perf_counter(), time.process_time()
        for _ in range(steps):
            t0 = time.perf_counter()
            states, actions, rewards, dones, rtg, timesteps, mask = self.batches()
            sample_s += time.perf_counter() - t0
            action_target = torch.clone(actions)
            if self.bc:  # ActTrainer: the last action only, no gradient clipping
                _, action_preds, _ = self.model(states, actions, rewards, attention_mask=mask, target_return=rtg[:, 0])
                loss = torch.mean((action_preds.reshape(-1, bench.ACT_DIM) - action_target[:, -1]) ** 2)
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                loss.detach().cpu().item()
                self.sched.step()
                continue
            _, action_preds, _ = self.model(states, actions, rtg[:, :-1], timesteps, mask)
            act_dim = action_preds.shape[2]
            action_preds = action_preds.reshape(-1, act_dim)[mask.reshape(-1) > 0]
            action_target = action_target.reshape(-1, act_dim)[mask.reshape(-1) > 0]
            loss = torch.mean((action_preds - action_target) ** 2)
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.25)
            self.opt.step()
            torch.mean((action_preds - action_target) ** 2).detach().cpu().item()  # its logged training error
            self.sched.step()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {"steps_per_s": steps / wall, "cpu_ms_per_step": 1000 * cpu / steps,
                "sample_share": sample_s / wall, "sample_ms_per_step": 1000 * sample_s / steps}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per measurement per round")
    ap.add_argument("--eval-steps", type=int, default=200, help="steps of each evaluation episode (lockstep)")
    ap.add_argument("--out", type=Path, default=None, help="write the report here (JSON)")
    ap.add_argument("--extra-path", default=None, help="a folder holding transformers (pip install --target)")
    args = ap.parse_args(argv)
    if args.extra_path:
        sys.path.append(args.extra_path)
    try:
        import transformers
    except ImportError:
        sys.exit("needs transformers: .venv/bin/pip install transformers (not a project dependency)")
    torch.set_num_threads(args.threads)
    data = bench.synthetic_dataset(100_000)
    bc_preset = get_preset("gym", "bc")
    cases = {
        "official": OfficialStep(data, warmup=3),
        "ours_fp32": bench.TrainBench(DecisionTransformer(bench.model_config(data)), data, TrainConfig(device="cpu"), 3),
        "ours_bf16_packed": bench.TrainBench(DecisionTransformer(bench.model_config(data, dropout_masks="packed")),
                                             data, TrainConfig(device="cpu", precision="bf16"), 3),
        "official_bc": OfficialStep(data, warmup=10, bc=True),
        "ours_bc": bench.TrainBench(MLPBC(bench.model_config(data, **bc_preset.model)), data,
                                    TrainConfig(**{**bc_preset.train, "device": "cpu"}), 10),
    }
    steps = {name: args.steps * (20 if "bc" in name else 1) for name in cases}  # BC steps are ~70x cheaper
    mean, std = data.state_stats()
    eval_model = DecisionTransformer(bench.model_config(data))
    evals = {
        "official_eval_1": lambda: official_eval(cases["official"].model, args.eval_steps, mean, std),
        "ours_eval_1": lambda: bench.eval_bench(eval_model, 1, args.eval_steps),
        "ours_eval_50": lambda: bench.eval_bench(eval_model, 50, args.eval_steps),
        "ours_eval_50_bf16": lambda: bench.eval_bench(eval_model, 50, args.eval_steps, "bf16"),
    }
    raw = {name: [] for name in [*cases, *evals]}
    for r in range(args.rounds):
        for name, case in cases.items():
            raw[name].append(case(steps[name]))
            print(f"round {r + 1} {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in raw[name][-1].items()), flush=True)
        for name, case in evals.items():
            raw[name].append(case())
            print(f"round {r + 1} {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in raw[name][-1].items()), flush=True)
    med = {name: {k: statistics.median(x[k] for x in rows) for k in rows[0]} for name, rows in raw.items()}
    base = lambda name: "official_bc" if "bc" in name else "official"  # noqa: E731
    ratios = {name: statistics.median(a["steps_per_s"] / b["steps_per_s"] for a, b in zip(raw[name], raw[base(name)]))
              for name in cases}
    ratios.update({name: statistics.median(a["env_steps_per_s"] / b["env_steps_per_s"]
                                           for a, b in zip(raw[name], raw["official_eval_1"])) for name in evals})
    print(f"\ntorch {torch.__version__}, transformers {transformers.__version__}, {args.threads} thread(s), "
          f"median of {args.rounds} interleaved rounds of {args.steps} steps")
    for name in evals:
        m = med[name]
        print(f"{name:<18} {m['env_steps_per_s']:6.0f} env-steps/s  {m['cpu_ms_per_lockstep']:6.2f} ms CPU/lockstep  "
              f"x{ratios[name]:.2f} official_eval_1")
    for name in cases:
        m = med[name]
        print(f"{name:<18} {m['steps_per_s']:6.2f} steps/s  {m['cpu_ms_per_step']:6.1f} ms CPU/step  "
              f"sampling {m['sample_ms_per_step']:5.2f} ms ({m['sample_share']:.1%})  x{ratios[name]:.2f} {base(name)}")
    report = {"torch_threads": args.threads, "rounds": args.rounds, "steps": steps, "eval_steps": args.eval_steps,
              "transformers": transformers.__version__, "machine": bench.machine(), "median": med,
              "ratio_to_official": ratios, "raw": raw}
    if args.out:
        from dtlib import io

        io.write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
