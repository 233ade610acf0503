"""The study's SQLite file, when the disk refuses a write or the file is damaged: one clear error each.

SQLite rolls a failed write back, so the file keeps every trial committed before it: the worker stops
(search.running), the trial it ran stays RUNNING under its dead owner, and the same command rerun
once there is space fails that trial and runs it again (search.storage.owners.reap), so nothing is lost.
Optuna reports such a write as "invalid data in the commit" (and a trial's last write even as an
AssertionError), so every call that reaches the database is wrapped here to say what happened:
StudyWriteFailed names the file, the cause and the fix; DamagedStudy says the file is damaged, that
it is left as it is, and where a fresh study can go beside it.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from optuna.storages import RDBStorage

from . import _disk as disk
from .. import optuna_adapter
from ..errors import DamagedStudy, StudyWriteFailed
from ._reconnect import RETRIED

_log = logging.getLogger(__name__)

RESUME = "then rerun the same command: the study resumes where it stopped"


def damaged(path: Path, words: str) -> DamagedStudy:
    fresh = _beside(Path(path))
    return DamagedStudy(
        f"the study database {path} is damaged (SQLite: {words}) and is left as it is; to start afresh "
        f"beside it, pass --storage sqlite:///{fresh} (or move the damaged file away)"
    )


def _beside(path: Path) -> Path:
    """A free file name next to `path` for a fresh study (mnist-new.db, mnist-new2.db, ...)."""
    n = 1
    while True:
        fresh = path.with_name(f"{path.stem}-new{n if n > 1 else ''}{path.suffix}")
        if not fresh.exists():
            return fresh
        n += 1


def translate(path: Path, exc: BaseException) -> Exception | None:
    """The clear error for a refused write to, or damage of, the SQLite file `path`; None for others."""
    words = disk.sqlite_damaged(exc)
    if words:
        return damaged(path, words)
    refused = disk.refused(exc)
    if refused is None and not disk.sqlite_write_failed(exc):
        return None
    code = refused.errno if refused is not None else disk.diagnose(path)
    said = disk.sqlite_words(exc) or (refused.strerror if refused is not None else "")
    return StudyWriteFailed(disk.message(f"the study database {path}", code, RESUME, fallback=f"SQLite: {said}"))


class SQLiteStorage(RDBStorage):
    """RDBStorage on a SQLite file whose refused writes and damage raise one clear error."""

    def __init__(self, url: str, path: Path, *args, **kwargs):
        self.path = Path(path)
        try:
            super().__init__(url, *args, **kwargs)
        except Exception as exc:
            error = translate(self.path, exc)
            if error is None:
                raise
            raise error from None

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:  # noqa: BLE001 - in a thread: raising prints a traceback
            if translate(self.path, exc) is None:
                raise
            # The trial's own next write meets the same refusal and stops the worker with one line.
            _log.debug("heartbeat of trial %s not recorded: %s", trial_id, exc)

    def take_waiting_trial(self, trial_id: int, key: str, value) -> bool:
        """A queued trial set RUNNING with its user attribute `key` in one write (search.storage.owners)."""
        return optuna_adapter.take_waiting_trial(self, trial_id, key, value)


def _guarded(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            error = translate(self.path, exc)
            if error is None:
                raise
            raise error from None

    return call


for _name in (*RETRIED, "set_trial_state_values", "check_trial_is_updatable", "fail_stale_trials"):
    if hasattr(RDBStorage, _name):
        setattr(SQLiteStorage, _name, _guarded(getattr(RDBStorage, _name)))
SQLiteStorage.take_waiting_trial = _guarded(SQLiteStorage.take_waiting_trial)
