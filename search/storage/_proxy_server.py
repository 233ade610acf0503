"""The server side of the storage proxy: `mnist-search storage-server` serves Optuna's gRPC proxy
service over our storage (search.storage.open_storage), with a cache that knows every trial.

Its client side, `--storage grpc://HOST:PORT`, is search.storage (search.storage opens it, so
the server lives here, above both).
"""

from __future__ import annotations

import threading

from .. import optuna_adapter
from ..errors import BadArgument, StorageError
from ._storage import open_storage
from ._proxy import SERVER_THREADS, STOP_GRACE_S, _grpc, is_proxy
from ._urls import mask


def serve(storage_url: str, host: str, port: int, log=print, ready=None) -> None:
    """Serve Optuna's gRPC proxy over `storage_url` until SIGTERM or Ctrl-C (answering the calls it
    has begun, for up to STOP_GRACE_S); `ready` (an Event) is set once it listens."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    if is_proxy(storage_url):
        raise BadArgument(
            f"storage-server serves a database, not another proxy: pass its database URL "
            f"(e.g. postgresql://user:password@host/dbname), not {storage_url}"
        )
    grpc = _grpc()
    backend = optuna_adapter.cached(open_storage(storage_url, heartbeat=False))
    # What run_grpc_proxy_server serves, in a server kept in hand: a stop answers the calls it has
    # begun, and a second proxy on the same port is refused (gRPC shares ports by default).
    server = grpc.server(ThreadPoolExecutor(max_workers=SERVER_THREADS), options=[("grpc.so_reuseport", 0)])
    optuna_adapter.add_proxy_service(server, backend)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise StorageError(
            f"cannot listen on {host}:{port}: the port is in use (another proxy?) or the address is "
            f"not this machine's; choose another --port or --host"
        )
    server.start()
    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    log(f"storage proxy for {mask(storage_url)} at grpc://{host}:{port} ({SERVER_THREADS} threads; Ctrl-C stops it)")
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
