"""The `recipe` space: the knobs the source projects ask users to turn by hand, on a fixed base net.

Batch size, learning rate (log scale), momentum and kernel size; the architecture is the base
net's (`--base`: a preset or a warm start; the device profile picks one that fits its budget).
The kernel knob sets the first conv's kernel, where the strokes are read, with its padding
adjusted to keep the feature maps' sizes: changing every kernel would take the small nets far
over the 20k-parameter budget (a 7x7 seed001 has 3x its parameters).
"""

from __future__ import annotations

from dataclasses import replace

from mnistnet.model import NetConfig
from mnistnet.recipe import Recipe

from .known import base_net
from .warm import WarmStart

NAME = "recipe"
DESCRIPTION = "batch size, learning rate, momentum and first-conv kernel size on a fixed base net (--base)"
BATCH_SIZES = [32, 64, 100, 128, 256, 512]
KERNELS = [3, 5, 7]


def with_kernel(config: NetConfig, kernel: int) -> NetConfig:
    """The config with its first conv's kernel set to `kernel`, padded to keep its output size."""
    first = config.layers[0]
    padding = max(0, first.padding + (kernel - first.kernel) // 2)
    return NetConfig([replace(first, kernel=kernel, padding=padding), *config.layers[1:]], config.head)


class RecipeSpace:
    name = NAME

    def __init__(self, base: str = "gap8k"):
        self.base_name = base
        self.config, self.recipe = base_net(base)

    def sample(self, trial) -> tuple[NetConfig, Recipe]:
        batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
        lr = trial.suggest_float("lr", 1e-3, 0.3, log=True)
        momentum = trial.suggest_float("momentum", 0.5, 0.97)
        kernel = trial.suggest_categorical("kernel", KERNELS)
        recipe = self.recipe.replace(batch_size=batch_size, lr=lr, momentum=momentum)
        return with_kernel(self.config, kernel), recipe

    def warm_starts(self) -> list[WarmStart]:
        """The base net's own settings, to be tried first."""
        r = self.recipe
        params = {
            "batch_size": min(BATCH_SIZES, key=lambda b: abs(b - r.batch_size)),
            "lr": min(0.3, max(1e-3, r.lr)),
            "momentum": min(0.97, max(0.5, r.momentum)),
            "kernel": self.config.layers[0].kernel,
        }
        return [WarmStart(self.base_name, params, self.config)]
