"""One sweep runner for every study's grid, on Dask distributed.

    jobs = [Job(run_cfg, DataSource.of(load_dataset, source="..."), eval_cfg, train_overrides={...}), ...]
    result = run_sweep(jobs, runs_dir(profile), profile=profile)   # every run trained or reused
    result.evals      # one row per evaluation episode, the run's config fields and folder attached
    result.runs       # one row per run: folder, status, wall time, steps, last loss, error and log when it failed

Where runs execute (`settings`):
- `scheduler` (or $DTLIB_SCHEDULER, e.g. tcp://host:8786): submit to that running Dask cluster (SLURM through
  dask-jobqueue, Kubernetes, SSH hosts; docs/cluster.md). Run folders must be on a path every worker sees
  ($DTLIB_RUNS), and so must the datasets ($DTLIB_DATA).
- else `workers` (or $DTLIB_WORKERS, else the profile's `workers`) > 1: a LocalCluster on this machine with one
  worker process per run slot and one run per worker, each with cores / workers torch threads.
- else (1): in this process, one run after the other (debugging, notebooks stepped through by hand).

The three paths run the same `_execute` on the same Job, and a run's numbers depend on its Job only (its
seeds, and its torch threads, which the Job fixes when it sets `threads`), so they give identical tables.
The worker returns only its run folder's name; results are read back from the run folders. A finished run is
never retrained (dtlib.train skips it); a worker that dies loses that run's progress since its last
checkpoint, and the scheduler resubmits the run to another worker, where it resumes. A run that raises is
reported with its config and log file and does not stop the others; the error is raised once the grid is
through (SweepFailed), and a rerun redoes only the failed and missing runs.

GPUs: a run trains on CUDA when its worker process sees a GPU (TrainConfig.device 'auto'); a Job with
`gpu=True` asks the scheduler for a worker that advertises the resource GPU=1 (a LocalCluster's workers
advertise it when this machine has CUDA). The device is recorded in the run's config.json ('runtime').
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from dtlib import io
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig
from dtlib.validate import ParameterError, check_range

SCHEDULER_ENV = "DTLIB_SCHEDULER"  # address of a running Dask scheduler, e.g. tcp://host:8786
WORKERS_ENV = "DTLIB_WORKERS"  # run slots of the local cluster; overrides the profile's `workers`
THREADS_ENV = "DTLIB_TORCH_THREADS"  # torch threads of a run whose Job leaves `threads` at 0 (set per worker)
LOG_DIR = "logs"  # <runs_root>/logs/<run name>.log: each run's own output and traceback
INDEX_DIR = ".sweep"  # <runs_root>/.sweep/<run name>.json: the folder a job finished in (read by the plan)
DATA_CACHE_SIZE = 2  # datasets kept loaded per process (Atari datasets are GBs)
RUN_COLUMNS = [f.name for f in dataclasses.fields(RunConfig)]
RESULT_COLUMNS = ["name", "run", "status", "reused", "wall_s", "steps", "final_loss", "error", "log"]  # per job, after


class SweepFailed(RuntimeError):
    """Some runs of a grid failed; the others finished. The message names each with its log file."""


@dataclass(frozen=True)
class DataSource:
    """How a worker gets a run's dataset: a module-level function and keyword arguments, loaded in the worker
    (from files every worker can read) rather than shipped with the run; loaded once per process."""

    loader: str  # 'module:function', e.g. 'dtlib.data.generate_mujoco:load_dataset'
    kwargs: tuple[tuple[str, Any], ...] = ()  # its keyword arguments (JSON-ready values)

    @classmethod
    def of(cls, fn: Callable[..., EpisodeDataset], **kwargs: Any) -> "DataSource":
        return cls(f"{fn.__module__}:{fn.__qualname__}", tuple(sorted(kwargs.items())))

    @property
    def key(self) -> str:
        """Identifies the dataset (arguments may be unhashable, e.g. a study config holding dicts)."""
        return json.dumps([self.loader, [[k, v] for k, v in self.kwargs]], sort_keys=True, default=repr)

    def load(self) -> EpisodeDataset:
        """The dataset, from this process's cache when it was loaded before."""
        key = self.key
        if key in _DATA_CACHE:
            _DATA_CACHE.move_to_end(key)
            return _DATA_CACHE[key]
        module, name = self.loader.split(":")
        fn = importlib.import_module(module)
        for part in name.split("."):  # 'EpisodeDataset.load' as well as 'load_dataset'
            fn = getattr(fn, part)
        data = fn(**dict(self.kwargs))
        _DATA_CACHE[key] = data
        while len(_DATA_CACHE) > DATA_CACHE_SIZE:
            _DATA_CACHE.popitem(last=False)
        return data


_DATA_CACHE: "OrderedDict[str, EpisodeDataset]" = OrderedDict()  # DataSource.key -> dataset


@dataclass(frozen=True)
class Job:
    """One run of a grid: everything `dtlib.experiment.run` needs, in a form a worker process can receive."""

    run: RunConfig
    data: DataSource
    eval: EvalConfig
    model_overrides: dict = field(default_factory=dict)  # ModelConfig fields (the profile's sizes, precision)
    train_overrides: dict = field(default_factory=dict)  # TrainConfig fields (steps, batch, eval_every, ...)
    threads: int = 0  # torch CPU threads of the run; 0: $DTLIB_TORCH_THREADS (the cluster's cores / workers)
    gpu: bool = False  # needs a worker that advertises GPU=1

    @property
    def name(self) -> str:
        return self.run.name

    def digest(self) -> str:
        """A hash of everything the job states (the plan matches finished runs on it)."""
        view = {"run": dataclasses.asdict(self.run), "data": self.data.key,
                "eval": dataclasses.asdict(self.eval), "model": self.model_overrides, "train": self.train_overrides}
        return hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SweepResult:
    """What a grid produced, read back from its run folders."""

    runs: pd.DataFrame  # one row per job: RunConfig fields, run, status, reused, wall_s, steps, final_loss, error, log
    evals: pd.DataFrame  # one row per evaluation episode of the finished runs; eval.csv's `seed` is `episode_seed`

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "done"]


# ------------------------------------------------------------------------------------------- settings
def profile_workers(profile: str) -> int:
    """The profile's `workers` (run slots of a local cluster); 1 when the profile sets none."""
    from dtlib.profiles import load_profile

    return load_profile(profile).workers if profile else 1


def settings(profile: str = "", workers: int | None = None, scheduler: str | None = None) -> tuple[int, str]:
    """(workers, scheduler address) after the environment's overrides: $DTLIB_SCHEDULER, $DTLIB_WORKERS.

    workers 0 means one per CPU core."""
    scheduler = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV, "")
    if workers is None:
        env = os.environ.get(WORKERS_ENV, "")
        if env:
            if not env.isdigit():
                raise ParameterError(f"{WORKERS_ENV}={env!r} must be a non-negative integer (0: one per core)")
            workers = int(env)
        else:
            workers = profile_workers(profile)
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ParameterError(f"workers={workers!r} must be a non-negative integer (0: one per core)")
    check_range("workers", workers, 0, 4096)
    if scheduler and not isinstance(scheduler, str):
        raise ParameterError(f"scheduler={scheduler!r} must be an address such as tcp://host:8786")
    return (workers or os.cpu_count() or 1), scheduler


def local_cluster(workers: int, threads: int = 0):
    """A LocalCluster: `workers` processes, one run at a time each, torch threads = cores / workers (or `threads`);
    each advertises GPU=1 when this machine has CUDA."""
    import logging

    import torch
    from distributed import LocalCluster

    import dask

    per_worker = threads or max(1, (os.cpu_count() or 1) // workers)
    env = {THREADS_ENV: str(per_worker), "OMP_NUM_THREADS": str(per_worker), "MKL_NUM_THREADS": str(per_worker)}
    resources = {"GPU": 1} if torch.cuda.is_available() else None
    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (glibc then hands freed memory back at once and
    # stops adapting its mmap threshold): every large tensor of a step is mapped and unmapped again, and the small
    # Atari DT's step took 1.3-1.7x as long as in a plain process (benchmarks/thread_steps.py, docs/speed.md).
    # None removes it from the workers' environment (distributed.nanny._get_env_variables).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                            dashboard_address=":0", silence_logs=logging.ERROR, env=env, resources=resources)


# ------------------------------------------------------------------------------------------- one run
def _execute(job: Job, runs_root: str) -> dict:
    """Train (or resume, or reuse) one run and evaluate it, wherever this is called; never raises.

    Returns the outcome (status 'done' with its folder, or 'failed' with the error); the run's own output and
    any traceback go to <runs_root>/logs/<run name>.log.
    """
    import torch

    from dtlib.experiment import run

    log = Path(runs_root) / LOG_DIR / f"{job.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    outcome = {"name": job.name, "log": str(log), "status": "failed", "run": "", "reused": False, "error": ""}
    threads = job.threads or int(os.environ.get(THREADS_ENV, "0") or 0)
    saved_threads = torch.get_num_threads()
    start = time.time()
    with open(log, "a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {job.name} on {os.uname().nodename} pid {os.getpid()}, "
              f"{threads or saved_threads} torch threads", flush=True)
        try:
            for ckpt in Path(runs_root).glob(f"{job.name}-{'?' * 8}/checkpoint.pt"):  # a run cut short before
                if not (ckpt.parent / "summary.json").exists():
                    step = torch.load(ckpt, weights_only=True, map_location="cpu")["step"]
                    print(f"resuming {ckpt.parent.name} from its checkpoint at step {step}", flush=True)
            if threads:
                torch.set_num_threads(threads)
            run_dir = run(job.run, job.data.load(), runs_root, job.eval, progress=False,
                          model_overrides=dict(job.model_overrides), **job.train_overrides)
            outcome.update(status="done", run=run_dir.path.name, reused=run_dir.summary_path.stat().st_mtime < start)
            print(f"done: {run_dir.path}", flush=True)
        except Exception as error:  # a failed run is reported, never stops the grid
            traceback.print_exc(file=out)
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            outcome["error"] = f"{type(error).__name__}: {first}"
        finally:
            torch.set_num_threads(saved_threads)
    return outcome


# ------------------------------------------------------------------------------------------- the grid
def run_sweep(jobs: Sequence[Job], runs_root: str | Path, profile: str = "", workers: int | None = None,
              scheduler: str | None = None, progress: bool = True, raise_on_failure: bool = True) -> SweepResult:
    """Run every job not finished yet (in this process, on a LocalCluster or on `scheduler`; see `settings`)
    and return the grid's results read back from the run folders.

    A failed run is reported (one line: its name, error, config and log) without stopping the others; with
    `raise_on_failure` SweepFailed is raised after the grid is through, else the result lists it.
    """
    jobs = list(jobs)
    if not all(isinstance(j, Job) for j in jobs):
        raise ParameterError("jobs must be a list of dtlib.sweep.Job")
    names = [j.name for j in jobs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParameterError(f"jobs: run names must be unique; repeated: {repeated[:3]}")
    workers, scheduler = settings(profile, workers, scheduler)
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    outcomes = _run_all(jobs, str(root), workers, scheduler, progress)
    result = _collect(jobs, outcomes, root)
    failed = result.failed
    for _, row in failed.iterrows():
        print(f"FAILED {row['name']}: {row['error']} (config: {_config_text(row)}; log: {row['log']})",
              file=sys.stderr, flush=True)
    if len(failed) and raise_on_failure:
        raise SweepFailed(f"{len(failed)} of {len(jobs)} runs failed (the others finished; rerunning redoes only "
                          f"these): " + "; ".join(f"{r['name']} — {r['error']} (log: {r['log']})"
                                                  for _, r in failed.iterrows()))
    return result


def _config_text(row: pd.Series) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in RUN_COLUMNS)


def _run_all(jobs: list[Job], root: str, workers: int, scheduler: str, progress: bool) -> dict[str, dict]:
    """Each job's outcome by name, from this process or from Dask workers."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="runs", disable=not progress, mininterval=10.0)
    outcomes: dict[str, dict] = {}
    if not scheduler and workers <= 1:
        for job in jobs:
            outcomes[job.name] = _execute(job, root)
            bar.update(1)
        bar.close()
        return outcomes
    from distributed import Client

    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler, timeout="60s"))
        else:
            client = stack.enter_context(Client(stack.enter_context(local_cluster(workers))))
        gpu_workers = [w for w in client.scheduler_info()["workers"].values() if w.get("resources", {}).get("GPU")]
        need_gpu = any(job.gpu for job in jobs)
        if need_gpu and not gpu_workers:
            print(f"{sum(j.gpu for j in jobs)} runs ask for a GPU and no worker advertises one " + (
                  "yet: they wait for a worker started with --resources GPU=1" if scheduler else
                  "(no CUDA on this machine): they train on the CPU"), file=sys.stderr, flush=True)
        gpu = {"GPU": 1} if scheduler or gpu_workers else None  # a LocalCluster without CUDA has no GPU to wait for

        def submit(job: Job):
            return client.submit(_execute, job, root, key=f"{job.name}-{os.urandom(4).hex()}", pure=False,
                                 resources=gpu if job.gpu else None)

        # Our own LocalCluster gets one run per worker at a time, the next when one finishes: Dask sends a worker
        # every task it is given at once (a grid's runs are too few for its queueing), and a run waiting behind a
        # busy worker stayed there while the other worker had nothing left (the `small` Atari grid of 2026-12-01:
        # both BC runs on one worker, the other idle for 4.5 of 16.5 minutes). A cluster given by address gets the
        # whole grid, so that an adaptive cluster (dask-jobqueue) sees the demand and scales.
        # Longest first (estimated by dtlib.plan; unmeasured ones count as longest): with one run per worker the
        # grid then ends on short runs instead of one worker finishing a long run alone. Results keep job order.
        for future, job in throttled(longest_first(jobs), submit, limit=None if scheduler else workers):
            if future.status == "finished":
                outcomes[job.name] = future.result()
            else:  # its workers died more often than the scheduler allows (KilledWorker), or the client lost it
                error = future.exception() if future.status == "error" else None
                why = f"{type(error).__name__}: {error}" if error is not None else \
                    f"the scheduler reports the task {future.status} (lost contact?)"
                outcomes[job.name] = {"name": job.name, "status": "failed", "run": "", "reused": False, "error": why,
                                      "log": str(Path(root) / LOG_DIR / f"{job.name}.log")}
            bar.update(1)
    bar.close()
    return outcomes


def longest_first(jobs: Sequence[Job]) -> list[Job]:
    """The jobs by estimated seconds (dtlib.plan.job_seconds), longest first; ties and equal estimates keep their
    order, and a job without an estimate comes first."""
    from dtlib.plan import job_seconds

    def estimate(job: Job) -> float:
        try:
            seconds = job_seconds(job)
        except (KeyError, ValueError):  # a domain or shape the plan does not know
            seconds = None
        return float("inf") if seconds is None else seconds

    return sorted(jobs, key=lambda job: -estimate(job))


def throttled(items: Sequence, submit, limit: int | None = None):
    """(future, item) pairs as the futures finish, with at most `limit` submitted and unfinished at a time (None: all
    submitted at once). `submit(item)` returns a distributed Future."""
    from distributed import as_completed

    pending, owner = list(items), {}
    done = as_completed()

    def top_up() -> None:
        while pending and (limit is None or len(owner) < limit):
            item = pending.pop(0)
            future = submit(item)
            owner[future] = item
            done.add(future)

    top_up()
    for future in done:
        item = owner.pop(future)
        top_up()
        yield future, item


def _collect(jobs: list[Job], outcomes: dict[str, dict], root: Path) -> SweepResult:
    """The runs and evals tables, in job order, read from the run folders."""
    rows, frames = [], []
    for job in jobs:
        out = outcomes[job.name]
        labels = dataclasses.asdict(job.run)
        row = {**labels, "name": job.name, "run": out["run"], "status": out["status"], "reused": out["reused"],
               "wall_s": float("nan"), "steps": 0, "final_loss": float("nan"), "error": out["error"], "log": out["log"]}
        if out["status"] == "done":
            folder = root / out["run"]
            summary = io.read_json(folder / "summary.json")
            row.update(wall_s=float(summary.get("wall_s", float("nan"))), steps=int(summary.get("steps", 0)))
            metrics_path = folder / "metrics.csv"
            metrics = pd.read_csv(metrics_path) if metrics_path.exists() and metrics_path.stat().st_size else None
            if metrics is not None and len(metrics):
                loss = next((c for c in ("train/action_loss", "train/critic_loss") if c in metrics), None)
                row["final_loss"] = float(metrics[loss].iloc[-1]) if loss else float("nan")
            if (folder / "eval.csv").exists():
                ev = pd.read_csv(folder / "eval.csv").rename(columns={"seed": "episode_seed"})
                frames.append(ev.assign(**labels, run=out["run"]))
            io.write_json(root / INDEX_DIR / f"{job.name}.json", {"run": out["run"], "job": job.digest()})
        rows.append(row)
    runs = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *RESULT_COLUMNS])
    evals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*RUN_COLUMNS, "run"])
    return SweepResult(runs=runs, evals=evals)


def finished(jobs: Sequence[Job], runs_root: str | Path) -> list[bool]:
    """Whether each job finished in an earlier sweep with the same settings (its folder holds summary.json).

    Read from the sweep index without loading data, for the plan; the run itself still decides (a changed
    dataset or code gives a new run folder, which `run_sweep` trains).
    """
    root = Path(runs_root)
    out = []
    for job in jobs:
        entry = root / INDEX_DIR / f"{job.name}.json"
        ok = False
        if entry.exists():
            record = io.read_json(entry)
            ok = record.get("job") == job.digest() and (root / record.get("run", "?") / "summary.json").exists()
        out.append(ok)
    return out
