"""Where studies live: opening a storage URL (SQLite by default, any SQLAlchemy database with its lost
connections retried, or grpc://HOST:PORT through the storage proxy), the proxy's server, trial
artifact stores (a folder or S3), the owners of running trials (a dead worker's trial is failed and
retried), and what a refused disk write says.

`disk` and `owners` are namespaces (disk.refused, owners.reap): their functions read best by that name.
"""

from . import _disk as disk
from . import _owners as owners
from ._artifacts import PrefixedStore, bucket_and_prefix, check, location, open_store
from ._proxy import DEFAULT_PORT, NO_HEARTBEATS, is_proxy, proxy_class
from ._proxy_server import serve
from ._storage import DEFAULT_URL, artifact_dir, open_storage, sqlite_path
from ._urls import mask

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_URL",
    "NO_HEARTBEATS",
    "PrefixedStore",
    "artifact_dir",
    "bucket_and_prefix",
    "check",
    "disk",
    "is_proxy",
    "location",
    "mask",
    "open_store",
    "open_storage",
    "owners",
    "proxy_class",
    "serve",
    "sqlite_path",
]
