"""`mnist-search report`: one self-contained plotly HTML page about a study.

Sections: optimization history; Pareto front (validation accuracy vs parameters, log axis) with the
source presets as reference lines; hyperparameter importances; parallel coordinates; intermediate
values (what pruning cut); training curves of the best trials; a table of the best models.
Over-budget trials (value 0, never trained) are left out of every plot.
"""
from __future__ import annotations

import html
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from mnistnet.model import count_params
from mnistnet.presets import PRESETS
from mnistnet.rundir import write_atomic

from . import fronts
from .objective import INFEASIBLE_ATTR
from .storage import open_storage
from .study import pick_study

TOP = 10


def trained_view(study: optuna.Study) -> optuna.Study:
    """An in-memory copy of the study holding only the trials that actually trained."""
    view = optuna.create_study(directions=study.directions)
    view.add_trials([t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
                     if INFEASIBLE_ATTR not in t.user_attrs])
    return view


def pareto_figure(study: optuna.Study):
    import plotly.graph_objects as go

    trials = fronts.feasible(study)
    front = fronts.pareto_front(trials)
    fig = go.Figure()
    fig.add_scatter(x=[t.user_attrs["params"] for t in trials], y=[fronts.accuracy(t) for t in trials],
                    mode="markers", name="trials", text=[f"trial {t.number}" for t in trials],
                    marker=dict(color="lightsteelblue", size=8))
    fig.add_scatter(x=[t.user_attrs["params"] for t in front], y=[fronts.accuracy(t) for t in front],
                    mode="lines+markers", name="Pareto front", text=[f"trial {t.number}" for t in front],
                    line=dict(shape="hv", color="crimson"))
    seen = set()
    for p in PRESETS.values():
        n = count_params(p.config)
        if n in seen:
            continue
        seen.add(n)
        names = "/".join(q.name for q in PRESETS.values() if count_params(q.config) == n)
        fig.add_vline(x=n, line_dash="dot", line_color="gray", annotation_text=f"{names} ({n:,})",
                      annotation_textangle=-90)
    fig.update_xaxes(type="log", title="parameters (log scale)")
    fig.update_yaxes(title="validation accuracy", tickformat=".1%")
    fig.update_layout(title="Validation accuracy vs parameters (source presets as reference lines)")
    return fig


def curves_figure(study: optuna.Study):
    import plotly.graph_objects as go

    best = sorted(fronts.feasible(study), key=fronts.accuracy, reverse=True)[:5]
    fig = go.Figure()
    for t in best:
        curve = t.user_attrs.get("val_acc_curve", [])
        fig.add_scatter(x=list(range(1, len(curve) + 1)), y=curve, mode="lines+markers",
                        name=f"trial {t.number} ({t.user_attrs['params']:,} params)")
    fig.update_layout(title="Validation accuracy per epoch of the best trials", xaxis_title="epoch",
                      yaxis_title="validation accuracy", yaxis_tickformat=".1%")
    return fig


def table_figure(study: optuna.Study):
    import plotly.graph_objects as go

    best = sorted(fronts.feasible(study), key=lambda t: (-fronts.accuracy(t), t.user_attrs["params"]))[:TOP]
    cols = ["trial", "val acc", "params", "MACs", "epochs", "seconds", "preset"]
    cells = [[t.number for t in best], [f"{fronts.accuracy(t):.2%}" for t in best],
             [f"{t.user_attrs['params']:,}" for t in best], [f"{t.user_attrs['macs']:,}" for t in best],
             [t.user_attrs.get("epochs_trained", "") for t in best],
             [t.user_attrs.get("seconds", "") for t in best], [fronts.label(t) for t in best]]
    fig = go.Figure(go.Table(header=dict(values=cols), cells=dict(values=cells)))
    fig.update_layout(title=f"The {len(best)} best models")
    return fig


def sections(study: optuna.Study) -> list[tuple[str, object]]:
    """(title, figure or explanation) for each part of the report."""
    import optuna.visualization as vis

    view = trained_view(study)
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    name = "validation accuracy"
    out: list[tuple[str, object]] = []

    def add(title, make):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append((title, make()))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            out.append((title, f"not available: {exc}"))

    add("Optimization history", lambda: vis.plot_optimization_history(view, target=target, target_name=name))
    add("Pareto front", lambda: pareto_figure(study))
    add("Hyperparameter importances", lambda: vis.plot_param_importances(
        view, target=target, target_name=name,
        evaluator=optuna.importance.PedAnovaImportanceEvaluator()))
    add("Parallel coordinates", lambda: vis.plot_parallel_coordinate(view, target=target, target_name=name))
    if len(study.directions) == 1:
        add("Intermediate values (pruned trials stop early)", lambda: vis.plot_intermediate_values(view))
    else:
        out.append(("Intermediate values", "multi-objective trials are never pruned"))
    add("Training curves of the best trials", lambda: curves_figure(study))
    add("Best models", lambda: table_figure(study))
    return out


def render(study: optuna.Study) -> str:
    parts = [f"<h1>mnist-search study {html.escape(study.study_name)}</h1>",
             f"<p>{html.escape(fronts.describe_counts(study))}</p>"]
    first = True
    for title, body in sections(study):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p><em>{html.escape(body)}</em></p>")
        else:
            # plotly.js is inlined once, so the page needs no network.
            parts.append(body.to_html(full_html=False, include_plotlyjs=first))
            first = False
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>mnist-search report</title></head>"
            "<body style='font-family: sans-serif'>" + "\n".join(parts) + "</body></html>")


def run_report(args) -> int:
    storage = open_storage(args.storage, create=False, heartbeat=False)
    study = pick_study(args.storage, args.study, storage)
    out = Path(args.out or Path("studies") / "reports")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{study.study_name}.html"
    write_atomic(path, render(study))
    print(f"report written to {path}")
    return 0
