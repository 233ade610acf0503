"""The retry loop the storages share: a storage call whose server did not answer is tried again, with
exponential backoff, until the server answers or MNIST_SEARCH_DB_RETRY seconds (default 60) have
passed since it went away; then the call raises StorageError with one line, and later calls try once
and fail fast, so a worker stops within that bound instead of waiting again at every step.

`Retrying` is mixed in before the storage class whose calls it retries (Optuna's RDBStorage in
search.storage._reconnect, its GrpcStorageProxy in search.storage._proxy); `retry_calls` routes the
named methods of that class through it. What counts as "no answer", what another error becomes, and
the line said when the server stays away are the subclass's.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import optuna
from optuna.trial import TrialState

from .. import settings

_log = logging.getLogger(__name__)

FIRST_WAIT = 0.25
# The storage methods (Optuna's BaseStorage) that reach the server in both storages; each adds its own.
SERVER_CALLS = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
)
NOT_DONE = object()  # _done_already: the lost attempt did not do the call


class Retrying:
    """Calls that wait (a bounded time) for a server that went away. A subclass sets storage_class
    (whose methods do the work), longest_wait, lost_what (for the log line), and defines _lost,
    _gone and, where another error says more as a StorageError, _failed."""

    storage_class: type
    longest_wait: float
    lost_what: str
    hides_cause = False  # _gone's error shows the lost call's own error as its cause unless True

    def _start_retrying(self) -> None:
        self._retry_seconds = settings.db_retry_seconds()
        self._down_since: float | None = None  # when the current outage was first seen
        self._lock = threading.Lock()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        state["_lock"] = threading.Lock()
        super().__setstate__(state)

    def _lost(self, exc: BaseException) -> bool:
        """Whether `exc` means the server did not answer (the call is tried again)."""
        raise NotImplementedError

    def _gone(self, exc: BaseException) -> Exception:
        """The one line for a server that stayed away past the retry window."""
        raise NotImplementedError

    def _failed(self, exc: BaseException) -> Exception | None:
        """What an error that is no lost server becomes (None: it is raised as it is)."""
        return None

    def _before_retry(self) -> None:
        """Anything to reset before the next attempt."""

    def _describe(self, exc: BaseException) -> str:
        return str(exc)

    def _done_already(self, name: str, exc: BaseException, args, kwargs):
        """A repeated call's result where its error says that an attempt whose answer was lost had done
        it (a trial's state already set), else NOT_DONE."""
        if (
            isinstance(exc, optuna.exceptions.UpdateFinishedTrialError)
            and name == "set_trial_state_values"
            and self._already_set(args, kwargs)
        ):
            return True
        return NOT_DONE

    def _already_set(self, args, kwargs) -> bool:
        trial_id = args[0] if args else kwargs["trial_id"]
        state = args[1] if len(args) > 1 else kwargs["state"]
        try:
            return self.storage_class.get_trial(self, trial_id).state == state and state != TrialState.RUNNING
        except Exception:  # noqa: BLE001 - cannot tell: the original error stands
            return False

    def _call(self, name: str, method, *args, **kwargs):
        wait, attempt = FIRST_WAIT, 0
        while True:
            attempt += 1
            try:
                result = method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - only a server that did not answer is retried
                done = self._done_already(name, exc, args, kwargs) if attempt > 1 else NOT_DONE
                if done is not NOT_DONE:
                    return done
                if not self._lost(exc):
                    failed = self._failed(exc)
                    if failed is None:
                        raise
                    raise failed from None
                left = self._left(exc)
                if left <= 0:
                    raise self._gone(exc) from (None if self.hides_cause else exc)
                self._before_retry()
                time.sleep(min(wait, left))
                wait = min(2 * wait, self.longest_wait)
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
                _log.info(
                    "lost %s (%s); retrying for up to %.0f s", self.lost_what, self._describe(exc), self._retry_seconds
                )
            return self._down_since + self._retry_seconds - now

    def set_trial_state_values(self, trial_id, state, values=None):
        return self._call("set_trial_state_values", self.storage_class.set_trial_state_values, trial_id, state, values)


def retry_calls(cls: type, names) -> None:
    """Route the methods `names` of cls.storage_class through cls's retry loop."""
    for name in names:
        setattr(cls, name, _retrying(name, getattr(cls.storage_class, name)))


def _retrying(name: str, method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return self._call(name, method, *args, **kwargs)

    return call
