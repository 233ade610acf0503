"""A study as one self-contained plotly HTML page (`mnist-search report`).

Sections: the answer and the finals (with the proxy-to-final rank correlation); optimization
history; Pareto front (validation accuracy vs parameters, log axis) with the source presets as
reference lines and, where bench/preset_claims.py has measured them, as points; hyperparameter importances; parallel coordinates; intermediate values (what
pruning cut); training curves of the best trials; a table of the best models. Trials that never
trained (over budget) are in no plot. Accuracy axes zoom to the trained trials, so tenths of a
percent are visible.
"""

from __future__ import annotations

import html
import math
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from mnistnet import preset_results
from mnistnet.model import count_params
from mnistnet.presets import PRESETS
from mnistnet.rundir import write_atomic

from .. import records
from ..engine import confirmation, selection
from ..storage import disk
from ._tables import answer_line, describe_counts

TOP = 10
ACC_FORMAT = ".2%"
# Published hand-tuned MNIST nets: (parameters, test accuracy in %, as published), each the best test
# epoch of a single run, so selected on the test set and optimistic; for reference, never in selection.
PUBLISHED = [(p, pct / 100) for p, pct in ((4_838, 99.42), (6_174, 99.47), (7_918, 99.52), (19_678, 99.56))]


def trained_view(study: optuna.Study, stage: str = records.PROXY) -> optuna.Study:
    """An in-memory copy holding the trials of one stage that actually trained (complete or pruned)."""

    def trained(t) -> bool:
        if records.stage(t) != stage or records.CONFIG not in t.user_attrs or not records.is_feasible(t):
            return False
        return t.state == TrialState.COMPLETE or (t.state == TrialState.PRUNED and bool(t.intermediate_values))

    view = optuna.create_study(directions=study.directions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        view.set_metric_names(study.metric_names or selection_names(study))
    view.add_trials([t for t in study.get_trials(deepcopy=False) if trained(t)])
    return view


def selection_names(study: optuna.Study) -> list[str]:
    return ["validation accuracy", "parameters"][: len(study.directions)]


def zoom(values) -> list[float] | None:
    """A y range showing the good trials in detail: from the 20th percentile to the best, padded.
    (Dead configs near 10 % would otherwise squash 98.2 % and 99.4 % onto one line.)"""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    lo, hi = values[int(0.2 * (len(values) - 1))], values[-1]
    pad = max(0.002, 0.08 * (hi - lo))
    return [max(0.0, lo - pad), min(1.0, hi + pad)]


def drawn(fig) -> list[float]:
    """Every y value a figure's traces draw (numbers only)."""
    return [
        float(v)
        for trace in fig.data
        for v in (getattr(trace, "y", None) or ())
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def highest(fig) -> list[float]:
    """[the highest y value the figure draws], or [] when it draws none."""
    values = drawn(fig)
    return [max(values)] if values else []


def pareto_figure(study: optuna.Study):
    import plotly.graph_objects as go

    trials = selection.trained(study, records.PROXY)
    finals = selection.trained(study, records.FINAL)
    front = selection.pareto_front(trials)
    fig = go.Figure()
    fig.add_scatter(
        x=[records.params(t) for t in trials],
        y=[records.accuracy(t) for t in trials],
        mode="markers",
        name="proxy trials",
        text=[f"trial {t.number}" for t in trials],
        marker=dict(color="lightsteelblue", size=8),
    )
    fig.add_scatter(
        x=[records.params(t) for t in front],
        y=[records.accuracy(t) for t in front],
        mode="lines+markers",
        name="proxy Pareto front",
        text=[f"trial {t.number}" for t in front],
        line=dict(shape="hv", color="crimson"),
    )
    if finals:
        fig.add_scatter(
            x=[records.params(t) for t in finals],
            y=[records.accuracy(t) for t in finals],
            mode="markers",
            name="finals (full fidelity)",
            text=[f"trial {t.number}" for t in finals],
            marker=dict(color="darkgreen", size=12, symbol="diamond"),
        )
        nets = confirmation.nets(study)
        ff = selection.pareto_front(nets, score=lambda n: n.mean, size=lambda n: n.params)
        fig.add_scatter(
            x=[n.params for n in ff],
            y=[n.mean for n in ff],
            mode="lines+markers",
            name="full-fidelity front (each net's mean over its seeds)",
            text=[f"trial {n.key}: {n.describe()}" for n in ff],
            line=dict(shape="hv", color="darkgreen"),
        )
    fig.add_scatter(
        x=[p for p, _ in PUBLISHED],
        y=[a for _, a in PUBLISHED],
        mode="markers",
        name="published hand-tuned nets (test accuracy, best epoch: optimistic)",
        text=[f"{a:.2%} test at {p:,} params, selected on the test set" for p, a in PUBLISHED],
        marker=dict(color="black", size=10, symbol="x"),
    )
    measured = [r for r in preset_results.load() if r["preset"] in PRESETS]  # not the answer row
    if measured:
        fig.add_scatter(
            x=[r["params"] for r in measured],
            y=[r["val_acc_mean"] for r in measured],
            error_y=dict(array=[r["val_acc_std"] or 0 for r in measured]),
            mode="markers",
            name="source presets, their own recipes (validation mean ± std over seeds)",
            text=[
                f"{r['preset']}: {r['val_acc_mean']:.2%} validation, {r['test_acc_mean']:.2%} test" for r in measured
            ],
            marker=dict(color="dimgray", size=11, symbol="square"),
        )
    target = records.target_acc(study)
    fig.add_hline(y=target, line_dash="dash", line_color="gray", annotation_text=f"target {target:.2%}")
    for p in PRESETS.values():
        n = count_params(p.config)
        names = f"{p.name} = {'/'.join(p.sources)}" if p.sources else p.name
        fig.add_vline(x=n, line_dash="dot", line_color="gray")
        fig.add_annotation(
            x=math.log10(n),
            y=1,
            xref="x",
            yref="paper",
            text=f"{names} ({n:,})",
            showarrow=False,
            textangle=-90,
            xanchor="right",
            yanchor="top",
            font=dict(size=10, color="gray"),
        )
    fig.update_xaxes(type="log", title="parameters (log scale)")
    fig.update_yaxes(
        title="validation accuracy",
        tickformat=ACC_FORMAT,
        range=zoom(
            [records.accuracy(t) for t in trials + finals]
            + [a for _, a in PUBLISHED]
            + [r["val_acc_mean"] for r in measured]
        ),
    )
    fig.update_layout(
        title="Validation accuracy vs parameters (source presets as reference lines"
        + (", and as points where measured)" if measured else ")")
    )
    return fig


def curves_figure(study: optuna.Study):
    import plotly.graph_objects as go

    best = (
        selection.ranked(selection.trained(study, records.FINAL))[:5]
        or selection.ranked(selection.trained(study, records.PROXY))[:5]
    )
    fig = go.Figure()
    for t in best:
        curve = records.curve(t)
        fig.add_scatter(
            x=list(range(1, len(curve) + 1)),
            y=curve,
            mode="lines+markers",
            name=f"trial {t.number} ({records.stage(t)}, {records.params(t):,} params)",
        )
    fig.update_layout(
        title="Validation accuracy per epoch of the best trials",
        xaxis_title="epoch",
        yaxis_title="validation accuracy",
        yaxis_tickformat=ACC_FORMAT,
    )
    fig.update_yaxes(range=zoom([v for t in best for v in records.curve(t)[len(records.curve(t)) // 2 :]]))
    return fig


def table_figure(trials, title: str):
    import plotly.graph_objects as go

    cols = ["trial", "stage", "val acc", "params", "MACs", "epochs", "seconds", "note"]
    cells = [
        [t.number for t in trials],
        [records.stage(t) for t in trials],
        [f"{records.accuracy(t):.2%}" for t in trials],
        [f"{records.params(t):,}" for t in trials],
        [f"{records.macs(t):,}" for t in trials],
        [records.epochs_trained(t) for t in trials],
        [records.seconds(t) for t in trials],
        [
            (f"final of {records.final_of(t)}, seed {records.train_seed(t)} " if records.is_final(t) else "")
            + records.preset(t)
            for t in trials
        ],
    ]
    fig = go.Figure(go.Table(header=dict(values=cols), cells=dict(values=cells)))
    fig.update_layout(title=title, height=160 + 28 * len(trials), margin=dict(t=50, b=10))
    return fig


def rank_figure(study: optuna.Study):
    import plotly.graph_objects as go

    pairs = selection.proxy_vs_final(study)
    fig = go.Figure()
    fig.add_scatter(
        x=[records.accuracy(p) for p, _ in pairs],
        y=[n.mean for _, n in pairs],
        mode="markers+text",
        text=[f"trial {p.number}" + (f" ({n.count} seeds)" if n.count > 1 else "") for p, n in pairs],
        textposition="top center",
        marker=dict(size=10),
    )
    rho = selection.ranking_quality(study)
    fig.update_layout(
        title=f"Proxy score vs full-fidelity validation accuracy (Spearman "
        f"{'n/a' if rho is None else f'{rho:+.2f}'} over {len(pairs)} nets)",
        xaxis_title="proxy validation accuracy",
        yaxis_title="final validation accuracy (mean over seeds)",
        xaxis_tickformat=ACC_FORMAT,
        yaxis_tickformat=ACC_FORMAT,
    )
    fig.update_xaxes(range=zoom([records.accuracy(p) for p, _ in pairs]))
    fig.update_yaxes(range=zoom([n.mean for _, n in pairs]))
    return fig


def nets_figure(study: optuna.Study):
    """One row per net at full fidelity: each seed's validation accuracy, the mean ± std, the verdict."""
    import plotly.graph_objects as go

    needed, target = records.confirm_seeds(study), records.target_acc(study)
    nets = confirmation.nets(study)
    cols = ["trial", "params", "seeds", "validation accuracy by seed", "mean", "std", "counts toward the answer"]
    cells = [
        [n.key for n in nets],
        [f"{n.params:,}" for n in nets],
        [n.count for n in nets],
        [", ".join(f"{a:.2%} (seed {s})" for a, s in zip(n.accs, n.seeds)) for n in nets],
        [f"{n.mean:.2%}" for n in nets],
        [f"{n.std:.2%}" for n in nets],
        [
            ("yes, at the target" if n.mean >= target else "yes, below the target")
            if n.confirmed(needed)
            else f"not yet ({n.count} of {needed} seeds)"
            for n in nets
        ],
    ]
    fig = go.Figure(go.Table(header=dict(values=cols), cells=dict(values=cells), columnwidth=[1, 1, 1, 5, 1, 1, 2]))
    fig.update_layout(
        title=f"Nets at full fidelity, smallest first: the answer needs {needed} seeds and a mean >= {target:.2%}",
        height=160 + 28 * len(nets),
        margin=dict(t=50, b=10),
    )
    return fig


def sections(study: optuna.Study) -> list[tuple[str, object]]:
    """(title, figure or explanation) for each part of the report."""
    import optuna.visualization as vis

    view = trained_view(study)
    multi = len(study.directions) > 1
    # Plotted: plain validation accuracy, whatever the study's value (it may be size-adjusted or a pair).
    target, name = records.accuracy, "validation accuracy"
    accs = [records.accuracy(t) for t in view.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    out: list[tuple[str, object]] = []

    def add(title, make, yzoom=False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = make()
            fig.update_yaxes(automargin=True)
            fig.update_xaxes(automargin=True)
            if yzoom:  # the proxy trials' spread, up to the highest point the chart draws
                fig.update_yaxes(range=zoom(accs + highest(fig)), tickformat=ACC_FORMAT)
            out.append((title, fig))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            out.append((title, f"not available: {exc}"))

    finals = sorted(selection.trained(study, records.FINAL), key=lambda t: (records.params(t), t.number))
    if finals:
        add(
            "Finals: the full-fidelity front across sizes (plotted with the proxy trials under Pareto front)",
            lambda: table_figure(finals, "Finals, smallest first"),
        )
        add("Nets at full fidelity: each seed and the mean", lambda: nets_figure(study))
        add("Ranking quality of the proxy", lambda: rank_figure(study))
    add(
        "Optimization history (proxy stage)",
        lambda: vis.plot_optimization_history(view, target=target, target_name=name),
        yzoom=True,
    )
    add("Pareto front", lambda: pareto_figure(study))
    add(
        "Hyperparameter importances",
        lambda: vis.plot_param_importances(
            view, target=target, target_name=name, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        ),
    )
    add("Parallel coordinates", lambda: vis.plot_parallel_coordinate(view, target=target, target_name=name))
    if not multi:
        add("Intermediate values (pruned trials stop early)", lambda: vis.plot_intermediate_values(view), yzoom=True)
    else:
        out.append(("Intermediate values", "multi-objective trials are never pruned"))
    add("Training curves of the best trials", lambda: curves_figure(study))
    best = selection.ranked(selection.trained(study, records.PROXY))[:TOP]
    add("Best proxy trials", lambda: table_figure(best, f"The {len(best)} best proxy trials"))
    return out


def headline(study: optuna.Study) -> str:
    a = selection.find_answer(study)
    if a is None:
        return "No trial has trained to the end within budget yet."
    line = answer_line(study, a)
    return f"{line[0].upper()}{line[1:]}. Export it with `mnist-search export --study {study.study_name} --out DIR`."


def render(study: optuna.Study) -> str:
    parts = [
        f"<h1>mnist-search study {html.escape(study.study_name)}</h1>",
        f"<p>{html.escape(describe_counts(study))}</p>",
        f"<p><strong>{html.escape(headline(study))}</strong></p>",
    ]
    first = True
    for title, body in sections(study):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p><em>{html.escape(body)}</em></p>")
        else:
            # plotly.js is inlined once, so the page needs no network.
            parts.append(body.to_html(full_html=False, include_plotlyjs=first, default_width="100%"))
            first = False
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mnist-search report</title></head>"
        "<body style='font-family: sans-serif; max-width: 1200px; margin: auto'>" + "\n".join(parts) + "</body></html>"
    )


def write_report(study: optuna.Study, folder: Path) -> Path:
    """Write STUDY.html into `folder`, whole or not at all; WriteFailed (one line) when the disk refuses."""
    path = folder / f"{study.study_name}.html"
    page = render(study)
    with disk.writing(path, "or choose another --out"):
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, page)
    return path
