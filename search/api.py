"""The engine's Python API: run a study (proxy stage, then finals), read its answer, export it.

    import search
    study = search.run(trials=20, space="arch", storage="sqlite:///studies/nb.db", study="nb")
    print(search.answer(study).number)
    search.export(study, out="model/")

Keyword arguments mirror the `mnist-search run` and `export` flags (`--max-params` is max_params);
bad input raises a `search.SearchError` subclass before anything is written.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from . import profiles, records, selection
from .errors import (BadArgument, DataUnavailable, DeviceUnavailable, ImpossibleBudget, UnknownPreset,
                     UnknownSpace)
from .storage import DEFAULT_URL, mask, open_storage
from .objective_names import DEFAULT_OBJECTIVE
from .study import StudySpec, open_study
from .workers import COUNTED, WorkerJob, exit_report, run_worker, run_workers



COMPILE_CHOICES = ("auto", "on", "off", "graphs")
GRAPHS_MODE = "reduce-overhead"  # torch.compile's mode that replays the steps as CUDA graphs
OBJECTIVE_LINES = {"accuracy": "validation accuracy",
                   "size": "size-adjusted validation accuracy (accuracy minus a share per doubling of parameters)",
                   "pareto": "validation accuracy vs parameters (Pareto)"}


def finals_compiled(choice: str, spec: StudySpec, profile: profiles.Profile) -> bool | str:
    """How the finals train: through torch.compile ("on"; "graphs": compiled with CUDA graphs, as
    torch.compile's mode "reduce-overhead"), eagerly ("off"), or "auto": compiled where it pays back.
    Returns False, True, or the compile mode."""
    if choice == "graphs":
        return GRAPHS_MODE
    images = (spec.final_subset or 60000 - spec.val_size) * spec.final_epochs
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


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def run(trials: int = 100, space: str = "arch", storage: str = DEFAULT_URL, study: str | None = None, *,
        base: str | None = None, epochs: int | None = None, subset: int | None = None,
        pruner: str = "hyperband", max_params: int | None = 20000, max_macs: int | None = None,
        val_size: int = 5000, objective: str = DEFAULT_OBJECTIVE, seed: int = 0, workers: int | str = "auto",
        timeout: float | None = None, artifacts: str | None = None, finals: int | None = None,
        final_epochs: int | None = None, final_subset: int | None = None, target_acc: float = 0.994, device: str = "auto",
        precision: str = "auto", compile: str = "auto", data_root: str | None = None, progress: bool = True,
        warm_start: bool = True, profile: str = "auto", log=print) -> optuna.Study:
    """Run (or resume) a study: `trials` proxy trials, then the finals; returns the optuna.Study.

    subset/epochs/max_macs/finals/final_epochs default to the device profile's (subset 0: all
    images; max_params or max_macs 0 or None: no bound). final_subset (default: all images) trains
    the finals on a slice, for quick tries only. precision: "auto" (bf16 autocast where the
    hardware has fast bf16), "fp32" or "bf16"; each trial records what it trained in. workers:
    a count, or "auto" (the device profile's measured best for this machine's cores). compile:
    "auto" (torch.compile the finals where it pays back, per the profile), "on", "off" or "graphs"
    (compiled with CUDA graphs). profile: "auto" (the device's: gpu on CUDA, else cpu), "cpu" or
    "gpu": whose budgets, finals, worker layout and compile rule apply, on whichever device.
    The caller's torch thread count is the same afterwards.
    warm_start=False samples every trial from the space: nothing known is enqueued.
    """
    if compile not in COMPILE_CHOICES:
        raise BadArgument(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {compile!r}")
    for key, value in (("trials", trials), ("workers", 1 if workers == "auto" else workers)):
        if not isinstance(value, int) or value < 1:
            raise BadArgument(f"{key} must be a whole number >= 1, got {value!r}")
    for key, value in (("max_params", max_params), ("max_macs", max_macs)):
        if value is not None and value < 0:
            raise ImpossibleBudget(f"{key} must be >= 0 (0: no bound), got {value!r}")
    dev = resolve_device(device)
    precision_line = describe_precision(precision, dev)
    profile = choose_profile(profile, dev.type, subset=subset, epochs=epochs, max_macs=max_macs, finals=finals,
                             final_epochs=final_epochs)
    base = base or (profile.recipe_base if space == "recipe" else "")
    sp = get_space(space, base or None)
    check_data(data_root)
    spec = StudySpec(name=study or default_study_name(space, objective), storage=storage, space=space, base=base,
                     objective=objective, max_params=max_params or None, max_macs=profile.max_macs,
                     epochs=profile.epochs, pruner=pruner, seed=seed, subset=profile.subset, val_size=val_size,
                     finals=profile.finals, final_epochs=profile.final_epochs, final_subset=final_subset or None,
                     target_acc=target_acc)
    from .artifact_stores import check, location
    artifacts = location(spec.storage, artifacts)
    check(artifacts)  # a missing bucket is one line before the study is touched
    store = open_storage(spec.storage)
    st = open_study(spec, store)
    before = counted(st)
    from .objective import Budget
    queued = enqueue_warm_starts(st, sp, Budget.for_space(sp, spec.max_params, spec.max_macs)) if warm_start else []
    log(f"study {spec.name!r} in {mask(spec.storage)}" + (f" (resumed: {before} trials so far)" if before else ""))
    log(f"space {space}{' on ' + base if base else ''}; objective {OBJECTIVE_LINES[spec.objective]}; "
        f"max params {spec.max_params or 'none'}; "
        f"pruner {'size-band median' if spec.pareto else spec.pruner} (from epoch {spec.warmup_epochs}); "
        f"device {dev}, {precision_line}")
    log(f"{profile.describe()} ({profiles.OVERRIDE_HINT})")
    if queued:
        log(f"warm start: {', '.join(queued)} enqueued first")
    elif not warm_start and not before:
        log("warm start: none (--no-warm-start): every trial is sampled from the space")
    cores = os.cpu_count() or 1
    workers = profiles.auto_workers(profile, cores) if workers == "auto" else workers
    threads = profiles.threads_per_worker(dev.type, workers, cores)
    compile_finals = finals_compiled(compile, spec, profile)
    how = ("compiled with CUDA graphs" if compile_finals == GRAPHS_MODE else "compiled") if compile_finals \
        else "not compiled"
    log(f"{workers} worker{'s' if workers > 1 else ''}"
        + (f" x {threads} thread{'s' if threads > 1 else ''}" if dev.type == "cpu" else " sharing the GPU")
        + f"; finals {how} (--compile {compile})")
    job = WorkerJob(spec, device, data_root, artifacts, before + trials,
                    timeout, threads, precision=precision, compile_finals=compile_finals)
    start = time.perf_counter()
    _stage(st, job, workers, trials, "proxy trials", progress)
    if counted(st) > before and not any(records.CONFIG in t.user_attrs and records.is_feasible(t)
                                        for t in st.get_trials(deepcopy=False)):
        raise ImpossibleBudget(f"every sampled net was over budget (max params {spec.max_params}, max MACs "
                               f"{spec.max_macs}): raise --max-params or --max-macs")
    new_finals = enqueue_finals(st, spec.finals)
    waiting = len(st.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if waiting and spec.finals:
        log(f"finals: {len(new_finals)} new ({', '.join(f'trial {n}' for n in new_finals) or 'none'}), "
            f"{waiting} to run on {spec.final_subset or 60000 - val_size:,} training images "
            f"x {spec.final_epochs} epochs")
        job.until = counted(st) + waiting
        job.timeout = None  # finals always finish: they are what the run delivers
        job.threads = profiles.threads_per_worker(dev.type, min(workers, waiting), cores)  # fewer finals: more threads
        _stage(st, job, min(workers, waiting), waiting, "finals", progress)
    log(f"\n{trials} trials requested, {time.perf_counter() - start:.0f}s wall time")
    return st


def _stage(st: optuna.Study, job: WorkerJob, workers: int, total: int, desc: str, progress: bool) -> None:
    import torch

    from .progress import TrialBar
    bar = TrialBar(st, total, desc=desc, enabled=progress)
    job.progress = progress  # the finals' epoch lines too
    threads = torch.get_num_threads()  # an in-process worker sets its own; the caller gets theirs back
    try:
        if workers == 1:
            run_worker(job, callbacks=[bar])
        else:
            codes = run_workers(job, workers, on_poll=bar.refresh)  # WorkersFailed when all of them failed
            report = exit_report(job, codes)
            if report:
                bar.bar.write(report)
    finally:
        bar.close()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


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


def enqueue_finals(study: optuna.Study, k: int) -> list[int]:
    """Enqueue a final for each of the top-k distinct proxy trials that has none yet."""
    if k <= 0:
        return []
    done = selection.finals_of(study)
    new = []
    for t in selection.finalists(study, k):
        if t.number in done:
            continue
        attrs = {records.STAGE: records.FINAL, records.FINAL_OF: t.number}
        if records.preset(t):
            attrs[records.PRESET] = records.preset(t)
        study.enqueue_trial(t.params, user_attrs=attrs, skip_if_exists=False)
        new.append(t.number)
    return new


def answer(study: optuna.Study, target_acc: float | None = None) -> optuna.trial.FrozenTrial:
    """The study's answer (see search.selection.answer); NoResult when nothing has trained yet."""
    return selection.the_answer(study, target_acc)


def load(study: str | None = None, storage: str = DEFAULT_URL) -> optuna.Study:
    """An existing study (the storage's only one when no name is given)."""
    from .study import pick_study
    return pick_study(storage, study, open_storage(storage, create=False, heartbeat=False))


def storage_url(study: optuna.Study, default: str) -> str:
    """The URL a study object was opened with (its artifacts sit beside a SQLite file)."""
    from .optuna_adapter import backend_of, storage_of
    backend = backend_of(storage_of(study))
    url = getattr(backend, "url", None)
    return url if isinstance(url, str) else default


def export(study: optuna.Study | str | None = None, out: str | Path = "model", *, trial: int | str = "answer",
           storage: str = DEFAULT_URL, formats=("pt", "export", "torchscript", "onnx"), retrain: bool = False,
           seeds: int = 3, epochs: int | None = None, subset: int | None = None, artifacts: str | None = None,
           device: str = "auto", data_root: str | None = None, seed_check: int | None = None,
           precision: str = "auto", profile: str = "auto", log=print) -> dict:
    """Write a trial's model folder (default: the study's answer); returns its model card.

    seed_check K > 0 also retrains the trial with K seeds and records their test accuracy's mean and
    std in the card (default: the profile's, 3 for gpu, 0 for cpu; profile "auto" follows the device).
    precision applies to retraining only; the exported weights are fp32."""
    from . import exporting
    if isinstance(study, optuna.Study):
        storage = storage_url(study, storage)
    else:
        study = load(study, storage)
    dev = resolve_device(device)
    describe_precision(precision, dev)
    if seed_check is None:
        seed_check = choose_profile(profile, dev.type).seed_check
    return exporting.export(study, Path(out), trial=trial, storage_url=storage, formats=formats, retrain=retrain,
                            seeds=seeds, epochs=epochs, subset=subset, artifacts=artifacts, device=dev,
                            data_root=data_root, seed_check=seed_check, precision=precision, log=log)
