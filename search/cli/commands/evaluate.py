"""`mnist-search evaluate DIR`: test accuracy, confusion matrix and misclassified digits of a model."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mnistnet import data as mdata
from mnistnet.augment import to_float
from mnistnet.train import predict

from ...exporting import model_dir


def confusion_matrix(true: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """[10, 10] counts: row = true digit, column = predicted digit."""
    return torch.bincount(true * 10 + pred, minlength=100).reshape(10, 10)


def format_confusion(cm: torch.Tensor) -> str:
    lines = ["true\\pred " + "".join(f"{d:>6}" for d in range(10))]
    for d in range(10):
        lines.append(f"{d:>9} " + "".join(f"{int(v):>6}" for v in cm[d]))
    return "\n".join(lines)


def misclassified_grid(images: torch.Tensor, true, pred, path: Path, columns: int = 10, limit: int = 100) -> int:
    """A PNG grid of wrongly classified digits, each captioned 'true→predicted'; returns how many."""
    from PIL import Image, ImageDraw

    n = min(len(images), limit)
    cell, caption, scale = 28 * 3, 14, 3
    rows = max(1, (n + columns - 1) // columns)
    sheet = Image.new("L", (columns * cell, rows * (cell + caption)), color=255)
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        digit = Image.fromarray((images[i, 0].clamp(0, 1) * 255).byte().numpy()).resize(
            (28 * scale, 28 * scale), Image.NEAREST
        )
        x, y = (i % columns) * cell, (i // columns) * (cell + caption)
        sheet.paste(digit, (x, y + caption))
        draw.text((x + 4, y + 1), f"{int(true[i])}->{int(pred[i])}", fill=0)
    sheet.save(path)
    return n


def main(args) -> int:
    _, model, card = model_dir.load(args.model_dir)
    data = mdata.load(args.data_root, device="cpu")
    x = to_float(data.test.x)
    probs = predict(model, x)
    pred = probs.argmax(1)
    cm = confusion_matrix(data.test.y, pred)
    acc = (pred == data.test.y).float().mean().item()
    wrong = (pred != data.test.y).nonzero().squeeze(1)
    out = Path(args.out or args.model_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "misclassified.png"
    shown = misclassified_grid(x[wrong], data.test.y[wrong], pred[wrong], png)
    (out / "evaluation.json").write_text(
        json.dumps({"test_acc": acc, "errors": len(wrong), "confusion": cm.tolist()}, indent=2)
    )
    print(f"test accuracy {acc:.2%} ({len(wrong)} of {len(data.test)} wrong)")
    print(format_confusion(cm))
    print(f"{shown} misclassified digits drawn in {png}")
    return 0
