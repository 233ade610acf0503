"""The server side of the storage proxy: `mnist-search storage-server` serves Optuna's gRPC proxy
service over our storage (search.storage.open_storage), with a cache that knows every trial.

Its client side, `--storage grpc://HOST:PORT`, is search.storage_proxy (search.storage opens it, so
the server lives here, above both).
"""
from __future__ import annotations

import threading

from .errors import BadArgument, StorageError
from .storage import open_storage
from .storage_proxy import SERVER_THREADS, STOP_GRACE_S, _grpc, is_proxy
from .urls import mask


def cached(storage):
    """Optuna's in-process cache in front of the database (what get_storage adds, and what
    run_grpc_proxy_server's documentation asks for), that also knows trials it did not create.

    Optuna's cache records which study a trial belongs to when it creates or reads the trial, and
    its set_trial_param needs that record: a restarted proxy has none for the trials that workers
    were running, so their next parameter would fail with NOT_FOUND. This one reads the study's
    trials from the database first.
    """
    from optuna.storages import RDBStorage
    try:
        from optuna.storages._cached_storage import _CachedStorage
    except ImportError:  # a later Optuna: without the cache every call reads the database
        return storage
    if not isinstance(storage, RDBStorage):
        return storage

    class Cache(_CachedStorage):
        def set_trial_param(self, trial_id, param_name, param_value_internal, distribution):
            if trial_id not in self._trial_id_to_study_id_and_number:
                self._learn(trial_id)
            return super().set_trial_param(trial_id, param_name, param_value_internal, distribution)

        def _learn(self, trial_id: int) -> None:
            self._backend.get_trial(trial_id)  # KeyError (NOT_FOUND to the worker) if there is no such trial
            for study in self._backend.get_all_studies():
                self._read_trials_from_remote_storage(study._study_id)
                if trial_id in self._trial_id_to_study_id_and_number:
                    return

    return Cache(storage)


def serve(storage_url: str, host: str, port: int, log=print, ready=None) -> None:
    """Serve Optuna's gRPC proxy over `storage_url` until SIGTERM or Ctrl-C (answering the calls it
    has begun, for up to STOP_GRACE_S); `ready` (an Event) is set once it listens."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    if is_proxy(storage_url):
        raise BadArgument(f"storage-server serves a database, not another proxy: pass its database URL "
                          f"(e.g. postgresql://user:password@host/dbname), not {storage_url}")
    grpc = _grpc()
    from optuna.storages._grpc.auto_generated import api_pb2_grpc
    from optuna.storages._grpc.servicer import OptunaStorageProxyService
    backend = cached(open_storage(storage_url, heartbeat=False))
    # What run_grpc_proxy_server serves, in a server kept in hand: a stop answers the calls it has
    # begun, and a second proxy on the same port is refused (gRPC shares ports by default).
    server = grpc.server(ThreadPoolExecutor(max_workers=SERVER_THREADS), options=[("grpc.so_reuseport", 0)])
    api_pb2_grpc.add_StorageServiceServicer_to_server(OptunaStorageProxyService(backend), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise StorageError(f"cannot listen on {host}:{port}: the port is in use (another proxy?) or the address is "
                           f"not this machine's; choose another --port or --host")
    server.start()
    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()
    previous = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    log(f"storage proxy for {mask(storage_url)} at grpc://{host}:{port} ({SERVER_THREADS} threads; "
        f"Ctrl-C stops it)")
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(STOP_GRACE_S).wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log("storage proxy stopped")
