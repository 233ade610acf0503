"""The environment variables mnist-search reads, each parsed when it is used (never at import).

A bad value is a `BadSetting` (a `BadArgument`: exit code 2 on the command line) whose message names
the variable and what it accepts. The data root's variables (MNIST_DATA_ROOT, XDG_CACHE_HOME) are
read by mnistnet.data, which does not depend on this package; they are checked there the same way.

| variable | accepts | default |
| --- | --- | --- |
| MNIST_SEARCH_HEARTBEAT | whole seconds >= 1 between trial heartbeats | 30 |
| MNIST_SEARCH_DB_RETRY | seconds >= 0 to keep retrying a lost database server | 60 |
| MNIST_SEARCH_DEBUG | 1/true/yes/on (full tracebacks) or 0/false/no/off/empty | off |
"""

from __future__ import annotations

import os

from ..errors import BadSetting

HEARTBEAT = "MNIST_SEARCH_HEARTBEAT"
DB_RETRY = "MNIST_SEARCH_DB_RETRY"
DEBUG = "MNIST_SEARCH_DEBUG"

TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _number(name: str, default: str, cast, ok, accepts: str, example: str):
    text = os.environ.get(name, default)
    try:
        value = cast(text.strip())
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise BadSetting(f"{name}={text!r} is not {accepts}: set it to e.g. {example} or unset it")
    return value


def heartbeat_seconds() -> int:
    """Seconds between trial heartbeats (a dead worker's trial is stale after twice that)."""
    return _number(HEARTBEAT, "30", int, lambda v: v >= 1, "a whole number of seconds >= 1", "30")


def db_retry_seconds() -> float:
    """How long a worker keeps retrying a database server it lost before it stops."""
    return _number(DB_RETRY, "60", float, lambda v: 0 <= v < float("inf"), "a number of seconds >= 0", "60")


def debug() -> bool:
    """Show full tracebacks (of unexpected errors, failed trials and crashed workers) on stderr."""
    text = os.environ.get(DEBUG, "")
    if text.strip().lower() in TRUE:
        return True
    if text.strip().lower() in FALSE:
        return False
    raise BadSetting(
        f"{DEBUG}={text!r} is not 1 or 0 (also true/false, yes/no, on/off): "
        f"set {DEBUG}=1 for full tracebacks or unset it"
    )
