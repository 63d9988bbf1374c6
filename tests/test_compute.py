"""dtlib.compute: bf16 matmul detection, 'auto' precision, the matmul microbenchmark; the fast training path's loss and
seeding. No test asserts a time."""
import dataclasses

import pytest
import torch

from conftest import push_dataset
from dtlib import compute
from dtlib.data.windows import WindowSampler, to_torch
from dtlib.model import DecisionTransformer, ModelConfig
from dtlib.train import SupervisedLearner, TrainConfig
from dtlib.validate import ParameterError


def test_bf16_unit_needs_the_cpu_flag_and_torch_kernels():
    assert compute.bf16_matmul_unit(frozenset({"avx2", "amx_bf16", "avx512_bf16"}), True) == "amx_bf16"
    assert compute.bf16_matmul_unit(frozenset({"avx512f", "avx512_bf16"}), True) == "avx512_bf16"
    assert compute.bf16_matmul_unit(frozenset({"avx2", "fma"}), True) == "none"  # AVX2-only: emulated bf16
    assert compute.bf16_matmul_unit(frozenset({"amx_bf16"}), False) == "none"  # torch built without the kernels


def test_auto_precision_is_bf16_exactly_where_the_cpu_has_bf16_matmul():
    expected = "bf16" if compute.bf16_matmul_unit() != "none" else "fp32"
    assert compute.resolve_precision("auto") == expected
    assert compute.resolve_precision("fp32") == "fp32" and compute.resolve_precision("bf16") == "bf16"
    with pytest.raises(ParameterError, match="precision"):
        compute.resolve_precision("fp16")
    info = compute.compute_info()
    assert info["auto_precision"] == expected and info["bf16_matmul"] in ("none", *compute.BF16_MATMUL_FLAGS)


def test_matmul_microbenchmark_reports_both_rates():
    row = compute.matmul_gflops("fp32", threads=1, seconds=0.01, shape=(64, 32, 16))
    assert row["calls"] >= 3 and row["gflops_wall"] > 0 and row["gflops_cpu"] > 0 and row["threads"] == 1
    with pytest.raises(ParameterError, match="dtype"):
        compute.matmul_gflops("fp16")


def _fast_model(data, masks="packed"):
    torch.manual_seed(0)
    mean, std = data.state_stats()
    return DecisionTransformer(ModelConfig(obs_shape=(2,), act_dim=1, context_len=5, max_ep_len=5, n_layer=2,
                                           embed_dim=32, return_scale=5.0, state_mean=tuple(mean.tolist()),
                                           state_std=tuple(std.tolist()), dropout_masks=masks))


# bf16 keeps 8 significant bits (relative rounding 2^-8 = 0.4% per value); through two blocks and a mean over
# the batch the loss moves by well under 1% (measured: 0.08% here): the fast path's stated tolerance against
# fp32 on a fixed batch.
FAST_LOSS_RTOL = 0.01


def test_fast_path_loss_matches_fp32_on_a_fixed_batch():
    data = push_dataset(50)
    model = _fast_model(data).train()
    batch = to_torch(WindowSampler(data, 5, seed=0).sample(32))
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(1)  # the same packed dropout masks in both passes
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            losses[precision] = model.loss(batch)[0].float().item()
    assert losses["bf16"] != losses["fp32"]  # the arithmetic really is bf16
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=FAST_LOSS_RTOL)


def test_fast_path_repeats_exactly_with_the_same_seed():
    data = push_dataset(50)
    cfg = TrainConfig(steps=4, batch_size=16, lr=1e-3, warmup_steps=1, precision="bf16")

    def trained(seed):
        learner = SupervisedLearner(_fast_model(data), dataclasses.replace(cfg, seed=seed))
        sampler = WindowSampler(data, 5, seed=seed)
        torch.manual_seed(seed)
        losses = [learner.update(to_torch(sampler.sample(16)))["train/action_loss"] for _ in range(4)]
        return losses, [p.detach().clone() for p in learner.model.parameters()]

    (l1, w1), (l2, w2), (l3, _) = trained(0), trained(0), trained(1)
    assert l1 == l2 and all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert l1 != l3


def test_auto_precision_is_resolved_in_the_configs_so_the_run_records_what_it_trains_in():
    from dtlib.baselines.cql import CQLConfig
    from dtlib.results import config_dict

    train = TrainConfig(precision="auto", device="cpu")
    cql = CQLConfig(obs_shape=(3,), act_dim=1, precision="auto")
    assert train.precision == cql.precision == compute.resolve_precision("auto") != "auto"
    assert config_dict(train)["TrainConfig"]["precision"] == train.precision
    assert TrainConfig(precision="bf16").precision == "bf16" and TrainConfig().precision == "fp32"
    with pytest.raises(ParameterError, match="precision"):
        TrainConfig(precision="half")


def test_run_folder_and_environment_notebook_show_the_bf16_unit(tmp_path):
    from dtlib import sysinfo
    from dtlib.results import RunDir, config_digest

    config = {"TrainConfig": {"precision": compute.resolve_precision("auto")}}
    run = RunDir(tmp_path, "r", config)
    written = __import__("json").loads(run.config_path.read_text())
    assert written["compute"]["bf16_matmul"] == compute.bf16_matmul_unit()
    assert written["compute"]["auto_precision"] == config["TrainConfig"]["precision"]
    assert run.path.name.endswith(config_digest(config))  # the machine facts are not part of the hash
    table = sysinfo.compute_table()
    assert dict(zip(table["fact"], table["value"]))["bf16_matmul"] == compute.bf16_matmul_unit()


def test_precision_deviations_name_what_changes_the_numbers(monkeypatch):
    from dtlib import compute

    assert compute.precision_deviations("fp32", "bernoulli") == []  # the paper's arithmetic: nothing to say
    packed = compute.precision_deviations("fp32", "packed")
    assert len(packed) == 1 and "PackedDropout" in packed[0]
    assert "bf16 autocast" in compute.precision_deviations("bf16")[0]
    monkeypatch.setattr(compute, "bf16_matmul_unit", lambda *a, **k: "none")  # 'auto' on a CPU without bf16 units
    assert compute.precision_deviations("auto", "bernoulli", "cpu") == []
