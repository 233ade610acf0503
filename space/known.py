"""The warm starts: nets known to be good from hand tuning (3x3 BatchNorm convs, 1x1 transitions,
a GAP head, one-cycle SGD), enqueued as a study's first trials.

These are the region a hand tuner reaches for "99.4 % under 20k parameters" on MNIST. The arch
space enqueues them as warm starts on every device, so a study starts from a model known to reach
the target at full fidelity and searches for smaller or better ones around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnistnet.model import ConvLayer as L
from mnistnet.model import Head, NetConfig
from mnistnet.recipe import Augment, Recipe

# One-cycle SGD with Nesterov to lr 0.1, batch 128, weight decay 1e-4, mild rotation and shift.
RECIPE = Recipe(
    optimizer="sgd",
    lr=0.1,
    momentum=0.9,
    nesterov=True,
    weight_decay=1e-4,
    scheduler="onecycle",
    batch_size=128,
    epochs=15,
    augment=Augment(rotate=8.0, translate=1.0),
)


def gap_net(first: list[int], second: list[int], squeeze: int) -> NetConfig:
    """Unpadded 3x3 BN convs `first`, a 2x2 max-pool, a 1x1 squeeze, 3x3 BN convs `second`,
    then a 1x1 conv to the 10 digits and global average pooling."""
    layers = [L(w, 3, bn=True) for w in first]
    layers[-1].pool = True
    layers.append(L(squeeze, 1, bn=True))
    layers += [L(w, 3, bn=True) for w in second]
    layers.append(L(10, 1, relu=False))
    return NetConfig(layers, Head(pool="gap", linear=False))


@dataclass(frozen=True)
class Known:
    name: str
    config: NetConfig
    recipe: Recipe


KNOWN = [
    Known("gap8k", gap_net([8, 10, 14], [10, 14, 14, 12], 8), RECIPE),
    Known("gap10k", gap_net([8, 12, 16], [12, 16, 16, 14], 10), RECIPE),
]


def base_net(name: str):
    """(NetConfig, Recipe) of a source preset or a warm start, by name; KeyError if neither."""
    from mnistnet import presets

    for k in KNOWN:
        if k.name == name:
            return k.config, k.recipe
    if name in presets.PRESETS:
        p = presets.get(name)
        return p.config, p.recipe
    raise KeyError(
        f"unknown base net {name!r}; choose a preset ({', '.join(presets.PRESETS)}) "
        f"or a warm start ({', '.join(k.name for k in KNOWN)})"
    )
