"""Where the pareto sampler draws next, from a finished study's proxy trials, with the second
objective as parameters or as parameters counted from PARETO_MIN_PARAMS up (no training).

Usage:
    .venv/bin/python bench/pareto_floor.py sqlite:///RUN/studies/mnist.db [--study arch] [--draws 200] [--seeds 0 1 2]

For each variant, the study's proxy trials (trained or over budget, with their parameters,
constraints and records) are copied into an in-memory study whose values are (validation accuracy,
size), size being the raw parameter count or search.engine.pareto_size of it. The project's
sampler (search.engine.make_sampler) then draws `--draws` points of the arch space from it; each
draw is traced (parameters, budget) and failed, so every draw comes from the same model. Printed:
the share of draws within budget and, of those, the share in each size band and the median size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from mnistnet.model import ConfigError, trace  # noqa: E402
from search import records  # noqa: E402
from search.engine import Budget, pareto_size  # noqa: E402
from search.engine import make_sampler  # noqa: E402
from space.arch import ArchSpace  # noqa: E402

BANDS = [(0, 4000), (4000, 8000), (8000, 12000), (12000, 10**9)]
VARIANTS = {"parameters": float, "from PARETO_MIN_PARAMS": pareto_size}


def copied(study: optuna.Study, size) -> optuna.Study:
    """An in-memory study holding `study`'s finished proxy trials, valued (accuracy, size(params))."""
    out = optuna.create_study(directions=["maximize", "minimize"])
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if records.stage(t) != records.PROXY or records.PARAMS not in t.user_attrs:
            continue
        values = None
        if t.state == TrialState.COMPLETE:
            values = [records.accuracy(t), size(records.params(t))]
        out.add_trial(
            optuna.trial.create_trial(
                state=t.state,
                values=values,
                params=t.params,
                distributions=t.distributions,
                user_attrs=t.user_attrs,
                system_attrs=t.system_attrs,
            )
        )
    return out


def draws(study: optuna.Study, n: int, seed: int, budget: Budget) -> list[int | None]:
    """Parameters of n points the sampler draws from `study` (None: over budget or impossible)."""
    study.sampler = make_sampler(seed)
    space, out = ArchSpace(), []
    for _ in range(n):
        trial = study.ask()
        config, _ = space.sample(trial)
        try:
            shape = trace(config)
            out.append(shape.params if max(budget.excess(shape)) <= 0 else None)
        except ConfigError:
            out.append(None)
        study.tell(trial, state=TrialState.FAIL)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--study", default="arch")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-params", type=int, default=20000)
    ap.add_argument("--max-macs", type=int, default=2_000_000)
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=args.study, storage=args.url)
    budget = Budget.for_space(ArchSpace(), args.max_params, args.max_macs)
    header = " | ".join(f"{low // 1000}-{high // 1000}k" if high < 10**9 else f">{low // 1000}k" for low, high in BANDS)
    print(f"| second objective | seed | within budget | {header} | median params |")
    print("| --- | ---: | ---: |" + " ---: |" * len(BANDS) + " ---: |")
    for name, size in VARIANTS.items():
        for seed in args.seeds:
            drawn = draws(copied(study, size), args.draws, seed, budget)
            ok = [p for p in drawn if p is not None]
            shares = " | ".join(f"{sum(low <= p < high for p in ok) / max(1, len(ok)):.0%}" for low, high in BANDS)
            median = f"{statistics.median(ok):,.0f}" if ok else "-"
            print(f"| {name} | {seed} | {len(ok)} / {len(drawn)} | {shares} | {median} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
