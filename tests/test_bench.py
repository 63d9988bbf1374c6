"""benchmarks/run.py on tiny sizes: it runs end to end and writes every key the README quotes. No timings asserted."""
import dataclasses
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
    from dtlib.experiment import RunConfig, build_model

    data, timed = bench.synthetic_dataset(tiny.dataset_steps), json.loads(out.read_text())["config"]
    for method in ("dt", "bc"):  # the bench times the very models the Gym runs train (preset, spec, overrides)
        cfg = build_model(RunConfig("hopper", "bench", method), data).cfg
        trained = json.loads(json.dumps(dataclasses.asdict(cfg)))
        differ = {k: (v, timed[method].get(k)) for k, v in trained.items()
                  if k not in ("state_mean", "state_std") and timed[method].get(k) != v}
        assert not differ, f"{method}: the benchmarked model differs from a run's in {differ}"
    table = bench.format_table(report)
    assert "DT train steps/s" in table and "eval env-steps/s, 2 parallel" in table
    assert "bf16 + packed masks" in table and "BC train steps/s, packed masks" in table


def test_cli_flags_pick_the_sizes(bench, monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(bench, "run_benchmarks",
                        lambda sizes, threads, out, log: seen.update(sizes=sizes, threads=threads) or {})
    monkeypatch.setattr(bench, "extra_benchmarks", lambda quick, log: {})
    monkeypatch.setattr(bench, "format_table", lambda report: "")
    out = ["--out", str(tmp_path / "bench.json")]
    bench.main(out)
    assert seen == {"sizes": bench.FULL, "threads": ()}
    bench.main(["--quick", "--threads", "2,1", "--budget-s", "5", *out])
    assert seen == {"sizes": dataclasses.replace(bench.QUICK, budget_s=5.0), "threads": (2, 1)}
    with pytest.raises(SystemExit):
        bench.main(["--budget-s", "0", *out])
    for field in ("dt_steps", "bc_steps", "episode_steps", "env_steps", "rounds", "budget_s"):  # --quick does less
        assert getattr(bench.QUICK, field) <= getattr(bench.FULL, field), field
    assert bench.QUICK.episode_steps < bench.FULL.episode_steps
    from dtlib.specs import get_env_spec

    assert bench.FULL.episode_steps == get_env_spec("hopper").max_ep_len  # make bench times whole Hopper episodes
