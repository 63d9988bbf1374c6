"""dtlib.sweep on real Dask clusters (scheduler and worker processes on localhost): the same tables in-process and
on 2 workers, a worker killed mid-run, a failing run that does not stop the grid, and the settings' checks."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pandas as pd
import pytest
import torch

from dtlib import sweep
from dtlib.data.generate import generate_graph_dataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig
from dtlib.sweep import DataSource, Job, SweepFailed, run_sweep
from dtlib.validate import ParameterError

GRAPH = DataSource.of(generate_graph_dataset, n_walks=60, seed=0)  # generated in each worker, no files needed
COLUMNS = ["step", "target", "episode", "episode_seed", "return", "length", "seed"]


def graph_job(seed: int, steps: int = 8, data: DataSource = GRAPH) -> Job:
    return Job(RunConfig("graph", "60walks", "dt", seed=seed), data, EvalConfig(episodes=3),
               train_overrides={"steps": steps, "checkpoint_every": 2, "log_every": 2, "warmup_steps": 2},
               threads=1)


@pytest.fixture(scope="module")
def cluster():
    """A running LocalCluster of 2 workers, used through its address (the DTLIB_SCHEDULER path)."""
    with sweep.local_cluster(2, threads=1) as c:
        yield c


def test_local_cluster_workers_keep_glibcs_adaptive_malloc(cluster):
    """Dask's nanny would start workers with MALLOC_TRIM_THRESHOLD_=65536 (1.3-1.7x slower Atari steps); ours do not."""
    from distributed import Client

    with Client(cluster) as client:
        seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(seen) == 2 and set(seen.values()) == {None}


def test_throttled_keeps_at_most_limit_runs_on_the_cluster_and_returns_every_one(cluster):
    """One run per worker at a time on our LocalCluster: at each submission at most `limit` are unfinished, every item
    comes back once, with its own result; limit None submits all at once (a cluster given by address)."""
    import time

    from distributed import Client

    with Client(cluster) as client:
        for limit, most in ((2, 2), (None, 5)):
            live: list = []
            peak = []

            def submit(i):
                peak.append(sum(not f.done() for f in live) + 1)
                future = client.submit(lambda x: time.sleep(0.2 * (1 + x % 3)) or x * x, i, pure=False)
                live.append(future)
                return future

            got = {i: f.result() for f, i in sweep.throttled(range(5), submit, limit=limit)}
            assert got == {i: i * i for i in range(5)} and max(peak) == most


def test_longest_first_orders_by_the_plans_estimate_unknown_first_ties_kept():
    """Runs go to the cluster longest first (dtlib.plan.job_seconds); a run the plan cannot price goes first; equal
    estimates keep the grid's order."""
    from dtlib.plan import job_seconds

    short, long_a, long_b = graph_job(0, steps=8), graph_job(1, steps=400), graph_job(2, steps=400)
    unknown = Job(RunConfig("graph", "60walks", "bc", seed=3), GRAPH, EvalConfig(episodes=3),
                  train_overrides={"steps": 8}, threads=1)  # no measured graph/bc step
    assert job_seconds(unknown) is None and job_seconds(long_a) > job_seconds(short) > 0
    assert [j.run.seed for j in sweep.longest_first([short, long_a, unknown, long_b])] == [3, 1, 2, 0]


def test_in_process_and_local_cluster_give_identical_tables(tmp_path):
    jobs = [graph_job(s) for s in (0, 1)]
    one = run_sweep(jobs, tmp_path / "one", workers=1, progress=False)
    two = run_sweep(jobs, tmp_path / "two", workers=2, progress=False)  # a LocalCluster: 2 worker processes
    assert len(one.evals) == 2 * 3 and (one.runs["status"] == "done").all() and not one.runs["reused"].any()
    pd.testing.assert_frame_equal(one.evals[COLUMNS], two.evals[COLUMNS])
    assert one.runs["final_loss"].tolist() == two.runs["final_loss"].tolist()
    pids = {line.split(" pid ")[1].split(",")[0] for log in (tmp_path / "two" / "logs").glob("*.log")
            for line in log.read_text().splitlines() if " pid " in line}
    assert pids and str(os.getpid()) not in pids  # trained in the cluster's worker processes, not here
    runtime = json.loads((tmp_path / "one" / one.runs["run"][0] / "config.json").read_text())["runtime"]
    assert runtime["device"] == ("cuda" if torch.cuda.is_available() else "cpu") and runtime["torch_threads"] == 1
    again = run_sweep(jobs, tmp_path / "two", workers=1, progress=False)  # finished runs are reused, not retrained
    assert again.runs["reused"].all()
    pd.testing.assert_frame_equal(two.evals, again.evals)
    assert sweep.finished(jobs, tmp_path / "two") == [True] * 2
    assert sweep.finished([graph_job(0, steps=13)], tmp_path / "two") == [False]  # other settings: not this run


def test_a_worker_killed_mid_run_resumes_and_ends_identical(tmp_path, cluster):
    from distributed import Client

    job = graph_job(0, steps=60)
    expected = run_sweep([job], tmp_path / "reference", workers=1, progress=False)
    root = tmp_path / "runs"
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=run_sweep(
        [job], root, scheduler=cluster.scheduler_address, progress=False)))
    thread.start()
    with Client(cluster.scheduler_address) as client:
        deadline = time.time() + 300
        while not list(root.glob(f"{job.name}-*/checkpoint.pt")) and time.time() < deadline:
            time.sleep(0.05)
        busy = [w for w, keys in client.processing().items() if any(str(k).startswith(job.name) for k in keys)]
        assert busy and not list(root.glob(f"{job.name}-*/summary.json")), "the run must be mid-way when killed"
        pid = client.run(os.getpid, workers=busy)[busy[0]]
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=600)
    assert not thread.is_alive(), "the grid did not complete after its worker was killed"
    result = box["result"]
    assert result.runs["status"].tolist() == ["done"]
    log = (root / "logs" / f"{job.name}.log").read_text()
    assert log.count(f"] {job.name} on ") == 2  # started, killed, started again on a live worker
    resumed = [line for line in log.splitlines() if line.startswith("resuming ")]
    assert len(resumed) == 1 and int(resumed[0].split()[-1]) > 0  # from its checkpoint, not from step 0
    pd.testing.assert_frame_equal(expected.evals[COLUMNS], result.evals[COLUMNS])
    assert expected.runs["final_loss"].tolist() == result.runs["final_loss"].tolist()


def test_a_failing_run_does_not_stop_the_grid_and_a_rerun_redoes_only_it(tmp_path, cluster, capsys):
    missing = DataSource.of(generate_graph_dataset, n_walks=60, seed=0, no_such_argument=1)
    jobs = [graph_job(0), graph_job(1, data=missing), graph_job(2)]
    result = run_sweep(jobs, tmp_path, scheduler=cluster.scheduler_address, progress=False, raise_on_failure=False)
    assert result.runs["status"].tolist() == ["done", "failed", "done"]
    bad = result.failed.iloc[0]
    assert "no_such_argument" in bad["error"]
    assert "Traceback" in (tmp_path / "logs" / f"{bad['name']}.log").read_text()  # the log holds the traceback
    line = [l for l in capsys.readouterr().err.splitlines() if l.startswith("FAILED")]
    assert len(line) == 1 and "seed=1" in line[0] and bad["log"] in line[0]  # its config and log, in one line
    assert set(result.evals["seed"]) == {0, 2}
    with pytest.raises(SweepFailed, match="1 of 3 runs failed.*s1"):
        run_sweep(jobs, tmp_path, workers=1, progress=False)
    fixed = run_sweep([graph_job(0), graph_job(1), graph_job(2)], tmp_path, workers=1, progress=False)
    assert fixed.runs["reused"].tolist() == [True, False, True]  # only the failed run trains


def test_settings_come_from_the_environment_and_are_checked(monkeypatch):
    monkeypatch.setenv(sweep.WORKERS_ENV, "3")
    monkeypatch.setenv(sweep.SCHEDULER_ENV, "tcp://head:8786")
    assert sweep.settings("small") == (3, "tcp://head:8786")
    assert sweep.settings("small", workers=1, scheduler="") == (1, "")
    monkeypatch.delenv(sweep.WORKERS_ENV)
    monkeypatch.delenv(sweep.SCHEDULER_ENV)
    assert sweep.settings("small") == (2, "")  # profiles/small.yaml
    assert sweep.settings("", workers=0)[0] == os.cpu_count()
    monkeypatch.setenv(sweep.WORKERS_ENV, "two")
    with pytest.raises(ParameterError, match="DTLIB_WORKERS='two'"):
        sweep.settings("small")
    with pytest.raises(ParameterError, match="workers=1.5"):
        sweep.settings("small", workers=1.5)
    with pytest.raises(ParameterError, match="unique"):
        run_sweep([graph_job(0), graph_job(0)], "/nonexistent", workers=1)


def test_a_profile_sets_workers_for_every_grid(tmp_path, monkeypatch):
    from dtlib.profiles import load_profile

    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    monkeypatch.delenv(sweep.WORKERS_ENV, raising=False)
    monkeypatch.delenv(sweep.SCHEDULER_ENV, raising=False)
    (tmp_path / "profiles").mkdir()
    for name, workers in (("four", "4"), ("none", None), ("bad", "-1"), ("word", "two")):
        text = "description: x\nbudget_minutes: 1\n" + (f"workers: {workers}\n" if workers else "") + "notebooks: {}\n"
        (tmp_path / "profiles" / f"{name}.yaml").write_text(text)
    assert sweep.settings("four") == (4, "") and load_profile("none").workers == 1  # left out: in-process
    for name in ("bad", "word"):
        with pytest.raises(ParameterError, match="workers="):
            load_profile(name)


def test_an_empty_grid_gives_empty_tables_with_their_columns(tmp_path):
    """A grid with nothing to run (e.g. every job filtered out) returns empty tables, not a KeyError."""
    result = run_sweep([], tmp_path / "runs", workers=1, progress=False)
    assert len(result.runs) == 0 and len(result.evals) == 0
    assert {"status", "wall_s", "env", "seed"} <= set(result.runs.columns) and len(result.failed) == 0
