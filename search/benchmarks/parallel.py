"""Threads against worker processes on one machine: trials per hour of the default run's proxy stage.

Each layout runs `mnist-search run --trials T --finals 0` from scratch in a subprocess (its own
SQLite file), with W workers of N/W intra-op threads each, so the layouts see the same trials.
Each worker process holds its own copy of MNIST as uint8 (about 47 MB); the peak resident memory of
the largest process is reported beside it, to show whether sharing that copy would matter.
On a GPU the layouts are 1, 2, 4 and 8 workers sharing it (each with its data on the device).
A child that fails stops the measurement with its own error lines, not a bare exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


GPU_LAYOUTS = (1, 2, 4, 8)  # worker processes sharing one GPU


class ChildFailed(RuntimeError):
    """A measured `mnist-search run` exited with an error; the message carries its stderr."""


def layouts(cores: int) -> list[int]:
    """Worker counts to compare on `cores` cores: 1 x N threads, N/2 x 2, N x 1 (distinct)."""
    return sorted({1, max(1, cores // 2), cores})


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


DATA_MB = round((60_000 + 10_000) * 28 * 28 / 2**20)  # the uint8 images each worker loads


def peak_child_rss_mb() -> float:
    """Peak resident memory of the largest child process waited for so far (Linux: ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def study_wall_time(trials: int, workers: int, device: str, precision: str = "auto", extra=()) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "search",
            "run",
            "--trials",
            str(trials),
            "--workers",
            str(workers),
            "--storage",
            f"sqlite:///{tmp}/bench.db",
            "--no-progress",
            "--device",
            device,
            "--finals",
            "0",
            "--precision",
            precision,
            *extra,
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise ChildFailed(
                f"`mnist-search run` with {workers} worker(s) exited with code {done.returncode}:\n"
                f"{tail(done.stderr) or tail(done.stdout) or '(it printed nothing)'}"
            )
        return wall


def measure(
    trials: int, device: str, precisions=("fp32", "auto"), cores: int | None = None, log=print, extra=(), counts=None
) -> list[dict]:
    cores = cores or os.cpu_count() or 1
    rows = []
    for precision in precisions:
        for workers in counts or layouts(cores):
            wall = study_wall_time(trials, workers, device, precision, extra)
            row = {
                "precision": precision,
                "workers": workers,
                "threads": max(1, cores // workers),
                "trials": trials,
                "wall_s": round(wall, 1),
                "trials_per_hour": round(trials / wall * 3600),
                "peak_process_rss_mb_so_far": round(peak_child_rss_mb()),
                "data_mb_per_worker": DATA_MB,
            }
            rows.append(row)
            log(
                f"  {precision:<5} {workers} worker(s) x {row['threads']} thread(s): {trials} trials in "
                f"{wall:.0f}s, {row['trials_per_hour']} trials/hour"
            )
    return rows
