"""The study spec (what a study is run with) and creating or resuming the Optuna study it names."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields

import optuna

from mnistnet.data import DEFAULT_VAL_SIZE

from .. import optuna_adapter, records
from ..settings import DEFAULT_OBJECTIVE, METRIC_NAMES, OBJECTIVES, PARETO_MIN_PARAMS  # noqa: F401 (re-exported)
from ..errors import BadArgument, SettingsMismatch, UnknownStudy
from ..settings import PRUNERS, RUNG_EPOCHS, RUNG_IMAGES, TARGET_ACC, RunSettings  # noqa: F401 (PRUNERS re-exported)
from ._sampling import make_sampler
from ..storage import mask, open_storage

# Settings that define what a study's values mean; a resumed study must be run with the same ones.
DEFINING = (
    "space",
    "base",
    "objective",
    "max_params",
    "max_macs",
    "val_size",
    "epochs",
    "subset",
    "final_epochs",
    "final_subset",
    "final_ema_images",
)
# The command-line flag of each defining setting, and what "no bound" is written as there.
FLAGS = {
    "objective": "--objective",
    "subset": "--subset",
    "final_epochs": "--final-epochs",
    "final_subset": "--final-subset",
}
# Defining settings that only a device profile sets (no flag of their own): how to get them back.
PROFILE_SETTINGS = {"final_ema_images": "the --profile it was created with"}
WARMUP = 0.3  # the one-cycle schedule's share of warm-up steps (OneCycleLR's pct_start)


@dataclass
class StudySpec:
    name: str
    storage: str
    space: str
    base: str
    objective: str
    max_params: int | None
    max_macs: int | None
    epochs: int  # proxy epochs per trial
    pruner: str
    seed: int
    subset: int | None = None  # proxy training images per trial (None: all)
    val_size: int = DEFAULT_VAL_SIZE
    finals: int = 0  # top-K distinct proxy trials retrained at full fidelity
    final_epochs: int = 15
    final_subset: int | None = None  # training images of a final (None: all; a slice only for quick tries)
    final_ema_images: int = 0  # the finals' weight average's horizon (Recipe.ema_images; search.engine.profiles)
    target_acc: float = TARGET_ACC  # the answer: the smallest net whose finals' mean reaches this accuracy
    confirm_seeds: int = records.DEFAULT_CONFIRM_SEEDS  # seeds a net's finals need before their mean counts
    rung: int = 0  # plausible proxy nets per size band retrained at the rung's fidelity (0: no rung)
    rung_subset: int | None = RUNG_IMAGES  # a rung trial's training images
    rung_epochs: int = RUNG_EPOCHS

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "StudySpec":
        """The run settings' own checks (search.settings), on the values a study is made with."""
        checks = {f.name: f.metadata["check"] for f in dataclasses.fields(RunSettings)}
        for key in ("objective", "pruner", "target_acc", "finals", "epochs", "final_epochs", "val_size"):
            checks[key](key, getattr(self, key))
        for key in ("epochs", "final_epochs"):  # here never None: the profile's value is filled in
            if getattr(self, key) is None:
                raise BadArgument(f"{key} must be a whole number >= 1, got None")
        for key in ("subset", "final_subset"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise BadArgument(f"{key} must be >= 1 training image, got {getattr(self, key)!r} (None: all)")
        return self

    @classmethod
    def from_study(cls, study: optuna.Study, storage: str) -> "StudySpec":
        """The settings a study was created with (what `mnist-search worker` joins with)."""
        attrs = study.user_attrs
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in ("storage", "name") and f.name not in attrs and f.default is dataclasses.MISSING
        ]
        if missing:
            raise BadArgument(
                f"study {study.study_name!r} was not created by mnist-search "
                f"(no {', '.join(missing)} recorded): start it with `mnist-search run`"
            )
        known = {f.name for f in fields(cls)}
        return cls(
            name=study.study_name,
            storage=storage,
            **{k: v for k, v in attrs.items() if k in known and k not in ("storage", "name")},
        )

    @property
    def pareto(self) -> bool:
        return self.objective == "pareto"

    @property
    def directions(self) -> list[str]:
        return ["maximize", "minimize"] if self.pareto else ["maximize"]

    @property
    def warmup_epochs(self) -> int:
        """Epochs until the proxy's one-cycle warm-up has ended: no pruning before them."""
        return min(self.epochs, max(1, math.ceil(WARMUP * self.epochs)))


def sampler_seed(spec: StudySpec, trials_so_far: int, worker: int = 0) -> int:
    """A seed that differs per run and per worker, so a resumed run samples new points."""
    return (spec.seed * 1_000_003 + trials_so_far * 101 + worker) % 2**31


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    """A pruner that never judges a trial before its one-cycle warm-up has ended."""
    if spec.pruner == "hyperband" and spec.epochs > spec.warmup_epochs:
        return optuna.pruners.HyperbandPruner(
            min_resource=spec.warmup_epochs, max_resource=spec.epochs, reduction_factor=3
        )
    if spec.pruner in ("median", "hyperband") and spec.epochs > spec.warmup_epochs:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=spec.warmup_epochs)
    return optuna.pruners.NopPruner()


def load_existing(storage_url: str, name: str, storage=None) -> optuna.Study:
    storage = storage or open_storage(storage_url, create=False, heartbeat=False)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        known = f"known studies: {', '.join(names)}" if names else "the storage holds no study yet"
        raise UnknownStudy(f"no study named {name!r} ({known}); run `mnist-search studies` to list them") from None


def pick_study(storage_url: str, name: str | None, storage=None) -> optuna.Study:
    """The named study, or the storage's only study when no name is given."""
    storage = storage or open_storage(storage_url, create=False, heartbeat=False)
    if name:
        return load_existing(storage_url, name, storage)
    names = optuna.get_all_study_names(storage)
    if len(names) == 1:
        return load_existing(storage_url, names[0], storage)
    if not names:
        raise UnknownStudy(f"{mask(storage_url)} holds no study yet: run `mnist-search run` first")
    raise UnknownStudy(f"several studies in {mask(storage_url)} ({', '.join(names)}): choose one with --study")


def check_resume(spec: StudySpec, storage) -> None:
    """Refuse, before anything is written, to resume a study with other defining settings."""
    if spec.name not in optuna.get_all_study_names(storage):
        return
    stored = optuna.load_study(study_name=spec.name, storage=storage).user_attrs
    for key in DEFINING:
        if key in stored and stored[key] != getattr(spec, key):
            flag = FLAGS.get(key, f"--{key.replace('_', '-')}")
            value = stored[key]
            shown = ("all" if key.endswith("subset") else 0) if value is None else value
            fix = PROFILE_SETTINGS.get(key) or f"{flag} {shown}"
            raise SettingsMismatch(
                f"study {spec.name!r} was created with {key} {value!r}, not "
                f"{getattr(spec, key)!r}: rerun with {fix} or choose a new --study"
            )


def open_study(spec: StudySpec, storage=None, seed: int | None = None, worker: int = 0) -> optuna.Study:
    """Create the study, or resume it after checking it was made with the same defining settings."""
    storage = storage or open_storage(spec.storage)
    check_resume(spec, storage)
    pruner = make_pruner(spec)
    if spec.name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=spec.name, storage=storage, pruner=pruner)
        n = len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(sampler_seed(spec, n, worker) if seed is None else seed)
        # Settings that may change between runs (finals, rung, target) are the latest run's.
        for key in ("finals", "rung", "target_acc", "confirm_seeds", "pruner"):
            study.set_user_attr(key, getattr(spec, key))
        return study
    study = optuna.create_study(
        storage=storage,
        study_name=spec.name,
        directions=spec.directions,
        sampler=make_sampler(sampler_seed(spec, 0, worker) if seed is None else seed),
        pruner=pruner,
        load_if_exists=True,
    )
    with optuna_adapter.experimental_quiet():
        study.set_metric_names(METRIC_NAMES[spec.objective])  # the dashboard and report label axes with them
    for key, value in asdict(spec).items():
        if key != "storage":  # never store a URL that may carry a password
            study.set_user_attr(key, value)
    records.mark_study(study)
    return study
