"""benchmarks/official_gym_dt.py: the official batches and BC step it times behave as the official code describes."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def official():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("official_gym_dt", ROOT / "benchmarks" / "official_gym_dt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_official_get_batch_pads_left_like_the_official_code(official):
    data = official.bench.synthetic_dataset(3_000)
    s, a, r, d, rtg, timesteps, mask = official.OfficialBatches(data, seed=1)(32)
    assert s.shape == (32, 20, 11) and a.shape == (32, 20, 3) and rtg.shape == (32, 21, 1) and mask.shape == (32, 20)
    pad = mask == 0
    assert pad.any()  # uniform starts near episode ends give short windows
    assert (a[pad] == -10).all() and (d[pad] == 2).all() and (timesteps[pad] == 0).all()
    assert torch.equal(mask, torch.sort(mask, dim=1).values)  # padding on the left only
    np.testing.assert_allclose(official.discount_cumsum(np.array([1.0, 2.0, 3.0]), 1.0), [6.0, 5.0, 3.0])


def test_official_bc_step_trains(official):
    data = official.bench.synthetic_dataset(3_000)
    step = official.OfficialStep(data, warmup=0, bc=True)
    before = [p.detach().clone() for p in step.model.parameters()]
    row = step(2)
    assert {"steps_per_s", "cpu_ms_per_step", "sample_share", "sample_ms_per_step"} <= set(row)
    assert any(not torch.equal(b, p) for b, p in zip(before, step.model.parameters()))


def test_official_dt_step_trains_when_transformers_is_installed(official):
    pytest.importorskip("transformers")
    data = official.bench.synthetic_dataset(3_000)
    step = official.OfficialStep(data, warmup=0)
    assert step(1)["steps_per_s"] > 0
    mean, std = data.state_stats()
    row = official.official_eval(step.model, 3, mean, std)
    assert row["env_steps_per_s"] > 0 and step.model.training  # back in training mode
