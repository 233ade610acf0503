"""The `arch` space (the default): the architecture itself, conv by conv, with the training knobs.

A net is 2-3 blocks of 3x3 BatchNorm convs (the first block may use 5x5), each conv with its own
width (even numbers: hand-tuned nets narrow and widen layer by layer). Every block but the last
ends in a 2x2 max-pool, optionally followed by a 1x1 "squeeze" conv of its own width; the last
block pools optionally. Dropout and 'same' padding are global switches. The head is a 1x1 conv to
the 10 digits + global average pooling, GAP + FC, or flatten + FC. Training knobs: optimizer,
learning rate, momentum, weight decay, batch size and augmentation strength, with a one-cycle
schedule (robust for the few epochs a proxy trial gets).

Every warm start (space/known.py) is a point of this space: `point(config, recipe)` gives its
parameters, so a warm start is enqueued with its architecture and its training alike, and the
sampler learns about the region around it ("gap8k with its third conv narrower" is one step away).
Dead regions stay out: no net without BatchNorm (the source presets without it reach ~98 %), the
learning-rate ranges are the ones BatchNorm nets train at, and first-block widths stop at 16, where
the 24-26 px maps make wider convs cost more MACs than the budget allows.
"""

from __future__ import annotations

from mnistnet.model import ConvLayer, Head, NetConfig
from mnistnet.recipe import Augment, Recipe

from .known import KNOWN
from .warm import WarmStart

NAME = "arch"
DESCRIPTION = (
    "the architecture conv by conv (blocks, per-conv widths, kernels, 1x1 squeezes, pool placement, "
    "dropout, head) with optimizer, lr, momentum, weight decay, batch size and augmentation"
)
# Per-conv widths, in steps of 2: the first block sees the large maps, later blocks may be wider.
FIRST_WIDTHS = (4, 16)
LATER_WIDTHS = (4, 32)
SQUEEZE_WIDTHS = (0, 16)  # a 1x1 squeeze after a pool; 0: none
MAX_CONVS = {1: 4, 2: 5, 3: 3}  # convs per block
BATCH_SIZES = [32, 64, 128, 256, 512]
DROPOUTS = [0.0, 0.05, 0.1]
# Learning-rate ranges (BatchNorm nets) per optimizer.
LR_RANGES = {"sgd": (0.02, 0.5), "adamw": (1e-3, 0.03)}
MOMENTUM_RANGES = {"sgd": ("momentum", 0.8, 0.97), "adamw": ("beta1", 0.8, 0.95)}
WEIGHT_DECAY = (1e-5, 1e-3)
HEADS = ["conv_gap", "gap_fc", "flatten_fc"]
# Full strength (aug = 1) is the source projects' transform plus a small translation.
FULL_AUGMENT = Augment(rotate=15.0, translate=2.0, crop_p=0.1, crop_size=22)


def augment_at(s: float) -> Augment:
    """Augmentation at strength s in [0, 1] of FULL_AUGMENT."""
    return Augment(
        rotate=FULL_AUGMENT.rotate * s,
        translate=FULL_AUGMENT.translate * s,
        crop_p=FULL_AUGMENT.crop_p * s,
        crop_size=FULL_AUGMENT.crop_size,
    )


def sample_training(trial, base: Recipe | None = None) -> Recipe:
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adamw"])
    lr = trial.suggest_float(f"{optimizer}_lr", *LR_RANGES[optimizer], log=True)
    # SGD's momentum, or AdamW's beta1: both are searched, each in its useful range.
    momentum = trial.suggest_float(*MOMENTUM_RANGES[optimizer])
    weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True)
    batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
    augment = augment_at(trial.suggest_float("aug", 0.0, 1.0))
    recipe = base or Recipe()
    return recipe.replace(
        optimizer=optimizer,
        lr=lr,
        momentum=momentum,
        batch_size=batch_size,
        weight_decay=weight_decay,
        scheduler="onecycle",
        nesterov=optimizer == "sgd",
        augment=augment.__dict__,
    )


def sample_net(trial) -> NetConfig:
    dropout = trial.suggest_categorical("dropout", DROPOUTS)
    same = trial.suggest_categorical("same_padding", [False, True])
    kernel1 = trial.suggest_categorical("kernel1", [3, 5])
    blocks = trial.suggest_int("blocks", 2, 3)
    layers: list[ConvLayer] = []
    size = 28  # side of the feature map so far
    for b in range(1, blocks + 1):
        kernel = kernel1 if b == 1 else 3  # 5x5 later on mostly collapses the small maps
        low, high = FIRST_WIDTHS if b == 1 else LATER_WIDTHS
        convs = trial.suggest_int(f"convs{b}", 1, MAX_CONVS[b])
        for i in range(1, convs + 1):
            width = trial.suggest_int(f"w{b}_{i}", low, high, step=2)
            # Unpadded convs shrink the map; once it is small, pad rather than collapse it.
            pad = kernel // 2 if same or size - kernel + 1 < 3 else 0
            size += 2 * pad - kernel + 1
            layers.append(ConvLayer(width, kernel, padding=pad, bn=True, dropout=dropout if i == convs else 0.0))
        last = b == blocks
        # The last block may pool, where its map is still 2x2 or larger.
        pool = (trial.suggest_categorical("pool_last", [False, True]) if size >= 2 else False) if last else True
        layers[-1].pool = pool
        size //= 2 if pool else 1
        if not last:
            squeeze = trial.suggest_int(f"squeeze{b}", *SQUEEZE_WIDTHS, step=2)
            if squeeze:
                layers.append(ConvLayer(squeeze, 1, bn=True))
    head = trial.suggest_categorical("head", HEADS)
    if head == "conv_gap":
        layers.append(ConvLayer(10, 1, relu=False))
        return NetConfig(layers, Head(pool="gap", linear=False))
    if head == "gap_fc":
        return NetConfig(layers, Head(pool="gap"))
    return NetConfig(layers, Head(pool="flatten"))


def training_params(r: Recipe) -> dict:
    """A recipe as this space's training parameters, clipped into their ranges."""
    optimizer = "adamw" if r.optimizer in ("adam", "adamw") else "sgd"
    low, high = LR_RANGES[optimizer]
    mom_name, mlo, mhi = MOMENTUM_RANGES[optimizer]
    strength = max(
        r.augment.rotate / FULL_AUGMENT.rotate,
        r.augment.translate / FULL_AUGMENT.translate,
        r.augment.crop_p / FULL_AUGMENT.crop_p,
    )
    return {
        "optimizer": optimizer,
        f"{optimizer}_lr": min(high, max(low, r.lr)),
        mom_name: min(mhi, max(mlo, r.momentum)),
        "weight_decay": min(WEIGHT_DECAY[1], max(WEIGHT_DECAY[0], r.weight_decay or WEIGHT_DECAY[0])),
        "batch_size": min(BATCH_SIZES, key=lambda b: abs(b - r.batch_size)),
        "aug": min(1.0, strength),
    }


def net_params(config: NetConfig) -> dict:
    """The architecture parameters whose sampling builds `config`; ValueError if it is no point of the space."""
    layers = [ConvLayer(**vars(layer)) for layer in config.layers]
    head = config.head
    if head.pool == "gap" and not head.linear and layers and (layers[-1].channels, layers[-1].kernel) == (10, 1):
        name = "conv_gap"
        layers.pop()
    elif head.linear and not head.hidden:
        name = "gap_fc" if head.pool == "gap" else "flatten_fc"
    else:
        raise ValueError("its head is not one of the space's (1x1 conv + GAP, GAP + FC, flatten + FC)")
    p: dict = {"head": name, "kernel1": layers[0].kernel if layers else 3}
    blocks: list[list[ConvLayer]] = [[]]
    dropouts = set()
    for layer in layers:
        if layer.kernel == 1 and blocks[-1] == [] and len(blocks) > 1:
            p[f"squeeze{len(blocks) - 1}"] = layer.channels  # the 1x1 right after a pool
            continue
        blocks[-1].append(layer)
        if layer.pool:
            dropouts.add(layer.dropout)
            blocks.append([])
    if blocks[-1]:
        dropouts.add(blocks[-1][-1].dropout)
        p["pool_last"] = False
    else:
        blocks.pop()
        p["pool_last"] = True
    if not 2 <= len(blocks) <= 3 or len(dropouts) > 1:
        raise ValueError("it needs 2-3 pooled blocks with one dropout rate")
    p["blocks"], p["dropout"] = len(blocks), dropouts.pop()
    for b, convs in enumerate(blocks, 1):
        p[f"convs{b}"] = len(convs)
        if b < len(blocks):
            p.setdefault(f"squeeze{b}", 0)
        for i, layer in enumerate(convs, 1):
            p[f"w{b}_{i}"] = layer.channels
    for same in (False, True):  # the padding switch is whichever rebuilds the net exactly
        fixed = _Point({**p, "same_padding": same})
        try:
            if sample_net(fixed) == config:
                return dict(sorted(fixed.asked.items()))  # what sampling asks for, nothing more
        except ValueError:
            pass  # a width or count outside the space's ranges
    raise ValueError("its widths, kernels, BatchNorm or padding are outside the space")


class _Point:
    """A trial whose every answer is given, checked against the range asked for (no Optuna needed)."""

    def __init__(self, params: dict):
        self.params, self.asked = params, {}

    def _get(self, name, ok: bool):
        if name not in self.params or not ok:
            raise ValueError(f"{name}={self.params.get(name)!r} is not in the space")
        self.asked[name] = self.params[name]
        return self.params[name]

    def suggest_int(self, name, low, high, step=1):
        v = self.params.get(name)
        return self._get(name, isinstance(v, int) and low <= v <= high and (v - low) % step == 0)

    def suggest_categorical(self, name, choices):
        return self._get(name, self.params.get(name) in choices)


def point(config: NetConfig, recipe: Recipe) -> dict:
    """A net and its recipe as one point of this space (architecture and training parameters)."""
    return {**net_params(config), **training_params(recipe)}


# A net whose last conv sees less than this many pixels square is not trained (the objective records
# it as infeasible, so the sampler learns to avoid it): a digit spans ~20 px of the 28, and shallow nets
# that read it through an FC layer learn fast in a proxy trial but stop short at full fidelity (two
# searched finals of receptive field 10 and 14 px reached 98.86 % and 99.14 % validation after
# 20 epochs; gap10k, 24 px, reached 99.42 % after 15).
MIN_RECEPTIVE_FIELD = 20


class ArchSpace:
    name = NAME
    min_receptive_field = MIN_RECEPTIVE_FIELD

    def sample(self, trial) -> tuple[NetConfig, Recipe]:
        return sample_net(trial), sample_training(trial)

    def warm_starts(self) -> list[WarmStart]:
        """The warm starts, each as a point of the space (the caller keeps those within budget)."""
        return [WarmStart(k.name, point(k.config, k.recipe), k.config) for k in KNOWN]
