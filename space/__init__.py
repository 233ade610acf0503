"""Named search spaces: each maps an Optuna trial to a (NetConfig, Recipe).

A space knows Optuna only through `trial.suggest_*` and `trial.user_attrs`.
"""
from __future__ import annotations

from . import arch, recipe
from .warm import PRESET_ATTR, WarmStart

SPACES = {arch.NAME: arch.DESCRIPTION, recipe.NAME: recipe.DESCRIPTION}
DEFAULT = arch.NAME


def get(name: str, base: str = "seed001"):
    """A space object with `.name`, `.sample(trial)` and `.warm_starts()`."""
    if name == arch.NAME:
        return arch.ArchSpace()
    if name == recipe.NAME:
        return recipe.RecipeSpace(base)
    raise KeyError(f"unknown space {name!r}; choose one of: {', '.join(SPACES)}")


__all__ = ["SPACES", "DEFAULT", "get", "PRESET_ATTR", "WarmStart"]
