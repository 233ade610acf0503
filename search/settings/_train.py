"""The settings of `mnist-search train`, each defined once: its default, its help text, its flag and its check.

The `train` command line is generated from `TrainSettings` (search.cli add_settings_args), and
search.cli.commands.train reads the same fields; see search.settings._run for why the flags are generated
by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._fields import (
    STUDIES_DIR,
    Settings,
    compile_field,
    data_root_field,
    device_field,
    fraction,
    positive,
    precision_field,
    setting,
    val_size_field,
    whole,
)


@dataclass(frozen=True)
class TrainSettings(Settings):
    """The settings of one `mnist-search train`, in the order of `train --help`. None: the net's recipe's
    value (epochs, batch_size, lr, momentum) or every training image (subset)."""

    preset: str = setting(
        "seed001", "a source preset seed000 ... seed004 (default: seed001) or a warm start gap8k, gap10k"
    )  # an unknown name is UnknownPreset, from the presets themselves
    epochs: int | None = setting(None, "epochs (default: the net's recipe)", parse="positive_int", check=whole(1))
    batch_size: int | None = setting(
        None, "batch size (default: the net's recipe)", parse="positive_int", check=whole(1)
    )
    lr: float | None = setting(
        None,
        "learning rate, a one-cycle schedule's peak (default: the net's recipe)",
        parse="positive_float",
        check=positive,
    )
    momentum: float | None = setting(
        None,
        "momentum, in [0, 1): SGD's, or Adam's beta1 (default: the net's recipe)",
        parse="unit_float",
        check=fraction,
    )
    subset: int | None = setting(
        None, "train on the first N training images", parse="positive_int", metavar="N", check=whole(1)
    )
    val_size: int = val_size_field()
    seed: int = setting(0, "seed of the weights' initialisation and the data order (default 0)", parse="int")
    out: str | None = setting(None, f"run folder (default: {STUDIES_DIR}/runs/PRESET-TIME)", metavar="DIR")
    progress: bool = setting(True, "no tqdm bars", negate="--no-progress")
    precision: str = precision_field()
    compile: str = compile_field("the training steps")
    data_root: str | None = data_root_field()
    device: str = device_field()
