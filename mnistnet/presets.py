"""The five source projects' models and recipes, reproduced as NetConfigs: three distinct nets.

Each is named by its architecture, as the warm starts are (gap8k: a GAP head, 7.8k parameters):
- fc593k: seed000 and seed003 (ERA S5), 593,200 parameters, FC head;
- gap16k: seed001, 16,478 parameters, 1x1 conv + global average pooling;
- fc22k: seed002 and seed004 (the classic PyTorch example), 21,840 parameters, FC head.
The source projects' names (seed000 ... seed004) stay as aliases, so commands and studies that
name them still resolve. tests/test_presets.py holds the counts to the source projects'.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import ConvLayer as L
from .model import Head, NetConfig
from .recipe import Augment, Recipe


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: NetConfig
    recipe: Recipe
    sources: tuple[str, ...] = ()  # the source projects' names for it, aliases of `name`


# The ERA S5 train transform: 10 % of images center-cropped to 22 and resized back, rotation +-15 deg.
ERA_AUGMENT = Augment(rotate=15.0, crop_p=0.1, crop_size=22)


def _era_net() -> NetConfig:
    return NetConfig([L(32, 3), L(64, 3, pool=True), L(128, 3), L(256, 3, pool=True)], Head(pool="flatten", hidden=50))


def _era_recipe() -> Recipe:
    return Recipe(
        optimizer="sgd",
        lr=0.01,
        momentum=0.9,
        scheduler="step",
        step_size=15,
        gamma=0.1,
        batch_size=512,
        epochs=20,
        augment=ERA_AUGMENT,
    )


def _seed001_net() -> NetConfig:
    return NetConfig(
        [
            L(128, 3, bn=True),
            L(4, 3, relu=False),  # the source's first 1x1-style squeeze: a 3x3 conv to 4 channels
            L(16, 3, bn=True, pool=True),
            L(16, 3, bn=True, dropout=0.1),
            L(16, 3, relu=False),
            L(32, 3, bn=True, pool=True),
            L(10, 1, relu=False),  # 1x1 to the 10 digits, then global average pooling
        ],
        Head(pool="gap", linear=False),
    )


def _classic_net() -> NetConfig:
    return NetConfig(
        [L(10, 5, pool=True), L(20, 5, dropout=0.5, pool=True)], Head(pool="flatten", hidden=50, dropout=0.5)
    )


def _classic_recipe() -> Recipe:
    return Recipe(optimizer="adam", lr=1e-3, momentum=0.9, batch_size=100, epochs=10)


class _Presets(dict):
    """The presets by name; an old source name (seed000 ... seed004) finds its preset too, while
    iterating gives each preset once, under its name."""

    def __getitem__(self, name):
        return dict.__getitem__(self, ALIASES.get(name, name))

    def __contains__(self, name):
        return dict.__contains__(self, ALIASES.get(name, name))

    def get(self, name, default=None):
        return self[name] if name in self else default


PRESETS: dict[str, Preset] = _Presets(
    {
        p.name: p
        for p in [
            Preset(
                "fc593k",
                "ERA S5 Net: conv 32-64-128-256, two max-pools, FC 4096-50-10; SGD, StepLR, "
                "batch 512, 20 epochs, crop+rotate augmentation (seed003: the same net and recipe)",
                _era_net(),
                _era_recipe(),
                ("seed000", "seed003"),
            ),
            Preset(
                "gap16k",
                "16.5k-parameter BN/dropout net ending in a 1x1 conv and global average pooling; SGD 0.01/0.9, StepLR",
                _seed001_net(),
                Recipe(
                    optimizer="sgd",
                    lr=0.01,
                    momentum=0.9,
                    scheduler="step",
                    step_size=6,
                    gamma=0.1,
                    batch_size=128,
                    epochs=15,
                ),
                ("seed001",),
            ),
            Preset(
                "fc22k",
                "classic PyTorch example: conv 10-20 (k5), dropout, FC 320-50-10; Adam 1e-3, "
                "batch 100, 10 epochs (seed004: the same net and recipe)",
                _classic_net(),
                _classic_recipe(),
                ("seed002", "seed004"),
            ),
        ]
    }
)
# The source projects' names, kept so that `--preset seed002`, `--base seed001` and studies made with
# them still resolve.
ALIASES: dict[str, str] = {old: p.name for p in PRESETS.values() for old in p.sources}


def canonical(name: str) -> str:
    """A preset's name for `name` (itself, or the preset an old source name stands for)."""
    return ALIASES.get(name, name)


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)} "
            f"(or a source project's name: {', '.join(ALIASES)})"
        )
    return PRESETS[name]
