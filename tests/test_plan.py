"""`python -m dtlib.pipeline --plan` (dtlib.plan) and benchmarks/gpu_check.py on a CPU-only machine."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from dtlib import gym_study, keydoor_study, pipeline, plan
from dtlib.profiles import load_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_plan_counts_each_grid_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DTLIB_RUNS", str(tmp_path / "runs"))
    assert pipeline.main(["--profile", "smoke", "--plan"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:2].isdigit()}
    assert set(rows) == {"10_mujoco_datasets", "20_gym", "30_keydoor", "31_graph", "40_atari"}
    profile = load_profile("smoke")
    gym = gym_study.jobs(gym_study.GymStudy(**profile.notebook_params("gym")))
    kd = keydoor_study.jobs(keydoor_study.KeyDoorStudy(**profile.notebook_params("keydoor")))
    assert int(rows["20_gym"][1]) == len(gym) and int(rows["30_keydoor"][1]) == len(kd)  # the grid + the critic
    assert rows["20_gym"][3] == f"{sum(j.train_overrides['steps'] for j in gym):,}" and rows["20_gym"][2] == "0"
    assert not (tmp_path / "runs").exists()  # nothing was run or created


def test_plan_estimates_follow_the_measured_costs():
    table = plan.step_costs()
    assert table["source"].str.len().min() > 10 and (table["s_per_step"] > 0).all()
    assert plan.cost("gym", "dt", "bf16") < plan.cost("gym", "dt", "fp32")
    assert plan.cost("keydoor", "dt", "bf16") == plan.cost("keydoor", "dt", "fp32")  # falls back to fp32
    assert plan.cost("gym", "dt", device="cuda") is None  # not measured: the plan says so instead of guessing
    lines = {l.notebook: l for l in plan.plan("paper")}
    small = {l.notebook: l for l in plan.plan("small")}
    # the paper's Gym grid: 100k DT steps, 1M CQL steps, 100 episodes: far more than small's, and more than
    # its DT runs alone (189 runs x ...) cost at the measured DT rate
    assert lines["20_gym"].cpu_s > 100 * small["20_gym"].cpu_s
    assert lines["20_gym"].cpu_s > 27 * 100_000 * plan.cost("gym", "dt")
    assert lines["20_gym"].gpu_s is None


def test_gpu_check_skips_cleanly_without_cuda(capsys):
    import gpu_check

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: run benchmarks/gpu_check.py itself")
    assert gpu_check.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_gpu_check_compares_the_same_seed_on_two_devices():
    """The comparison machinery, CPU against CPU: the same seed and batches give exactly the same numbers."""
    import gpu_check

    data = gpu_check.gym_data(n=5)
    r = gpu_check.compare("hopper", data, steps=2, device="cpu", reference="cpu")
    assert r["forward_rel_gap"] == 0.0 and r["train_rel_gap"] == 0.0 and r["forward_ok"] and r["train_ok"]
    assert r["reference"]["context_len"] == 20 and r["reference"]["batch_size"] == 64  # the paper's Gym DT


def test_keydoor_estimate_scales_with_the_dt_batch(tmp_path):
    import dataclasses

    profile = load_profile("small")
    at = {}
    for batch in (32, 128):
        nb = {**profile.notebooks, "keydoor": {**profile.notebooks["keydoor"], "dt_batch_size": batch}}
        at[batch] = plan._keydoor(dataclasses.replace(profile, notebooks=nb), tmp_path)
    cfg = keydoor_study.KeyDoorStudy(**profile.notebook_params("keydoor"))
    dt_steps = cfg.steps["dt"] * len(cfg.datasets) * len(cfg.seeds)
    extra = at[128].cpu_s - at[32].cpu_s  # only the Table 6 DTs change: 3x their cost more at 4x the batch
    assert extra == pytest.approx(3 * dt_steps * plan.cost("keydoor", "dt", "fp32"), rel=1e-6)


def test_atari_cnn_macs_are_the_models():
    """The plan's per-frame CNN count equals the multiply-accumulates of dtlib.model.AtariEncoder's convolutions,
    read from the module's own layers on an 84x84 frame stack."""
    from dtlib.model import AtariEncoder, ModelConfig

    enc = AtariEncoder(ModelConfig(obs_shape=(4, 84, 84), act_dim=6, discrete=True, encoder="cnn", embed_dim=64))
    macs = []
    hooks = [m.register_forward_hook(lambda m, i, o: macs.append(o[0].numel() * m.weight[0].numel()))
             for m in enc.conv if isinstance(m, torch.nn.Conv2d)]
    enc(torch.zeros(1, 1, 4, 84, 84, dtype=torch.uint8))
    for h in hooks:
        h.remove()
    assert sum(macs) == plan.ATARI_CNN_MACS


def test_atari_cost_follows_the_cnn_for_small_transformers():
    # at 2 layers x 64 the CNN is most of a step: a 4x narrower, 3x shallower transformer is not 36x cheaper
    small = plan.atari_step_macs(32, 8, 2, 64)
    paper = plan.atari_step_macs(128, 30, 6, 128)
    assert 0.9 < 32 * 8 * plan.ATARI_CNN_MACS / small < 1.0
    assert small / paper > (32 * 8) / (128 * 30) / 2  # within 2x of the frame ratio, far above 1/36 of it
    assert plan.atari_step_macs(32, 8, 2, 128) > small  # wider still costs more
