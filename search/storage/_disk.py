"""A write the disk refused, in plain words: which path, why (no space, a size limit, no permission), the fix.

Python raises OSError with an errno; SQLite says only "database or disk is full" or "disk I/O error"
(the errno stays inside it), so for the study database the cause is read off the disk itself: its free
space, this process's file size limit (ulimit -f) and the folder's permissions. A damaged SQLite file
("file is not a database", "database disk image is malformed") is told apart here too: it is not a
failed write, and it must never be written to.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import WriteFailed

# errno -> the cause in plain words. Only these are a refused write; any other OSError is left as it is.
CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this process's file size limit (ulimit -f)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
}
FIXES = {
    errno.ENOSPC: "free space there",
    errno.EDQUOT: "free space within your quota",
    errno.EFBIG: "raise the limit (ulimit -f unlimited)",
    errno.EACCES: "make it writable",
    errno.EPERM: "make it writable",
    errno.EROFS: "make it writable",
}
# What SQLite says when a write fails (its own words; its errno is not passed on).
SQLITE_WRITE = ("database or disk is full", "disk i/o error", "attempt to write a readonly database")
SQLITE_DAMAGED = ("file is not a database", "database disk image is malformed")
LOW_SPACE = 1 << 20  # a failed write with less than this left on the disk is put down to a full disk


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def refused(exc: BaseException) -> OSError | None:
    """The OSError behind `exc` that is a refused write (an errno of CAUSES), if any."""
    return next((e for e in _chain(exc) if isinstance(e, OSError) and e.errno in CAUSES), None)


def sqlite_words(exc: BaseException) -> str:
    """SQLite's own message behind `exc` (lower case), or ""."""
    import sqlite3

    return next((str(e).lower() for e in _chain(exc) if isinstance(e, sqlite3.Error)), "")


def sqlite_write_failed(exc: BaseException) -> bool:
    """Whether SQLite (under SQLAlchemy and Optuna) failed to write its file."""
    return any(words in sqlite_words(exc) for words in SQLITE_WRITE)


def sqlite_damaged(exc: BaseException) -> str | None:
    """SQLite's words when its file is damaged, else None."""
    text = sqlite_words(exc)
    return next((words for words in SQLITE_DAMAGED if words in text), None)


def diagnose(path: Path) -> int | None:
    """Why a write into `path` (a file, maybe not yet there) most likely failed, as an errno; None when
    the disk shows no reason (then SQLite's own words are all there is)."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        # SQLite writes the file itself and its -wal and -journal beside it
        sizes = [_size(Path(f"{path}{suffix}")) for suffix in ("", "-wal", "-journal")]
        if max(sizes) + 65536 >= limit:
            return errno.EFBIG
    try:
        if shutil.disk_usage(folder).free < LOW_SPACE:
            return errno.ENOSPC
    except OSError:
        pass
    if not os.access(folder, os.W_OK) or (Path(path).exists() and not os.access(path, os.W_OK)):
        return errno.EACCES
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def cause(code: int | None, fallback: str = "the disk refused the write") -> str:
    return CAUSES.get(code, fallback)


def message(path, code: int | None, fix: str, fallback: str = "the disk refused the write") -> str:
    """One line: `cannot write PATH: CAUSE; FIX`."""
    first = FIXES.get(code, "check the disk")
    return f"cannot write {path}: {cause(code, fallback)}; {first}{', ' if fix else ''}{fix}"


def failed(path, exc: BaseException, fix: str = "") -> WriteFailed | None:
    """A WriteFailed naming `path` for a refused write behind `exc`, else None."""
    err = refused(exc)
    if err is None:
        return None
    return WriteFailed(message(err.filename or path, err.errno, fix))


@contextmanager
def writing(path, fix: str = ""):
    """Turn a refused write inside the block into WriteFailed naming `path` (or the file the OS named)."""
    try:
        yield
    except OSError as exc:
        error = failed(path, exc, fix)
        if error is None:
            raise
        raise error from None
