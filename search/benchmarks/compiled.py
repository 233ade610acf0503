"""torch.compile for full-fidelity training: what compiling costs once, and what it saves per image.

Two short fits of the same net, eager and compiled, two epochs each: the compiled fit's first epoch
holds the compile, its second is steady. compile cost = first - second compiled epoch; saving per
image = (eager - compiled) steady epoch time / images. It pays back after cost / saving images.
The compile is timed cold, with an empty inductor cache, as a new net's final meets it.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from mnistnet.train import fit


@contextmanager
def cold_compile_cache():
    """A fresh, empty inductor cache for the duration (inductor reads the variable at each use)."""
    import torch
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tmp
        torch._dynamo.reset()
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = before
            torch._dynamo.reset()


def measure(config, recipe, data, device, precision: str, log=print) -> dict:
    r = recipe.replace(epochs=2)
    eager = fit(config, r, data, device, precision=precision)
    with cold_compile_cache():
        compiled = fit(config, r, data, device, precision=precision, compile=True, log=log)
    images = eager.history[-1].images
    e = eager.history[-1].train_seconds
    c1, c2 = compiled.history[0].train_seconds, compiled.history[-1].train_seconds
    row = {"precision": eager.precision, "compiled": compiled.compiled, "images_per_epoch": images,
           "eager_img_s": round(images / e), "compiled_img_s": round(images / c2),
           "speedup": round(e / c2, 3), "compile_s": round(max(c1 - c2, 0.0), 1)}
    saving = (e - c2) / images  # seconds saved per training image once compiled
    row["payback_images"] = round(row["compile_s"] / saving) if saving > 0 and compiled.compiled else None
    return row
