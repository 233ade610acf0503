"""Per-device trial budgets: how much data, how many epochs, how much compute a trial may use.

The CPU profile is sized for 2-core machines: `mnist-search run --trials 100` should end within
about 20 minutes and still find a >= 97 % model. The GPU profile trains on the full training split
for a real epoch budget.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    subset: int | None  # training images per trial (None: all 55,000)
    epochs: int
    max_macs: int | None  # multiply-accumulates per image a sampled net may cost

    def describe(self) -> str:
        images = f"{self.subset:,} training images" if self.subset else "all 55,000 training images"
        macs = f"MACs <= {self.max_macs:,} per image" if self.max_macs else "no MACs bound"
        return f"profile {self.name}: {images}, {self.epochs} epochs per trial, {macs}"


CPU = Profile("cpu", subset=8000, epochs=4, max_macs=1_500_000)
GPU = Profile("gpu", subset=None, epochs=16, max_macs=None)
OVERRIDE_HINT = "override with --subset N|all, --epochs E, --max-macs M"


def for_device(device_type: str, subset=None, epochs=None, max_macs=None) -> Profile:
    """The device's profile with any explicit overrides applied (subset 0 means all images)."""
    p = GPU if device_type == "cuda" else CPU
    if subset is not None:
        p = replace(p, subset=subset or None)
    if epochs is not None:
        p = replace(p, epochs=epochs)
    if max_macs is not None:
        p = replace(p, max_macs=max_macs or None)
    return p
