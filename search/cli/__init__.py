"""The `mnist-search` command line: the parser (built from the settings dataclasses), the exit
codes, and one module per command in search.cli.commands, imported when its command runs.

`mnist-search` (pyproject's console script) and `python -m search` both call main().
"""

from ..errors import DATA, FAILED, INTERRUPTED, NOT_FOUND, OK, STORAGE, USAGE, WRITE
from ._parser import build_parser, exit_code, main

__all__ = [
    "DATA",
    "FAILED",
    "INTERRUPTED",
    "NOT_FOUND",
    "OK",
    "STORAGE",
    "USAGE",
    "WRITE",
    "build_parser",
    "exit_code",
    "main",
]
