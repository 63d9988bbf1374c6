"""The Atari behaviour agent: Double DQN with dueling heads and n-step returns, trained once, resumably.

DQN-replay (the paper's Atari data) is the replay of a whole DQN run, from random play to expert. Its
equivalent here is a set of snapshots of one training run of this agent, committed under
`behaviour/atari/<game>/`, from which `dtlib.data.atari_replay` regenerates the dataset deterministically.

Why this agent (and not vanilla DQN or a library): vanilla DQN needs ~2M agent steps to cross 0 on Pong;
Double DQN (van Hasselt et al. 2016) + dueling heads (Wang et al. 2016) + n-step returns (Sutton 1988,
as in Rainbow, Hessel et al. 2018) learn Pong within ~0.5-1M agent steps, a few hours on one CPU core. The
code is short and ours, so a checkpoint holds everything a bit-exact resume needs (replay buffer, both
networks, Adam, every RNG); SB3's DQN has no dueling / n-step / double-Q and no bit-exact resume.

Settings of the acting agent as DQN-replay's (Dopamine): sticky actions 0.25, frame skip 4 with max-pooling,
84×84 grayscale, 4-frame stacks, no no-op starts, rewards clipped to [-1, 1] for learning, the 108k-frame
cap. Deviations from Dopamine's DQN (also in `behaviour/atari/<game>/config.json`): Double-Q, dueling,
n = 3, Adam 1e-4 (Dopamine: RMSProp 2.5e-4), replay 100k (1M), target every 2k steps (8k), ε 1 → 0.01
over 100k steps (250k), uniform replay; frame stacks at an episode's start repeat its first frame (zeros).

    python -m dtlib.atari_behaviour train pong --steps 1000000        # resumes if the run folder exists
    python -m dtlib.atari_behaviour export pong --steps 50000 150000 ... # snapshots -> behaviour/atari/pong

Resume is bit-exact: checkpoints are written only at episode boundaries, and every episode's reset is
seeded from (seed, episode index), so no emulator state needs saving.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dtlib import io
from dtlib.paths import data_dir, git_commit, project_root
from dtlib.specs import get_env_spec
from dtlib.validate import ParameterError, check_positive, check_range

FRAMES = 4  # frames per observation stack [DQN-replay, paper]


@dataclass(frozen=True)
class DQNConfig:
    """One behaviour-agent training run (values: Rainbow-lite for a CPU; brackets: Dopamine DQN's)."""

    env: str = "pong"  # dtlib Atari env name (specs.ENVS, domain 'atari')
    seed: int = 0  # network init, replay sampling, ε draws, episode resets
    total_steps: int = 1_000_000  # agent steps (4 frames each) of training [Dopamine: 50M]
    sticky_actions: float = 0.25  # repeat_action_probability [DQN-replay 0.25]
    buffer_size: int = 100_000  # transitions kept [1M]
    learning_starts: int = 10_000  # agent steps of ε = 1 play before the first update [20k]
    train_every: int = 4  # agent steps per gradient step [4]
    batch_size: int = 32  # [32]
    learning_rate: float = 1e-4  # Adam [RMSProp 2.5e-4]
    adam_eps: float = 1.5e-4  # [Rainbow's Adam epsilon]
    gamma: float = 0.99  # discount [0.99]
    n_step: int = 3  # multi-step return horizon [1; Rainbow 3]
    target_every: int = 2_000  # agent steps between target-network copies [8000]
    eps_start: float = 1.0  # ε at the first step [1.0]
    eps_final: float = 0.01  # ε after the decay [0.01]
    eps_decay_steps: int = 100_000  # linear decay length in agent steps [250k]
    eval_epsilon: float = 0.001  # ε when evaluating a snapshot [Dopamine epsilon_eval]
    grad_clip: float = 10.0  # max gradient norm
    channels: tuple[int, int, int] = (16, 32, 32)  # conv widths: half the Nature CNN's (32, 64, 64), ~2x
    # cheaper per update on one CPU core (measured 50 vs 96 ms at batch 32); Pong needs no more
    hidden: int = 256  # width of each dueling stream [Wang et al. 2016: 512]
    eval_every: int = 50_000  # agent steps between evaluations (and kept snapshots)
    eval_episodes: int = 5  # episodes per in-training evaluation (the export re-evaluates with more)
    checkpoint_every: int = 10_000  # agent steps between resumable checkpoints (at the next episode end)
    threads: int = 1  # torch threads (one core: the machine's other core stays free for other work)

    def __post_init__(self) -> None:
        if get_env_spec(self.env).domain != "atari":
            raise ParameterError(f"env={self.env!r} is not an Atari game")
        for name in ("total_steps", "buffer_size", "train_every", "batch_size", "n_step", "target_every",
                     "eps_decay_steps", "hidden", "eval_every", "eval_episodes", "checkpoint_every", "threads"):
            check_positive(name, getattr(self, name), integer=True)
        check_range("learning_starts", self.learning_starts, 0, 10**10)
        for name in ("sticky_actions", "gamma", "eps_start", "eps_final", "eval_epsilon"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_positive("learning_rate", self.learning_rate)
        if self.learning_starts < self.batch_size + self.n_step + FRAMES:
            raise ParameterError(f"learning_starts={self.learning_starts} must exceed batch_size + n_step + {FRAMES}")

    def epsilon(self, step: int) -> float:
        """Linear decay from eps_start to eps_final over eps_decay_steps, counted from learning_starts."""
        frac = min(1.0, max(0, step - self.learning_starts) / self.eps_decay_steps)
        return self.eps_start + frac * (self.eps_final - self.eps_start)


def config_from_json(d: dict[str, Any]) -> DQNConfig:
    """A DQNConfig from its JSON form (lists back to tuples)."""
    return DQNConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# ----------------------------------------------------------------------------- the network
class DuelingQNet(nn.Module):
    """Nature-DQN-shaped torso (3 convs, widths `channels`) → value and advantage streams; Q = V + A − mean(A)."""

    def __init__(self, n_actions: int, hidden: int = 256, channels: tuple[int, int, int] = (16, 32, 32)) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.torso = nn.Sequential(
            nn.Conv2d(FRAMES, c1, 8, stride=4), nn.ReLU(),  # [B, c1, 20, 20]
            nn.Conv2d(c1, c2, 4, stride=2), nn.ReLU(),  # [B, c2, 9, 9]
            nn.Conv2d(c2, c3, 3, stride=1), nn.ReLU(),  # [B, c3, 7, 7]
            nn.Flatten())  # [B, c3 * 49]
        self.value = nn.Sequential(nn.Linear(c3 * 49, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.advantage = nn.Sequential(nn.Linear(c3 * 49, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, 4, 84, 84] uint8 → Q-values [B, A]."""
        h = self.torso(obs.float() / 255.0)
        adv = self.advantage(h)  # [B, A]
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)


# ----------------------------------------------------------------------------- replay
class FrameReplay:
    """A circular buffer of single frames; stacks and n-step targets are rebuilt by index when sampled.

    Row i holds the newest frame of observation s_i, the action a_i, the clipped reward r_i, whether the
    episode ended with that step, and i's step number within its episode (to pad the first stacks with the
    episode's first frame, as the env's FrameStackObservation does). The step after an episode's last one
    has no observation row; `n_step_targets` never reads past an ending.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, int] = (84, 84)) -> None:
        self.capacity = capacity
        self.frames = np.zeros((capacity, *frame_shape), dtype=np.uint8)  # [N, 84, 84]
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=bool)
        self.ep_step = np.zeros(capacity, dtype=np.int64)
        self.added = 0  # rows ever written; the newest is (added - 1) % capacity

    def add(self, frame: np.ndarray, action: int, reward: float, done: bool, ep_step: int) -> None:
        i = self.added % self.capacity
        self.frames[i], self.actions[i], self.rewards[i] = frame, action, reward
        self.dones[i], self.ep_step[i] = done, ep_step
        self.added += 1

    def stacks(self, idx: np.ndarray) -> np.ndarray:
        """Observation stacks [B, 4, 84, 84] of absolute row numbers `idx` (all still in the buffer)."""
        back = np.minimum(np.arange(FRAMES - 1, -1, -1)[None, :], self.ep_step[idx % self.capacity][:, None])
        rows = (idx[:, None] - back) % self.capacity  # [B, 4]: oldest → newest, clamped at the episode start
        return self.frames[rows]

    def sample_indices(self, rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
        """Absolute row numbers whose stack and next n rows are all in the buffer (and written)."""
        lo = max(0, self.added - self.capacity) + FRAMES - 1  # the stack's older frames must still be there
        hi = self.added - n  # the n-step target reads rows up to i + n (the next observation's row)
        if hi <= lo:
            raise ValueError(f"replay holds {self.added} rows: too few to sample")
        return rng.integers(lo, hi, size=batch)

    def n_step_targets(self, idx: np.ndarray, n: int, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(discounted n-step reward sum, bootstrap discount γ^n or 0 if the episode ended, next row)."""
        ret = np.zeros(len(idx), dtype=np.float64)
        alive = np.ones(len(idx), dtype=bool)
        for k in range(n):
            rows = (idx + k) % self.capacity
            ret += alive * (gamma**k) * self.rewards[rows]
            alive &= ~self.dones[rows]
        return ret.astype(np.float32), (alive * gamma**n).astype(np.float32), idx + n

    def state_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "actions": self.actions, "rewards": self.rewards, "dones": self.dones,
                "ep_step": self.ep_step, "added": self.added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in ("frames", "actions", "rewards", "dones", "ep_step"):
            getattr(self, k)[...] = state[k]
        self.added = int(state["added"])


# ----------------------------------------------------------------------------- the learner
def td_loss(online: nn.Module, target: nn.Module, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor,
            discounts: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """Double-DQN n-step Huber loss: the online net picks the next action, the target net values it."""
    q = online(obs).gather(1, actions[:, None]).squeeze(1)  # [B]
    with torch.no_grad():
        next_a = online(next_obs).argmax(dim=1, keepdim=True)  # [B, 1]: double-Q selection
        next_q = target(next_obs).gather(1, next_a).squeeze(1)  # [B]
        y = returns + discounts * next_q
    return nn.functional.smooth_l1_loss(q, y)


class Agent:
    """Online and target nets, Adam, the replay buffer and the sampling RNG."""

    def __init__(self, cfg: DQNConfig, n_actions: int, device: str = "cpu") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        torch.manual_seed(cfg.seed)
        self.online = DuelingQNet(n_actions, cfg.hidden, cfg.channels).to(self.device)
        self.target = DuelingQNet(n_actions, cfg.hidden, cfg.channels).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.opt = torch.optim.Adam(self.online.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps,
                                    fused=True)
        self.replay = FrameReplay(cfg.buffer_size)
        self.rng = np.random.default_rng(cfg.seed)
        self.n_actions = n_actions
        self.updates = 0

    def act(self, obs: np.ndarray, epsilon: float) -> int:
        """ε-greedy action for one stacked observation [4, 84, 84]."""
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        with torch.no_grad():
            q = self.online(torch.as_tensor(np.asarray(obs)[None], device=self.device))
        return int(q.argmax(dim=1).item())

    def update(self) -> float:
        """One gradient step on a uniformly sampled batch; returns the loss."""
        cfg, rb = self.cfg, self.replay
        idx = rb.sample_indices(self.rng, cfg.batch_size, cfg.n_step)
        ret, disc, nxt = rb.n_step_targets(idx, cfg.n_step, cfg.gamma)
        t = lambda a: torch.as_tensor(a, device=self.device)  # noqa: E731
        loss = td_loss(self.online, self.target, t(rb.stacks(idx)), t(rb.actions[idx % rb.capacity]), t(ret),
                       t(disc), t(rb.stacks(nxt)))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), cfg.grad_clip)
        self.opt.step()
        self.updates += 1
        return float(loss.item())

    def sync_target(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    def state_dict(self) -> dict[str, Any]:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(), "opt": self.opt.state_dict(),
                "replay": self.replay.state_dict(), "rng": self.rng.bit_generator.state, "updates": self.updates,
                "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        self.updates = int(state["updates"])
        torch.set_rng_state(state["torch_rng"])


# ----------------------------------------------------------------------------- envs and evaluation
def make_env(cfg_env: str, sticky: float):
    """DQN-replay's acting env: sticky actions, frame skip 4 (max-pooled), 84×84 gray, 4-frame stack, no no-ops."""
    from dtlib.envs.atari import make_atari_env

    return make_atari_env(get_env_spec(cfg_env).env_id, noop_max=0, repeat_action_probability=sticky)


def episode_seed(seed: int, episode: int, stream: int = 0) -> int:
    """The reset seed of one episode: a pure function of (run seed, episode index, stream)."""
    return int(np.random.SeedSequence([seed, stream, episode]).generate_state(1)[0])


def evaluate(net: nn.Module, env_name: str, episodes: int, seed: int, epsilon: float, sticky: float = 0.25,
             device: str = "cpu") -> np.ndarray:
    """Raw (unclipped) returns of `episodes` ε-greedy episodes; seeded, so repeatable."""
    env = make_env(env_name, sticky)
    rng = np.random.default_rng([seed, 7])
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=episode_seed(seed, ep, stream=1))
        total, done = 0.0, False
        while not done:
            if rng.random() < epsilon:
                a = int(rng.integers(env.action_space.n))
            else:
                with torch.no_grad():
                    a = int(net(torch.as_tensor(np.asarray(obs)[None], device=device)).argmax(1).item())
            obs, r, term, trunc, _ = env.step(a)
            total += float(r)
            done = term or trunc
        out.append(total)
    env.close()
    return np.array(out)


# ----------------------------------------------------------------------------- training
def run_dir(env: str, seed: int) -> Path:
    """The git-ignored training folder of one behaviour agent (checkpoint, snapshots, curve)."""
    return data_dir() / "behaviour_runs" / f"{env}-dqn-seed{seed}"


def committed_dir(env: str) -> Path:
    """The committed folder of one game's exported snapshots."""
    return project_root() / "behaviour" / "atari" / env


def best_snapshot(env: str) -> Path:
    """The committed snapshot with the highest evaluation return (snapshots.csv): the fixed frame encoder of an
    Atari study with `encoder: behaviour`."""
    from dtlib.data.atari_replay import snapshots

    table = snapshots(committed_dir(env))
    return committed_dir(env) / f"{table.loc[table['eval_return_mean'].idxmax(), 'snapshot']}.pt"


def _bar(total: int, initial: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=30, smoothing=0.05)


def train(cfg: DQNConfig, out: Path | None = None, deadline: float | None = None, progress: bool = True,
          device: str | None = None) -> Path:
    """Train (or resume) one run in `out`; returns the folder. Stops at total_steps or past `deadline` (epoch s).

    The folder holds config.json, checkpoint.pt (written at an episode end, atomically), curve.csv (one row
    per evaluation), episodes.csv (every training episode) and snapshots/step_<N>.pt (fp16 online weights at
    each evaluation).
    """
    import pandas as pd

    out = Path(out or run_dir(cfg.env, cfg.seed))
    out.mkdir(parents=True, exist_ok=True)
    if (out / "config.json").exists():
        stored = io.read_json(out / "config.json")
        same = {k: v for k, v in stored.items() if k not in ("total_steps", "threads")}
        mine = {k: v for k, v in json.loads(json.dumps(dataclasses.asdict(cfg))).items()
                if k not in ("total_steps", "threads")}
        if same != mine:
            diff = sorted(k for k in mine if mine[k] != same.get(k))
            raise ParameterError(f"{out} holds a run with another config (differs in {diff}); pick another folder")
    io.write_json(out / "config.json", dataclasses.asdict(cfg))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(cfg.threads)
    env = make_env(cfg.env, cfg.sticky_actions)
    agent = Agent(cfg, int(env.action_space.n), device)
    st = {"step": 0, "episode": 0, "seconds": 0.0, "curve": [], "episodes": []}
    if (out / "checkpoint.pt").exists():
        ck = torch.load(out / "checkpoint.pt", weights_only=False)
        agent.load_state_dict(ck["agent"])
        st = ck["progress"]
    (out / "snapshots").mkdir(exist_ok=True)

    def checkpoint() -> None:
        io.write_csv(out / "curve.csv", pd.DataFrame(st["curve"], columns=["step", "return_mean", "return_std",
                                                                           "episodes", "epsilon", "seconds"]))
        io.write_csv(out / "episodes.csv", pd.DataFrame(st["episodes"], columns=["episode", "step", "return",
                                                                                 "length", "epsilon"]))
        io.torch_save(out / "checkpoint.pt", {"agent": agent.state_dict(), "progress": st})

    def evaluate_now() -> None:
        step = st["step"]
        io.torch_save(out / "snapshots" / f"step_{step:08d}.pt",
                      {k: v.half() for k, v in agent.online.state_dict().items()})
        rets = evaluate(agent.online, cfg.env, cfg.eval_episodes, seed=cfg.seed * 1000 + step // cfg.eval_every,
                        epsilon=cfg.eval_epsilon, sticky=cfg.sticky_actions, device=device)
        st["curve"].append([step, float(rets.mean()), float(rets.std()), len(rets), cfg.epsilon(step),
                            round(st["seconds"], 1)])
        bar.write(f"step {step}: eval {rets.mean():+.1f} ± {rets.std():.1f} ({len(rets)} episodes)")

    bar = _bar(cfg.total_steps, st["step"], f"{cfg.env} DQN") if progress else None
    t_start, last_ck = time.perf_counter(), st["step"]
    seconds0 = st["seconds"]
    while st["step"] < cfg.total_steps and (deadline is None or time.time() < deadline):
        # one episode; a checkpoint may follow it
        obs, _ = env.reset(seed=episode_seed(cfg.seed, st["episode"]))
        ep_ret, ep_len, done = 0.0, 0, False
        while not done:
            step = st["step"]
            a = agent.act(obs, cfg.epsilon(step))
            nobs, r, term, trunc, _ = env.step(a)
            done = bool(term or trunc)  # the 108k-frame cap ends the episode as terminal (as Dopamine)
            agent.replay.add(np.asarray(obs)[-1], a, float(np.clip(r, -1.0, 1.0)), done, ep_len)
            obs, ep_ret, ep_len = nobs, ep_ret + float(r), ep_len + 1
            st["step"] = step = step + 1
            if step > cfg.learning_starts and step % cfg.train_every == 0:
                agent.update()
            if step % cfg.target_every == 0:
                agent.sync_target()
            if step % cfg.eval_every == 0:
                st["seconds"] = seconds0 + time.perf_counter() - t_start
                evaluate_now()
            if bar is not None:
                bar.update(1)
        st["episodes"].append([st["episode"], st["step"], ep_ret, ep_len, cfg.epsilon(st["step"])])
        st["episode"] += 1
        if bar is not None:
            recent = [e[2] for e in st["episodes"][-10:]]
            bar.set_postfix(ep=st["episode"], ret10=f"{np.mean(recent):+.1f}", eps=f"{cfg.epsilon(st['step']):.2f}",
                            refresh=False)
        if st["step"] - last_ck >= cfg.checkpoint_every or st["step"] >= cfg.total_steps:
            st["seconds"] = seconds0 + time.perf_counter() - t_start
            checkpoint()
            last_ck = st["step"]
    st["seconds"] = seconds0 + time.perf_counter() - t_start
    checkpoint()  # deadline reached or finished: always at an episode end
    if bar is not None:
        bar.close()
    env.close()
    return out


def load_snapshot(path: str | Path, n_actions: int, hidden: int = 256,
                  channels: tuple[int, int, int] = (16, 32, 32)) -> DuelingQNet:
    """A snapshot's fp16 weights into an fp32 network."""
    net = DuelingQNet(n_actions, hidden, tuple(channels))
    net.load_state_dict({k: v.float() for k, v in torch.load(path, weights_only=True).items()})
    return net.eval()


def export(env: str, steps: list[int], seed: int = 0, episodes: int = 10, out: Path | None = None,
           shares: list[float] | None = None, note: str = "") -> Path:
    """Copy the chosen snapshots into behaviour/atari/<env>/ with fresh evaluations, the curve and their shares
    of the regenerated dataset (`dtlib.data.atari_replay`; default equal)."""
    shares = list(shares) if shares else [1.0 / len(steps)] * len(steps)
    if len(shares) != len(steps) or abs(sum(shares) - 1) > 1e-6 or min(shares) < 0:
        raise ParameterError(f"shares={shares}: one non-negative share per snapshot ({len(steps)}), summing to 1")
    import pandas as pd

    src = run_dir(env, seed)
    dest = Path(out or committed_dir(env))
    dest.mkdir(parents=True, exist_ok=True)
    cfg = config_from_json(io.read_json(src / "config.json"))
    n_actions = int(make_env(env, 0.0).action_space.n)
    rows = []
    for s in steps:
        snap = src / "snapshots" / f"step_{s:08d}.pt"
        if not snap.exists():
            raise ParameterError(f"steps: no snapshot at step {s} in {src / 'snapshots'}")
        net = load_snapshot(snap, n_actions, cfg.hidden, cfg.channels)
        rets = evaluate(net, env, episodes, seed=10_000 + s, epsilon=cfg.eval_epsilon, sticky=cfg.sticky_actions)
        name = f"step_{s:08d}"
        io.torch_save(dest / f"{name}.pt", {k: v.half() for k, v in net.state_dict().items()})
        rows.append({"snapshot": name, "agent_steps": s, "share": shares[len(rows)],
                     "eval_return_mean": float(rets.mean()),
                     "eval_return_std": float(rets.std()), "eval_episodes": episodes,
                     "eval_returns": " ".join(f"{r:g}" for r in rets)})
        print(f"{name}: {rets.mean():+.1f} ± {rets.std():.1f}")
    io.write_csv(dest / "snapshots.csv", pd.DataFrame(rows))
    for f in ("curve.csv", "episodes.csv"):
        if (src / f).exists():
            io.write_text(dest / f, (src / f).read_text())
    ck = torch.load(src / "checkpoint.pt", weights_only=False)["progress"]
    io.write_json(dest / "config.json", {"config": dataclasses.asdict(cfg), "n_actions": n_actions,
                                         "trained_steps": ck["step"], "train_seconds": round(ck["seconds"]),
                                         "note": note,
                                         "git_commit": git_commit(), "torch": torch.__version__})
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train / export the Atari behaviour agent (Double DQN, dueling, n-step).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train or resume a run")
    tr.add_argument("env")
    tr.add_argument("--steps", type=int, default=DQNConfig.total_steps)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, default=1)
    tr.add_argument("--deadline", default=None, help="stop (at an episode end) after this ISO time, e.g. 2026-11-30T10:30")
    tr.add_argument("--out", default=None)
    ex = sub.add_parser("export", help="copy chosen snapshots (with fresh 10-episode evaluations) into behaviour/atari")
    ex.add_argument("env")
    ex.add_argument("--steps", type=int, nargs="+", required=True)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--episodes", type=int, default=10)
    ex.add_argument("--shares", type=float, nargs="+", default=None, help="share of the dataset per snapshot")
    ex.add_argument("--note", default="", help="a line for config.json (e.g. why training stopped)")
    args = ap.parse_args(argv)
    if args.cmd == "train":
        from datetime import datetime

        deadline = datetime.fromisoformat(args.deadline).timestamp() if args.deadline else None
        out = train(DQNConfig(env=args.env, total_steps=args.steps, seed=args.seed, threads=args.threads),
                    Path(args.out) if args.out else None, deadline=deadline)
        print(json.dumps({"out": str(out)}))
    else:
        export(args.env, args.steps, args.seed, args.episodes, shares=args.shares, note=args.note)


if __name__ == "__main__":
    main()
