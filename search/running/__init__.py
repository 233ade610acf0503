"""Running a study's trials: worker processes (or the caller's own process) that train the trials
of each stage, a pool that hands them the run's stages in turn, and what a failed trial or worker
leaves behind (one line on stderr, its traceback in the worker's log file).

A worker shows a final's epochs as lines on stderr (search.reports); the engine it runs shows nothing.
"""

from ..records import COUNTED
from ._workers import Stage, WorkerJob, WorkerPool, child_main, exit_report, make_objective, run_trials_in_process

__all__ = [
    "COUNTED",
    "Stage",
    "WorkerJob",
    "WorkerPool",
    "child_main",
    "exit_report",
    "make_objective",
    "run_trials_in_process",
]
