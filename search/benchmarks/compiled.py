"""torch.compile for full-fidelity training: what compiling costs once, and what it saves per image.

Two short fits of the same net, eager and compiled, two epochs each: the compiled fit's first epoch
holds the compile, its second is steady. compile cost = first - second compiled epoch; saving per
image = (eager - compiled) steady epoch time / images. It pays back after cost / saving images.
The compile is timed cold, with empty inductor and Triton caches, as a new net's final meets it.
Each compile mode is measured the same way: the default, and "reduce-overhead" (CUDA graphs on a GPU).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from mnistnet.train import fit


CACHE_VARIABLES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")  # inductor's, and Triton's GPU kernels


@contextmanager
def cold_compile_cache():
    """Fresh, empty inductor and Triton caches for the duration (both read their variable at each
    use; Triton's cache, ~/.triton/cache by default, would otherwise keep a GPU's compiled kernels)."""
    import torch

    before = {name: os.environ.get(name) for name in CACHE_VARIABLES}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CACHE_VARIABLES:
            os.environ[name] = os.path.join(tmp, name.lower())
        torch._dynamo.reset()
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            torch._dynamo.reset()


def measure(config, recipe, data, device, precision: str, log=print, mode: str | None = None, eager=None) -> dict:
    """One compile mode (None: torch.compile's default) against eager; pass `eager` (a fit result
    of the same two epochs) to reuse one eager run for several modes."""
    r = recipe.replace(epochs=2)
    eager = eager or fit(config, r, data, device, precision=precision)
    with cold_compile_cache():
        compiled = fit(config, r, data, device, precision=precision, compile=mode or True, log=log)
    images = eager.history[-1].images
    e = eager.history[-1].train_seconds
    c1, c2 = compiled.history[0].train_seconds, compiled.history[-1].train_seconds
    row = {
        "precision": eager.precision,
        "mode": mode or "default",
        "compiled": compiled.compiled,
        "images_per_epoch": images,
        "eager_img_s": round(images / e),
        "compiled_img_s": round(images / c2),
        "speedup": round(e / c2, 3),
        "compile_s": round(max(c1 - c2, 0.0), 1),
    }
    saving = (e - c2) / images  # seconds saved per training image once compiled
    row["payback_images"] = round(row["compile_s"] / saving) if saving > 0 and compiled.compiled else None
    return row


def measure_modes(config, recipe, data, device, precision: str, modes=(None,), log=print) -> list[dict]:
    """measure() for each compile mode, against one eager run."""
    eager = fit(config, recipe.replace(epochs=2), data, device, precision=precision)
    return [measure(config, recipe, data, device, precision, log=log, mode=m, eager=eager) for m in modes]
