"""benchmarks/run.py on tiny sizes: it runs end to end and writes every key the README quotes. No timings asserted."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_quick_logic_on_tiny_sizes_writes_the_report(bench, tmp_path):
    tiny = bench.Sizes(dataset_steps=3_000, dt_steps=1, bc_steps=2, warmup=1, episode_steps=3, parallel=(1, 2),
                       env_steps=10, rounds=2, budget_s=600)
    out = tmp_path / "bench.json"
    report = bench.run_benchmarks(tiny, threads=(1,), out=out, log=lambda s: None)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report, default=str))
    assert {"machine", "rounds_done", "wall_s", "load_avg_before", "load_avg_after", "sizes", "threads", "goals", "config", "results",
            "raw"} <= set(report)
    assert {"cpu", "cpus", "torch", "torch_threads_default", "git_commit", "date"} <= set(report["machine"])
    res = report["results"]["1"]
    assert {"dt_train", "bc_train", "eval_1", "eval_2", "eval_2_bf16", "dt_train_bf16", "dt_train_bf16_packed",
            "bc_train_packed", "env", "eval_parallel_speedup",
            "eval_share_of_env_ceiling", "headline"} <= set(res)
    assert {"steps_per_s", "cpu_ms_per_step", "sample_share", "sample_ms_per_step"} <= set(res["dt_train"])
    assert {"env_steps_per_s", "cpu_ms_per_lockstep", "ms_per_lockstep"} <= set(res["eval_2"])
    assert 0 <= res["dt_train"]["sample_share"] <= 1
    assert len(report["raw"]["1"]["dt_train"]) == 2  # one entry per round
    assert report["config"]["dt"]["context_len"] == 20 and report["config"]["dt"]["n_layer"] == 3
    assert report["config"]["bc"]["embed_dim"] == 256
    table = bench.format_table(report)
    assert "DT train steps/s" in table and "eval env-steps/s, 2 parallel" in table
    assert "bf16 + packed masks" in table and "BC train steps/s, packed masks" in table


def test_cli_flags_pick_the_sizes(bench):
    assert bench.QUICK.episode_steps < bench.FULL.episode_steps == 1000
    assert bench.FULL.parallel == (1, 10, 50) and bench.FULL.dataset_steps == 100_000
