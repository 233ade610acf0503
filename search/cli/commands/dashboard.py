"""`mnist-search dashboard`: optuna-dashboard on our storage, with the trial artifacts visible.

optuna-dashboard has no authentication and its pages can change the storage (delete or rename a
study, edit notes, tell trials, upload or delete artifacts); it has no read-only setting of its own
(optuna-dashboard 0.21: `run_server`, `wsgi` and the CLI take none). `--read-only` wraps its WSGI
app so that only GET and HEAD requests reach it: every write action is refused with 403.
"""

from __future__ import annotations

import ipaddress
import json
import sys

from ...storage import mask, open_storage

READS = ("GET", "HEAD")


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: reachable from this machine only."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "" (every address): others may reach it


def read_only(app):
    """A WSGI app that passes only reads to `app` and refuses anything else with 403."""

    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD", "GET").upper() in READS:
            return app(environ, start_response)
        body = json.dumps({"reason": "this dashboard is read-only (mnist-search dashboard --read-only)"}).encode()
        start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return guarded


def main(args) -> int:
    import bottle
    from optuna_dashboard import wsgi

    from ...storage import location, open_store

    storage = open_storage(args.storage, create=False, heartbeat=False)
    store = open_store(location(args.storage, args.artifacts))  # a folder or s3://BUCKET/PREFIX
    app = wsgi(storage, artifact_store=store)  # what run_server serves
    if args.read_only:
        app = read_only(app)
    if not is_loopback(args.host):
        actions = (
            "its write actions are refused (--read-only)"
            if args.read_only
            else "its write actions (deleting studies, editing notes, uploading or deleting artifacts) are "
            "open to anyone who can reach it: add --read-only, or bind 127.0.0.1 and use an SSH tunnel"
        )
        print(
            f"warning: the dashboard on {args.host}:{args.port} has no authentication; {actions}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"optuna-dashboard for {mask(args.storage)} at http://{args.host}:{args.port}/"
        f"{'  (read-only)' if args.read_only else ''}  (Ctrl-C stops it)",
        flush=True,
    )
    bottle.run(app, host=args.host, port=args.port)
    return 0
