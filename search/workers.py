"""Running trials: one worker in this process, or several processes on the same study.

Every worker opens its own storage connection and its own copy of the data on the device. The
workers of one run stop together once the study holds the run's target number of trials
(Optuna's MaxTrialsCallback, counted in the storage), so a slow worker never leaves a share undone
and a fast one never runs past the total.
"""
from __future__ import annotations

import multiprocessing as mp
import sys
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from . import failures, owners, settings
from .errors import StorageError
from .storage import mask
from .study import StudySpec

# A run's trials are counted in these states: waiting (enqueued) trials are not yet anyone's work.
COUNTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STORAGE_EXIT = 4  # a worker process that lost the database exits with this (the command line's code)


@dataclass
class WorkerJob:
    spec: StudySpec
    device: str
    data_root: str | None
    artifact_dir: str | None
    until: int  # stop once the study holds this many trials (in the COUNTED states)
    timeout: float | None
    threads: int
    worker: int = 0
    own_trials: int | None = None  # `mnist-search worker --trials N`: N trials of its own, whatever others do
    sampler_seed: int | None = None  # default: from the study's seed, its size and the worker's index
    precision: str = "auto"  # mnistnet.precision name, resolved on the worker's device
    compile_finals: bool = False  # torch.compile the finals' training steps
    log_name: str | None = None  # its log file in the study's log folder (default: worker-INDEX)


def make_objective(job: WorkerJob):
    import torch

    import space as spaces
    from mnistnet import data as mdata
    from mnistnet.precision import resolve as resolve_precision
    from mnistnet.train import resolve_device

    from .objective import Budget, Fidelity, Objective

    spec = job.spec
    device = resolve_device(job.device)
    data = mdata.load(job.data_root, val_size=spec.val_size, device=device)
    from .artifact_stores import open_store
    store = open_store(job.artifact_dir) if job.artifact_dir else None  # a folder or s3://BUCKET/PREFIX
    torch.set_num_threads(job.threads)
    space = spaces.get(spec.space, spec.base)
    return Objective(space, Fidelity(data.subset(spec.subset), spec.epochs),
                     Fidelity(data.subset(spec.final_subset), spec.final_epochs),
                     Budget.for_space(space, spec.max_params, spec.max_macs), device,
                     objective=spec.objective, warmup_epochs=spec.warmup_epochs, artifact_store=store,
                     seed=spec.seed,
                     precision=resolve_precision(job.precision, device), compile_finals=job.compile_finals)


def run_worker(job: WorkerJob, callbacks=(), objective=None) -> None:
    """Run trials of the study in this process until it holds `job.until` trials (or the timeout)."""
    try:
        _run_worker(job, callbacks, objective)
    except Exception as exc:
        lost = failures.storage_cause(exc)
        if lost is not None and lost is not exc:
            raise lost from None  # the database went away while Optuna recorded a trial
        raise


def _run_worker(job: WorkerJob, callbacks, objective) -> None:
    from .study import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by the caller
    objective = objective or make_objective(job)
    study = open_study(job.spec, seed=job.sampler_seed, worker=job.worker)
    owners.reap(study, log=_say)  # trials left running by dead workers on this machine: failed, retried
    stops = []
    if job.own_trials is None:
        if len(study.get_trials(deepcopy=False, states=COUNTED)) >= job.until:
            return
        stops = [optuna.study.MaxTrialsCallback(job.until, states=COUNTED)]
    # catch=Exception: one failing trial is recorded as FAIL and the study goes on.
    study.optimize(_Owned(objective, job, study), n_trials=job.own_trials, timeout=job.timeout,
                   catch=(Exception,), callbacks=[*stops, *callbacks], gc_after_trial=False)


class _Owned:
    """The objective, run by this process: it claims the trial, first fails the trials of workers
    that died meanwhile, and reports a failure in one line (traceback in the worker's log)."""

    def __init__(self, objective, job: WorkerJob, study: optuna.Study):
        self.objective, self.job, self.study = objective, job, study

    def __call__(self, trial: optuna.Trial):
        owners.claim(trial)
        try:
            owners.reap(self.study, log=_say)
        except StorageError:
            raise
        except Exception:  # noqa: BLE001 - a failed check must not fail this trial; the heartbeats remain
            pass
        try:
            return self.objective(trial)
        except (optuna.TrialPruned, StorageError):
            raise  # a pruned trial is no failure; a lost database is the worker's to report
        except Exception as exc:
            failures.trial_failed(self.job, trial, exc)
            raise


def _say(line: str) -> None:
    from tqdm.auto import tqdm
    tqdm.write(line)


def _child(job: WorkerJob) -> None:
    import logging
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)  # as the command line does (search.cli)
    try:
        run_worker(job)
    except KeyboardInterrupt:
        pass  # the parent reports the interruption
    except StorageError as exc:
        failures.worker_failed(job, exc, quiet=True)  # the parent says it once for all workers
        sys.exit(STORAGE_EXIT)
    except Exception as exc:  # noqa: BLE001 - one line and a log, not a traceback
        failures.worker_failed(job, exc)
        sys.exit(1)


def run_workers(job: WorkerJob, workers: int, on_poll=None, poll_seconds: float = 2.0) -> list[int]:
    """Start `workers` processes on the study; call on_poll() while they run; return exit codes."""
    ctx = mp.get_context("spawn")  # CUDA cannot be forked into children
    procs = []
    for i in range(workers):
        p = ctx.Process(target=_child, args=(WorkerJob(**{**job.__dict__, "worker": i}),),
                        name=f"mnist-search-worker-{i}")
        p.start()
        procs.append(p)
    def poll():
        try:
            if on_poll:
                on_poll()
        except StorageError:
            pass  # the database is away: the workers wait for it, and say when they give up

    try:
        while any(p.is_alive() for p in procs):
            poll()
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)  # the children got the same Ctrl-C and mark their trials
        raise
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    if STORAGE_EXIT in codes:
        raise StorageError(f"lost the database {mask(job.spec.storage)}: no answer for "
                           f"{settings.db_retry_seconds():g} s, so the workers stopped; the study is kept: "
                           f"rerun when the database is back ({settings.DB_RETRY} sets how long workers wait; "
                           f"details in {failures.worker_log(job).parent})")
    poll()
    return codes
