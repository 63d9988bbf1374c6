"""What a profile will cost before it runs: `python -m dtlib.pipeline --profile paper --plan`.

Per notebook: the runs of its grid (the same `jobs` the sweep gets), how many already finished (the sweep's
index in the runs folder, dtlib.sweep.finished), the gradient steps, and CPU-hours and GPU-hours estimated
from measured per-step costs (STEP_COSTS, each row with where it was measured). Nothing is loaded or run.
Estimates are upper bounds for evaluation (every episode is counted at its env's step limit) and leave out
what no row measures (said in the notes under the table).
"""
from __future__ import annotations

import functools
import io as _io
import types
from dataclasses import dataclass, field

import pandas as pd

from dtlib.profiles import Profile, load_profile
from dtlib.specs import get_env_spec

# Seconds per step on one torch thread: training steps (sample + update) and evaluation env steps ('eval').
# The fp32 rows are from the slowest CPU this project has run on (a 2-core AMD EPYC with AVX2 only), which `small`
# is sized for; a CPU with a bf16 matmul unit runs the bf16 rows (measured on a Xeon with AMX).
# CPU rows are CPU time (on one thread ~ wall time on a quiet core). Add a 'cuda' row per (domain, method)
# from benchmarks/gpu_check.py on a GPU machine; until then the plan says GPU-hours are not measured.
STEP_COSTS_CSV = """domain,method,precision,device,s_per_step,shape,source
gym,dt,fp32,cpu,0.356,"K 20, 3 layers, width 128, batch 64",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8); a quiet Xeon with AMX took 0.1935 (make bench 2026-11-26: benchmarks/results/2026-11-26-make-bench-quiet.json)
gym,dt,bf16,cpu,0.1131,"K 20, 3 layers, width 128, batch 64",make bench 2026-11-26 quiet: dt_train_bf16_packed 1 thread 8.84 steps/s (same file)
gym,bc,fp32,cpu,0.0069,"MLP 256x256, batch 64",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8); the Xeon 0.0024
gym,pct_bc,fp32,cpu,0.0069,"MLP 256x256, batch 64",as gym/bc (same update on fewer episodes)
gym,cql,fp32,cpu,0.196,"critics and actor 256x256, batch 256",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8); the Xeon 0.0856 (make bench 2026-11-26)
gym,cql,bf16,cpu,0.0413,"critics and actor 256x256, batch 256",make bench 2026-11-26 quiet: cql bf16 24.2 updates/s 1 thread (same file)
gym,eval,fp32,cpu,0.000754,"50 episodes in lockstep, DT K 20",make bench 2026-11-26 quiet: eval_50 1 thread 1327 env steps/s (same file)
atari,dt,fp32,cpu,5.45,"K 30, 6 layers, 8 heads, width 128, batch 128, CNN encoder",make bench 2026-11-26 quiet: atari_dt_train 1 thread 0.18 steps/s (same file)
atari,bc,fp32,cpu,5.45,"K 30, 6 layers, 8 heads, width 128, batch 128, CNN encoder",as atari/dt (the same transformer without return tokens: an upper bound)
atari,pct_bc,fp32,cpu,5.45,"K 30, 6 layers, 8 heads, width 128, batch 128, CNN encoder",as atari/dt
atari,eval,fp32,cpu,0.00048,"ALE env step only",make bench 2026-11-26 quiet: atari_env_steps 2079 steps/s (the model's forward pass is not in this number)
keydoor,dt,fp32,cpu,0.123,"K 40, 2 layers, 4 heads, width 64, batch 32",benchmarks/step_costs.py 2026-12-02 quiet 2-core AMD EPYC with AVX2 only (packed masks; written-out attention; CPU time; 1 thread; load 0.3)
keydoor,bc,fp32,cpu,0.0715,"K 40, 2 layers, 4 heads, width 64, batch 32",benchmarks/step_costs.py 2026-12-02 quiet 2-core AMD EPYC with AVX2 only (packed masks; written-out attention; CPU time; 1 thread; load 0.3)
keydoor,pct_bc,fp32,cpu,0.0744,"K 40, 2 layers, 4 heads, width 64, batch 32",benchmarks/step_costs.py 2026-12-02 quiet 2-core AMD EPYC with AVX2 only (packed masks; written-out attention; CPU time; 1 thread; load 0.3)
keydoor,cql,fp32,cpu,0.00352,"embedding + 256 MLP, batch 256",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8)
keydoor,eval,fp32,cpu,0.000808,"100 episodes in lockstep",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8)
graph,dt,fp32,cpu,0.0222,"K 10, 2 layers, width 64, batch 32",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8)
graph,eval,fp32,cpu,0.000236,"100 episodes in lockstep",benchmarks/step_costs.py 2026-11-30 quiet 2-core AMD EPYC with AVX2 only (CPU time; 1 thread; load 0.6-0.8)
sac,train,fp32,cpu,0.0154,"SAC 256x256 (behaviour policies)",walker2d behaviour SAC 2026-11-26: ~65 updates/s on one core (issue 4's closing note)
"""
ATARI_MEASURED = {"batch": 128, "k": 30, "n_layer": 6, "embed_dim": 128}  # the shape of the atari rows
# Multiply-accumulates of the paper's CNN on one 4x84x84 frame stack (dtlib.model.AtariEncoder, before its Linear):
# 8x8/4 -> 20x20x32, 4x4/2 -> 9x9x64, 3x3/1 -> 7x7x64.
ATARI_CNN_MACS = 20 * 20 * 32 * (8 * 8 * 4) + 9 * 9 * 64 * (4 * 4 * 32) + 7 * 7 * 64 * (3 * 3 * 64)  # 7,737,344


# The behaviour snapshots' torso (dtlib.atari_behaviour.DuelingQNet, channels 16/32/32), the encoder of
# `encoder: behaviour`: 8x8/4 -> 20x20x16, 4x4/2 -> 9x9x32, 3x3/1 -> 7x7x32.
FROZEN_TORSO_MACS = 20 * 20 * 16 * (8 * 8 * 4) + 9 * 9 * 32 * (4 * 4 * 16) + 7 * 7 * 32 * (3 * 3 * 32)  # 2,753,536


def atari_step_macs(batch: int, k: int, n_layer: int, width: int, frozen: bool = False) -> int:
    """Forward multiply-accumulates of one Atari DT training step: per timestep the CNN and its Linear
    (3136 -> width) on one frame stack, and ~12·width² per transformer block for each of its 3 tokens. The CNN
    dominates small transformers (96% at 2 layers x 64, 68% at the paper's 6 x 128), so a step's cost is scaled
    by this count, not by the transformer's size alone. `frozen`: the fixed behaviour torso instead (forward
    only: a third of a trained layer's forward + backward, counted as such) and its Linear (1568 -> width)."""
    encoder = FROZEN_TORSO_MACS // 3 + 1568 * width if frozen else ATARI_CNN_MACS + 3136 * width
    return batch * k * (encoder + 3 * 12 * n_layer * width ** 2)


def step_costs() -> pd.DataFrame:
    """The measured per-step costs, one row per (domain, method, precision, device)."""
    return pd.read_csv(_io.StringIO(STEP_COSTS_CSV))


@functools.lru_cache(maxsize=1)
def _cost_index() -> dict[tuple[str, str, str, str], float]:
    t = step_costs()
    return {(d, m, p, v): float(s) for d, m, p, v, s in zip(t["domain"], t["method"], t["precision"], t["device"],
                                                            t["s_per_step"])}


def cost(domain: str, method: str, precision: str = "fp32", device: str = "cpu") -> float | None:
    """Seconds per step, or None when nothing measured it (a missing precision falls back to fp32)."""
    index = _cost_index()
    for prec in dict.fromkeys([precision, "fp32"]):
        if (domain, method, prec, device) in index:
            return index[(domain, method, prec, device)]
    return None


@dataclass
class Line:
    """One notebook's row of the plan."""

    notebook: str
    runs: int = 0
    finished: int = 0
    train_steps: int = 0
    cpu_s: float = 0.0  # estimated CPU seconds (training + evaluation + other work)
    gpu_s: float | None = None  # estimated GPU seconds; None: no GPU cost measured for these runs
    notes: list[str] = field(default_factory=list)


def _evals(train: dict) -> int:
    """Evaluations of a run: every `eval_every` steps before the last, and after the last (dtlib.train)."""
    steps, every = int(train["steps"]), int(train.get("eval_every", 0) or 0)
    return (len(range(every, steps, every)) if every else 0) + 1


def _scale(job, domain: str) -> float:
    """A job's step cost over the measured row's: Key-to-Door by batch size, Atari by multiply-accumulates per step
    (the CNN dominates, `atari_step_macs`); 1 elsewhere (the profiles run the measured shapes)."""
    if domain == "keydoor":
        return keydoor_batch_scale(job.train_overrides.get("batch_size", KEYDOOR_MEASURED_BATCH))
    if domain == "atari":
        m = ATARI_MEASURED
        return (atari_step_macs(job.train_overrides["batch_size"], job.run.context_len,
                                job.model_overrides["n_layer"], job.model_overrides["embed_dim"],
                                frozen=job.model_overrides.get("encoder") == "frozen_cnn")
                / atari_step_macs(m["batch"], m["k"], m["n_layer"], m["embed_dim"]))
    return 1.0


def job_seconds(job, device: str = "cpu") -> float | None:
    """Estimated seconds of one dtlib.sweep job on one core (`device` 'cuda': its training on one GPU, evaluation
    left out): training steps x the measured step cost, scaled to the job's shape, plus the evaluation episodes'
    environment steps on the CPU; None when no cost is measured for its domain and method."""
    spec = get_env_spec(job.run.env)
    precision = job.model_overrides.get("precision", job.train_overrides.get("precision", "fp32"))
    per_step = cost(spec.domain, job.run.method, precision, device=device)
    if per_step is None:
        return None
    seconds = int(job.train_overrides["steps"]) * per_step * _scale(job, spec.domain)
    if device == "cpu":
        targets = len(job.eval.targets or spec.targets) if job.run.method != "cql" else 1
        env_steps = _evals(job.train_overrides) * job.eval.episodes * targets * (job.eval.max_steps or spec.max_ep_len)
        seconds += env_steps * (cost(spec.domain, "eval") or 0.0)
    return seconds


def _grid_line(name: str, jobs: list, runs_root) -> Line:
    """Runs, finished runs, steps and costs of a grid of dtlib.sweep jobs."""
    from dtlib.sweep import finished

    done_flags = finished(jobs, runs_root)
    line = Line(name, runs=len(jobs), finished=sum(done_flags))
    gpu_total, gpu_known = 0.0, True
    for job, done in zip(jobs, done_flags):
        if done:
            continue
        line.train_steps += int(job.train_overrides["steps"])
        cpu = job_seconds(job)
        if cpu is None:
            line.notes.append(f"no measured cost for {get_env_spec(job.run.env).domain}/{job.run.method}")
            continue
        line.cpu_s += cpu
        gpu = job_seconds(job, device="cuda")
        gpu_known &= gpu is not None
        gpu_total += gpu or 0.0
    line.gpu_s = gpu_total if gpu_known and line.runs > line.finished else None
    line.notes = sorted(set(line.notes))
    return line


def _gym(profile: Profile, runs_root) -> Line:
    from dtlib import gym_study

    study = gym_study.GymStudy(**profile.notebook_params("gym"))
    line = _grid_line("20_gym", gym_study.jobs(study), runs_root)
    fig4 = [c for c in study.run_configs()
            if (c.method, c.dataset, c.reward_mode, c.context_len) == ("dt", "medium-replay", "dense", 0)]
    env_steps = len(fig4) * study.figure4_points * study.eval_episodes * 1000
    line.cpu_s += env_steps * cost("gym", "eval")
    line.notes.append(f"Figure 4: {len(fig4)} DTs x {study.figure4_points} targets evaluated after the sweep")
    return line


KEYDOOR_MEASURED_BATCH = 32  # the batch of the keydoor rows; a step's cost grows with it (4.2x at 128, docs/studies.md)


def keydoor_batch_scale(batch_size: int) -> float:
    """A Key-to-Door step's cost at `batch_size` over the measured rows' (batch 32): linear in the batch."""
    return batch_size / KEYDOOR_MEASURED_BATCH


def _keydoor(profile: Profile, runs_root) -> Line:
    from dtlib import keydoor_study

    cfg = keydoor_study.KeyDoorStudy(**profile.notebook_params("keydoor"))
    return _grid_line("30_keydoor", keydoor_study.jobs(cfg), runs_root)  # steps priced at their batch (_scale)


def _graph(profile: Profile, runs_root) -> Line:
    from dtlib import graph_study

    cfg = graph_study.GraphStudy(**profile.notebook_params("graph"))
    line = _grid_line("31_graph", cfg.jobs(), runs_root)
    line.cpu_s += len(cfg.seeds) * cfg.eval_episodes * 10 * cost("graph", "eval")  # the prior-conditioned rollouts
    return line


def _atari(profile: Profile, runs_root) -> Line:
    from dtlib import atari_study

    study = atari_study.AtariStudy(**profile.notebook_params("atari"))
    n = study.behaviour_steps if study.dataset_source == "build" else study.replay_steps
    data = {g: types.SimpleNamespace(n_steps=n) for g in study.games}  # sizes only: nothing is loaded

    line = _grid_line("40_atari", atari_study.jobs(study, data), runs_root)
    line.notes.append("Atari training costs scaled from the measured K 30 / batch 128 / 6x128 shape by multiply-"
                      "accumulates per step (CNN + transformer, plan.atari_step_macs); evaluation counts the emulator only")
    if study.dataset_source == "build":
        line.notes.append(f"plus building each game's data: {len(study.games)} behaviour DQNs of "
                          f"{study.behaviour_steps:,} steps (cost not measured; skipped when built before)")
    return line


def _mujoco(profile: Profile) -> Line:
    params = profile.notebook_params("mujoco_datasets")
    line = Line("10_mujoco_datasets")
    if params.get("policies") == "train":
        sac = len(params["envs"]) * int(params["train_steps"])
        line.train_steps = sac
        line.cpu_s = sac * cost("sac", "train")
        line.notes.append(f"{len(params['envs'])} behaviour SACs of {int(params['train_steps']):,} updates "
                          "(skipped when trained before)")
    else:
        line.notes.append("committed behaviour policies: rollouts only (minutes)")
    return line


def plan(profile_name: str) -> list[Line]:
    """The plan's rows for one profile, in pipeline order."""
    from dtlib.paths import runs_dir

    profile = load_profile(profile_name)
    runs_root = runs_dir(profile.name)
    return [_mujoco(profile), _gym(profile, runs_root), _keydoor(profile, runs_root), _graph(profile, runs_root),
            _atari(profile, runs_root)]


def format_plan(profile_name: str, lines: list[Line]) -> str:
    """The plan as text: one row per notebook, totals, then the notes."""
    from dtlib.sweep import settings

    workers, scheduler = settings(profile_name)
    rows = [(l.notebook, l.runs, l.finished, l.train_steps, l.cpu_s / 3600,
             None if l.gpu_s is None else l.gpu_s / 3600) for l in lines]
    header = f"{'notebook':<20}{'runs':>6}{'finished':>10}{'train steps':>14}{'CPU-hours':>11}{'GPU-hours':>11}"
    out = [f"plan for profile {profile_name!r} (estimates from dtlib.plan.STEP_COSTS; nothing was run)", header]
    for name, runs, done, steps, cpu, gpu in rows:
        out.append(f"{name:<20}{runs:>6}{done:>10}{steps:>14,}{cpu:>11.1f}{'—' if gpu is None else f'{gpu:.1f}':>11}")
    cpu_total = sum(r[4] for r in rows)
    out.append(f"{'total':<20}{sum(r[1] for r in rows):>6}{sum(r[2] for r in rows):>10}"
               f"{sum(r[3] for r in rows):>14,}{cpu_total:>11.1f}{'—':>11}")
    where = f"the Dask cluster at {scheduler}" if scheduler else (
        f"a LocalCluster of {workers} workers" if workers > 1 else "this process, one run at a time")
    out.append(f"runs go to {where}: about {cpu_total / max(1, workers):.1f} hours of wall time at {workers} "
               "runs at once on CPUs (the grids' own share; notebooks in between add a little)")
    out.append("GPU-hours: '—' = no CUDA cost measured yet (run benchmarks/gpu_check.py on a GPU machine and add "
               "its steps/s to dtlib.plan.STEP_COSTS as 'cuda' rows)")
    for line in lines:
        for note in line.notes:
            out.append(f"  {line.notebook}: {note}")
    return "\n".join(out)


def print_plan(profile_name: str) -> None:
    print(format_plan(profile_name, plan(profile_name)))
