"""Compare proxy-stage designs: what each study's proxy stage found, size band by size band.

Usage (after one `mnist-search run --finals 0 --objective X --study design-X --storage URL` per design):
    .venv/bin/python bench/proxy_designs.py sqlite:///DIR/designs-size.db:design-size ... [--out FILE]

For each study: trials trained (complete or stopped after training), infeasible, wall time; how many
trained nets fell in each size band and the best proxy validation accuracy there (completed trials);
the median size of the trained nets in the first and second half of the study; and the finalists
that the run's selection would retrain (search.engine.selection.finalists, K=4).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from search import records  # noqa: E402
from search.engine import selection  # noqa: E402

BANDS = [(0, 5000), (5000, 8000), (8000, 12000), (12000, 20001)]


def band_name(low: int, high: int) -> str:
    return f"<{high // 1000}k" if low == 0 else f"{low // 1000}-{high // 1000}k"


def describe(url: str, name: str) -> dict:
    study = optuna.load_study(study_name=name, storage=url)
    trials = [t for t in study.get_trials(deepcopy=False) if records.stage(t) == records.PROXY]
    trained = [t for t in trials if records.curve(t) and records.is_feasible(t)]
    complete = [t for t in trained if t.state == TrialState.COMPLETE]
    infeasible = [t for t in trials if records.infeasible_reason(t)]
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    bands = {}
    for low, high in BANDS:
        inside = [t for t in trained if low <= records.params(t) < high]
        done = [records.accuracy(t) for t in complete if low <= records.params(t) < high]
        bands[band_name(low, high)] = {
            "trained": len(inside),
            "complete": len(done),
            "best_proxy_acc": max(done) if done else None,
        }
    half = len(trials) // 2

    def median_size(part):
        sizes = [records.params(t) for t in part if t in trained]
        return statistics.median(sizes) if sizes else None

    return {
        "study": name,
        "objective": study.user_attrs.get("objective"),
        "trials": len(trials),
        "trained": len(trained),
        "complete": len(complete),
        "stopped": len(trained) - len(complete),
        "infeasible": len(infeasible),
        "wall_min": round((max(ends) - min(starts)).total_seconds() / 60, 1),
        "bands": bands,
        "median_params_first_half": median_size(trials[:half]),
        "median_params_second_half": median_size(trials[half:]),
        "sampled_under_8k_at_98": sum(
            1 for t in complete if records.params(t) < 8000 and records.accuracy(t) >= 0.98 and not records.preset(t)
        ),
        "finalists": [
            {
                "trial": t.number,
                "params": records.params(t),
                "proxy_acc": records.accuracy(t),
                "enqueued": records.preset(t) or None,
            }
            for t in selection.finalists(study, 4)
        ],
    }


def table(rows: list[dict]) -> str:
    names = [band_name(*b) for b in BANDS]
    out = [
        "| design | trained (complete + stopped) | infeasible | wall min | "
        + " | ".join(f"{n}: trained, best proxy" for n in names)
        + " | median params 1st / 2nd half | sampled < 8k at >= 98 % | finalists (params @ proxy acc) |",
        "| --- | --- | ---: | ---: | " + " | ".join("---" for _ in names) + " | --- | ---: | --- |",
    ]
    for r in rows:
        cells = []
        for n in names:
            b = r["bands"][n]
            cells.append(f"{b['trained']}, " + (f"{b['best_proxy_acc']:.2%}" if b["best_proxy_acc"] else "-"))
        fin = ", ".join(
            f"{f['params']:,} @ {f['proxy_acc']:.2%}" + (f" ({f['enqueued']})" if f["enqueued"] else "")
            for f in r["finalists"]
        )
        out.append(
            f"| {r['objective']} | {r['trained']} ({r['complete']} + {r['stopped']}) | {r['infeasible']} | "
            f"{r['wall_min']} | "
            + " | ".join(cells)
            + f" | {r['median_params_first_half']:,.0f} / {r['median_params_second_half']:,.0f} | "
            f"{r['sampled_under_8k_at_98']} | {fin} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="+", metavar="URL:STUDY")
    ap.add_argument("--out", help="also write the figures as JSON")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = [describe(*s.rsplit(":", 1)) for s in args.studies]
    print(table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
