"""How fast an exported model answers on this machine's CPU: per-image latency at batch 1 and
throughput at batch 256, in TorchScript and ONNX Runtime (and eager PyTorch, for reference).

The export writes these figures into the model card; `mnist-search bench` prints them. Medians of
repeated timed calls after warm-up calls, on random pixels (speed does not depend on the values).
"""

from __future__ import annotations

import statistics
import time
import warnings
from pathlib import Path

import torch

LATENCY_CALLS, THROUGHPUT_CALLS, BATCH = 200, 20, 256


def _timed(call, x, calls: int) -> float:
    """Median seconds per call, after a few warm-up calls."""
    for _ in range(5):
        call(x)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _figures(call, make_input) -> dict:
    latency = _timed(call, make_input(1), LATENCY_CALLS)
    per_batch = _timed(call, make_input(BATCH), THROUGHPUT_CALLS)
    return {"latency_ms_batch1": round(latency * 1e3, 3), "img_s_batch256": round(BATCH / per_batch)}


def runtimes(folder: Path, model: torch.nn.Module | None = None) -> dict:
    """Figures per runtime for a model folder's model.ts / model.onnx (those present), and for the
    eager `model` if given. Runtimes that cannot load are reported as such, not skipped silently."""
    out = {}
    torch_input = lambda n: torch.rand(n, 1, 28, 28)  # noqa: E731
    if model is not None:
        model = model.cpu().eval()
        with torch.inference_mode():
            out["pytorch"] = _figures(model, torch_input)
    ts = folder / "model.ts"
    if ts.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream, still exported
            scripted = torch.jit.load(str(ts), map_location="cpu").eval()
        with torch.inference_mode():
            out["torchscript"] = _figures(scripted, torch_input)
    onnx = folder / "model.onnx"
    if onnx.exists():
        try:
            import onnxruntime as ort
        except ImportError:
            out["onnxruntime"] = "not measured (onnxruntime is not installed)"
        else:
            session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            out["onnxruntime"] = _figures(
                lambda x: session.run(None, {name: x}), lambda n: torch.rand(n, 1, 28, 28).numpy()
            )
    out["threads"] = torch.get_num_threads()
    return out
