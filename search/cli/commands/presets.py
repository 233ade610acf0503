"""`mnist-search presets`: the source projects' models with their sizes (and the projects' names for them)."""

from __future__ import annotations

from mnistnet import presets
from mnistnet.model import count_macs, count_params


def main(args) -> int:
    print(f"{'preset':<9}{'params':>10}{'MACs':>13}  {'also named':<18}description")
    for p in presets.PRESETS.values():
        print(
            f"{p.name:<9}{count_params(p.config):>10,}{count_macs(p.config):>13,}  {', '.join(p.sources):<18}"
            f"{p.description}"
        )
    return 0
