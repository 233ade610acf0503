"""What a user sets: the settings of each job (run, train, export) with their flags' help, the
environment variables mnist-search reads, settings files, and the proxy stage's objectives by name.

Nothing here imports Optuna's storages or torch's models: the command line builds its parser from
these dataclasses (search.cli), and the Python API takes the same fields as keyword arguments.
"""

from ._environment import DB_RETRY, DEBUG, HEARTBEAT, db_retry_seconds, debug, heartbeat_seconds
from ._export import FORMATS, ExportSettings, format_list, trial_number
from ._fields import (
    ARTIFACTS_HELP,
    ARTIFACTS_METAVAR,
    DATA_ROOT_HELP,
    DEFAULT_URL,
    DEVICE_CHOICES,
    DEVICE_HELP,
    PRECISION_CHOICES,
    PRECISION_HELP,
    PROFILE_CHOICES,
    STORAGE_HELP,
    Settings,
    clock,
    parse_duration,
    profile_help,
    setting,
)
from ._file import dumps as settings_file_text
from ._file import read as read_settings_file
from ._objective_names import DEFAULT_OBJECTIVE, OBJECTIVES, PARETO_MIN_PARAMS
from ._run import PRUNERS, TARGET_ACC, RunSettings
from ._train import TrainSettings

__all__ = [
    "ARTIFACTS_HELP",
    "ARTIFACTS_METAVAR",
    "DATA_ROOT_HELP",
    "DB_RETRY",
    "DEBUG",
    "DEFAULT_OBJECTIVE",
    "DEFAULT_URL",
    "DEVICE_CHOICES",
    "DEVICE_HELP",
    "FORMATS",
    "HEARTBEAT",
    "OBJECTIVES",
    "PARETO_MIN_PARAMS",
    "PRECISION_CHOICES",
    "PRECISION_HELP",
    "PROFILE_CHOICES",
    "PRUNERS",
    "STORAGE_HELP",
    "TARGET_ACC",
    "ExportSettings",
    "RunSettings",
    "Settings",
    "TrainSettings",
    "clock",
    "db_retry_seconds",
    "debug",
    "format_list",
    "heartbeat_seconds",
    "parse_duration",
    "profile_help",
    "read_settings_file",
    "setting",
    "settings_file_text",
    "trial_number",
]
