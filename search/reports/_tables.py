"""The study as text for people: its trial counts, the trials' tables, the finals' front as a chart, the
nets' seeds and the answer in one line, and the summary that `run`, `best` and `worker` print.

What these show is decided in search.engine (selection, confirmation); here it is only formatted.
"""

from __future__ import annotations

from collections import Counter

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import records
from ..engine import confirmation, selection


def counts(study: optuna.Study) -> Counter:
    trials = study.get_trials(deepcopy=False)
    c = Counter(t.state.name for t in trials)
    c["INFEASIBLE"] = sum(1 for t in trials if records.infeasible_reason(t) is not None)
    c["FINAL"] = sum(1 for t in trials if records.is_final(t) and t.state == TrialState.COMPLETE)
    c["RUNG"] = sum(1 for t in trials if records.is_rung(t) and t.state == TrialState.COMPLETE)
    return c


def describe_counts(study: optuna.Study) -> str:
    c = counts(study)
    parts = [
        f"{len(study.get_trials(deepcopy=False))} trials",
        f"{c['COMPLETE']} complete ({c['RUNG']} rung, {c['FINAL']} finals)"
        if c["RUNG"]
        else f"{c['COMPLETE']} complete ({c['FINAL']} finals)",
        f"{c['PRUNED'] - c['INFEASIBLE']} pruned",
        f"{c['INFEASIBLE']} infeasible (over budget, not trained)",
        f"{c['FAIL']} failed",
    ]
    if c["RUNNING"]:
        parts.append(f"{c['RUNNING']} running")
    if c["WAITING"]:
        parts.append(f"{c['WAITING']} waiting")
    return ", ".join(parts)


def table(trials, front=()) -> str:
    on_front = {t.number for t in front}
    rows = [f"{'trial':>7} {'stage':>6} {'val acc':>8} {'params':>9} {'MACs':>11} {'epochs':>6} {'seconds':>8}  note"]
    for t in trials:
        note = records.preset(t)
        if records.is_final(t):
            seed = records.train_seed(t)
            note = (
                f"final of trial {records.final_of(t)}"
                + (f", seed {seed}" if seed is not None else "")
                + (f", enqueued {note}" if note else "")
            )
        elif records.is_rung(t):
            note = f"rung of trial {records.rung_of(t)}" + (f", enqueued {note}" if note else "")
        mark = "*" if t.number in on_front else " "
        rows.append(
            f"{mark}{t.number:>6} {records.stage(t):>6} {records.accuracy(t):>8.2%} {records.params(t):>9,} "
            f"{records.macs(t):>11,} {records.epochs_trained(t):>6} {records.seconds(t):>8.1f}  {note}"
        )
    return "\n".join(rows)


def front_chart(finals, target: float, width: int = 40) -> str:
    """The finals' validation accuracy against their size, as text: one bar per net (its mean over its
    seeds), smallest first, with the target marked (the report draws the same front as a plot)."""
    by_net = {}
    for t in finals:
        by_net.setdefault(confirmation.net_key(t), []).append(t)
    means = {k: sum(map(records.accuracy, ts)) / len(ts) for k, ts in by_net.items()}
    rows = sorted(((records.params(ts[0]), k, means[k], len(ts)) for k, ts in by_net.items()))
    accs = [acc for _, _, acc, _ in rows]
    low = min(min(accs), target) - 0.001
    high = max(max(accs), target) + 0.001

    def col(acc: float) -> int:
        return round((acc - low) / (high - low) * (width - 1))

    lines = [f"{'params':>9}  {low:.2%}{' ' * (width - 12)}{high:.2%}"]
    for params, _, acc, n in rows:
        bar = ["-"] * col(acc) + ["o"] + [" "] * (width - 1 - col(acc))
        if bar[col(target)] == " ":
            bar[col(target)] = "|"
        lines.append(f"{params:>9,}  {''.join(bar)} {acc:.2%}" + (f" (mean of {n} seeds)" if n > 1 else ""))
    lines.append(f"{'':>9}  {' ' * col(target)}^ target {target:.2%}")
    return "\n".join(lines)


def summary(study: optuna.Study) -> str:
    lines = [f"study {study.study_name}: {describe_counts(study)}"]
    proxies = selection.trained(study, records.PROXY)
    if not proxies and not selection.trained(study):
        return "\n".join(lines + ["no trial has completed within budget yet"])
    if proxies:
        lines += [
            "",
            "Pareto front of the proxy stage (validation accuracy vs parameters):",
            table(selection.pareto_front(proxies)),
        ]
    rungs = selection.trained(study, records.RUNG)
    if rungs:
        lines += [
            "",
            "Rung (plausible nets retrained longer; the finals are those no smaller one beats here), smallest first:",
            table(sorted(rungs, key=lambda t: (records.params(t), t.number))),
        ]
    finals = selection.trained(study, records.FINAL)
    if finals:
        lines += [
            "",
            "Finals (all training images, full epochs), smallest first; * on the full-fidelity front:",
            table(sorted(finals, key=lambda t: (records.params(t), t.number)), front=selection.pareto_front(finals)),
            "",
            front_chart(finals, records.target_acc(study)),
        ]
        nets = confirmation.nets(study)
        lines += ["", nets_table(nets, records.confirm_seeds(study), records.target_acc(study))]
        rho = selection.ranking_quality(study)
        if rho is not None:
            lines.append(f"proxy-to-final rank correlation (Spearman) over {len(nets)} nets: {rho:+.2f}")
    a = selection.find_answer(study)
    lines += ["", answer_line(study, a)]
    lines += [f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}" for k, v in a.params.items()]
    return "\n".join(lines)


def nets_table(nets, needed: int, target: float) -> str:
    """The finals net by net: each seed's validation accuracy, their mean ± std, and whether it counts."""
    rows = [
        f"Nets at full fidelity, smallest first (the answer needs {needed} seed{'s' if needed > 1 else ''} "
        f"and a mean >= {target:.2%}):",
        f"{'trial':>7} {'params':>9} {'seeds':>5} {'mean':>8} {'std':>7}  validation accuracy by seed",
    ]
    for n in nets:
        verdict = (
            ("confirmed" if n.mean >= target else "confirmed below the target")
            if n.confirmed(needed)
            else f"{n.count} of {needed} seeds"
        )
        each = ", ".join(f"{a:.2%} (seed {s})" for a, s in zip(n.accs, n.seeds))
        rows.append(f"{n.key:>7} {n.params:>9,} {n.count:>5} {n.mean:>8.2%} {n.std:>7.2%}  {each}; {verdict}")
    return "\n".join(rows)


def answer_line(study: optuna.Study, a: FrozenTrial) -> str:
    """The answer in one line: its net's mean over seeds, where it has finals, and the verdict."""
    target, needed = records.target_acc(study), records.confirm_seeds(study)
    net = confirmation.net_of(study, a) if records.is_final(a) else None
    acc = net.mean if net is not None else records.accuracy(a)
    if net is None:
        verdict = ("reaches" if acc >= target else "is below") + f" the target {target:.2%}"
        how = f"validation accuracy {acc:.2%}"
    else:
        confirmed = net.confirmed(needed)
        verdict = (
            ("reaches" if acc >= target else "is below")
            + f" the target {target:.2%}"
            + ("" if confirmed else f", not confirmed ({net.count} of {needed} seeds)")
        )
        how = f"validation accuracy {net.describe()}"
    return (
        f"answer: trial {a.number} ({records.stage(a)}): {how} "
        f"with {records.params(a):,} parameters, {records.macs(a):,} MACs; {verdict}"
    )
