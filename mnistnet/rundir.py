"""A trained run on disk: config.json, recipe.json, weights.pt, metrics.json, curves.html.

Files are written under a temporary name and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

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
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def save_weights(model: torch.nn.Module, path: Path) -> None:
    tmp = Path(path).with_name(Path(path).name + ".part")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)


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
