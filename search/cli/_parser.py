"""The `mnist-search` command line: builds the parser and maps failures to one line and an exit code.

The work lives in search/cli/commands/ (one module per command) on top of the engine; the engine
raises search.errors kinds, which are mapped here by type, never by message text.
"""

from __future__ import annotations

import argparse
import sys

from .. import errors, settings
from ..settings import (
    TARGET_ACC,
    ExportSettings,
    RunSettings,
    TrainSettings,
    format_list,
    ARTIFACTS_HELP,
    ARTIFACTS_METAVAR,
    DATA_ROOT_HELP,
    DEVICE_CHOICES,
    DEVICE_HELP,
    PRECISION_CHOICES,
    PRECISION_HELP,
    PROFILE_CHOICES,
    STORAGE_HELP,
    parse_duration,
    profile_help,
)

# Exit codes (listed in docs/failures.md).
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
    (errors.TrainingFailed, FAILED),
    (errors.DataUnavailable, DATA),
    (errors.WriteFailed, WRITE),
    (errors.StorageError, STORAGE),
    (errors.NotFound, NOT_FOUND),
    (errors.ModelFolderError, USAGE),
    (errors.DeviceUnavailable, USAGE),
    (errors.BadArgument, USAGE),
    (errors.SearchError, FAILED),
]


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


MODEL_DIR_HELP = "a model folder written by `mnist-search export` (or a `train` run folder)"


def _number(cast, ok, expected: str):
    """An argparse type: `cast` the text and check it with `ok`, else say what was expected."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive whole number")
positive_float = _number(float, lambda v: v > 0, "a positive number")
unit_float = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
target_float = _number(float, lambda v: 0 < v <= 1, f"an accuracy in (0, 1], e.g. {TARGET_ACC}")
count_arg = _number(int, lambda v: v >= 0, "a whole number >= 0")
port_arg = _number(int, lambda v: 1 <= v <= 65535, "a port number 1-65535")
budget_arg = _number(
    lambda t: int(t.replace("_", "").replace(",", "")), lambda v: v >= 0, "a whole number (0 for no bound)"
)


def duration_arg(text: str) -> float:
    """A duration ("10m", "90s", "1h30m", "600") in seconds."""
    try:
        return parse_duration(text)
    except errors.BadArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def subset_arg(text: str) -> int:
    """A number of training images, or 'all' (returned as 0)."""
    return 0 if text == "all" else positive_int(text)


# The flags of the commands without a settings dataclass (worker, bench, ...), with the same help texts.
def add_data_args(p) -> None:
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES), help=DEVICE_HELP)


def add_precision_arg(p) -> None:
    p.add_argument("--precision", default="auto", choices=list(PRECISION_CHOICES), help=PRECISION_HELP)


def add_profile_arg(p, what: str) -> None:
    p.add_argument("--profile", default="auto", choices=list(PROFILE_CHOICES), help=profile_help(what))


def workers_arg(text: str):
    """A number of worker processes, or 'auto' (returned as is)."""
    return "auto" if text == "auto" else positive_int(text)


def formats_arg(text: str) -> tuple[str, ...]:
    """A comma list of export formats, each checked (search.settings)."""
    try:
        return format_list(text)
    except errors.BadArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# The command line's type of each kind of setting (search.settings: a field's metadata "parse").
PARSERS = {
    "positive_int": positive_int,
    "positive_float": positive_float,
    "unit_float": unit_float,
    "subset": subset_arg,
    "budget": budget_arg,
    "count": count_arg,
    "target": target_float,
    "workers": workers_arg,
    "formats": formats_arg,
    "duration": duration_arg,
    "int": int,
}


def add_settings_args(p, settings) -> None:
    """One flag per field of a settings dataclass (search.settings: RunSettings, TrainSettings, ExportSettings),
    from the field's metadata: its default, help, type and choices. Generated by hand, not by a library:
    see search.settings."""
    from dataclasses import fields

    for f in fields(settings):
        meta = f.metadata
        if meta["negate"]:  # a setting on by default, turned off by --no-...
            p.add_argument(meta["negate"], dest=f.name, action="store_false", help=meta["help"])
            continue
        if f.default is False:  # a setting off by default, turned on by its flag
            p.add_argument(settings.flag(f.name), dest=f.name, action="store_true", help=meta["help"])
            continue
        kwargs = {"default": f.default, "help": meta["help"]}
        if meta["required"]:  # on the command line only: the Python API has the default
            kwargs["required"] = True
        if meta["parse"]:
            kwargs["type"] = PARSERS[meta["parse"]]
        for key in ("metavar", "choices"):
            if meta[key] is not None:
                kwargs[key] = list(meta[key]) if key == "choices" else meta[key]
        p.add_argument(settings.flag(f.name), dest=f.name, **kwargs)


def add_storage_args(p, study_help: str) -> None:
    from ..storage import DEFAULT_URL

    p.add_argument("--study", help=study_help)
    p.add_argument("--storage", default=DEFAULT_URL, help=STORAGE_HELP)


def build_parser(run_defaults: dict | None = None) -> Parser:
    """The command line; `run_defaults` (a --config file's settings) replace the run flags' defaults."""
    parser = Parser(prog="mnist-search", description="Hyperparameter and architecture search for small CNNs on MNIST.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("presets", help="list the source projects' models with their parameter counts")
    p.add_argument(
        "--results",
        action="store_true",
        help="the presets' measured accuracy with their sources' own recipes (bench/preset_claims.py)",
    )
    p.set_defaults(command_module="presets")

    p = sub.add_parser("train", help="train one preset or warm start and save the run")
    add_settings_args(p, TrainSettings)
    p.set_defaults(command_module="train")

    p = sub.add_parser("run", help="run (or resume) a study: pruned proxy trials, then full-fidelity finals")
    add_settings_args(p, RunSettings)
    p.add_argument(
        "--config",
        metavar="FILE",
        help="start from the settings in FILE (JSON, as --print-config writes it); flags given here win",
    )
    p.add_argument(
        "--print-config", action="store_true", help="print this run's settings as JSON, for --config, and exit"
    )
    p.set_defaults(command_module="run", **(run_defaults or {}))

    p = sub.add_parser("worker", help="join a running study (e.g. from another machine) and run trials")
    from ..storage import DEFAULT_URL

    p.add_argument("--study", required=True, help="the study to join (created by `mnist-search run`)")
    p.add_argument("--storage", default=DEFAULT_URL, help=STORAGE_HELP)
    p.add_argument("--trials", type=positive_int, default=100, help="trials this worker runs (default 100)")
    p.add_argument("--timeout", type=positive_float, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--artifacts", metavar=ARTIFACTS_METAVAR, help=ARTIFACTS_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_precision_arg(p)
    add_profile_arg(p, "whether the finals compile")
    add_data_args(p)
    p.set_defaults(command_module="worker")

    p = sub.add_parser("bench", help="measure training, study and inference speed on this machine")
    p.add_argument(
        "--sections",
        default="pipeline,precision,accuracy,compile,inference,workers",
        help="comma list of pipeline, precision, accuracy, compile, inference, workers, storage "
        "(default: all but storage)",
    )
    p.add_argument("--images", type=positive_int, help="pipeline: training images per measurement (default: per model)")
    p.add_argument("--epoch-images", type=positive_int, help="precision: images per timed epoch (default 55000)")
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="precision: fp32/bf16 epoch pairs per net, "
        "each run in turns side by side; the medians are reported (default 3)",
    )
    p.add_argument(
        "--accuracy-seeds",
        type=count_arg,
        default=0,
        metavar="K",
        help="accuracy: seeds per net and "
        "precision, each a full training on all images (default 0: skip; each is a full training)",
    )
    p.add_argument(
        "--accuracy-epochs",
        type=positive_int,
        metavar="E",
        help="accuracy: epochs of each training (default: each net's recipe, 15 for gap10k, 10 for seed002)",
    )
    p.add_argument(
        "--accuracy-cache",
        metavar="FILE",
        help="accuracy: JSON-lines file of finished trainings, reused so an interrupted check resumes",
    )
    p.add_argument(
        "--compile-images", type=positive_int, default=11000, help="compile: images per epoch (default 11000)"
    )
    p.add_argument(
        "--compile-modes",
        metavar="LIST",
        help="compile: torch.compile modes against eager, a comma "
        "list of default, graphs (CUDA graphs) (default: default on CPU, both on a GPU)",
    )
    p.add_argument(
        "--val-size",
        type=positive_int,
        help="validation images each training scores every epoch (default 5000; fewer for quick checks)",
    )
    p.add_argument(
        "--section-precisions",
        metavar="LIST",
        help="compile, workers: precisions to measure, a comma "
        "list of auto, fp32, bf16 (default: fp32 and --precision)",
    )
    p.add_argument(
        "--trials",
        type=count_arg,
        default=40,
        help="workers: proxy trials per layout (0: skip; default 40: 12 were too few to tell layouts apart)",
    )
    p.add_argument(
        "--layouts",
        metavar="LIST",
        help="workers: worker counts to compare (default: 1, N/2, N on N cores; 1,2,4,8 on a GPU)",
    )
    p.add_argument(
        "--study-profile",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        help="workers: the measured runs' --profile (default auto)",
    )
    p.add_argument(
        "--trial-subset",
        type=positive_int,
        metavar="N",
        help="workers: the measured runs' --subset (default: the profile's)",
    )
    p.add_argument(
        "--trial-epochs",
        type=positive_int,
        metavar="E",
        help="workers: the measured runs' --epochs (default: the profile's)",
    )
    p.add_argument("--profile", action="store_true", help="pipeline: also profile the CPU training step")
    p.add_argument(
        "--storage-seconds",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="storage: seconds each storage and worker count is measured (default 10)",
    )
    p.add_argument("--out", metavar="FILE", help="JSON output (default studies/bench/bench-DEVICE.json)")
    add_precision_arg(p)
    add_data_args(p)
    p.set_defaults(command_module="bench")

    p = sub.add_parser("best", help="print a study's answer, its finals and the proxy Pareto front")
    add_storage_args(p, "study name (default: the only study in the storage)")
    p.set_defaults(command_module="best")

    p = sub.add_parser("studies", help="list the studies in a storage")
    add_storage_args(p, argparse.SUPPRESS)
    p.set_defaults(command_module="studies")

    p = sub.add_parser("spaces", help="list the named search spaces")
    p.set_defaults(command_module="spaces")

    p = sub.add_parser("dashboard", help="serve optuna-dashboard on a storage")
    add_storage_args(p, argparse.SUPPRESS)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; the dashboard has no authentication)",
    )
    p.add_argument("--port", type=port_arg, default=8080, help="default 8080")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="refuse every write action (deleting studies, editing notes, ...): only pages and reads are served",
    )
    p.add_argument("--artifacts", metavar=ARTIFACTS_METAVAR, help=ARTIFACTS_HELP)
    p.set_defaults(command_module="dashboard")

    p = sub.add_parser(
        "storage-server",
        help="serve Optuna's gRPC storage proxy over a database, for workers "
        "on many machines (--storage grpc://HOST:PORT)",
    )
    p.add_argument(
        "--storage", required=True, help="the database: a SQLAlchemy URL, e.g. postgresql://user:password@host/dbname"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; the proxy has no authentication)",
    )
    p.add_argument("--port", type=port_arg, default=13000, help="default 13000")
    p.set_defaults(command_module="storage_server")

    p = sub.add_parser("report", help="write a self-contained HTML report of a study")
    add_storage_args(p, "study name (default: the only study in the storage)")
    p.add_argument("--out", metavar="DIR", help="folder for STUDY.html (default studies/reports)")
    p.set_defaults(command_module="report")

    p = sub.add_parser("export", help="export a trial's model (weights, torch.export, TorchScript, ONNX, model card)")
    add_settings_args(p, ExportSettings)
    p.set_defaults(command_module="export")

    p = sub.add_parser("evaluate", help="test accuracy, confusion matrix and misclassified digits of a model")
    p.add_argument("model_dir", metavar="DIR", help=MODEL_DIR_HELP)
    p.add_argument("--out", metavar="DIR", help="where misclassified.png goes (default: DIR)")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.set_defaults(command_module="evaluate")

    p = sub.add_parser("predict", help="read digits from image files")
    p.add_argument("model_dir", metavar="DIR", help=MODEL_DIR_HELP)
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...): a photo or scan of one digit each"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per image")
    p.set_defaults(command_module="predict")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "config", None):
        from ..settings import RunSettings, read_settings_file

        try:
            values = read_settings_file(args.config, RunSettings)
        except errors.SearchError as exc:
            return _fail(str(exc), exit_code(exc))
        args = build_parser(run_defaults=values).parse_args(argv)  # the file's settings, then the flags
    import importlib

    # Imported only when the command runs, so `--help` and typos answer instantly.
    from mnistnet.data import DataError
    from mnistnet.model import ConfigError
    from mnistnet.train import DeviceError

    _quiet_libraries()
    try:
        settings.debug()  # a bad value is reported before any work, not when a failure needs it
        command = importlib.import_module(f"search.cli.commands.{args.command_module}")
        return command.main(args) or OK
    except errors.SearchError as exc:
        return _fail(str(exc), exit_code(exc))
    except DataError as exc:
        return _fail(str(exc), DATA)
    except ConfigError as exc:
        return _fail(f"invalid model config: {exc}", USAGE)
    except DeviceError as exc:
        return _fail(str(exc), USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        return _unexpected(exc)


def exit_code(exc: errors.SearchError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


def _unexpected(exc: Exception) -> int:
    if settings.debug():
        raise exc
    from ..storage import disk

    refused = disk.refused(exc)
    if refused is not None:  # a write no command guards (each names its own path and fix)
        where = refused.filename or "a file"
        return _fail(disk.message(where, refused.errno, "then rerun the same command"), WRITE)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return _fail(f"unexpected {type(exc).__name__}: {first} (set MNIST_SEARCH_DEBUG=1 for the traceback)", FAILED)


def _quiet_libraries() -> None:
    """Optuna logs every trial, and a failed one with its traceback; our bar and tables say what matters
    (a failed trial gets one line from the progress callback). SQLAlchemy's pool logs a traceback when
    Ctrl-C lands while it returns a connection; the interruption is reported as one line instead."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)


def _fail(message: str, code: int) -> int:
    print(f"mnist-search: error: {message}", file=sys.stderr)
    return code
