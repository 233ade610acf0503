"""`mnist-search train`: one preset or warm start, trained and written to a run folder."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from mnistnet import data as mdata
from mnistnet import presets
from mnistnet.model import count_macs, summary
from mnistnet.rundir import save_run
from mnistnet.train import GRAPHS_MODE, evaluate, fit

from ...engine import profiles
from ...api import describe_precision, resolve_device
from ...errors import BadArgument, UnknownPreset
from ...settings import STUDIES_DIR, TrainSettings


def format_epoch(m, epochs: int) -> str:
    return (
        f"epoch {m.epoch}/{epochs}  train loss {m.train_loss:.4f} acc {m.train_acc:.2%}  "
        f"val loss {m.val_loss:.4f} acc {m.val_acc:.2%}  lr {m.lr:.3g}  {m.seconds:.1f}s"
    )


def net(name: str):
    """(name, description, NetConfig, Recipe) of a source preset or a warm start."""
    from space.known import KNOWN, base_net

    try:
        config, recipe = base_net(name)
    except KeyError as exc:
        raise UnknownPreset(exc.args[0]) from None
    if name in presets.PRESETS:
        return name, presets.get(name).description, config, recipe
    known = next(k for k in KNOWN if k.name == name)
    return name, f"warm start {known.name}: 3x3 BN convs, a 1x1 transition, GAP head; one-cycle SGD", config, recipe


def main(args) -> int:
    return train(TrainSettings(**{f.name: getattr(args, f.name) for f in fields(TrainSettings)}))  # the flags


def train(s: TrainSettings) -> int:
    name, description, config, base_recipe = net(s.preset)
    try:
        recipe = base_recipe.replace(
            epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, momentum=s.momentum, seed=s.seed
        ).validate()
    except ValueError as exc:
        raise BadArgument(str(exc)) from None
    device = resolve_device(s.device)
    precision_line = describe_precision(s.precision, device)
    out = Path(s.out or Path(STUDIES_DIR) / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    data = mdata.load(s.data_root, val_size=s.val_size, device=device).subset(s.subset)
    images = len(data.train) * recipe.epochs
    compiled = (
        GRAPHS_MODE
        if s.compile == "graphs"
        else s.compile == "on"
        or (s.compile == "auto" and profiles.compile_pays_back(profiles.for_device(device.type), images))
    )
    print(f"{name}: {description}")
    print(summary(config))
    print(
        f"device {device}, {precision_line}, {'compiled' if compiled else 'not compiled'}"
        f"{' with CUDA graphs' if compiled == GRAPHS_MODE else ''} "
        f"(--compile {s.compile}); {len(data.train):,} training / {len(data.val):,} validation images; "
        f"{recipe.optimizer} lr {recipe.lr:g} batch {recipe.batch_size}, {recipe.epochs} epochs"
    )
    result = fit(
        config,
        recipe,
        data,
        device,
        on_epoch=lambda m: print(format_epoch(m, recipe.epochs), flush=True),
        progress=s.progress,
        precision=s.precision,
        compile=compiled,
    )
    if result.status == "diverged":
        print("training diverged (non-finite loss); try a smaller --lr")
    test_loss, test_acc = evaluate(result.model, data.test)  # the one look at the test set, in fp32
    print(f"test loss {test_loss:.4f} acc {test_acc:.2%}  ({result.seconds:.1f}s training)")
    save_run(
        out,
        config,
        recipe,
        result,
        {
            "preset": name,
            "title": f"{name} training curves",
            "device": str(device),
            "precision": result.precision,
            "compiled": result.compiled,
            "train_images": len(data.train),
            "test_acc": test_acc,
            "test_loss": test_loss,
            "macs": count_macs(config),
        },
    )
    print(f"run saved to {out}")
    return 0 if result.status != "diverged" else 1
