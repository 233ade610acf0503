"""`mnist-search presets`: the source projects' models with their sizes (and the projects' names for them);
with --results, what each reached when trained to the end with its source's own recipe."""

from __future__ import annotations

from mnistnet import preset_results, presets
from mnistnet.model import count_macs, count_params


def main(args) -> int:
    if getattr(args, "results", False):
        return results()
    print(f"{'preset':<9}{'params':>10}{'MACs':>13}  {'also named':<18}description")
    for p in presets.PRESETS.values():
        print(
            f"{p.name:<9}{count_params(p.config):>10,}{count_macs(p.config):>13,}  {', '.join(p.sources):<18}"
            f"{p.description}"
        )
    return 0


def percent(mean: float, std: float | None) -> str:
    return f"{mean:.2%}" + (f" ± {std * 100:.2f}" if std is not None else " (1 seed)")


def results() -> int:
    rows = preset_results.load()
    if not rows:
        print("no preset has been measured yet: bench/preset_claims.py trains them with their sources' recipes")
        return 0
    print(
        f"{'preset':<22}{'params':>9}{'MACs':>12}  {'claim':<12}{'validation':<18}{'test':<18}"
        f"{'test-selected':<15}{'minutes':>8}  seeds"
    )
    for r in rows:
        claim = f"{r['claim']:.1%}" if r.get("claim") else "none stated"
        selected = f"{r['test_selected_mean']:.2%}" if r.get("test_selected_mean") is not None else "-"
        minutes = f"{r['minutes']:.1f}" if r.get("minutes") is not None else "-"
        print(
            f"{r['preset']:<22}{r['params']:>9,}{r['macs']:>12,}  {claim:<12}"
            f"{percent(r['val_acc_mean'], r['val_acc_std']):<18}{percent(r['test_acc_mean'], r['test_acc_std']):<18}"
            f"{selected:<15}{minutes:>8}  {len(r['seeds'])}"
        )
    cpus = sorted({r["cpu"] for r in rows if r.get("cpu")})
    print(
        f"validation: the best epoch's, over the seeds; test: that epoch's weights, tested once; test-selected: the"
        f" best epoch by test accuracy, as the sources quoted it (optimistic). Measured on: {', '.join(cpus)}"
    )
    return 0
