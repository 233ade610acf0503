"""mnist-search's engine: pruned Optuna studies over mnistnet configurations, from Python or the CLI.

    import search
    study = search.run(trials=20, space="arch", storage="sqlite:///studies/nb.db", study="nb")
    search.export(study, out="model/")

`run`, `export`, `answer` and `load` live in search.api (imported on first use, so the command
line starts fast); every deliberate failure is a `search.SearchError` subclass.
"""

from .errors import (
    BadArgument,
    DamagedStudy,
    DataUnavailable,
    DeviceUnavailable,
    ImpossibleBudget,
    ModelFolderError,
    NoResult,
    NotFound,
    SearchError,
    SettingsMismatch,
    StorageError,
    StudyWriteFailed,
    TrainingFailed,
    UnknownPreset,
    UnknownSpace,
    UnknownStudy,
    UnknownTrial,
    WorkersFailed,
    WriteFailed,
)

_API = ("run", "export", "answer", "load")


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")


__all__ = [
    *_API,
    "SearchError",
    "BadArgument",
    "DamagedStudy",
    "DataUnavailable",
    "DeviceUnavailable",
    "ImpossibleBudget",
    "ModelFolderError",
    "NoResult",
    "NotFound",
    "SettingsMismatch",
    "StorageError",
    "StudyWriteFailed",
    "TrainingFailed",
    "UnknownPreset",
    "UnknownSpace",
    "UnknownStudy",
    "UnknownTrial",
    "WorkersFailed",
    "WriteFailed",
]
