"""Named search spaces: each maps an Optuna trial to a (NetConfig, Recipe).

A space knows Optuna only through `trial.suggest_*` and `trial.user_attrs`.
"""

from __future__ import annotations

from . import arch, recipe
from .known import KNOWN, base_net
from .warm import PRESET_ATTR, WarmStart

SPACES = {arch.NAME: arch.DESCRIPTION, recipe.NAME: recipe.DESCRIPTION}
DEFAULT = arch.NAME


def get(name: str, base: str | None = None):
    """A space object with `.name`, `.sample(trial)` and `.warm_starts()`; KeyError if unknown."""
    if name == arch.NAME:
        return arch.ArchSpace()
    if name == recipe.NAME:
        return recipe.RecipeSpace(base or "gap8k")
    raise KeyError(f"unknown space {name!r}; choose one of: {', '.join(SPACES)}")


__all__ = ["SPACES", "DEFAULT", "get", "PRESET_ATTR", "WarmStart", "KNOWN", "base_net"]
