"""Numeric precision of training: fp32, or bf16 autocast where the hardware computes bf16 fast.

`auto` picks bf16 on a CUDA GPU that supports it and on a CPU with AMX or AVX-512 BF16 (what torch
reports about the CPU), and fp32 everywhere else: without those units bf16 is emulated and slower.
Weights, optimizer state and the loss stay fp32 either way; only the forward pass is autocast, so
a model trained in bf16 is an ordinary fp32 model afterwards.
"""
from __future__ import annotations

from contextlib import nullcontext

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


def fast_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_bf16_units())
    return False


def resolve(name: str, device) -> str:
    """"fp32" or "bf16" for a precision name on a device."""
    device = torch.device(device)
    if name not in PRECISIONS:
        raise PrecisionError(f"unknown precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("this GPU has no bf16 support: use --precision fp32 or auto")
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
