"""The engine's Python API: run a study (proxy stage, then finals), read its answer, export it.

    import search
    study = search.run(trials=20, space="arch", storage="sqlite:///studies/nb.db", study="nb")
    print(search.answer(study).number)
    search.export(study, out="model/")

Keyword arguments mirror the `mnist-search run` and `export` flags (`--max-params` is max_params): both
are the fields of search.run_settings.RunSettings and search.export_settings.ExportSettings. Bad input
raises a `search.SearchError` subclass before anything is written.
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, fields

import optuna

from mnistnet.train import GRAPHS_MODE

from . import records
from .engine import profiles, selection, stages
from .errors import BadArgument, DataUnavailable, DeviceUnavailable, UnknownPreset, UnknownSpace
from .storage import DEFAULT_URL, mask, open_storage
from .settings import DEFAULT_OBJECTIVE, OBJECTIVE_LINES
from .settings import clock
from .settings import ExportSettings
from .settings import RunSettings
from .engine import StudySpec, open_study
from .running import Stage, WorkerJob, WorkerPool, exit_report, run_trials_in_process


POSITIONAL = ("trials", "space", "storage", "study")  # run()'s arguments that may be given by position
EXPORT_POSITIONAL = ("study", "out")  # export()'s


def finals_compiled(choice: str, spec: StudySpec, profile: profiles.Profile) -> bool | str:
    """How the finals train: through torch.compile ("on"; "graphs": compiled with CUDA graphs, as
    torch.compile's mode GRAPHS_MODE), eagerly ("off"), or "auto": compiled where it pays back.
    Returns False, True, or the compile mode."""
    if choice == "graphs":
        return GRAPHS_MODE
    images = (spec.final_subset or stages.train_images(spec.val_size)) * spec.final_epochs
    return choice == "on" or (choice == "auto" and profiles.compile_pays_back(profile, images))


def choose_profile(name: str, device_type: str, **overrides) -> profiles.Profile:
    """The profile (auto, cpu or gpu) with the run's overrides; BadArgument for an unknown name."""
    if name not in profiles.CHOICES:
        raise BadArgument(f"profile must be one of {', '.join(profiles.CHOICES)}, got {name!r}")
    return profiles.for_device(device_type, profile=name, **overrides)


def resolve_device(name: str):
    from mnistnet.train import DeviceError, resolve_device as resolve

    try:
        return resolve(name)
    except DeviceError as exc:
        raise DeviceUnavailable(str(exc)) from None


def describe_precision(name: str, device) -> str:
    """The precision's log line ("precision bf16 (auto: CPU has AVX-512 BF16)"); BadArgument if unusable."""
    from mnistnet.precision import PrecisionError, describe

    try:
        return describe(name, device)
    except PrecisionError as exc:
        raise BadArgument(str(exc)) from None


def check_data(data_root) -> None:
    """Verify the MNIST files before any study is touched, so a data problem writes nothing."""
    from mnistnet import data as mdata

    try:
        mdata.ensure_files(mdata.resolve_root(data_root))
    except mdata.DataError as exc:
        raise DataUnavailable(str(exc)) from None


def get_space(name: str, base: str | None):
    import space as spaces

    if name not in spaces.SPACES:
        raise UnknownSpace(f"unknown space {name!r}; choose one of: {', '.join(spaces.SPACES)}")
    try:
        return spaces.get(name, base)
    except KeyError as exc:
        raise UnknownPreset(exc.args[0]) from None


def default_study_name(space_name: str, objective: str) -> str:
    return space_name if objective == DEFAULT_OBJECTIVE else f"{space_name}-{objective}"


def run(*args, log=print, **settings) -> optuna.Study:
    """Run (or resume) a study: `trials` proxy trials, then the finals; returns the optuna.Study.

    The keyword arguments are the fields of search.run_settings.RunSettings, the `mnist-search run`
    flags (trials, space, storage and study may also be given by position); its help texts say what
    each means. In short: subset/epochs/max_macs/finals/final_epochs default to the device profile's
    (subset 0: all images; max_params or max_macs 0 or None: no bound); final_subset (default: all
    images) trains the finals on a slice, for quick tries only; workers: a count or "auto" (the
    profile's measured best for this machine's cores); profile: "auto" (gpu on CUDA, else cpu),
    "cpu" or "gpu"; warm_start=False samples every trial from the space. The caller's torch thread
    count is the same afterwards.
    """
    called = time.monotonic()
    plan = prepare(RunSettings(**_bind("run", POSITIONAL, args, settings)))  # every check, before anything is written
    budget = time_budget(plan, called) if plan.settings.time is not None else None  # too short: nothing written
    st, before = open_or_resume(plan, log)
    if budget is not None:
        log(budget.plan.describe())
    stages.warm_starts(st, plan, before, log)
    start = time.perf_counter()
    with Workers(plan, before, log, budget) as workers:
        workers.proxy_stage(st)
        left = stages.queued_proxies(st, log) if plan.spec.finals else 0
        if left:
            workers.queued_stage(st, left, "queued proxy trials")
        k, per_band = plan.spec.finals, plan.spec.rung
        if budget is not None:
            k, per_band = replanned(budget, st, records.PROXY, before, log)
        rungs = stages.rung(st, plan, log, k, per_band)
        if rungs:
            workers.queued_stage(st, rungs, "rung trials")
        if budget is not None and rungs:
            k, _ = replanned(budget, st, records.RUNG, before, log)
        candidates = stages.choose_finalists(st, plan, before, log, k)
        stages.final_rounds(st, plan, workers, log, candidates, budget, before)
    wall = time.perf_counter() - start
    if budget is None:
        log(f"\n{plan.settings.trials} trials requested, {wall:.0f}s wall time")
    else:
        log(f"\ntime budget {clock(budget.deadline.seconds)}: used {clock(budget.deadline.used())}")
    return st


def time_budget(plan: "Plan", called: float):
    """The run's time budget, planned from this machine's measured speed (search.time_plan); raises
    ImpossibleBudget when it is too short for any answer."""
    from mnistnet import data as mdata
    from mnistnet.precision import resolve as resolve_precision
    from optuna.trial import FixedTrial

    from .engine import time_plan

    spec = plan.spec
    data = mdata.load(plan.settings.data_root, val_size=spec.val_size, device=plan.device)
    start = plan.space.warm_starts()[0]  # the space's reference net: what it starts from
    config, recipe = plan.space.sample(FixedTrial(start.params))
    rates = time_plan.calibrate(
        config,
        recipe,
        data,
        plan.device,
        resolve_precision(plan.settings.precision, plan.device),
        plan.threads(plan.workers),
    )
    seconds = time_plan.parse_duration(plan.settings.time)
    planned = time_plan.stages_of(spec, stages.train_images(spec.val_size))
    return time_plan.TimeBudget(time_plan.Deadline(seconds, called), planned, rates, plan.workers)


def replanned(budget, st: optuna.Study, stage: str, before: int, log) -> tuple[int, int]:
    """Plan the rest of the time budget again from what this run's `stage` trials took: (finals, rung
    nets per band)."""
    was = budget.plan
    now = budget.replan(st, stage, before)
    if (now.finals, now.rung, now.confirm) != (was.finals, was.rung, was.confirm) or stage == records.PROXY:
        log(f"after the {stage} stage, {now.describe()}")
    return now.finals, now.rung


def _bind(name: str, positional: tuple[str, ...], args: tuple, settings: dict) -> dict:
    """The settings given by keyword, with those given by position added (as Python would bind them)."""
    if len(args) > len(positional):
        raise TypeError(f"{name}() takes at most {len(positional)} positional arguments ({', '.join(positional)})")
    for key, value in zip(positional, args):
        if key in settings:
            raise TypeError(f"{name}() got multiple values for argument {key!r}")
        settings[key] = value
    return settings


def _signature(settings=RunSettings, positional: tuple[str, ...] = POSITIONAL) -> inspect.Signature:
    """A function's signature as help() and a notebook's completion show it: the settings' fields."""
    by_name = {f.name: f for f in fields(settings)}
    P = inspect.Parameter
    return inspect.Signature(
        [P(n, P.POSITIONAL_OR_KEYWORD, default=by_name[n].default) for n in positional]
        + [P(f.name, P.KEYWORD_ONLY, default=f.default) for f in fields(settings) if f.name not in positional]
        + [P("log", P.KEYWORD_ONLY, default=print)]
    )


run.__signature__ = _signature()


@dataclass(frozen=True)
class Plan:
    """A run's settings, checked and resolved against the device and its profile."""

    settings: RunSettings
    device: object  # torch.device
    precision_line: str
    profile: profiles.Profile
    spec: StudySpec
    space: object
    artifacts: str | None
    workers: int
    cores: int
    compile_finals: bool | str

    def threads(self, workers: int) -> int:
        return profiles.threads_per_worker(self.device.type, workers, self.cores)


def prepare(s: RunSettings) -> Plan:
    """Resolve the device, its profile and the study spec; raise a SearchError for anything unusable."""
    dev = resolve_device(s.device)
    precision_line = describe_precision(s.precision, dev)
    profile = choose_profile(s.profile, dev.type, **{k: getattr(s, k) for k in profiles.OVERRIDES})
    base = s.base or (profile.recipe_base if s.space == "recipe" else "")
    sp = get_space(s.space, base or None)
    check_data(s.data_root)
    spec = StudySpec(
        name=s.study or default_study_name(s.space, s.objective),
        storage=s.storage,
        space=s.space,
        base=base,
        objective=s.objective,
        max_params=s.max_params or None,
        max_macs=profile.max_macs,
        epochs=profile.epochs,
        pruner=s.pruner,
        seed=s.seed,
        subset=profile.subset,
        val_size=s.val_size,
        finals=profile.finals,
        final_epochs=profile.final_epochs,
        final_ema_images=profile.final_ema_images,
        final_subset=s.final_subset or None,
        target_acc=s.target_acc,
        confirm_seeds=s.confirm_seeds,
        rung=s.rung,
        rung_subset=capped(s.rung_subset or None, s.final_subset or None),
        rung_epochs=min(s.rung_epochs, profile.final_epochs),
    )
    from .storage import check, location

    artifacts = location(spec.storage, s.artifacts)
    check(artifacts)  # a missing bucket is one line before the study is touched
    cores = os.cpu_count() or 1
    workers = profiles.auto_workers(profile, cores) if s.workers == "auto" else s.workers
    return Plan(
        s, dev, precision_line, profile, spec, sp, artifacts, workers, cores, finals_compiled(s.compile, spec, profile)
    )


def capped(images: int | None, final_images: int | None) -> int | None:
    """A rung trial's training images: never more than a final's (None: all), so that a quick try with
    small finals (--final-subset) gets a rung of the same small size."""
    if final_images is None:
        return images
    return final_images if images is None else min(images, final_images)


def open_or_resume(plan: Plan, log) -> tuple[optuna.Study, int]:
    """The study (created, or resumed after checking its defining settings) and its trials so far."""
    spec, s = plan.spec, plan.settings
    st = open_study(spec, open_storage(spec.storage))
    before = stages.counted(st)
    log(f"study {spec.name!r} in {mask(spec.storage)}" + (f" (resumed: {before} trials so far)" if before else ""))
    log(
        f"space {s.space}{' on ' + spec.base if spec.base else ''}; objective {OBJECTIVE_LINES[spec.objective]}; "
        f"max params {spec.max_params or 'none'}; "
        f"pruner {pruner_line(spec)}; "
        f"device {plan.device}, {plan.precision_line}"
    )
    log(f"{plan.profile.describe(stages.train_images(spec.val_size), spec.final_subset)} ({profiles.OVERRIDE_HINT})")
    return st, before


def pruner_line(spec) -> str:
    """What stops proxy trials early, as the run's banner says it."""
    if spec.pruner == "none":
        return "none (every proxy trial trains to its last epoch)"
    name = "size-band median" if spec.pareto else spec.pruner
    return f"{name} (from epoch {spec.warmup_epochs})"


class Workers:
    """The run's workers for all stages: this process (one worker), or worker processes started once
    (search.workers.WorkerPool) that run the proxy stage, then wait for the next. Fewer trials than
    workers in a stage: one worker per trial, whose torch threads rise to share the cores; the others
    wait for a later stage."""

    def __init__(self, plan: Plan, before: int, log, budget=None):
        self.plan, self.log, self.pool, self.budget = plan, log, None, budget
        s = plan.settings
        how = (
            ("compiled with CUDA graphs" if plan.compile_finals == GRAPHS_MODE else "compiled")
            if plan.compile_finals
            else "not compiled"
        )
        threads = plan.threads(plan.workers)
        log(
            f"{plan.workers} worker{'s' if plan.workers > 1 else ''}"
            + (f" x {threads} thread{'s' if threads > 1 else ''}" if plan.device.type == "cpu" else " sharing the GPU")
            + f"; finals {how} (--compile {s.compile})"
        )
        self.job = WorkerJob(
            plan.spec,
            s.device,
            s.data_root,
            plan.artifacts,
            precision=s.precision,
            compile_finals=plan.compile_finals,
            progress=s.progress,  # the finals' epoch lines too
        )
        self.first = Stage(
            until=before + s.trials,
            timeout=s.timeout,
            threads=threads,
            stop_at=None if budget is None else time.time() + budget.proxy_timeout(),
        )

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.close()  # workers waiting for a stage stop

    def proxy_stage(self, st: optuna.Study) -> None:
        self._stage(st, self.first, self.plan.settings.trials, "proxy trials", self.plan.workers)

    def free(self) -> int:
        """Workers ready for a stage."""
        return self.plan.workers if self.pool is None else len(self.pool.waiting())

    def queued_stage(self, st: optuna.Study, waiting: int, desc: str) -> bool:
        """Trials this run enqueued (rung trials, finals, confirmation): always finish, no timeout.
        False when no worker is left to run them."""
        workers = min(self.free(), waiting)
        if workers < 1:
            return False
        stage = Stage(until=stages.counted(st) + waiting, timeout=None, threads=self.plan.threads(workers))
        if self.pool is not None:
            self.pool.next_stage(stage, workers)
        self._stage(st, stage, waiting, desc, workers)
        return True

    def _stage(self, st: optuna.Study, stage: Stage, total: int, desc: str, workers: int) -> None:
        import torch

        from .reports import TrialBar

        ends = None
        if self.budget is not None:  # the stage's planned end: the proxy stage's share, else the deadline
            ends = self.budget.stage_ends() if desc == "proxy trials" else self.budget.deadline.end
        bar = TrialBar(st, total, desc=desc, enabled=self.plan.settings.progress, ends=ends)
        threads = torch.get_num_threads()  # an in-process worker sets its own; the caller gets theirs back
        try:
            if self.plan.workers == 1:
                run_trials_in_process(self.job, stage, callbacks=[bar])
            else:
                if self.pool is None:
                    self.pool = WorkerPool(self.job, workers, stage)
                    pids = ", ".join(str(p.pid) for p, _ in self.pool.procs)
                    self.log(f"started {self.pool.started} worker processes (pids {pids}); they run both stages")
                codes = self.pool.wait(bar.refresh)  # WorkersFailed when all of them failed
                report = exit_report(self.job, codes, self.pool.active)
                if report:
                    bar.bar.write(report)
        finally:
            bar.close()
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)


def answer(study: optuna.Study, target_acc: float | None = None) -> optuna.trial.FrozenTrial:
    """The study's answer (see search.engine.selection.find_answer); NoResult when nothing has trained yet."""
    return selection.require_answer(study, target_acc)


def load(study: str | None = None, storage: str = DEFAULT_URL) -> optuna.Study:
    """An existing study (the storage's only one when no name is given)."""
    from .engine import pick_study

    return pick_study(storage, study, open_storage(storage, create=False, heartbeat=False))


def storage_url(study: optuna.Study, default: str) -> str:
    """The URL a study object was opened with (its artifacts sit beside a SQLite file)."""
    from .optuna_adapter import backend_of, storage_of

    backend = backend_of(storage_of(study))
    url = getattr(backend, "url", None)
    return url if isinstance(url, str) else default


def export(*args, log=print, **settings) -> dict:
    """Write a trial's model folder (default: the study's answer); returns its model card.

    The keyword arguments are the fields of search.export_settings.ExportSettings, the `mnist-search
    export` flags (study, an optuna.Study or a name, and out may also be given by position); formats
    is a sequence of names or a comma list, as `--format`. seed_check K > 0 also retrains the trial
    with K seeds and records their test accuracy's mean and std in the card (default: the profile's,
    0 for both; profile "auto" follows the device). precision applies to retraining only;
    the exported weights are fp32."""
    s = ExportSettings(**_bind("export", EXPORT_POSITIONAL, args, settings))  # every check, before any reading
    from . import exporting

    study, storage = s.study, s.storage
    if isinstance(study, optuna.Study):
        storage = storage_url(study, storage)
    else:
        study = load(study, storage)
    dev = resolve_device(s.device)
    describe_precision(s.precision, dev)
    seed_check = choose_profile(s.profile, dev.type).seed_check if s.seed_check is None else s.seed_check
    return exporting.export(study, s, storage_url=storage, device=dev, seed_check=seed_check, log=log)


export.__signature__ = _signature(ExportSettings, EXPORT_POSITIONAL)
