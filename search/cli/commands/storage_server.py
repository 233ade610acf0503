"""`mnist-search storage-server`: Optuna's gRPC storage proxy in front of the study database.

Workers on many machines then pass `--storage grpc://HOST:PORT` and share the proxy's database
connections instead of each opening a pool of its own (search.storage).
"""

from __future__ import annotations

import sys

from ...storage import serve
from .dashboard import is_loopback


def main(args) -> int:
    if not is_loopback(args.host):
        print(
            f"warning: the storage proxy on {args.host}:{args.port} has no authentication: anyone who can reach "
            f"it can read, change or delete every study in the database; bind 127.0.0.1 and use an SSH tunnel, "
            f"or keep the port on a private network the workers share",
            file=sys.stderr,
            flush=True,
        )
    serve(args.storage, args.host, args.port, log=lambda line: print(line, flush=True))
    return 0
