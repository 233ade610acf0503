"""Storage throughput: trials per second through our storage layer, with trials that do not train.

Each worker opens its own storage with search.storage.open_storage (as a `mnist-search worker`
does: SQLite with BEGIN IMMEDIATE, PostgreSQL with reconnecting calls and heartbeats, or the gRPC
proxy) and runs `study.optimize` on trials whose storage traffic is a trial's of ours without the
training: four suggested parameters, six user attributes, two reported epochs, a value. The sampler
is random: TPE's own cost grows with the study and would be measured instead of the storage.

Workers are processes up to MAX_PROCESSES; beyond that each process runs several worker threads,
each with a storage of its own (64 processes would spend the measured seconds starting Python on a
small machine). All workers open their storage first, then run for the same window; trials finished
inside the window are counted. PostgreSQL is a throwaway server on loopback (initdb), the proxy
is `mnist-search storage-server` in front of it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORKERS = (1, 4, 16, 64)
MAX_PROCESSES = 16
BACKENDS = ("sqlite", "postgresql", "postgresql+proxy")


def layout(workers: int) -> tuple[int, int]:
    """(processes, worker threads per process) for `workers` workers."""
    processes = min(workers, MAX_PROCESSES)
    return processes, workers // processes


def _objective(trial):
    trial.suggest_int("layers", 1, 4)
    trial.suggest_float("lr", 1e-3, 1.0, log=True)
    trial.suggest_categorical("width", [8, 12, 16, 24])
    trial.suggest_float("momentum", 0.8, 0.99)
    for key in ("params", "macs", "config", "recipe", "worker", "precision"):
        trial.set_user_attr(key, 1)
    for epoch in range(2):
        trial.report(0.5 + 0.1 * epoch, epoch)
    return 0.7


def _thread(url: str, study_name: str, ready, go, seconds: float, counts: list, errors: list):
    import optuna

    from ..storage import open_storage

    try:
        study = optuna.load_study(
            study_name=study_name, storage=open_storage(url), sampler=optuna.samplers.RandomSampler()
        )
        study.get_trials(deepcopy=False)  # connected and read once before the window
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        errors.append(f"{type(exc).__name__}: {exc}")
        ready.release()
        return
    ready.release()
    go.wait()
    deadline = time.monotonic() + seconds
    done = 0

    def count(study, trial):
        nonlocal done
        if time.monotonic() <= deadline:
            done += 1
        else:
            study.stop()

    try:
        study.optimize(_objective, timeout=seconds, callbacks=[count], gc_after_trial=False)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{type(exc).__name__}: {exc}")
    counts.append(done)


def _process(url: str, study_name: str, threads: int, ready_queue, go, seconds: float, results):
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    ready = threading.Semaphore(0)
    counts, errors = [], []
    local_go = threading.Event()
    workers = [
        threading.Thread(target=_thread, args=(url, study_name, ready, local_go, seconds, counts, errors))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire()
    ready_queue.put(os.getpid())
    go.wait()
    local_go.set()
    for w in workers:
        w.join()
    results.put((sum(counts), errors))


def measure(url: str, workers: int, seconds: float) -> dict:
    """Trials per second of `workers` workers on a fresh study in `url`."""
    import optuna

    from ..storage import open_storage

    name = f"bench-{workers}-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=open_storage(url, heartbeat=False), direction="maximize")
    processes, threads = layout(workers)
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_process, args=(url, name, threads, ready, go, seconds, results)) for _ in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=600)
        go.set()
        total, errors = 0, []
        for _ in procs:
            n, errs = results.get(timeout=seconds + 600)
            total += n
            errors += errs
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    return {
        "workers": workers,
        "processes": processes,
        "threads_per_process": threads,
        "trials": total,
        "seconds": seconds,
        "trials_per_s": round(total / seconds, 1),
        **({"errors": sorted(set(errors))[:3], "failed_workers": len(errors)} if errors else {}),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """A throwaway PostgreSQL server on loopback (Debian's binaries), for the measurement only."""

    def __init__(self):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        import psycopg  # noqa: F401 - the driver the storage needs

        initdb, self.pg_ctl = str(found[-1]), str(found[-1].parent / "pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="mnist-search-bench-pg-"))
        self.data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        self.as_user = []
        if os.geteuid() == 0:  # the server refuses to run as root
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self.as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.port = _free_port()
        # Room for 64 workers' connections (each has a heartbeat connection too) and the proxy's pool.
        options = f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=400"
        subprocess.run(
            [
                *self.as_user,
                self.pg_ctl,
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.root / "log"),
                "-o",
                options,
                "start",
            ],
            check=True,
            capture_output=True,
        )
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as con:
            con.execute("CREATE DATABASE bench")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/bench"

    def close(self):
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "-w", "-m", "fast", "stop"], capture_output=True
        )
        shutil.rmtree(self.root, ignore_errors=True)


class TempProxy:
    """`mnist-search storage-server` over `database_url` on a free loopback port."""

    def __init__(self, database_url: str):
        self.port = _free_port()
        self.url = f"grpc://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "search", "storage-server", "--storage", database_url, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        from ..errors import StorageError
        from ..storage import open_storage

        deadline = time.monotonic() + 120
        while True:
            try:
                open_storage(self.url).get_all_studies()
                return
            except StorageError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"the storage proxy did not start: {self.proc.stderr.read()[-500:]}") from None
                time.sleep(0.3)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run(seconds: float = 10.0, workers=WORKERS, backends=BACKENDS, log=print) -> list[dict]:
    """Rows of {backend, workers, processes, threads_per_process, trials_per_s, ...}."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mnist-search-bench-") as tmp:
        pg = proxy = None
        why_not = None
        try:
            if any(b.startswith("postgresql") for b in backends):
                try:
                    pg = TempPostgres()
                except Exception as exc:  # noqa: BLE001 - that row says why
                    why_not = f"not measured: {exc}"
            for backend in backends:
                if backend == "postgresql+proxy" and pg is not None and proxy is None:
                    proxy = TempProxy(pg.url)
                for n in workers:
                    if backend == "sqlite":
                        url = f"sqlite:///{Path(tmp) / f'bench-{n}.db'}"
                    elif pg is None:
                        rows.append({"backend": backend, "workers": n, "trials_per_s": None, "note": why_not})
                        log(f"{backend:<18}{n:>8}  {why_not}")
                        continue
                    else:
                        url = pg.url if backend == "postgresql" else proxy.url
                    row = {"backend": backend, **measure(url, n, seconds)}
                    rows.append(row)
                    failed = (
                        f"  ({row['failed_workers']} worker errors: {row['errors'][0]})" if row.get("errors") else ""
                    )
                    log(
                        f"{backend:<18}{n:>8}{row['processes']:>11} x {row['threads_per_process']:<3}"
                        f"{row['trials']:>9}{row['trials_per_s']:>12}{failed}"
                    )
        finally:
            if proxy is not None:
                proxy.close()
            if pg is not None:
                pg.close()
    return rows


HEADER = f"{'storage':<18}{'workers':>8}{'processes':>11} x thr{'trials':>9}{'trials/s':>12}"
