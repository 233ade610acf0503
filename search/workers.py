"""Running trials: one worker in this process, or several processes on the same study.

Every worker opens its own storage connection and its own copy of the data on the device, and
runs its share of the requested trials; the storage hands out trial numbers, so workers never clash.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass

import optuna

from .study import StudySpec


@dataclass
class WorkerJob:
    spec: StudySpec
    device: str
    data_root: str | None
    artifact_dir: str | None
    trials: int
    timeout: float | None
    threads: int
    worker: int = 0
    sampler_seed: int | None = None  # default: the study's seed + the worker's index


def _objective(job: WorkerJob):
    import torch

    import space as spaces
    from mnistnet import data as mdata
    from mnistnet.train import resolve_device

    from .objective import Budget, Objective

    spec = job.spec
    device = resolve_device(job.device)
    data = mdata.load(job.data_root, val_size=spec.val_size, device=device).subset(spec.subset)
    store = None
    if job.artifact_dir:
        from optuna.artifacts import FileSystemArtifactStore
        os.makedirs(job.artifact_dir, exist_ok=True)
        store = FileSystemArtifactStore(job.artifact_dir)
    torch.set_num_threads(job.threads)
    return Objective(spaces.get(spec.space, spec.base or "seed001"), data, spec.epochs,
                     Budget(spec.max_params, spec.max_macs), device,
                     pareto=spec.pareto, artifact_store=store, seed=spec.seed)


def run_worker(job: WorkerJob, callbacks=()) -> None:
    """Run `job.trials` trials (or until the timeout) of the study in this process."""
    from .study import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by the caller
    objective = _objective(job)
    seed = job.sampler_seed if job.sampler_seed is not None else job.spec.seed + job.worker
    study = open_study(job.spec, sampler_seed=seed)
    # catch=Exception: one failing trial is recorded as FAIL and the study goes on.
    study.optimize(objective, n_trials=job.trials, timeout=job.timeout, catch=(Exception,),
                   callbacks=list(callbacks), gc_after_trial=False)


def _child(job: WorkerJob) -> None:
    try:
        run_worker(job)
    except KeyboardInterrupt:
        pass  # the parent reports the interruption


def shares(total: int, workers: int) -> list[int]:
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def run_workers(job: WorkerJob, workers: int, on_poll=None, poll_seconds: float = 2.0) -> list[int]:
    """Start `workers` processes sharing job.trials; call on_poll() while they run; return exit codes."""
    ctx = mp.get_context("spawn")  # CUDA cannot be forked into children
    procs = []
    for i, n in enumerate(shares(job.trials, workers)):
        if n == 0:
            continue
        child = WorkerJob(**{**job.__dict__, "trials": n, "worker": i})
        p = ctx.Process(target=_child, args=(child,), name=f"mnist-search-worker-{i}")
        p.start()
        procs.append(p)
    try:
        while any(p.is_alive() for p in procs):
            if on_poll:
                on_poll()
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)  # the children got the same Ctrl-C and mark their trials
        raise
    for p in procs:
        p.join()
    if on_poll:
        on_poll()
    return [p.exitcode for p in procs]
