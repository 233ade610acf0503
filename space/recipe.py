"""The `recipe` space: the knobs the source projects ask users to turn by hand, on a fixed base net.

Batch size, learning rate (log scale), momentum and kernel size; the architecture is the base
preset's (`--base`), with every non-1x1 kernel set to the sampled size and its padding adjusted so
the feature maps keep the base net's sizes where possible.
"""
from __future__ import annotations

from dataclasses import replace

from mnistnet import presets
from mnistnet.model import NetConfig
from mnistnet.recipe import Recipe

from .warm import WarmStart

NAME = "recipe"
DESCRIPTION = "batch size, learning rate, momentum and kernel size on a fixed base preset (--base)"
BATCH_SIZES = [32, 64, 100, 128, 256, 512]
KERNELS = [3, 5, 7]


def with_kernel(config: NetConfig, kernel: int) -> NetConfig:
    layers = []
    for layer in config.layers:
        if layer.kernel == 1:
            layers.append(layer)
            continue
        padding = max(0, layer.padding + (kernel - layer.kernel) // 2)
        layers.append(replace(layer, kernel=kernel, padding=padding))
    return NetConfig(layers, config.head)


class RecipeSpace:
    name = NAME

    def __init__(self, base: str = "seed001"):
        self.base = presets.get(base)

    def sample(self, trial) -> tuple[NetConfig, Recipe]:
        batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
        lr = trial.suggest_float("lr", 1e-4, 0.3, log=True)
        momentum = trial.suggest_float("momentum", 0.5, 0.99)
        kernel = trial.suggest_categorical("kernel", KERNELS)
        recipe = self.base.recipe.replace(batch_size=batch_size, lr=lr, momentum=momentum)
        return with_kernel(self.base.config, kernel), recipe

    def warm_starts(self) -> list[WarmStart]:
        """The base preset's own settings, to be tried first."""
        r = self.base.recipe
        kernel = max(layer.kernel for layer in self.base.config.layers)
        params = {"batch_size": r.batch_size, "lr": r.lr, "momentum": r.momentum, "kernel": kernel}
        return [WarmStart(self.base.name, params, self.base.config)]
