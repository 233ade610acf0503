"""What a user sets: the settings of each job (run, train, export) with their flags' help, the
environment variables mnist-search reads, settings files, and the proxy stage's objectives by name.

Nothing here imports Optuna's storages or torch's models: the command line builds its parser from
these dataclasses (search.cli), and the Python API takes the same fields as keyword arguments.
"""

from ._environment import DB_RETRY, DEBUG, db_retry_seconds, debug, heartbeat_seconds
from ._export import FORMATS, ExportSettings, format_list, trial_number
from ._fields import (
    DEFAULT_URL,
    STUDIES_DIR,
    Settings,
    artifacts_field,
    clock,
    data_root_field,
    device_field,
    flag_of,
    parse_duration,
    precision_field,
    profile_field,
    setting,
    storage_field,
)
from ._file import dumps as settings_file_text
from ._file import read as read_settings_file
from ._objective_names import DEFAULT_OBJECTIVE, METRIC_NAMES, OBJECTIVE_LINES, OBJECTIVES, PARETO_MIN_PARAMS
from ._run import PRUNERS, RUNG_EPOCHS, RUNG_IMAGES, TARGET_ACC, RunSettings
from ._train import TrainSettings

__all__ = [
    "DB_RETRY",
    "DEBUG",
    "DEFAULT_OBJECTIVE",
    "DEFAULT_URL",
    "FORMATS",
    "METRIC_NAMES",
    "OBJECTIVES",
    "OBJECTIVE_LINES",
    "PARETO_MIN_PARAMS",
    "PRUNERS",
    "RUNG_EPOCHS",
    "RUNG_IMAGES",
    "STUDIES_DIR",
    "TARGET_ACC",
    "ExportSettings",
    "RunSettings",
    "Settings",
    "TrainSettings",
    "artifacts_field",
    "clock",
    "data_root_field",
    "db_retry_seconds",
    "debug",
    "device_field",
    "flag_of",
    "format_list",
    "heartbeat_seconds",
    "parse_duration",
    "precision_field",
    "profile_field",
    "read_settings_file",
    "setting",
    "settings_file_text",
    "storage_field",
    "trial_number",
]
