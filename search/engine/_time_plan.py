"""A run's time budget (`run --time 10m`, `time=` in search.run): its stages planned to end by a deadline.

What a training costs comes from measurement on this machine, never from a table:
- before anything is written, a few training steps and a validation pass of the space's reference net
  are timed here (`calibrate`): a training costs epochs x (images x t_train + validation images x t_val);
- after the proxy stage and after the rung, the rest is planned again from what those trials took;
- the confirmation rounds go on while a round (one final's measured time) still fits.

The stages' fidelities stay what the study defines (they define what its values mean); the budget sets
how many trainings each stage gets, dropping first the rung's second net per band, then finals (a round
of workers at a time), never the confirmation of the answer, until the proxy stage keeps
MIN_PROXY_SHARE of the budget. The proxy stage takes the rest, and a budget that leaves it less than
MIN_PROXY_TRIALS trainings is too short for any answer.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace

from .. import records
from ..errors import ImpossibleBudget
from ..settings import clock
from ..settings import parse_duration  # noqa: F401 (re-exported: the budget's own parser)

MIN_PROXY_TRIALS = 12  # fully trained proxy trials the smallest plan still leaves the search
# The proxy stage's share a plan keeps before it drops finals for more search: about what default runs
# gave it (7-8 of 39-42 minutes on a 2-core Xeon, bench/RESULTS.md).
MIN_PROXY_SHARE = 0.2
# A final's seconds against its torch threads on a 2-core CPU: 242 s alone on both cores, 328-332 s
# each as two trained side by side on one core each (bench/RESULTS.md, run --time 892s): 2 ** 0.45.
THREAD_SCALING = 0.45
CALIBRATION_STEPS = 24  # timed training steps, about a second on a 2-core CPU
WARMUP_STEPS = 6  # untimed steps before them


@dataclass(frozen=True)
class Rates:
    """Seconds per image on one worker here: a training step's share, and a validation pass's."""

    train: float
    val: float

    def training(self, images: int, epochs: int, val_images: int) -> float:
        return epochs * (images * self.train + val_images * self.val)

    def scaled_to(self, seconds: float, images: int, epochs: int, val_images: int) -> "Rates":
        """The rates that make this training take `seconds` (as a trial here took it), in the same ratio."""
        predicted = self.training(images, epochs, val_images)
        factor = seconds / predicted if predicted > 0 else 1.0
        return Rates(self.train * factor, self.val * factor)


@dataclass(frozen=True)
class Stages:
    """What each stage trains: images and epochs of one training (from the study spec)."""

    proxy_images: int
    proxy_epochs: int
    rung_images: int
    rung_epochs: int
    final_images: int
    final_epochs: int
    val_images: int
    finals: int  # at most (the profile's or --finals)
    rung: int  # nets per size band at most (--rung)
    confirm_seeds: int

    def costs(self, rates: Rates) -> tuple[float, float, float]:
        """Seconds of one proxy trial, one rung trial and one final on one worker."""
        return (
            rates.training(self.proxy_images, self.proxy_epochs, self.val_images),
            rates.training(self.rung_images, self.rung_epochs, self.val_images),
            rates.training(self.final_images, self.final_epochs, self.val_images),
        )


def rounds(trainings: int, workers: int) -> int:
    return math.ceil(trainings / max(1, workers))


@dataclass(frozen=True)
class TimePlan:
    seconds: float  # what is planned (the budget, or what is left of it)
    workers: int
    proxy_cost: float  # seconds of one fully trained proxy trial
    rung_cost: float
    final_cost: float
    proxy_seconds: float  # the proxy stage's share
    rung: int  # nets per size band the rung retrains
    finals: int
    confirm: int  # confirmation trainings planned: the seeds one net still needs

    @property
    def rung_seconds(self) -> float:
        return rounds(self.rung * self.finals, self.workers) * self.rung_cost if self.rung else 0.0

    @property
    def finals_seconds(self) -> float:
        return rounds(self.finals, self.workers) * self.final_cost

    @property
    def confirm_seconds(self) -> float:
        return rounds(self.confirm, self.workers) * self.final_cost

    def describe(self) -> str:
        w = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        parts = []
        if self.proxy_seconds > 0:
            parts.append(
                f"proxy trials {clock(self.proxy_seconds)} (a trial trained to the end: {clock(self.proxy_cost)})"
            )
        if self.rung:
            parts.append(f"rung of up to {self.rung * self.finals} nets {clock(self.rung_seconds)}")
        if self.finals:
            parts.append(
                f"{self.finals} final{'s' if self.finals > 1 else ''} {clock(self.finals_seconds)} "
                f"(a final: {clock(self.final_cost)})"
            )
        if self.confirm:
            parts.append(
                f"confirmation of {self.confirm} more seed{'s' if self.confirm > 1 else ''} {clock(self.confirm_seconds)}"
            )
        return f"time plan for {clock(self.seconds)} on {w}: " + ", ".join(parts)


def plan(
    seconds: float, workers: int, stages: Stages, rates: Rates, proxy_done: bool = False, total: float | None = None
) -> TimePlan:
    """The richest plan that fits `seconds`: the rung's nets per band dropped first, then finals a round
    at a time; the proxy stage gets the rest (unless it is done). ImpossibleBudget when not even one
    final, its confirmation and MIN_PROXY_TRIALS proxy trials fit."""
    proxy_cost, rung_cost, final_cost = stages.costs(rates)
    confirm = max(0, stages.confirm_seeds - 1) if stages.finals else 0
    floor = 0.0 if proxy_done else MIN_PROXY_TRIALS * proxy_cost / max(1, workers)
    base = TimePlan(seconds, workers, proxy_cost, rung_cost, final_cost, 0.0, 0, 0, confirm)
    if not stages.finals:
        return replace(base, proxy_seconds=0.0 if proxy_done else seconds, confirm=0)
    # First with the proxy stage's usual share of a run, then with only what any search needs.
    for least in ([] if proxy_done else [max(floor, MIN_PROXY_SHARE * seconds)]) + [floor]:
        for rung in range(stages.rung, -1, -1):
            for r in range(rounds(stages.finals, workers), 0, -1):
                p = replace(base, rung=rung, finals=min(stages.finals, r * workers))
                left = seconds - p.rung_seconds - p.finals_seconds - p.confirm_seconds
                if left >= least:
                    return replace(p, proxy_seconds=0.0 if proxy_done else left)
    smallest = replace(base, finals=1)
    total = seconds if total is None else total  # the budget as given: start-up took the difference
    need = floor + smallest.finals_seconds + smallest.confirm_seconds + (total - seconds)
    raise ImpossibleBudget(
        f"--time {clock(total)} is too short for an answer on this machine: start-up, {MIN_PROXY_TRIALS} proxy "
        f"trials, one final ({clock(final_cost)}) and its confirmation need about {clock(need)}: give --time "
        f"{math.ceil(need / 60)}m or more, or fewer --final-epochs"
    )


def calibrate(config, recipe, data, device, precision: str, threads: int) -> Rates:
    """Time training steps and one validation pass of `config` here, as one worker with `threads` threads
    runs them: the median of CALIBRATION_STEPS steps after WARMUP_STEPS untimed ones (the first steps pay
    for setting up; the median ignores a step another process delayed)."""
    import torch

    from mnistnet.train import evaluate, fit

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    stamps: list[float] = []
    try:
        batch = recipe.batch_size
        steps = WARMUP_STEPS + CALIBRATION_STEPS + 1
        result = fit(
            config,
            recipe.replace(epochs=1),
            data.subset(batch * steps),
            device,
            precision=precision,
            log=lambda *_: None,
            on_step=lambda _: stamps.append(time.perf_counter()),
        )
        step = statistics.median(b - a for a, b in zip(stamps[WARMUP_STEPS:], stamps[WARMUP_STEPS + 1 :]))
        start = time.perf_counter()
        evaluate(result.model, data.val, precision=result.precision)
        val = (time.perf_counter() - start) / max(1, len(data.val))
    finally:
        torch.set_num_threads(before)
    return Rates(step / batch, val)


class Deadline:
    """The run's clock: started when search.run was called, `seconds` long."""

    def __init__(self, seconds: float, start: float | None = None):
        self.seconds = seconds
        self.start = time.monotonic() if start is None else start

    @property
    def end(self) -> float:
        return self.start + self.seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def used(self) -> float:
        return time.monotonic() - self.start


class TimeBudget:
    """A run's time budget through its stages: planned up front from a calibration, planned again from
    what the proxy stage and the rung took, and asked before each confirmation round."""

    def __init__(self, deadline: Deadline, stages: Stages, rates: Rates, workers: int):
        self.deadline, self.stages, self.rates, self.workers = deadline, stages, rates, workers
        # ImpossibleBudget here: before anything is written
        self.plan = plan(deadline.left(), workers, stages, rates, total=deadline.seconds)

    def proxy_timeout(self) -> float:
        """Seconds the proxy stage may still start trials: what the later stages leave of the budget."""
        p = self.plan
        return max(1.0, self.deadline.left() - p.rung_seconds - p.finals_seconds - p.confirm_seconds)

    def stage_ends(self) -> float:
        """When the proxy stage is planned to end (time.monotonic)."""
        return time.monotonic() + self.proxy_timeout()

    def replan(self, study, stage: str, since: int) -> TimePlan:
        """The rest planned again, at the speed this run's trials of `stage` (numbers >= since) showed."""
        from optuna.trial import TrialState

        took = [
            records.seconds(t)
            / self.rates.training(t.user_attrs[records.TRAIN_IMAGES], records.epochs_trained(t), self.stages.val_images)
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if t.number >= since
            and records.stage(t) == stage
            and records.epochs_trained(t) > 0
            and records.TRAIN_IMAGES in t.user_attrs
        ]
        if took:
            factor = sorted(took)[len(took) // 2]
            self.rates = Rates(self.rates.train * factor, self.rates.val * factor)
        left = max(0.0, self.deadline.left())
        try:
            self.plan = plan(left, self.workers, self.stages, self.rates, proxy_done=True)
        except ImpossibleBudget:  # slower than calibrated: one final, confirmed only if time is left
            cost = self.stages.costs(self.rates)
            self.plan = TimePlan(left, self.workers, *cost, 0.0, 0, 1, 0)
        return self.plan

    def final_seconds(self, study, since: int, threads: int | None = None) -> float:
        """What one of this run's finals took (the median), else the plan's estimate. With `threads`: as
        if each had trained on that many torch threads (a final alone on the cores is faster than one of
        a round's seeds side by side)."""
        took = sorted(
            records.seconds(t) * thread_factor(records.threads(t), threads)
            for t in study.get_trials(deepcopy=False)
            if t.number >= since and records.is_final(t) and records.is_trained(t)
        )
        return took[len(took) // 2] if took else self.plan.final_cost

    def round_fits(self, study, since: int, threads: int | None = None) -> bool:
        """Whether one more confirmation round fits: its seeds train side by side, each on `threads`."""
        return self.final_seconds(study, since, threads) <= self.deadline.left()


def thread_factor(had: int | None, gets: int | None) -> float:
    """How much longer a training takes on `gets` torch threads than it took on `had` (1.0 when either is
    unknown): seconds ~ threads ** -THREAD_SCALING."""
    if not had or not gets:
        return 1.0
    return (had / gets) ** THREAD_SCALING


def stages_of(spec, train_images: int) -> Stages:
    """What each stage of a study trains (search.study.StudySpec), with `train_images` beside its validation."""
    return Stages(
        proxy_images=spec.subset or train_images,
        proxy_epochs=spec.epochs,
        rung_images=spec.rung_subset or train_images,
        rung_epochs=spec.rung_epochs,
        final_images=spec.final_subset or train_images,
        final_epochs=spec.final_epochs,
        val_images=spec.val_size,
        finals=spec.finals,
        rung=spec.rung,
        confirm_seeds=spec.confirm_seeds,
    )
