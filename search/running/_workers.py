"""Running trials: one worker in this process, or several processes on the same study.

Every worker opens its own storage connection and its own copy of the data on the device. Each
worker process is a fresh Python interpreter running this module's `child_main` (never the caller's
`__main__`), so the library works from a script without a main guard, standard input, `python -c`
and a notebook alike. The workers of one run stop together once the study holds the run's target number of trials
(Optuna's MaxTrialsCallback, counted in the storage), so a slow worker never leaves a share undone
and a fast one never runs past the total: Optuna's callback checks the count after a trial ends, so
two workers ending trials at the same moment can both start one more; the later-numbered of those
stops untrained, marked "surplus" (`_Owned`).

A run's worker processes start once for both of its stages (`WorkerPool`): each runs the proxy stage,
says so by a file in the pool's folder and waits there for its next stage, which the parent writes
once it has enqueued the finals: run until the study holds N trials with T threads, or stop. Fewer
trials than workers in a stage: the idle workers sit it out, waiting for a later stage (the
confirmation of the answer may need them again), and the others raise their torch threads
(torch.set_num_threads) to share the cores, since a process keeps the data and imports it started with.
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import optuna

from .. import errors, optuna_adapter, records, settings
from . import _failures as failures
from ..errors import StorageError, WorkersFailed, WriteFailed
from ..storage import disk, mask, owners
from ..engine import StudySpec


@dataclass(frozen=True)
class WorkerJob:
    """What a worker is for all of a run's stages (its study, device, data and how it trains); what it
    does in each stage is a Stage, handed to it."""

    spec: StudySpec
    device: str
    data_root: str | None
    artifact_dir: str | None
    worker: int = 0
    own_trials: int | None = None  # `mnist-search worker --trials N`: N trials of its own, whatever others do
    sampler_seed: int | None = None  # default: from the study's seed, its size and the worker's index
    precision: str = "auto"  # mnistnet.precision name, resolved on the worker's device
    compile_finals: bool = False  # torch.compile the finals' training steps
    log_name: str | None = None  # its log file in the study's log folder (default: worker-INDEX)
    progress: bool = True  # a line on stderr per epoch of a final (minutes each on a CPU)
    handshake: str | None = None  # a WorkerPool's folder: wait there for the next stage after this one


@dataclass(frozen=True)
class Stage:
    """What a run's workers do next: trials until the study holds `until` (records.COUNTED), `threads`
    torch threads each, for at most `timeout` seconds; under a time budget no proxy trial starts after
    `stop_at` (time.time())."""

    until: int
    timeout: float | None
    threads: int
    stop_at: float | None = None


def make_objective(job: WorkerJob):
    import space as spaces
    from mnistnet import data as mdata
    from mnistnet.precision import resolve as resolve_precision
    from mnistnet.train import resolve_device

    from ..engine import Budget, Fidelity, Objective

    spec = job.spec
    device = resolve_device(job.device)
    data = mdata.load(job.data_root, val_size=spec.val_size, device=device)
    from ..storage import open_store

    store = open_store(job.artifact_dir) if job.artifact_dir else None  # a folder or s3://BUCKET/PREFIX
    space = spaces.get(spec.space, spec.base)

    def objective(fidelity: Fidelity) -> Objective:
        return Objective(
            space,
            fidelity,
            Budget.for_space(space, spec.max_params, spec.max_macs),
            device,
            objective=spec.objective,
            warmup_epochs=spec.warmup_epochs,
            stop_early=spec.pruner != "none",
            artifact_store=store,
            seed=spec.seed,
            precision=resolve_precision(job.precision, device),
            compile_finals=job.compile_finals,
            on_final_epoch=_say_final if job.progress else None,
        )

    return ByStage(
        proxy=objective(Fidelity(data.subset(spec.subset), spec.epochs)),
        final=objective(
            Fidelity(data.subset(spec.final_subset), spec.final_epochs, final=True, ema_images=spec.final_ema_images)
        ),
        rung=objective(Fidelity(data.subset(spec.rung_subset), spec.rung_epochs, rung=True)),
    )


class ByStage:
    """Each stage's objective, handed its fidelity. A worker takes trials from the study's shared queue,
    filled by whichever process enqueued them (this run, a resumed one, a run on another machine), so
    a trial's stage is the one written when it was enqueued: a final is trained at full fidelity;
    any other trial (sampled, a warm start, a retry) is a proxy trial."""

    def __init__(self, proxy, final, rung):
        self.proxy, self.final, self.rung = proxy, final, rung

    def __call__(self, trial: optuna.Trial):
        if records.is_final(trial):
            return self.final(trial)
        return (self.rung if records.is_rung(trial) else self.proxy)(trial)


def run_trials_in_process(job: WorkerJob, stage: Stage, callbacks=(), objective=None) -> None:
    """Run the stage's trials of the study in this process: until it holds `stage.until` trials (or the
    timeout), or `job.own_trials` of its own.

    The process's torch thread count and Optuna's log verbosity, which the worker sets for its
    trials, are as they were when it returns: an in-process worker (search.run, a notebook) leaves
    its caller's process as it found it."""
    import torch

    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    try:
        _run_trials_in_process(job, stage, callbacks, objective)
    except _StorageLost as lost:
        raise lost.error from None
    except Exception as exc:
        lost = failures.storage_cause(exc) or refused_write(exc)
        if lost is not None and lost is not exc:
            raise lost from None  # the database went away (or the disk refused it) while Optuna recorded a trial
        raise
    finally:
        optuna.logging.set_verbosity(verbosity)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _run_trials_in_process(job: WorkerJob, stage: Stage, callbacks, objective) -> None:
    import torch

    from ..engine import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by the caller
    torch.set_num_threads(stage.threads)
    objective = objective or make_objective(job)
    if isinstance(objective, ByStage):
        objective.proxy.stop_at = stage.stop_at
    study = open_study(job.spec, seed=job.sampler_seed, worker=job.worker)
    owners.own_trials_from_the_start(study)
    owners.reap(study, log=_say)  # trials left running by dead workers on this machine: failed, retried
    stops = []
    if job.own_trials is None:
        if len(study.get_trials(deepcopy=False, states=records.COUNTED)) >= stage.until:
            return
        stops = [optuna.study.MaxTrialsCallback(stage.until, states=records.COUNTED)]
    timeout = stage.timeout
    if stage.stop_at is not None:  # counted from now: loading the data and the study took part of the stage
        timeout = max(0.0, min(timeout or math.inf, stage.stop_at - time.time()))
    # catch=Exception: one failing trial is recorded as FAIL and the study goes on.
    study.optimize(
        _Owned(objective, job, study, stage.until),
        n_trials=job.own_trials,
        timeout=timeout,
        catch=(Exception,),
        callbacks=[*stops, *callbacks],
        gc_after_trial=False,
    )


def refused_write(exc: BaseException) -> WriteFailed | None:
    """A write the disk refused inside a trial (its artifacts: search.storage) as one WriteFailed."""
    return disk.failed("a file", exc, "then rerun the same command: the study resumes where it stopped")


class _StorageLost(BaseException):
    """A StorageError (or a WriteFailed: the disk is full) raised in a trial, carried past study.optimize's
    catch=(Exception,): caught there, it would be recorded as the trial's failure (if the storage still
    answered) and the worker would go on. The worker stops instead, and reports it; the trial stays
    RUNNING under its owner, so the next worker on this machine fails it and runs it again
    (search.storage.owners.reap), as after a crash: once there is space, the same command loses nothing."""

    def __init__(self, error: StorageError | WriteFailed):
        super().__init__(str(error))
        self.error = error


class _Owned:
    """The objective, run by this process: it claims the trial, first fails the trials of workers
    that died meanwhile, and reports a failure in one line (traceback in the worker's log)."""

    def __init__(self, objective, job: WorkerJob, study: optuna.Study, until: int):
        self.objective, self.job, self.study, self.until = objective, job, study, until

    def __call__(self, trial: optuna.Trial):
        try:
            return self._run(trial)
        except (StorageError, WriteFailed) as exc:
            raise _StorageLost(exc) from None  # the worker's to report, not this trial's

    def _run(self, trial: optuna.Trial):
        owners.claim(trial)
        if self.job.own_trials is None and self._surplus(trial):
            self.study.stop()
            records.write_surplus(trial, self.until)
            raise optuna.TrialPruned("surplus")
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
        except KeyboardInterrupt:
            if _ORPHANED.is_set():
                self._requeue(trial)  # its run was killed: the next run does it again, as after a crash
            raise
        except Exception as exc:
            full = refused_write(exc)
            if full is not None:
                raise full from None  # no fault of the trial's: it runs again once there is space
            failures.trial_failed(self.job, trial, exc)
            raise

    def _requeue(self, trial: optuna.Trial) -> None:
        """Put the trial's point (an enqueued trial's parameters, else those sampled so far) and its
        stage back in the queue."""
        this = next(t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number)
        point = this.system_attrs.get(optuna_adapter.FIXED_PARAMS) or this.params
        attrs = {k: v for k, v in this.user_attrs.items() if k in records.QUEUE_ATTRS}
        self.study.enqueue_trial(point, user_attrs=attrs, skip_if_exists=False)

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Whether the study already held the run's target number of trials before this one started.
        An enqueued trial (a warm start or a final) is put back in the queue, not lost."""
        counted = self.study.get_trials(deepcopy=False, states=records.COUNTED)
        if sum(t.number < trial.number for t in counted) < self.until:
            return False
        this = next(t for t in counted if t.number == trial.number)
        fixed = this.system_attrs.get(optuna_adapter.FIXED_PARAMS)  # an enqueued trial's parameters
        if fixed is not None:
            attrs = {k: v for k, v in this.user_attrs.items() if k != records.OWNER}
            self.study.enqueue_trial(fixed, user_attrs=attrs, skip_if_exists=False)
        return True


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line)


def _say_final(*epoch) -> None:
    from ..reports import final_epoch_line, say

    say(final_epoch_line(*epoch))


def _child(job: WorkerJob, stage: Stage, status: str | None = None) -> None:
    import logging

    import torch

    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)  # as the command line does (search.cli)
    try:
        torch.set_num_threads(stage.threads)
        objective = make_objective(job)  # the data and imports, once for all of the run's stages
        number = 0
        while stage is not None:
            run_trials_in_process(job, stage, objective=objective)
            if job.handshake is None:
                return
            number += 1
            stage = _next_stage(Path(job.handshake), job.worker, number)
    except KeyboardInterrupt:
        pass  # the parent reports the interruption
    except WriteFailed as exc:
        failures.worker_failed(job, exc, quiet=True)  # the parent says it once for all workers
        _write_status(status, str(exc))
        sys.exit(errors.WRITE)
    except StorageError as exc:
        failures.worker_failed(job, exc, quiet=True)  # the parent says it once for all workers
        sys.exit(errors.STORAGE)
    except Exception as exc:  # noqa: BLE001 - one line and a log, not a traceback
        failures.worker_failed(job, exc)
        _write_status(status, failures.cause(exc))
        sys.exit(1)


def _done_file(folder: Path, worker: int, stage: int) -> Path:
    return folder / f"done-{stage}-{worker}"


def _stage_file(folder: Path, worker: int, stage: int) -> Path:
    return folder / f"stage-{stage}-{worker}.pickle"


def _next_stage(folder: Path, worker: int, stage: int, poll_seconds: float = 0.2) -> Stage | None:
    """Say that stage `stage - 1` is done, then wait for the parent's word: the next Stage, or None (stop)."""
    _done_file(folder, worker, stage - 1).touch()
    path = _stage_file(folder, worker, stage)
    while not path.exists():  # the orphan watch interrupts this wait if the parent dies
        time.sleep(poll_seconds)
    with open(path, "rb") as f:
        return pickle.load(f)


def _write_status(path: str | None, line: str) -> None:
    """The worker's failure in one line, for the parent's report (best effort)."""
    if path:
        try:
            Path(path).write_text(line)
        except OSError:
            pass


# What a worker process runs: a fresh interpreter, importing this package by its location, reading its
# job and first stage from the file named first; a failure to even start is written to the status file named second.
BOOT = (
    "import sys\n"
    "try:\n"
    "    from search.running import child_main\n"
    "except BaseException as exc:\n"
    "    open(sys.argv[2], 'w').write(f'{type(exc).__name__}: {exc}')\n"
    "    raise\n"
    "child_main(sys.argv[1], sys.argv[2])\n"
)


def child_main(job_file: str, status: str) -> None:
    """A worker process's entry point (see BOOT): run the pickled WorkerJob and first Stage in `job_file`."""
    with open(job_file, "rb") as f:
        job, stage = pickle.load(f)
    _stop_when_orphaned(os.getppid(), Path(job_file).parent)
    _child(job, stage, status)


_ORPHANED = threading.Event()  # set once this worker's run is gone


def _stop_when_orphaned(parent: int, folder: Path, seconds: float = 2.0) -> None:
    """If the run that started this worker dies (killed, not interrupted), stop as on Ctrl-C: the
    running trial is marked FAIL and queued again for the next run, and no new one starts, instead of
    training on unwatched. The run's folder of worker files goes too: the run cannot remove it now."""
    import _thread

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(seconds)
        _ORPHANED.set()
        # after the main thread has marked its trial (each orphan tries; the first removes the folder)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _thread.interrupt_main()
        time.sleep(20)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)  # the interrupt did not land (SIGINT ignored?): its trial is left to search.storage.owners

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _package_root() -> str:
    """The folder holding the search, space and mnistnet packages (a checkout or site-packages)."""
    return str(Path(__file__).resolve().parents[1])


def _start(job: WorkerJob, stage: Stage, folder: Path):
    """One worker process: a fresh interpreter (sys.executable) that never imports the caller's __main__."""
    job_file, status = folder / f"job-{job.worker}.pickle", folder / f"status-{job.worker}.txt"
    with open(job_file, "wb") as f:
        pickle.dump((job, stage), f)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.Popen([sys.executable, "-c", BOOT, str(job_file), str(status)], env=env)
    return proc, status


class WorkerPool:
    """`workers` processes on a study, started once (each a fresh interpreter, see BOOT) on its first
    `stage` and kept for the run's stages: `wait()` for a stage to end, then `next_stage()` with the workers it needs; the
    others sit it out and wait for a later one (`close()` stops them). With stages=False each worker
    exits after its one stage. `started` counts the processes started (once each, whatever the number
    of stages). Each worker counts its own stages, so one that sat a stage out is told the next by its
    own number."""

    def __init__(
        self,
        job: WorkerJob,
        workers: int,
        stage: Stage,
        *,
        stages: bool = True,
        poll_seconds: float = 2.0,
        check_seconds: float = 0.1,
    ):
        # on_poll (progress read from the storage) every poll_seconds; whether a worker has ended
        # its stage (a file, a process) every check_seconds, so a stage's end is seen at once
        self.job, self.poll_seconds, self.check_seconds = job, poll_seconds, check_seconds
        self._tmp = tempfile.TemporaryDirectory(prefix="mnist-search-workers-")
        self.folder = Path(self._tmp.name)
        handshake = str(self.folder) if stages else None
        self.procs = [_start(replace(job, worker=i, handshake=handshake), stage, self.folder) for i in range(workers)]
        self.started = len(self.procs)
        self.active = list(range(workers))  # the workers running the current stage
        self.stage_of = [0] * workers  # each worker's stage number (a worker that sat one out is behind)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _done(self, i: int) -> bool:
        return _done_file(self.folder, i, self.stage_of[i]).exists()

    def wait(self, on_poll=None) -> list[int]:
        """Wait until every active worker has ended the stage (it waits for the next) or exited;
        return their codes (0 for one that waits). StorageError when a worker lost the database,
        WorkersFailed when every active worker exited with an error."""
        procs = [self.procs[i] for i in self.active]

        def poll():
            try:
                if on_poll:
                    on_poll()
            except StorageError:
                pass  # the database is away: the workers wait for it, and say when they give up

        def running(i: int) -> bool:
            return self.procs[i][0].poll() is None and not self._done(i)

        try:
            polled = float("-inf")
            while any(running(i) for i in self.active):
                if time.monotonic() - polled >= self.poll_seconds:
                    poll()
                    polled = time.monotonic()
                time.sleep(self.check_seconds)
        except KeyboardInterrupt:
            for p, _ in self.procs:
                try:
                    p.wait(timeout=30)  # the children got the same Ctrl-C and mark their trials
                except subprocess.TimeoutExpired:
                    p.kill()
            raise
        codes = [0 if self._done(i) else self.procs[i][0].wait() for i in self.active]
        if errors.WRITE in codes:  # the disk refused a write: the first such worker's line says where
            first = _read_status(self.procs[self.active[codes.index(errors.WRITE)]][1])
            raise WriteFailed(first or f"a worker could not write (details in {failures.worker_log(self.job).parent})")
        if errors.STORAGE in codes:
            raise StorageError(
                f"lost the database {mask(self.job.spec.storage)}: no answer for "
                f"{settings.db_retry_seconds():g} s, so the workers stopped; the study is kept: "
                f"rerun when the database is back ({settings.DB_RETRY} sets how long workers wait; "
                f"details in {failures.worker_log(self.job).parent})"
            )
        poll()
        if codes and all(codes):
            first = _read_status(procs[0][1])
            raise WorkersFailed(
                f"all {len(codes)} workers exited with an error; worker {self.active[0]}: "
                f"{first or f'exit code {codes[0]}'} (traceback in {_log_of(self.job, self.active[0])})"
            )
        return codes

    def waiting(self) -> list[int]:
        """The workers that wait for a stage (they ended their last one, or sat it out)."""
        return [i for i in range(len(self.procs)) if self._done(i) and self.procs[i][0].poll() is None]

    def next_stage(self, stage: Stage, workers: int) -> list[int]:
        """Start the next stage on `workers` of the waiting workers; the others keep waiting. Returns
        those started."""
        self.active = self.waiting()[:workers]
        for i in self.active:
            self._tell(i, stage)
        return self.active

    def _tell(self, i: int, stage: Stage | None) -> None:
        self.stage_of[i] += 1
        path = _stage_file(self.folder, i, self.stage_of[i])
        part = path.with_suffix(".part")
        with open(part, "wb") as f:
            pickle.dump(stage, f)
        os.replace(part, path)  # whole or not at all: the worker reads it once it exists

    def close(self) -> None:
        """Stop the workers waiting for a stage, wait for all to exit, remove the folder."""
        try:
            for i in self.waiting():
                self._tell(i, None)
            for p, _ in self.procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        finally:
            self._tmp.cleanup()


def _read_status(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _log_of(job: WorkerJob, worker: int) -> Path:
    return failures.worker_log(replace(job, worker=worker))


def exit_report(job: WorkerJob, codes: list[int], workers: list[int] | None = None) -> str | None:
    """One line when some workers exited with an error: how many, and where their logs are.
    workers: the index of the worker behind each code (default: 0, 1, ...)."""
    workers = list(range(len(codes))) if workers is None else workers
    failed = [w for w, c in zip(workers, codes) if c]
    if not failed:
        return None
    logs = ", ".join(str(_log_of(job, i)) for i in failed)
    return f"warning: {len(failed)} of {len(codes)} workers exited with an error (logs: {logs})"
