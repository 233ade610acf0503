"""An Optuna RDBStorage that survives a database server restart.

SQLAlchemy's pool_pre_ping replaces pooled connections that died while idle; a connection that dies
during a call (the server restarts, fails over, or drops it) makes Optuna raise
StorageInternalError. This storage retries such calls with exponential backoff (0.25 s doubling to
8 s) until the server answers again. When it has not answered for MNIST_SEARCH_DB_RETRY seconds
(default 60), the call raises StorageError with one clear line; later calls try once, then fail
fast, so a worker stops within that bound instead of waiting again at every step.

Only calls that are safe to repeat are retried: reads, and writes Optuna does as upserts or inside
one transaction that a dropped connection rolls back. The trial heartbeat is never retried (the
next beat is the retry), and never raises: a heartbeat thread's exception would print a traceback.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from .. import optuna_adapter, settings
from ..errors import StorageError

_log = logging.getLogger(__name__)

FIRST_WAIT, LONGEST_WAIT = 0.25, 8.0
# RDBStorage methods that reach the database (create_new_trial, set_trial_param and get_all_trials
# go through private ones, which Optuna's cache calls directly: search.optuna_adapter names them).
RETRIED = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "get_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
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


class ReconnectingRDBStorage(RDBStorage):
    """RDBStorage whose calls wait (a bounded time) for a database server that went away."""

    def __init__(self, url: str, *args, **kwargs):
        self._retry_seconds = settings.db_retry_seconds()
        self._down_since: float | None = None  # when the current outage was first seen
        self._lock = threading.Lock()
        super().__init__(url, *args, **kwargs)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._lock = threading.Lock()

    def _call(self, name: str, method, *args, **kwargs):
        wait, attempt = FIRST_WAIT, 0
        while True:
            attempt += 1
            try:
                result = method(self, *args, **kwargs)
            except optuna.exceptions.UpdateFinishedTrialError:
                if attempt > 1 and name == "set_trial_state_values" and self._already_set(args, kwargs):
                    return True  # the lost attempt had committed it
                raise
            except Exception as exc:  # noqa: BLE001 - only a lost connection is retried
                if not lost_connection(exc):
                    raise
                left = self._left(exc)
                if left <= 0:
                    raise self._gone(exc) from exc
                self.remove_session()  # a fresh session (and connection) for the next attempt
                time.sleep(min(wait, left))
                wait = min(2 * wait, LONGEST_WAIT)
                continue
            with self._lock:
                self._down_since = None
            return result

    def _left(self, exc: BaseException) -> float:
        """Seconds left to wait for the server in this outage (first seen now, or earlier)."""
        with self._lock:
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
                _log.info("lost the database connection (%s); retrying for up to %.0f s", exc, self._retry_seconds)
            return self._down_since + self._retry_seconds - now

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

    def _already_set(self, args, kwargs) -> bool:
        trial_id = args[0] if args else kwargs["trial_id"]
        state = args[1] if len(args) > 1 else kwargs["state"]
        try:
            return RDBStorage.get_trial(self, trial_id).state == state and state != TrialState.RUNNING
        except Exception:  # noqa: BLE001 - cannot tell: the original error stands
            return False

    def set_trial_state_values(self, trial_id, state, values=None):
        return self._call("set_trial_state_values", RDBStorage.set_trial_state_values, trial_id, state, values)

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            RDBStorage.record_heartbeat(self, trial_id)
        except Exception as exc:  # noqa: BLE001 - the next beat retries; the trial's own calls report
            if lost_connection(exc):
                self._left(exc)
            _log.debug("heartbeat of trial %s not recorded: %s", trial_id, exc)


def _retrying(name: str):
    method = getattr(RDBStorage, name)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return self._call(name, method, *args, **kwargs)

    return call


for _name in RETRIED:
    setattr(ReconnectingRDBStorage, _name, _retrying(_name))
