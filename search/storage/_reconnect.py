"""An Optuna RDBStorage that survives a database server restart.

SQLAlchemy's pool_pre_ping replaces pooled connections that died while idle; a connection that dies
during a call (the server restarts, fails over, or drops it) makes Optuna raise
StorageInternalError. This storage retries such calls (search.storage._retry: backoff from 0.25 s
doubling to 8 s) until the server answers again, or raises StorageError with one clear line when it
has not answered for MNIST_SEARCH_DB_RETRY seconds (default 60).

Only calls that are safe to repeat are retried: reads, and writes Optuna does as upserts or inside
one transaction that a dropped connection rolls back. The trial heartbeat is never retried (the
next beat is the retry), and never raises: a heartbeat thread's exception would print a traceback.
"""

from __future__ import annotations

import logging

from optuna.storages import RDBStorage

from .. import optuna_adapter, settings
from ..errors import StorageError
from ._retry import SERVER_CALLS, Retrying, retry_calls

_log = logging.getLogger(__name__)

# RDBStorage methods that reach the database (create_new_trial, set_trial_param and get_all_trials
# go through private ones, which Optuna's cache calls directly: search.optuna_adapter names them).
RETRIED = (
    *SERVER_CALLS,
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_trial_param",
    *optuna_adapter.RDB_PRIVATE_CALLS,
)


def lost_connection(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a connection to the database that failed or dropped."""
    from sqlalchemy import exc as sa

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (sa.OperationalError, sa.InterfaceError, sa.PendingRollbackError)):
            return True
        if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class ReconnectingRDBStorage(Retrying, RDBStorage):
    """RDBStorage whose calls wait (a bounded time) for a database server that went away."""

    storage_class = RDBStorage
    longest_wait = 8.0
    lost_what = "the database connection"

    def __init__(self, url: str, *args, **kwargs):
        self._start_retrying()
        super().__init__(url, *args, **kwargs)

    def _lost(self, exc: BaseException) -> bool:
        return lost_connection(exc)

    def _before_retry(self) -> None:
        self.remove_session()  # a fresh session (and connection) for the next attempt

    def _gone(self, exc: BaseException) -> StorageError:
        from ._urls import mask
        from sqlalchemy import exc as sa

        reason = exc
        while reason.__cause__ is not None or reason.__context__ is not None:
            if isinstance(reason, sa.DBAPIError):
                reason = reason.orig or reason
                break
            reason = reason.__cause__ or reason.__context__
        first = (str(reason).strip().splitlines() or [type(reason).__name__])[0][:200]
        return StorageError(
            f"lost the database {mask(self.url)}: no answer for {self._retry_seconds:g} s "
            f"({first}); the study is kept: rerun when the database is back "
            f"({settings.DB_RETRY} sets how long workers wait)"
        )

    def take_waiting_trial(self, trial_id: int, key: str, value) -> bool:
        """A queued trial set RUNNING with its user attribute `key` in one write (search.storage.owners),
        retried like the other calls: an attempt whose answer was lost may have taken it already."""
        taken = self._call("take_waiting_trial", optuna_adapter.take_waiting_trial, trial_id, key, value)
        if not taken and self.get_trial(trial_id).user_attrs.get(key) == value:
            return True  # the lost attempt's write: this worker holds it
        return taken

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            RDBStorage.record_heartbeat(self, trial_id)
        except Exception as exc:  # noqa: BLE001 - the next beat retries; the trial's own calls report
            if lost_connection(exc):
                self._left(exc)
            _log.debug("heartbeat of trial %s not recorded: %s", trial_id, exc)


retry_calls(ReconnectingRDBStorage, RETRIED)
