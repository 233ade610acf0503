"""The `arch` space (the default): the architecture itself, together with the training knobs.

A net is 2-3 blocks. Each block is 1-4 convs of one width and kernel size; every block but the
last ends in a 2x2 max-pool (the last one optionally), optionally followed by a 1x1 transition
conv that halves the channels. BatchNorm, dropout and 'same' padding are global switches. The
head is a 1x1 conv to the 10 digits + global average pooling (the seed001 style), GAP + FC, or
flatten + FC. Training knobs: optimizer, learning rate, momentum, weight decay, batch size and
augmentation strength, with a one-cycle schedule (robust for the few epochs a proxy trial gets).

Priors follow what hand tuning knows works on MNIST: the choices are ordered so that the region
of 3x3 BatchNorm convs, 1x1 transitions, a GAP head, light dropout, one-cycle SGD with Nesterov,
small batches and mild augmentation is a large part of the space, and the learning-rate range
depends on BatchNorm (a net without it diverges at the rates a BatchNorm net wants). Known-good
nets (space/known.py) and the source presets are enqueued as warm starts.

A trial enqueued from a preset or known net (user attribute "preset") keeps that net's
architecture and samples only the training knobs.
"""
from __future__ import annotations

from mnistnet.model import ConvLayer, Head, NetConfig
from mnistnet.recipe import Augment, Recipe

from .known import KNOWN, base_net
from .warm import PRESET_ATTR, WarmStart

NAME = "arch"
DESCRIPTION = ("the architecture (blocks, convs, widths, kernels, BatchNorm, dropout, 1x1 transitions, "
               "pooling, head) with optimizer, lr, momentum, weight decay, batch size and augmentation")
WIDTHS = [4, 6, 8, 10, 12, 16, 24, 32]
BATCH_SIZES = [32, 64, 128, 256, 512]
# Learning-rate ranges per optimizer and BatchNorm: BatchNorm nets train at rates that make plain
# nets diverge, and plain nets need rates that leave BatchNorm nets under-trained in a few epochs.
LR_RANGES = {("sgd", True): (0.02, 0.5), ("sgd", False): (0.005, 0.08),
             ("adamw", True): (1e-3, 0.03), ("adamw", False): (3e-4, 0.005)}
HEADS = ["conv_gap", "gap_fc", "flatten_fc"]
# Full strength (aug = 1) is the source projects' transform plus a small translation.
FULL_AUGMENT = Augment(rotate=15.0, translate=2.0, crop_p=0.1, crop_size=22)


def sample_training(trial, base: Recipe | None = None, bn: bool = True) -> Recipe:
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adamw"])
    low, high = LR_RANGES[(optimizer, bn)]
    lr = trial.suggest_float(f"{optimizer}_lr" + ("" if bn else "_nobn"), low, high, log=True)
    # SGD's momentum, or AdamW's beta1: both are searched, each in its useful range.
    momentum = trial.suggest_float("momentum", 0.8, 0.97) if optimizer == "sgd" else \
        trial.suggest_float("beta1", 0.8, 0.95)
    weight_decay = trial.suggest_float("weight_decay", 1e-5, 1e-3, log=True)
    batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
    strength = trial.suggest_float("aug", 0.0, 1.0)
    augment = Augment(rotate=FULL_AUGMENT.rotate * strength, translate=FULL_AUGMENT.translate * strength,
                      crop_p=FULL_AUGMENT.crop_p * strength, crop_size=FULL_AUGMENT.crop_size)
    recipe = base or Recipe()
    return recipe.replace(optimizer=optimizer, lr=lr, momentum=momentum, batch_size=batch_size,
                          weight_decay=weight_decay, scheduler="onecycle", nesterov=optimizer == "sgd",
                          augment=augment.__dict__)


def sample_net(trial) -> NetConfig:
    bn = trial.suggest_categorical("bn", [True, False])
    dropout = trial.suggest_categorical("dropout", [0.0, 0.05, 0.1, 0.2])
    same = trial.suggest_categorical("same_padding", [False, True])
    transition = trial.suggest_categorical("transition", [True, False])
    blocks = trial.suggest_int("blocks", 2, 3)
    layers: list[ConvLayer] = []
    size = 28  # side of the feature map so far
    for b in range(1, blocks + 1):
        convs = trial.suggest_int(f"convs{b}", 1, 4)
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
        pool = trial.suggest_categorical("pool_last", [False, True]) if last else True
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
            config, recipe = base_net(preset)
            bn = any(layer.bn for layer in config.layers)
            return config, sample_training(trial, recipe, bn=bn)
        config = sample_net(trial)
        return config, sample_training(trial, bn=any(layer.bn for layer in config.layers))

    def warm_starts(self) -> list[WarmStart]:
        """The known-good nets, then every source preset, each with its own training settings
        (the caller keeps those within budget)."""
        from mnistnet import presets

        starts = [WarmStart(k.name, training_params(k.recipe, bn=True), k.config) for k in KNOWN]
        for p in presets.PRESETS.values():
            if p.name == "seed004":
                continue  # the same model and recipe as seed002
            bn = any(layer.bn for layer in p.config.layers)
            starts.append(WarmStart(p.name, training_params(p.recipe, bn), p.config))
        return starts


def training_params(r: Recipe, bn: bool) -> dict:
    """A recipe as this space's training parameters, clipped into their ranges."""
    optimizer = "adamw" if r.optimizer in ("adam", "adamw") else "sgd"
    low, high = LR_RANGES[(optimizer, bn)]
    lr_name = f"{optimizer}_lr" + ("" if bn else "_nobn")
    mom_name, (mlo, mhi) = ("momentum", (0.8, 0.97)) if optimizer == "sgd" else ("beta1", (0.8, 0.95))
    strength = max(r.augment.rotate / FULL_AUGMENT.rotate, r.augment.translate / FULL_AUGMENT.translate,
                   r.augment.crop_p / FULL_AUGMENT.crop_p)
    return {"optimizer": optimizer, lr_name: min(high, max(low, r.lr)), mom_name: min(mhi, max(mlo, r.momentum)),
            "weight_decay": min(1e-3, max(1e-5, r.weight_decay or 1e-5)),
            "batch_size": min(BATCH_SIZES, key=lambda b: abs(b - r.batch_size)), "aug": min(1.0, strength)}
