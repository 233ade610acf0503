"""How many random points of the arch space a run's budget lets train, by head (no training).

Usage:
    .venv/bin/python bench/space_feasibility.py [--points 3000] [--max-params 20000] [--max-macs 2000000]

Draws points with Optuna's RandomSampler (what TPE's random start draws), traces each net's
parameters, MACs and receptive field, and prints the share within the budget (the cpu profile's by
default) for each head. Why it matters: search/sampling.py.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402

from mnistnet.model import ConfigError, trace  # noqa: E402
from search.engine import Budget  # noqa: E402
from space.arch import ArchSpace  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=3000)
    ap.add_argument("--max-params", type=int, default=20000)
    ap.add_argument("--max-macs", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    space = ArchSpace()
    budget = Budget.for_space(space, args.max_params, args.max_macs)
    drawn, within = Counter(), Counter()

    def objective(trial):
        config, _ = space.sample(trial)
        head = trial.params["head"]
        drawn[head] += 1
        try:
            within[head] += all(excess <= 0 for excess in budget.excess(trace(config)))
        except ConfigError:
            pass  # an impossible net: not within any budget
        return 0.0

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
    study.optimize(objective, n_trials=args.points)
    print(f"{args.points} random points, budget {args.max_params:,} params, {args.max_macs:,} MACs")
    for head in sorted(drawn):
        print(f"  {head:<10} {within[head]:>5} of {drawn[head]:>5} within budget ({within[head] / drawn[head]:.0%})")
    total = sum(within.values())
    print(f"  {'all':<10} {total:>5} of {args.points:>5} within budget ({total / args.points:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
