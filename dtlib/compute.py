"""What the CPU can do fast: bf16 matrix units, the precision a run trains in, and the measured matmul peak.

bf16 autocast pays only where the CPU multiplies bf16 matrices in hardware: Intel AMX (`amx_bf16`) or
AVX512-BF16 (`avx512_bf16`, e.g. AMD Zen 4, Intel Cooper Lake+). Elsewhere (an AVX2-only CPU) torch emulates
bf16 and a DT step gets about 8x *slower* (docs/speed.md), so `precision='auto'` resolves to 'bf16' only with
such a unit and to 'fp32' otherwise. The resolved value, never 'auto', is what a run's config records: it
enters the run's identity (a bf16 run and an fp32 run are different runs).
"""
from __future__ import annotations

import platform
import time
from functools import lru_cache
from pathlib import Path

import torch

from dtlib.validate import check_choice

PRECISIONS = ("fp32", "bf16")  # what a config records
PRECISION_CHOICES = (*PRECISIONS, "auto")  # what a profile may ask for
BF16_MATMUL_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with bf16 matrix instructions
# The shape of a Gym DT layer's MLP matmul (batch 64 x 3K=60 tokens, d=128 -> 4d=512): the peak that matters here.
PEAK_SHAPE = (3840, 128, 512)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name ('AMD EPYC 9R14', ...), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_bf16_kernels() -> bool:
    """Whether torch's oneDNN has bf16 kernels for this CPU (False on AVX2-only CPUs)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_matmul_unit(flags: frozenset[str] | None = None, torch_kernels: bool | None = None) -> str:
    """'amx_bf16' or 'avx512_bf16' when the CPU multiplies bf16 matrices in hardware and torch uses it, else 'none'."""
    flags = cpu_flags() if flags is None else flags
    torch_kernels = _torch_bf16_kernels() if torch_kernels is None else torch_kernels
    unit = next((f for f in BF16_MATMUL_FLAGS if f in flags), "none")
    return unit if torch_kernels else "none"


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """'fp32' / 'bf16' as given; 'auto': 'bf16' where the device has bf16 matmul hardware, else 'fp32'."""
    check_choice("precision", precision, PRECISION_CHOICES)
    if precision != "auto":
        return precision
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if bf16_matmul_unit() != "none" else "fp32"


def precision_deviations(precision: str, dropout_masks: str = "bernoulli", device: str = "cpu") -> list[str]:
    """The report's deviation lines for a study's arithmetic: bf16 (once resolved) and packed dropout masks change
    the numbers a seed gives, not what is computed; fp32 with Bernoulli masks is the paper's and needs none."""
    out = []
    resolved = resolve_precision(precision, device)
    if resolved == "bf16":
        out.append(f"Arithmetic: bf16 autocast ('{precision}' resolved to bf16 on this machine's "
                   f"{bf16_matmul_unit() if device == 'cpu' else device}); the paper trains in fp32. Each run's "
                   "config records the precision it trained in.")
    if dropout_masks == "packed":
        out.append("Dropout masks are packed (`dtlib.model.PackedDropout`: 16 random bits per entry, four entries "
                   "per draw, drop probability rounded to a multiple of 1/65536) instead of one Bernoulli draw per "
                   "entry: the same expectation, cheaper on a CPU, but different masks, so a seed gives different "
                   "numbers than with the paper's dropout. The attention weights' dropout takes them too: training "
                   "then computes the attention written out (`CausalSelfAttention._written_out`) rather than in "
                   "torch's kernel, the same function up to float rounding.")
    return out


def compute_info() -> dict:
    """The CPU facts a run's speed and its 'auto' precision depend on (written beside each run's config)."""
    flags = cpu_flags()
    return {"cpu": cpu_model(), "torch_isa": torch.backends.cpu.get_cpu_capability(),
            "bf16_matmul": bf16_matmul_unit(), "auto_precision": resolve_precision("auto"),
            "flags": sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma", "f16c"))}


def matmul_gflops(dtype: str = "fp32", threads: int | None = None, seconds: float = 0.5,
                  shape: tuple[int, int, int] = PEAK_SHAPE) -> dict:
    """Measured matmul rate: [m, k] @ [k, n] in `dtype` on `threads` threads for ~`seconds` (3 untimed calls first).

    Returns GFLOP/s by wall clock and by process CPU time; the peak a benchmark row is compared with.
    """
    check_choice("dtype", dtype, PRECISIONS)
    m, k, n = shape
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        dt = torch.float32 if dtype == "fp32" else torch.bfloat16
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(m, k, generator=g).to(dt), torch.randn(k, n, generator=g).to(dt)
        for _ in range(3):
            a @ b
        calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - wall0 < seconds or calls < 3:
            a @ b
            calls += 1
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        torch.set_num_threads(old)
    flop = 2.0 * m * k * n * calls
    return {"dtype": dtype, "threads": threads or old, "shape": list(shape), "calls": calls,
            "gflops_wall": flop / wall / 1e9, "gflops_cpu": flop / max(cpu, 1e-9) / 1e9}
