"""Reading results back: feasible trials, the accuracy-vs-parameters Pareto front, the best trial, tables."""
from __future__ import annotations

from collections import Counter

import optuna
from optuna.trial import TrialState

from .objective import INFEASIBLE_ATTR


def accuracy(t: optuna.trial.FrozenTrial) -> float:
    return t.values[0]


def feasible(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Completed trials that trained within budget."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if INFEASIBLE_ATTR not in t.user_attrs]


def pareto_front(trials) -> list[optuna.trial.FrozenTrial]:
    """Trials no other trial beats on both accuracy (higher) and parameters (fewer), by parameters."""
    front, best_acc = [], -1.0
    for t in sorted(trials, key=lambda t: (t.user_attrs["params"], -accuracy(t))):
        if accuracy(t) > best_acc:
            front.append(t)
            best_acc = accuracy(t)
    return front


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """Highest validation accuracy; fewer parameters break ties."""
    trials = feasible(study)
    return max(trials, key=lambda t: (accuracy(t), -t.user_attrs["params"])) if trials else None


def counts(study: optuna.Study) -> Counter:
    c = Counter(t.state.name for t in study.get_trials(deepcopy=False))
    c["INFEASIBLE"] = sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                          if INFEASIBLE_ATTR in t.user_attrs)
    return c


def describe_counts(study: optuna.Study) -> str:
    c = counts(study)
    parts = [f"{sum(v for k, v in c.items() if k != 'INFEASIBLE')} trials",
             f"{c['COMPLETE'] - c['INFEASIBLE']} complete", f"{c['PRUNED']} pruned",
             f"{c['INFEASIBLE']} infeasible (over budget, not trained)", f"{c['FAIL']} failed"]
    if c["RUNNING"]:
        parts.append(f"{c['RUNNING']} running")
    return ", ".join(parts)


def label(t: optuna.trial.FrozenTrial) -> str:
    from space import PRESET_ATTR
    return t.user_attrs.get(PRESET_ATTR, "")


def table(trials) -> str:
    rows = [f"{'trial':>6} {'val acc':>8} {'params':>9} {'MACs':>11} {'epochs':>6} {'seconds':>8}  note"]
    for t in trials:
        a = t.user_attrs
        rows.append(f"{t.number:>6} {accuracy(t):>8.2%} {a['params']:>9,} {a['macs']:>11,} "
                    f"{a.get('epochs_trained', 0):>6} {a.get('seconds', 0):>8.1f}  {label(t)}")
    return "\n".join(rows)


def summary(study: optuna.Study) -> str:
    lines = [f"study {study.study_name}: {describe_counts(study)}"]
    front = pareto_front(feasible(study))
    if not front:
        return "\n".join(lines + ["no trial has completed within budget yet"])
    lines += ["", "Pareto front (validation accuracy vs parameters):", table(front)]
    b = best_trial(study)
    lines += ["", f"best trial {b.number}: validation accuracy {accuracy(b):.2%} with "
                  f"{b.user_attrs['params']:,} parameters, {b.user_attrs['macs']:,} MACs"]
    lines += [f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}" for k, v in b.params.items()]
    return "\n".join(lines)
