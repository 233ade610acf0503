"""model.onnx: written by the dynamo exporter where it works, else by the TorchScript-based one, then run
in onnxruntime against PyTorch on a batch of images; the exporter and the largest difference go into
the model card.

The dynamo exporter (`torch.onnx.export(..., dynamo=True)`) is the one upstream develops; it needs the
onnxscript package. The TorchScript-based exporter is deprecated upstream but needs nothing extra, so
it remains the fallback, announced with one line saying why.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..storage import disk
from ..errors import ExportFailed

# Largest |logit difference| between onnxruntime and PyTorch that still counts as the same model, per unit of
# the largest |logit| (at least 1): float32 rounding grows with the logits' size (a trained net's reach ~30).
TOLERANCE = 1e-4
BATCH = 64  # images the parity check runs
INPUT, OUTPUT = "pixels", "logits"
INSTALL_HINT = "pip install 'mnist-search[export]'"


def write(model: torch.nn.Module, path: Path, images: torch.Tensor | None = None, log=print) -> dict:
    """Write `path`; return the card's ONNX entry: exporter, opset, parity. ExportFailed if they disagree."""
    model = model.cpu().eval()
    example = torch.rand(2, 1, 28, 28)
    try:
        _dynamo(model, example, path)
        exporter = "dynamo"
    except Exception as exc:  # noqa: BLE001 - any dynamo failure falls back; the reason is printed
        _remove(path)
        if disk.refused(exc):
            raise  # a full disk: the other exporter would meet it too
        log(f"ONNX: the dynamo exporter is unavailable ({_reason(exc)}); using the TorchScript-based exporter")
        _legacy(model, example, path)
        exporter = "torchscript"
    return {"exporter": exporter, "opset": _opset(path), "parity": parity(model, path, images, exporter, log)}


def _dynamo(model, example, path: Path) -> None:
    import onnxscript  # noqa: F401 - the dynamo exporter's dependency: missing, it is the reason given

    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # upstream's progress notes and deprecations are not the user's business
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )


def _legacy(model, example, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated upstream
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            dynamo=False,
        )


def parity(model, path: Path, images, exporter: str, log=print) -> dict | None:
    """Largest |difference| of the logits of onnxruntime and PyTorch on `images` (or a fixed random batch);
    ExportFailed beyond the tolerance, None (with a note) without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        log(f"ONNX: parity not checked, onnxruntime is not installed ({INSTALL_HINT})")
        return None
    if images is None:
        images = torch.rand(BATCH, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    x = images.detach().cpu().float().contiguous()
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run([OUTPUT], {INPUT: x.numpy()})[0]
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors are many and unexported
        raise ExportFailed(
            f"onnxruntime cannot run the ONNX model written by the {exporter} exporter "
            f"({_reason(exc)}): export without onnx (--format pt,torchscript)"
        ) from None
    with torch.no_grad():
        want = model(x).numpy()
    diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    scale = max(1.0, float(np.abs(want).max()))
    if not diff <= TOLERANCE * scale:  # also catches NaN
        raise ExportFailed(
            f"the ONNX model ({exporter} exporter) differs from the PyTorch model by up to {diff:.3g} "
            f"in the logits of {len(x)} images (tolerance {TOLERANCE * scale:.3g}): export without "
            f"onnx (--format pt,torchscript) or use other torch/onnxruntime versions"
        )
    return {
        "max_abs_diff": diff,
        "max_abs_logit": scale,
        "tolerance": TOLERANCE * scale,
        "images": len(x),
        "onnxruntime": ort.__version__,
    }


def card_line(info: dict) -> str:
    """The model card's sentence on model.onnx."""
    p = info.get("parity")
    check = (
        f"onnxruntime gives PyTorch's logits to within {p['max_abs_diff']:.1e} on {p['images']} images"
        if p
        else "parity with PyTorch not checked (onnxruntime was not installed)"
    )
    return f"ONNX: written by the {info['exporter']} exporter (opset {info.get('opset')}); {check}."


def _opset(path: Path) -> int | None:
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _remove(path: Path) -> None:
    """A failed attempt may leave the model or its external weights behind."""
    for p in (Path(path), Path(str(path) + ".data")):
        p.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImportError) and getattr(exc, "name", None):
        return f"{exc.name} is not installed: {INSTALL_HINT}"
    first = (str(exc).strip().splitlines() or [""])[0].strip()
    return f"{type(exc).__name__}: {first[:160]}" if first else type(exc).__name__
