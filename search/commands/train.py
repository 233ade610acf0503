"""`mnist-search train`: one preset, trained and written to a run folder; `mnist-search presets`."""
from __future__ import annotations

import time
from pathlib import Path

from mnistnet import data as mdata
from mnistnet import presets
from mnistnet.model import count_macs, summary
from mnistnet.rundir import save_run
from mnistnet.train import evaluate, fit

from ..api import resolve_device
from ..errors import BadArgument, UnknownPreset


def format_epoch(m, epochs: int) -> str:
    return (f"epoch {m.epoch}/{epochs}  train loss {m.train_loss:.4f} acc {m.train_acc:.2%}  "
            f"val loss {m.val_loss:.4f} acc {m.val_acc:.2%}  lr {m.lr:.3g}  {m.seconds:.1f}s")


def main(args) -> int:
    try:
        preset = presets.get(args.preset)
    except KeyError as exc:
        raise UnknownPreset(exc.args[0]) from None
    try:
        recipe = preset.recipe.replace(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                       momentum=args.momentum, seed=args.seed).validate()
    except ValueError as exc:
        raise BadArgument(str(exc)) from None
    device = resolve_device(args.device)
    out = Path(args.out or Path("studies") / "runs" / f"{preset.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    data = mdata.load(args.data_root, val_size=args.val_size, device=device).subset(args.subset)
    print(f"{preset.name}: {preset.description}")
    print(summary(preset.config))
    print(f"device {device}; {len(data.train):,} training / {len(data.val):,} validation images; "
          f"{recipe.optimizer} lr {recipe.lr:g} batch {recipe.batch_size}, {recipe.epochs} epochs")
    result = fit(preset.config, recipe, data, device,
                 on_epoch=lambda m: print(format_epoch(m, recipe.epochs), flush=True),
                 progress=not args.no_progress)
    if result.status == "diverged":
        print("training diverged (non-finite loss); try a smaller --lr")
    test_loss, test_acc = evaluate(result.model, data.test)  # the one look at the test set
    print(f"test loss {test_loss:.4f} acc {test_acc:.2%}  ({result.seconds:.1f}s training)")
    save_run(out, preset.config, recipe, result, {
        "preset": preset.name, "title": f"{preset.name} training curves", "device": str(device),
        "train_images": len(data.train), "test_acc": test_acc, "test_loss": test_loss,
        "macs": count_macs(preset.config)})
    print(f"run saved to {out}")
    return 0 if result.status != "diverged" else 1
