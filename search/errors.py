"""What can go wrong for a caller of the engine, as exception types.

Every failure the engine reports on purpose is a `SearchError`; its subclass says what kind of
problem it is, its message says what is wrong and how to fix it. The exit codes the command line
gives each kind are the table at the end (listed in docs/failures.md); a notebook catches them like
any exception.
"""

from __future__ import annotations


class SearchError(Exception):
    """Base of every failure the engine reports on purpose."""


class BadArgument(SearchError, ValueError):
    """An argument is out of range or contradicts another (e.g. target_acc 1.5, finals -1)."""


class BadSetting(BadArgument):
    """An environment variable holds a value it does not accept (search.settings)."""


class ImpossibleBudget(BadArgument):
    """The parameter or MAC budget leaves nothing to train (e.g. max_params 10)."""


class SettingsMismatch(BadArgument):
    """A resumed study is asked to run with other defining settings than it was created with."""


class DeviceUnavailable(SearchError):
    """The asked-for device (e.g. cuda) is not there."""


class DataUnavailable(SearchError):
    """The MNIST files are missing, corrupt or unreadable."""


class StorageError(SearchError):
    """The storage URL is malformed, the database unreachable, unwritable, or lacks a driver."""


class DamagedStudy(StorageError):
    """The study's SQLite file is not a database or is cut short; it is left exactly as it is."""


class WriteFailed(SearchError):
    """A file could not be written (no space left, a file size limit or quota, no permission); the message
    names the path, the cause in plain words and the fix. Nothing half-written is left behind."""


class StudyWriteFailed(WriteFailed, StorageError):
    """The study database could not be written (as WriteFailed); what it committed before is kept, and
    the same command, rerun once there is space, resumes the study."""


class NotFound(SearchError, LookupError):
    """Something named does not exist."""


class UnknownStudy(NotFound):
    """No study by that name in the storage (or no study at all)."""


class UnknownSpace(NotFound):
    """No search space by that name."""


class UnknownPreset(NotFound):
    """No preset by that name."""


class UnknownTrial(NotFound):
    """No such trial, or it holds no model to export."""


class NoResult(NotFound):
    """The study has no trained model yet."""


class ModelFolderError(SearchError):
    """A folder is not (or no longer) a readable exported model."""


class TrainingFailed(SearchError):
    """Training ran but did not produce a usable model (e.g. every trial failed, retraining diverged)."""


class ExportFailed(SearchError):
    """A model file was written but does not reproduce the PyTorch model (e.g. ONNX parity beyond tolerance)."""


class WorkersFailed(SearchError):
    """Every worker process of a run exited with an error (the message names the first one's error and log)."""


# Exit codes of the command line (listed in docs/failures.md).
OK = 0
FAILED = 1  # the work ran but failed (e.g. every trial failed)
USAGE = 2  # bad or missing arguments
DATA = 3  # MNIST files missing or corrupt
STORAGE = 4  # storage URL malformed, database unreachable or not writable
NOT_FOUND = 5  # unknown study, preset, space, trial, or model folder
WRITE = 6  # a write was refused: no space left, a file size limit or quota, no permission
INTERRUPTED = 130  # Ctrl-C

# Most specific first: the first matching kind gives the exit code.
EXIT_CODES: list[tuple[type, int]] = [
    (TrainingFailed, FAILED),
    (DataUnavailable, DATA),
    (WriteFailed, WRITE),
    (StorageError, STORAGE),
    (NotFound, NOT_FOUND),
    (ModelFolderError, USAGE),
    (DeviceUnavailable, USAGE),
    (BadArgument, USAGE),
    (SearchError, FAILED),
]
