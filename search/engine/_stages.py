"""The run's stages after the proxy trials, as trials enqueued in the study: the warm starts, the
queued proxies, the rung, the finalists and the finals' rounds of confirmation.

search.api runs them in order with its workers; each stage here decides what to enqueue and says so
in one line of the run's log. `plan` is the run's plan (search.api.Plan: its spec, settings, space,
device and threads per worker); `workers` the run's workers (free(), queued_stage()).
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from .. import records
from ..errors import ImpossibleBudget
from ..settings import clock
from . import _confirmation as confirmation
from . import _selection as selection
from ._objective import Budget
from ._study import StudySpec


def train_images(val_size: int) -> int:
    """The training images beside a validation split of `val_size` (from the data's size)."""
    from mnistnet.data import train_size

    return train_size(val_size)


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=records.COUNTED))


def warm_starts(st: optuna.Study, plan, before: int, log) -> None:
    """A new study's first trials: the space's warm starts within budget (unless warm_start=False)."""
    spec = plan.spec
    queued = (
        enqueue_warm_starts(st, plan.space, Budget.for_space(plan.space, spec.max_params, spec.max_macs))
        if plan.settings.warm_start
        else []
    )
    if queued:
        log(f"warm start: {', '.join(queued)} enqueued first")
    elif not plan.settings.warm_start and not before:
        log("warm start: none (--no-warm-start): every trial is sampled from the space")


def queued_proxies(st: optuna.Study, log) -> int:
    """Proxy trials still queued after the proxy stage (warm starts a --timeout left): they train next,
    at proxy fidelity, so that the rung and the finals are drawn from all of them."""
    left = sum(records.stage(t) == records.PROXY for t in st.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if left:
        log(
            f"{left} proxy trial{'s' if left > 1 else ''} still queued: {'they train' if left > 1 else 'it trains'} before the rung and the finals"
        )
    return left


def rung(st: optuna.Study, plan, log, k: int, per_band: int) -> int:
    """After the proxy stage: enqueue the rung trials, `per_band` in each of the k finals' size bands
    (none when per_band is 0); how many wait."""
    spec = plan.spec
    new = enqueue_rungs(st, k, per_band)
    waiting = sum(records.is_rung(t) for t in st.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if waiting:
        images = spec.rung_subset or train_images(spec.val_size)
        log(
            f"rung: {len(new)} plausible net{'s' if len(new) != 1 else ''} ({', '.join(f'trial {n}' for n in new) or 'none new'}) retrain on "
            f"{images:,} training images x {spec.rung_epochs} epochs; the finals are those no smaller one beats there"
        )
    return waiting


def choose_finalists(st: optuna.Study, plan, before: int, log, k: int) -> list[optuna.trial.FrozenTrial]:
    """After the proxy stage and the rung: the at most k nets the finals may train, smallest first
    (search.selection.finalists); final_rounds trains them."""
    spec = plan.spec
    if counted(st) > before and not any(
        records.CONFIG in t.user_attrs and records.is_feasible(t) for t in st.get_trials(deepcopy=False)
    ):
        raise ImpossibleBudget(
            f"every sampled net was over budget (max params {spec.max_params}, max MACs "
            f"{spec.max_macs}): raise --max-params or --max-macs"
        )
    if k <= 0:
        return []
    picked = sorted(selection.finalists(st, k), key=lambda t: (records.params(t), t.number))
    if picked:
        log(
            f"finals: up to {len(picked)} net{'s' if len(picked) != 1 else ''}, smallest first "
            f"({', '.join(f'trial {t.number}: {records.params(t):,} params' for t in picked)}), each on "
            f"{spec.final_subset or train_images(spec.val_size):,} training images x {spec.final_epochs} epochs "
            f"until the smallest whose mean over {spec.confirm_seeds} seed{'s' if spec.confirm_seeds > 1 else ''} "
            f"reaches {spec.target_acc:.2%} is known"
        )
    return picked


def final_rounds(st: optuna.Study, plan, workers, log, candidates=(), budget=None, before: int = 0) -> None:
    """The finals and their confirmation, a round (as many trainings as there are workers) at a time:
    the smallest undecided net gets its seeds first (search.confirmation.wanted), and the rounds stop
    once the smallest net whose mean over confirm_seeds seeds reaches the target is known, or no net
    near it is left. A larger net is trained only when the smaller ones fall short, so a run whose
    smallest candidate holds pays for its seeds alone. On a CPU a round holds one net's seeds, so a
    lone deciding seed gets every core. Under a time budget, a round after the first runs only when it
    fits; trials left waiting by a killed run are run first."""
    spec = plan.spec
    if not spec.finals:
        return
    cpu = plan.device.type == "cpu"
    while True:
        new = confirmation.wanted(
            st, spec.confirm_seeds, spec.target_acc, max(1, workers.free()), candidates, one_net=cpu
        )
        threads = plan.threads(len(new)) if new and cpu else None
        if new and budget and confirmation.nets(st) and not budget.round_fits(st, before, threads):
            log(
                f"confirmation: no time left in the budget for another round "
                f"({clock(budget.final_seconds(st, before, threads))} a seed, "
                f"{clock(max(0.0, budget.deadline.left()))} left): the answer is the best the budget allowed"
            )
            new = []
        enqueue_round(st, new)
        waiting = len(st.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if not waiting:
            return
        if new:
            log(describe_round(st, new, spec, plan.settings.seed))
        first = any(not records.is_final(source) for source, _ in new)
        if not workers.queued_stage(st, waiting, "finals" if first or not new else "confirmation"):
            return


def describe_round(st: optuna.Study, new, spec: StudySpec, run_seed) -> str:
    """One line for a round: each net, what it has so far, and the seeds it trains with now."""
    by_net: dict[int, list] = {}
    sources = {}
    for source, seed in new:
        key = confirmation.net_number(source)
        by_net.setdefault(key, []).append(f"{run_seed} (the run's)" if seed is None else str(seed))
        sources[key] = source
    nets = {n.key: n for n in confirmation.nets(st)}
    parts = []
    for key, seeds in by_net.items():
        net = nets.get(key)
        have = f", {net.describe()}" if net else ""
        verb = "retrains" if net else "trains"
        parts.append(
            f"trial {key} ({records.params(sources[key]):,} params{have}) {verb} with "
            f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
        )
    first = any(not records.is_final(source) for source, _ in new)
    return (
        ("finals: " if first else "confirmation: ")
        + "; ".join(parts)
        + f" on {spec.final_subset or train_images(spec.val_size):,} training images x {spec.final_epochs} epochs"
    )


def enqueue_round(st: optuna.Study, new) -> None:
    """Enqueue a round's trainings (search.confirmation.wanted) as finals of their nets: a first final
    (seed None) trains with the run's seed, a later one with its own (records.TRAIN_SEED)."""
    for source, seed in new:
        attrs = {records.STAGE: records.FINAL, records.FINAL_OF: confirmation.net_number(source)}
        if seed is not None:
            attrs[records.TRAIN_SEED] = seed
        if records.preset(source):
            attrs[records.PRESET] = records.preset(source)
        st.enqueue_trial(source.params, user_attrs=attrs, skip_if_exists=False)


def enqueue_warm_starts(study: optuna.Study, space, budget) -> list[str]:
    """Enqueue the space's warm starts that fit the budget, once, as a new study's first trials."""
    from mnistnet.model import trace

    if study.get_trials(deepcopy=False):
        return []
    queued = []
    for start in space.warm_starts():
        shape = trace(start.config)
        if max(budget.excess(shape)) <= 0:
            study.enqueue_trial(start.params, user_attrs={records.PRESET: start.preset, records.STAGE: records.PROXY})
            queued.append(start.preset)
    return queued


def enqueue_rungs(study: optuna.Study, k: int, per_band: int) -> list[int]:
    """Enqueue a rung trial for each rung candidate (search.selection) that has none yet (or whose
    rung trials all failed)."""
    done = {
        records.rung_of(t)
        for t in study.get_trials(deepcopy=False)
        if records.is_rung(t) and t.state != TrialState.FAIL
    }
    return enqueue_again(study, selection.rung_candidates(study, k, per_band), done, records.RUNG, records.RUNG_OF)


def enqueue_again(study: optuna.Study, trials, done: set, stage: str, of_key: str) -> list[int]:
    """Enqueue each proxy trial's params again as a trial of `stage` pointing back at it (user attr
    `of_key`), but none already in `done`; returns the proxy trials' numbers."""
    new = []
    for t in trials:
        if t.number in done:
            continue
        attrs = {records.STAGE: stage, of_key: t.number}
        if records.preset(t):
            attrs[records.PRESET] = records.preset(t)
        study.enqueue_trial(t.params, user_attrs=attrs, skip_if_exists=False)
        new.append(t.number)
    return new
