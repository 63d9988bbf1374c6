"""Where one DT training step spends its time: torch.profiler at the paper's Gym config, by op class (issue 17).

The paper's Gym DT (K=20, 3 layers, 1 head, d=128, batch 64, Hopper shapes, benchmarks/run.py's synthetic data),
one `SupervisedLearner.update` per step, after untimed warm-up steps. Every aten op's *self* CPU time goes to one
class (matmul, attention kernel, layer norm, dropout / RNG, activations, optimizer, grad clip, embedding, other
elementwise, allocation / copies); what the profiler does not attribute to any op is Python and dispatch overhead.
`--precision` / `--dropout-masks` profile the other paths. Nothing here asserts a time.

    .venv/bin/python benchmarks/profile_dt.py [--threads 1] [--steps 10] [--precision fp32] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (benchmarks/run.py: data, model config, TrainBench)

from dtlib import io  # noqa: E402
from dtlib.model import DecisionTransformer  # noqa: E402
from dtlib.train import TrainConfig  # noqa: E402

# op class -> aten op names (self time); checked in order, the first class whose names match wins
OP_CLASSES: dict[str, tuple[str, ...]] = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear",
               "mkldnn", "aten::_addmm_activation"),
    "attention kernel": ("scaled_dot_product", "_flash_attention", "_efficient_attention", "aten::_softmax",
                         "aten::_softmax_backward_data"),
    "layer norm": ("layer_norm",),
    "dropout / RNG": ("dropout", "bernoulli", "random_", "uniform_"),
    "activations": ("relu", "clamp_min", "threshold", "gelu", "tanh", "sigmoid"),  # relu runs as clamp_min
    "optimizer": ("adamw", "adam", "_foreach_add", "_foreach_lerp", "_foreach_mul", "_foreach_addcmul",
                  "_foreach_sqrt", "_foreach_div"),
    "grad clip": ("_foreach_norm", "linalg_vector_norm", "clamp", "_foreach_mul_"),
    "embedding": ("embedding",),
    "loss / masking": ("mse_loss", "cross_entropy", "nll_loss", "index", "nonzero", "masked"),
    "allocation / copies": ("empty", "zeros", "ones", "copy_", "clone", "contiguous", "fill_", "zero_", "resize_",
                            "to_copy", "aten::to", "cat", "stack", "repeat_interleave", "tril", "eye", "expand",
                            "as_strided", "view", "reshape", "permute", "transpose", "unsqueeze", "squeeze",
                            "select", "slice", "detach", "t", "_unsafe_view", "alias"),
    "elementwise": ("add", "mul", "sub", "div", "sum", "mean", "pow", "sqrt", "neg", "where", "bitwise", "logical",
                    "ge", "gt", "lt", "le", "eq", "ne", "rsub", "abs", "exp", "threshold", "isfinite", "all", "any",
                    "item", "_local_scalar_dense"),
}


def _matches(name: str, key: str) -> bool:
    """A key of 5+ characters matches anywhere in the op's name; a shorter one ('t', 'add', 'mul') only the whole
    name or its in-place / out variant ('add_'), so 'aten::cat' is not a 't' and 'aten::sum' not a 'sub'."""
    key = key.lower().removeprefix("aten::")
    return name == key or name.startswith(key + "_") or (len(key) >= 5 and key in name)


def op_class(op: str) -> str:
    """The class an aten op's self time counts towards."""
    name = op.lower().split("::")[-1]
    for cls, keys in OP_CLASSES.items():
        if any(_matches(name, k) for k in keys):
            return cls
    return "other ops"


def profile_step(threads: int, steps: int, warmup: int, precision: str, dropout_masks: str) -> dict:
    """Profile `steps` DT updates; returns per-class self CPU ms per step, wall ms per step and the top ops."""
    torch.set_num_threads(threads)
    data = bench.synthetic_dataset(100_000)
    model = DecisionTransformer(bench.model_config(data, dropout_masks=dropout_masks))
    tb = bench.TrainBench(model, data, TrainConfig(device="cpu", precision=precision), warmup)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall0 = time.perf_counter()
        tb(steps)
        wall = time.perf_counter() - wall0
    events = prof.key_averages()
    per_class: dict[str, float] = {}
    ops = []
    for e in events:
        if not e.key.startswith("aten::") and "mkldnn" not in e.key and "Optimizer" not in e.key:
            continue
        ms = e.self_cpu_time_total / 1000 / steps
        if e.key.startswith("aten::") or "mkldnn" in e.key:
            per_class[op_class(e.key)] = per_class.get(op_class(e.key), 0.0) + ms
            ops.append({"op": e.key, "self_ms_per_step": ms, "calls_per_step": e.count / steps})
    wall_ms = 1000 * wall / steps
    attributed = sum(per_class.values())
    # with more than one thread, op self times are wall times of the calling thread (intra-op work included)
    per_class["Python / dispatch / unattributed"] = max(0.0, wall_ms - attributed)
    ops.sort(key=lambda r: -r["self_ms_per_step"])
    return {"threads": threads, "steps": steps, "precision": precision, "dropout_masks": dropout_masks,
            "wall_ms_per_step": wall_ms,
            "classes": dict(sorted(per_class.items(), key=lambda kv: -kv[1])),
            "matmul_share": (per_class.get("matmul", 0.0) + per_class.get("attention kernel", 0.0)) / wall_ms,
            "top_ops": ops, "load_avg": list(os.getloadavg()), "machine": bench.machine()}


def format_profile(rep: dict) -> str:
    """A Markdown table: op class, ms per step, share of the step."""
    wall = rep["wall_ms_per_step"]
    lines = ["| op class | ms / step | share |", "|---|---:|---:|"]
    for cls, ms in rep["classes"].items():
        lines.append(f"| {cls} | {ms:.1f} | {ms / wall:.0%} |")
    lines.append(f"| **step (wall)** | **{wall:.1f}** | 100% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--dropout-masks", default="bernoulli", choices=["bernoulli", "packed"])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    rep = profile_step(args.threads, args.steps, args.warmup, args.precision, args.dropout_masks)
    print(format_profile(rep))
    print(f"\nmatmul + attention kernels: {rep['matmul_share']:.0%} of the step; load average {rep['load_avg']}")
    for r in rep["top_ops"][:12]:
        print(f"  {r['op']:<55}{r['self_ms_per_step']:8.2f} ms {r['calls_per_step']:6.0f} calls")
    if args.out:
        io.write_json(args.out, rep)
    return rep


if __name__ == "__main__":
    main()
