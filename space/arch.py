"""The `arch` space (the default): the architecture itself, together with the training knobs.

A net is 2-3 blocks. Each block is 1-3 convs of one width and kernel size; every block but the
last ends in a 2x2 max-pool (the last one optionally), optionally followed by a 1x1 transition
conv that halves the channels. BatchNorm, dropout and 'same' padding are global switches. The
head is either a 1x1 conv to the 10 digits + global average pooling (the seed001 style), GAP + FC,
or flatten + FC. Training knobs: optimizer, learning rate, momentum, batch size and augmentation
strength, with a one-cycle schedule (robust for the few epochs a trial gets).

A trial enqueued from a source preset (user attribute "preset") keeps that preset's architecture
and samples only the training knobs.
"""
from __future__ import annotations

from mnistnet import presets
from mnistnet.model import ConvLayer, Head, NetConfig
from mnistnet.recipe import Augment, Recipe

from .warm import PRESET_ATTR, WarmStart

NAME = "arch"
DESCRIPTION = ("the architecture (blocks, convs, widths, kernels, BatchNorm, dropout, 1x1 transitions, "
               "pooling, head) with optimizer, lr, momentum, batch size and augmentation")
WIDTHS = [4, 6, 8, 12, 16, 24, 32]
BATCH_SIZES = [32, 64, 100, 128, 256, 512]
LR_RANGES = {"sgd": (0.005, 0.5), "adamw": (3e-4, 0.02)}
HEADS = ["conv_gap", "gap_fc", "flatten_fc"]
# Full strength (aug = 1) is the source projects' transform plus a small translation.
FULL_AUGMENT = Augment(rotate=15.0, translate=2.0, crop_p=0.1, crop_size=22)


def sample_training(trial, base: Recipe | None = None) -> Recipe:
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adamw"])
    # Each optimizer gets its own learning-rate range (a conditional parameter), so random
    # start-up trials do not waste time on an Adam step size of 0.3 or an SGD one of 3e-4.
    low, high = LR_RANGES[optimizer]
    lr = trial.suggest_float(f"{optimizer}_lr", low, high, log=True)
    momentum = trial.suggest_float("momentum", 0.8, 0.97)
    batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
    strength = trial.suggest_float("aug", 0.0, 1.0)
    augment = Augment(rotate=FULL_AUGMENT.rotate * strength, translate=FULL_AUGMENT.translate * strength,
                      crop_p=FULL_AUGMENT.crop_p * strength, crop_size=FULL_AUGMENT.crop_size)
    recipe = base or Recipe()
    return recipe.replace(optimizer=optimizer, lr=lr, momentum=momentum, batch_size=batch_size,
                          scheduler="onecycle", nesterov=False, augment=augment.__dict__)


def sample_net(trial) -> NetConfig:
    bn = trial.suggest_categorical("bn", [True, False])
    dropout = trial.suggest_categorical("dropout", [0.0, 0.05, 0.1, 0.2])
    same = trial.suggest_categorical("same_padding", [True, False])
    transition = trial.suggest_categorical("transition", [True, False])
    blocks = trial.suggest_int("blocks", 2, 3)
    layers: list[ConvLayer] = []
    size = 28  # side of the feature map so far
    for b in range(1, blocks + 1):
        convs = trial.suggest_int(f"convs{b}", 1, 3)
        width = trial.suggest_categorical(f"width{b}", WIDTHS)
        # Only the first block chooses its kernel: 5x5 later on mostly collapses the small maps.
        kernel = trial.suggest_categorical("kernel1", [3, 5]) if b == 1 else 3
        last = b == blocks
        for i in range(convs):
            # Unpadded convs shrink the map; once it is small, pad rather than collapse it.
            pad = kernel // 2 if same or size - kernel + 1 < 3 else 0
            size += 2 * pad - kernel + 1
            layers.append(ConvLayer(width, kernel, padding=pad, bn=bn,
                                    dropout=dropout if i == convs - 1 else 0.0))
        pool = trial.suggest_categorical("pool_last", [True, False]) if last else True
        layers[-1].pool = pool
        size //= 2 if pool else 1
        if pool and transition and not last:
            layers.append(ConvLayer(max(4, width // 2), 1, bn=bn))
    head = trial.suggest_categorical("head", HEADS)
    if head == "conv_gap":
        layers.append(ConvLayer(10, 1, relu=False))
        return NetConfig(layers, Head(pool="gap", linear=False))
    if head == "gap_fc":
        return NetConfig(layers, Head(pool="gap"))
    return NetConfig(layers, Head(pool="flatten"))


class ArchSpace:
    name = NAME

    def sample(self, trial) -> tuple[NetConfig, Recipe]:
        preset = trial.user_attrs.get(PRESET_ATTR)
        if preset:
            p = presets.get(preset)
            return p.config, sample_training(trial, p.recipe)
        return sample_net(trial), sample_training(trial)

    def warm_starts(self) -> list[WarmStart]:
        """Every source preset with its own training settings (the caller keeps those in budget)."""
        starts = []
        for p in presets.PRESETS.values():
            r = p.recipe
            if p.name == "seed004":
                continue  # the same model and recipe as seed002
            optimizer = "adamw" if r.optimizer in ("adam", "adamw") else "sgd"
            params = {"optimizer": optimizer, f"{optimizer}_lr": r.lr, "momentum": r.momentum,
                      "batch_size": r.batch_size, "aug": 1.0 if r.augment.active else 0.0}
            starts.append(WarmStart(p.name, params, p.config))
        return starts
