"""Numeric precision of training: fp32, or bf16 autocast where the hardware computes bf16 fast.

`auto` picks bf16 on a CUDA GPU that supports it and on a CPU with AMX or AVX-512 BF16 (what torch
reports about the CPU), and fp32 everywhere else: without those units bf16 is emulated and slower.
Weights, optimizer state and the loss stay fp32 either way; only the forward pass is autocast, so
a model trained in bf16 is an ordinary fp32 model afterwards.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext

import torch

PRECISIONS = ("auto", "fp32", "bf16")


class PrecisionError(ValueError):
    """An unknown precision name, or bf16 asked for on a device that cannot run it."""


def cpu_bf16_units() -> list[str]:
    """The CPU's fast-bf16 instruction sets, as torch sees them ([] when it has none or cannot tell)."""
    checks = (("AMX", "_is_amx_tile_supported"), ("AVX-512 BF16", "_is_avx512_bf16_supported"))
    found = []
    for label, name in checks:
        probe = getattr(torch.cpu, name, None)  # private probes: absent on some builds, so ask softly
        try:
            if probe is not None and probe():
                found.append(label)
        except Exception:  # noqa: BLE001 - a failing probe means "cannot tell", i.e. no
            pass
    return found


def cuda_bf16() -> bool:
    """Whether the GPU computes bf16 natively. torch's is_bf16_supported() also says yes where bf16 is
    only emulated (V100, T4: slower than fp32), unless asked to leave emulation out."""
    if not torch.cuda.is_available():
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # a torch without the argument: its answer is the native one
        return bool(torch.cuda.is_bf16_supported())


def fast_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return cuda_bf16()
    if device.type == "cpu":
        return bool(cpu_bf16_units())
    return False


def resolve(name: str, device) -> str:
    """ "fp32" or "bf16" for a precision name on a device."""
    device = torch.device(device)
    if name not in PRECISIONS:
        raise PrecisionError(f"unknown precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    if name == "bf16" and device.type == "cuda" and not cuda_bf16():
        raise PrecisionError(
            "this GPU has no native bf16 (torch would emulate it, slower than fp32): use --precision fp32 or auto"
        )
    return name


def describe(name: str, device) -> str:
    """One line for logs: what was picked and why."""
    device = torch.device(device)
    chosen = resolve(name, device)
    if device.type == "cpu":
        units = cpu_bf16_units()
        why = f"CPU has {' and '.join(units)}" if units else "CPU has no AMX or AVX-512 BF16"
    else:
        why = f"{device.type} {'supports' if fast_bf16(device) else 'lacks'} bf16"
    return f"precision {chosen}" + (f" (auto: {why})" if name == "auto" else "")


def autocast(device: torch.device, precision: str):
    """The forward pass's context: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


_tf32_lock = threading.Lock()
_tf32_depth = 0
_tf32_before = None


def _conv_tf32_flag():
    """(getter, setter) of cuDNN's fp32 convolution precision: the per-op API of torch >= 2.9
    ("ieee" / "tf32"), else the legacy allow_tf32 switch (False / True)."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return (lambda: conv.fp32_precision), (lambda v: setattr(conv, "fp32_precision", v)), "ieee"
    cudnn = torch.backends.cudnn
    return (lambda: cudnn.allow_tf32), (lambda v: setattr(cudnn, "allow_tf32", v)), False


@contextmanager
def exact_fp32(device):
    """fp32 convolutions on CUDA computed in fp32 (IEEE), not TF32: cuDNN uses TF32 for fp32
    convolutions by default on Ampere and later, which would make "fp32" training and the fp32 test
    pass something else than what their records say. The switch is the process's, so it is set for
    the duration only and restored after the outermost use (threads nest safely). No-op off CUDA."""
    global _tf32_depth, _tf32_before
    if torch.device(device).type != "cuda":
        yield
        return
    get, put, ieee = _conv_tf32_flag()
    with _tf32_lock:
        if _tf32_depth == 0:
            _tf32_before = get()
            put(ieee)
        _tf32_depth += 1
    try:
        yield
    finally:
        with _tf32_lock:
            _tf32_depth -= 1
            if _tf32_depth == 0:
                put(_tf32_before)
