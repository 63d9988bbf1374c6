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


def test_rebuilt_gpt2_451_block_computes_what_transformers_gpt2_computes(official):
    """The benchmark's plain-torch transformers-4.5.1 block, given HF GPT-2's weights, gives HF's outputs (eval)."""
    sys.path.append(str(ROOT / ".bench-deps"))  # `make bench-deps`; skipped without transformers
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf, plain = official.OfficialDT("hf").eval(), official.OfficialDT("v451").eval()
    src = hf.transformer
    for mine, theirs in zip(plain.transformer.h, src.h):
        for a, b in ((mine.ln_1, theirs.ln_1), (mine.ln_2, theirs.ln_2), (mine.c_attn, theirs.attn.c_attn),
                     (mine.attn_proj, theirs.attn.c_proj), (mine.c_fc, theirs.mlp.c_fc),
                     (mine.mlp_proj, theirs.mlp.c_proj)):
            a.load_state_dict(b.state_dict())
    plain.transformer.ln_f.load_state_dict(src.ln_f.state_dict())
    x = torch.randn(4, 30, official.EMBED)
    mask = torch.ones(4, 30)
    mask[0, :9] = 0  # left padding
    with torch.no_grad():
        want = src(inputs_embeds=x, attention_mask=mask)["last_hidden_state"]
        got = plain.transformer(inputs_embeds=x, attention_mask=mask)["last_hidden_state"]
    torch.testing.assert_close(got[1:], want[1:], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[0, 9:], want[0, 9:], rtol=1e-4, atol=1e-5)  # padded queries: -1e4 vs -inf masks
    with pytest.raises(ValueError, match="stack"):
        official.OfficialDT("v2")


def test_compare_rows_carry_both_sides_ratio_goal_and_peak_fraction(monkeypatch):
    """benchmarks/compare.py end to end on tiny sizes, one thread, one round: every row and key `make bench` writes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import compare

    rep = compare.run_compare((1,), 1, {"dt_steps": 1, "bc_steps": 2, "eval_steps": 2, "cql_seconds": 0.05,
                                        "peak_seconds": 0.01}, log=lambda m: None)
    names = {r["name"] for r in rep["rows"]}
    assert {"dt_train", "dt_train_paper", "bc_train_128", "bc_train_256", "eval_50"} <= names
    assert ("cql" in names) == (rep["d3rlpy"] is not None)
    assert ("gpt2_stack" in names) == (rep["transformers"] is not None)
    for r in rep["rows"]:
        assert {"ours", "official", "ratio", "threads", "precision", "cpu_flags", "ours_peak_fraction",
                "official_peak_fraction", "goal", "met"} <= set(r)
        assert r["ratio"] == pytest.approx(r["ours"] / r["official"])  # one round: the ratio of the two rates
        assert r["met"] is None if r["goal"] is None else r["met"] == (r["ratio"] >= r["goal"])
        assert r["precision"] == rep["precision_auto"] or r["name"] in ("dt_train_paper", "gpt2_stack")
        assert r["ours_gflop_per_unit"] > 0 and r["ours_peak_fraction"] > 0
    assert "| DT training, fast path | 1 |" in compare.format_rows(rep)


def test_speed_doc_says_quiet_or_loaded_from_the_load_before_the_run():
    """The generated section calls a run quiet only when the 1-minute load before it was under half the cores."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import json

    import compare

    report = json.loads((ROOT / "benchmarks/results/2026-12-01-make-bench-amd-avx2-quiet.json").read_text())
    assert "quiet before the run" in compare.format_doc(report, "x.json")
    report["load_avg_before"] = [6.1, 9.1, 11.3]
    doc = compare.format_doc(report, "x.json")
    assert "other jobs ran beside the benchmark" in doc and "quiet before the run" not in doc


def test_speed_doc_keeps_one_generated_section_per_machine(tmp_path):
    """A named section is appended once, then replaced in place; the default section and the prose stay as they are."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import compare

    doc = tmp_path / "speed.md"
    doc.write_text("prose\n<!-- bench:start -->\nAMD table\n<!-- bench:end -->\nmore prose\n")
    compare.write_doc(doc, "AMX table v1\n", "amx")
    compare.write_doc(doc, "AMX table v2\n", "amx")
    text = doc.read_text()
    assert text.count("<!-- bench:start amx -->") == 1 and "AMX table v2" in text and "AMX table v1" not in text
    assert "AMD table" in text and "more prose" in text
    compare.write_doc(doc, "AMD table v2\n")
    assert "AMD table v2" in doc.read_text() and "AMX table v2" in doc.read_text()
    with pytest.raises(ValueError, match="--section"):
        compare.markers("amx -->")
