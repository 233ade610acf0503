"""User-facing failures: one line on stderr and a documented exit code, never a traceback."""
from __future__ import annotations

# Exit codes (listed in the README).
OK = 0
FAILED = 1  # the work ran but failed (e.g. every trial failed)
USAGE = 2  # bad or missing arguments
DATA = 3  # MNIST files missing or corrupt
STORAGE = 4  # storage URL malformed, database unreachable or not writable
NOT_FOUND = 5  # unknown study, preset, space, trial, or model folder
INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code
