"""`mnist-search dashboard`: optuna-dashboard on our storage, with the trial artifacts visible."""
from __future__ import annotations

from ..storage import artifact_dir, mask, open_storage


def main(args) -> int:
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_dashboard import run_server

    storage = open_storage(args.storage, create=False, heartbeat=False)
    store_dir = artifact_dir(args.storage, args.artifacts)
    store_dir.mkdir(parents=True, exist_ok=True)
    print(f"optuna-dashboard for {mask(args.storage)} at http://{args.host}:{args.port}/  (Ctrl-C stops it)",
          flush=True)
    run_server(storage, host=args.host, port=args.port, artifact_store=FileSystemArtifactStore(str(store_dir)))
    return 0
