"""Study storage: any SQLAlchemy URL, SQLite by default, with heartbeats so crashed trials are retried."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .. import settings
from ..settings import DEFAULT_URL, STUDIES_DIR
from ..errors import StorageError
from ._urls import mask

__all__ = ["DEFAULT_URL", "mask", "sqlite_path", "artifact_dir", "open_storage"]


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for other backends or in-memory SQLite)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def artifact_dir(url: str, explicit: str | None = None) -> Path:
    """Where trial artifacts go: beside the SQLite file, else studies/artifacts."""
    if explicit:
        return Path(explicit)
    db = sqlite_path(url)
    return (db.parent if db else Path(STUDIES_DIR)) / "artifacts"


def _prepare_sqlite(path: Path) -> None:
    from ._sqlite import translate

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=60)
        try:
            # WAL lets readers (the dashboard) and one writer work at once; it persists in the file.
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()
    except (OSError, sqlite3.Error) as exc:
        error = translate(path, exc)  # a damaged file, or a full disk: said as such
        if error is not None:
            raise error from None
        raise StorageError(
            f"cannot open or create the SQLite database {path}: {exc}; choose a writable --storage path"
        ) from None


def _lock_on_begin(engine) -> None:
    """Make every SQLite transaction take the write lock when it begins (BEGIN IMMEDIATE).

    Optuna reads a row and then writes it in one transaction, e.g. to take a waiting trial: it
    reads WAITING, then sets RUNNING. Python's sqlite3 begins the transaction only at the write,
    so two worker processes can both read WAITING and both run the same trial. (PostgreSQL locks
    the row with SELECT ... FOR UPDATE, which SQLite ignores.) Holding the lock from the start
    makes each read-then-write atomic; transactions are short, so workers wait milliseconds.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver's own BEGIN would come too late

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while Optuna set the schema up get the hooks when reopened


def open_storage(url: str, create: bool = True, heartbeat: bool = True):
    """An Optuna RDBStorage for `url` (or, for grpc://HOST:PORT, the storage proxy in front of one,
    search.storage); malformed, unreachable or unwritable storage is a StorageError."""
    from .. import optuna_adapter
    from ._proxy import is_proxy, open_proxy

    if is_proxy(url):
        return open_proxy(url)  # no heartbeats through the proxy: see search.storage

    import optuna

    from ._owners import CleanRetry
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        make_url(url)
    except ArgumentError:
        raise StorageError(
            f"malformed storage URL {mask(url)!r}: expected e.g. sqlite:///studies/mnist.db, "
            f"postgresql://user:password@host/dbname or grpc://host:port"
        ) from None
    beat = settings.heartbeat_seconds() if heartbeat else None  # a bad value: nothing is written
    engine_kwargs = {}
    db = sqlite_path(url)
    if db is not None:
        if not create and not db.exists():
            raise StorageError(f"no study database at {db}: run `mnist-search run` first or pass --storage")
        _prepare_sqlite(db)
        engine_kwargs = {"connect_args": {"timeout": 60}}  # wait for a writer rather than fail
    else:
        # A server database: pooled connections are checked before use, and calls that lose their
        # connection are retried for a while (search.storage).
        settings.db_retry_seconds()  # a bad value is reported before connecting
        engine_kwargs = {"pool_pre_ping": True}
        u = make_url(url)
        if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
            engine_kwargs["connect_args"] = {"connect_timeout": 10}  # an unreachable host fails, not hangs
    try:
        with optuna_adapter.experimental_quiet():
            kwargs = {}
            if beat:
                # A worker that dies mid-trial stops beating; its trial is marked FAIL and re-run once
                # (search.storage.owners fails it sooner when the dead worker ran on this machine).
                kwargs = dict(
                    heartbeat_interval=beat,
                    grace_period=2 * beat,
                    heartbeat_stale_trial_callback=CleanRetry(max_retry=1),
                )
            if db is None:
                from ._reconnect import ReconnectingRDBStorage

                return ReconnectingRDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
            from ._sqlite import SQLiteStorage

            storage = SQLiteStorage(url, db, engine_kwargs=engine_kwargs, **kwargs)
            _lock_on_begin(storage.engine)
            return storage
    except ImportError as exc:
        missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "its database driver"
        raise StorageError(
            f"the storage URL needs the Python module {missing!r}: install it (for postgresql:// "
            f"run `pip install 'mnist-search[postgres]'`, which brings psycopg)"
        ) from None
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(f"cannot use storage {mask(url)}: {reason}") from None
