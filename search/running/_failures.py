"""A failed trial or a crashed worker: one line on stderr, the full traceback in the study's log folder.

The log folder is beside the SQLite file (`studies/logs/STUDY/` for the default storage), or in the
artifacts folder for a database server; each worker appends to its own file (`worker-0.log`, ...).
MNIST_SEARCH_DEBUG=1 also prints the tracebacks on stderr.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
import traceback
from pathlib import Path

from .. import settings
from ..errors import BadSetting, SearchError, StorageError
from ..storage import sqlite_path


def log_folder(storage_url: str, artifact_dir: str | None, study: str) -> Path:
    db = sqlite_path(storage_url)
    local = artifact_dir and not artifact_dir.startswith("s3://")  # logs stay on the machine that ran the worker
    base = db.parent if db else Path(artifact_dir) if local else Path(settings.STUDIES_DIR)
    return base / "logs" / (re.sub(r"[^\w.-]+", "_", study) or "study")


def worker_log(job) -> Path:
    """The log file of a worker (a search.running.WorkerJob)."""
    return (
        log_folder(job.spec.storage, job.artifact_dir, job.spec.name) / f"{job.log_name or f'worker-{job.worker}'}.log"
    )


def cause(exc: BaseException) -> str:
    """An exception in one line: a deliberate failure's message, else its type and first line."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, SearchError):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def storage_cause(exc: BaseException) -> StorageError | None:
    """The StorageError (a database lost for good) behind `exc`, if any: Optuna may raise something
    else while it tries to record a trial after the database went away."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, StorageError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _debug() -> bool:
    try:
        return settings.debug()
    except BadSetting:
        return False


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)  # above this process's progress bar, if it has one


def _append(path: Path, header: str, exc: BaseException) -> str:
    """Append the header and the traceback to `path`; returns where it went, for the line."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(f"=== {stamp} {header} (host {socket.gethostname()}, pid {os.getpid()})\n{text}\n")
        return f"traceback in {path}"
    except OSError as err:
        return f"traceback not saved: cannot write {path}: {err.strerror}"


def trial_failed(job, trial, exc: BaseException) -> None:
    """A trial raised: log its traceback, print one line."""
    where = _append(worker_log(job), f"trial {trial.number} failed, params {trial.params}", exc)
    _say(f"trial {trial.number} failed: {cause(exc)} ({where})")
    if _debug():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def worker_failed(job, exc: BaseException, quiet: bool = False) -> None:
    """A worker process stopped on an exception: log its traceback, print one line (unless quiet:
    the parent reports a lost database once for all its workers)."""
    where = _append(worker_log(job), f"worker {job.worker} stopped", exc)
    if not quiet:
        print(f"worker {job.worker} stopped: {cause(exc)} ({where})", file=sys.stderr, flush=True)
    if _debug():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
