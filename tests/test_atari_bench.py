"""The Atari benchmarks run and report what they measured (tiny sizes; no time is asserted)."""
from __future__ import annotations

from benchmarks.bench_atari import bench_atari_dt, bench_dqn_replay_loader


def test_dt_bench_uses_the_paper_atari_config():
    row = bench_atari_dt(steps=1, warmup=0, batch_size=2)
    assert (row["n_layer"], row["n_head"], row["embed_dim"], row["context_len"]) == (6, 8, 128, 30)
    assert row["batch_size"] == 2 and row["steps_per_s"] > 0 and "load_avg_1m" in row


def test_loader_bench_reports_speed_and_memory():
    row = bench_dqn_replay_loader(n_checkpoints=2, rows=3_000, num_steps=2_000, trajectories_per_buffer=1)
    assert row["transitions"] >= 2_000 and row["bytes_per_transition"] == 84 * 84
    assert row["peak_alloc_mb"] >= row["frames_mb"] > 0
