"""The five source projects' models and recipes, reproduced as NetConfigs (seed002 and seed004 share one).

Parameter counts match the source projects: seed000/seed003 593,200; seed001 16,478;
seed002/seed004 21,840. tests/test_presets.py holds them to it.
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


# The ERA S5 train transform: 10 % of images center-cropped to 22 and resized back, rotation +-15 deg.
ERA_AUGMENT = Augment(rotate=15.0, crop_p=0.1, crop_size=22)


def _era_net() -> NetConfig:
    return NetConfig(
        [L(32, 3), L(64, 3, pool=True), L(128, 3), L(256, 3, pool=True)],
        Head(pool="flatten", hidden=50))


def _era_recipe() -> Recipe:
    return Recipe(optimizer="sgd", lr=0.01, momentum=0.9, scheduler="step", step_size=15, gamma=0.1,
                  batch_size=512, epochs=20, augment=ERA_AUGMENT)


def _seed001_net() -> NetConfig:
    return NetConfig([
        L(128, 3, bn=True),
        L(4, 3, relu=False),  # the source's first 1x1-style squeeze: a 3x3 conv to 4 channels
        L(16, 3, bn=True, pool=True),
        L(16, 3, bn=True, dropout=0.1),
        L(16, 3, relu=False),
        L(32, 3, bn=True, pool=True),
        L(10, 1, relu=False),  # 1x1 to the 10 digits, then global average pooling
    ], Head(pool="gap", linear=False))


def _classic_net() -> NetConfig:
    return NetConfig([L(10, 5, pool=True), L(20, 5, dropout=0.5, pool=True)],
                     Head(pool="flatten", hidden=50, dropout=0.5))


def _classic_recipe() -> Recipe:
    return Recipe(optimizer="adam", lr=1e-3, momentum=0.9, batch_size=100, epochs=10)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("seed000", "ERA S5 Net: conv 32-64-128-256, two max-pools, FC 4096-50-10; SGD, StepLR, "
           "batch 512, 20 epochs, crop+rotate augmentation", _era_net(), _era_recipe()),
    Preset("seed001", "16.5k-parameter BN/dropout net ending in a 1x1 conv and global average pooling; "
           "SGD 0.01/0.9, StepLR", _seed001_net(),
           Recipe(optimizer="sgd", lr=0.01, momentum=0.9, scheduler="step", step_size=6, gamma=0.1,
                  batch_size=128, epochs=15)),
    Preset("seed002", "classic PyTorch example: conv 10-20 (k5), dropout, FC 320-50-10; Adam 1e-3, "
           "batch 100, 10 epochs", _classic_net(), _classic_recipe()),
    Preset("seed003", "ERA S5 4-conv/2-pool/2-FC net (seed000's widths); NLL loss, the ERA S5 recipe",
           _era_net(), _era_recipe()),
    Preset("seed004", "the classic PyTorch example again (same model and recipe as seed002)",
           _classic_net(), _classic_recipe()),
]}


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]
