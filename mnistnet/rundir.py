"""A trained run on disk: config.json, recipe.json, weights.pt, metrics.json, curves.html.

Files are written under a temporary name and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from .model import NetConfig, build
from .recipe import Recipe
from .train import FitResult

WEIGHTS = "weights.pt"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `path` whole or not at all: a .part file, synced, renamed into place, removed if the write
    fails (a full disk is an OSError here, with nothing left behind)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())  # a full disk shows here at the latest, not after the rename
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def in_memory(save, obj) -> bytes:
    """What torch's `save(obj, file)` (torch.save, torch.jit.save, torch.export.save) writes, as bytes:
    torch's archive writer aborts the whole process (a C++ terminate) when the disk fills under it, so
    files are written from memory with Python's I/O, where a full disk is an OSError."""
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def save_weights(model: torch.nn.Module, path: Path) -> None:
    write_atomic(path, in_memory(torch.save, {k: v.detach().cpu() for k, v in model.state_dict().items()}))


def save_run(out: Path, config: NetConfig, recipe: Recipe, result: FitResult, metrics: dict) -> Path:
    """Write a finished run to `out` (created if needed) and return the folder."""
    from .curves import curves_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "config.json", config.to_json())
    write_atomic(out / "recipe.json", recipe.to_json())
    save_weights(result.model, out / WEIGHTS)
    full = {
        "params": result.params,
        "status": result.status,
        "seconds": round(result.seconds, 2),
        "val_acc": [m.val_acc for m in result.history],
        "history": [asdict(m) for m in result.history],
    }
    full.update(metrics)
    write_atomic(out / "metrics.json", json.dumps(full, indent=2))
    write_atomic(out / "curves.html", curves_html(result.history, title=metrics.get("title", "")))
    return out


def load_run(folder: Path, device="cpu") -> tuple[NetConfig, torch.nn.Module]:
    """The config and the model with its trained weights (loaded with weights_only=True)."""
    folder = Path(folder)
    config = NetConfig.from_json((folder / "config.json").read_text())
    model = build(config)
    model.load_state_dict(torch.load(folder / WEIGHTS, map_location=device, weights_only=True))
    return config, model.to(device).eval()
