"""Optuna's gRPC storage proxy: one server process in front of the database, workers talk gRPC to it.

`mnist-search storage-server --storage postgresql://...` serves Optuna's proxy service (what
`optuna.storages.run_grpc_proxy_server` serves, in a gRPC server kept in hand, see serve) over our
storage (search.storage.open_storage: the database calls wait for a restarting server,
search.storage). Every command that takes
`--storage` accepts `grpc://HOST:PORT`, which opens `ReconnectingGrpcProxy` below: Optuna's
`GrpcStorageProxy` whose calls wait (MNIST_SEARCH_DB_RETRY seconds, as against the database) for a
proxy that restarts, then fail with one StorageError line.

A call is retried only when the proxy did not answer: gRPC UNAVAILABLE (nobody there), or
CANCELLED, which these workers never do themselves, so it means the proxy went away mid-call (a
stopping server cancels the calls still open when its grace period ends). The server is stopped
with a grace period (SIGTERM or Ctrl-C), so a call that reached it is answered before it goes; a
proxy killed with SIGKILL mid-call may have done a call whose answer was lost: the retry of a
trial's state change is recognised as done (as search.storage does), but a lost answer to "create
a trial" leaves one unused trial RUNNING (it names its worker, search.storage.owners: it is failed once that
worker has ended).

The proxy has no authentication: bind it to loopback, or to a private network the workers share.
Trials have no heartbeats through the proxy (its protocol has no heartbeat call): a worker that
dies on this machine is still found by search.storage.owners; one that dies on another machine leaves its
trial RUNNING until `mnist-search worker` runs again there (or forever, if that machine is gone).
"""

from __future__ import annotations

import optuna
from optuna.storages import GrpcStorageProxy

from .. import optuna_adapter, settings
from ..errors import StorageError
from ._retry import SERVER_CALLS, Retrying, retry_calls

SCHEME = "grpc://"
DEFAULT_PORT = 13000
SERVER_THREADS = 10  # Optuna's default pool: at most this many calls reach the database at once
STOP_GRACE_S = 10  # a stopping server answers the calls it has begun for this long
# Reconnect quickly once the proxy is back (gRPC's default backoff grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
# GrpcStorageProxy's methods that reach the server (BaseStorage's other methods call these).
CALLS = (*SERVER_CALLS, "create_new_trial", "set_trial_param", "get_all_trials")


NO_HEARTBEATS = (
    "note: through the storage proxy trials have no heartbeats: a trial whose worker dies on another "
    "machine stays RUNNING (dead workers on this machine are still found and their trials retried)"
)


def is_proxy(url: str) -> bool:
    return isinstance(url, str) and url.startswith(SCHEME)


def address(url: str) -> tuple[str, int]:
    """(host, port) of grpc://HOST:PORT; StorageError when it is malformed."""
    from urllib.parse import urlsplit

    shown = url if "@" not in url else SCHEME + "***@" + url.rpartition("@")[2]  # no password on screen
    bad = StorageError(
        f"malformed storage proxy URL {shown!r}: expected grpc://HOST:PORT, e.g. grpc://127.0.0.1:"
        f"{DEFAULT_PORT} (start the proxy with `mnist-search storage-server`)"
    )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise bad
    return parts.hostname, port or DEFAULT_PORT


def _grpc():
    import os

    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # gRPC's own log lines: our messages say what went wrong
    try:
        import grpc

        optuna_adapter.grpc_generated()  # needs protobuf
        return grpc
    except ImportError as exc:
        raise StorageError(
            f"the storage proxy needs the Python module {getattr(exc, 'name', None) or 'grpc'!r}: "
            f"run `pip install 'mnist-search[proxy]'`, which brings grpcio and protobuf"
        ) from None


class ReconnectingGrpcProxy(Retrying, optuna_adapter.GrpcProxyWithOptions):
    """GrpcStorageProxy whose calls wait (a bounded time) for a proxy that went away."""

    channel_options = CHANNEL_OPTIONS
    storage_class = GrpcStorageProxy
    longest_wait = 4.0
    lost_what = "the storage proxy"
    hides_cause = True  # the gRPC error's details are in the line

    def __init__(self, url: str):
        self.url = url  # api.storage_url reads it
        self._start_retrying()
        host, port = address(url)
        with optuna_adapter.experimental_quiet():
            super().__init__(host=host, port=port)

    def probe(self) -> None:
        """One call, not retried: a proxy that is not there is one line now, not after a minute."""
        grpc = _grpc()
        try:
            GrpcStorageProxy.get_all_studies(self)
        except grpc.RpcError as exc:
            raise StorageError(
                f"no storage proxy answers at {self.url} ({_details(exc)}): start it with "
                f"`mnist-search storage-server --storage DATABASE_URL --port {self.port}`, "
                f"or check the address"
            ) from None

    def _lost(self, exc: BaseException) -> bool:
        grpc = _grpc()
        return isinstance(exc, grpc.RpcError) and exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)

    def _describe(self, exc: BaseException) -> str:
        return _details(exc)

    def _done_already(self, name: str, exc: BaseException, args, kwargs):
        if (
            isinstance(exc, optuna.exceptions.DuplicatedStudyError)
            and name == "create_new_study"
            and kwargs.get("study_name")
        ):
            return GrpcStorageProxy.get_study_id_from_name(self, kwargs["study_name"])  # the lost attempt made it
        return super()._done_already(name, exc, args, kwargs)

    def _gone(self, exc) -> StorageError:
        return StorageError(
            f"lost the storage proxy {self.url}: no answer for {self._retry_seconds:g} s "
            f"({_details(exc)}); the study is kept: rerun when the proxy is back "
            f"({settings.DB_RETRY} sets how long workers wait)"
        )

    def _failed(self, exc) -> StorageError | None:
        # The server raised: e.g. its database stayed away past its own retry window.
        if isinstance(exc, _grpc().RpcError):
            return StorageError(f"the storage proxy {self.url} failed: {_details(exc)}")
        return None


retry_calls(ReconnectingGrpcProxy, CALLS)


def proxy_class():
    """The ReconnectingGrpcProxy class, once grpc is known to be installed (an optional extra)."""
    _grpc()
    return ReconnectingGrpcProxy


def _details(exc) -> str:
    try:
        text = exc.details() or exc.code().name
    except Exception:  # noqa: BLE001
        text = str(exc)
    text = (text.strip().splitlines() or [""])[0]
    return text.removeprefix("Exception calling application: ")[:300]


def open_proxy(url: str):
    """A storage that reaches the database through the proxy at grpc://HOST:PORT."""
    address(url)
    storage = proxy_class()(url)
    storage.probe()
    return storage
