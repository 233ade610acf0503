"""Creating or resuming a study: directions, sampler, pruner, its settings, and the warm-start trials."""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import asdict, dataclass

import optuna

from .errors import NOT_FOUND, USAGE, CliError
from .storage import mask, open_storage

PRUNERS = ("hyperband", "median", "none")
OBJECTIVES = ("accuracy", "pareto")
# Settings that define what a study's values mean; a resumed study must be run with the same ones.
DEFINING = ("space", "base", "objective", "max_params", "max_macs", "val_size")


@dataclass
class StudySpec:
    name: str
    storage: str
    space: str
    base: str
    objective: str
    max_params: int | None
    max_macs: int | None
    epochs: int
    pruner: str
    seed: int
    subset: int | None = None  # training images per trial (None: all)
    val_size: int = 5000

    @classmethod
    def from_study(cls, study: optuna.Study, storage: str) -> "StudySpec":
        """The settings a study was created with (what `mnist-search worker` joins with)."""
        from dataclasses import fields
        attrs = study.user_attrs
        missing = [f.name for f in fields(cls) if f.name not in ("storage", "name") and f.name not in attrs
                   and f.default is dataclasses.MISSING]
        if missing:
            raise CliError(f"study {study.study_name!r} was not created by `mnist-search run` "
                           f"(no {', '.join(missing)} recorded): start it with `mnist-search run`", USAGE)
        known = {f.name for f in fields(cls)}
        return cls(name=study.study_name, storage=storage,
                   **{k: v for k, v in attrs.items() if k in known and k not in ("storage", "name")})

    @property
    def pareto(self) -> bool:
        return self.objective == "pareto"

    @property
    def directions(self) -> list[str]:
        return ["maximize", "minimize"] if self.pareto else ["maximize"]


def make_sampler(seed: int | None) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # constant_liar keeps parallel workers from sampling the same point; group handles the
        # conditional parameters of the arch space. The objective's trial.set_constraint values
        # steer the sampler away from over-budget nets.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True,
                                          n_startup_trials=10)


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2), reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def load_existing(storage_url: str, name: str, storage=None) -> optuna.Study:
    storage = storage or open_storage(storage_url, create=False, heartbeat=False)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        known = f"known studies: {', '.join(names)}" if names else "the storage holds no study yet"
        raise CliError(f"no study named {name!r} ({known}); run `mnist-search studies` to list them",
                       NOT_FOUND) from None


def pick_study(storage_url: str, name: str | None, storage=None) -> optuna.Study:
    """The named study, or the storage's only study when no name is given."""
    storage = storage or open_storage(storage_url, create=False, heartbeat=False)
    if name:
        return load_existing(storage_url, name, storage)
    names = optuna.get_all_study_names(storage)
    if len(names) == 1:
        return load_existing(storage_url, names[0], storage)
    if not names:
        raise CliError(f"{mask(storage_url)} holds no study yet: run `mnist-search run` first", NOT_FOUND)
    raise CliError(f"several studies in {mask(storage_url)} ({', '.join(names)}): choose one with --study",
                   NOT_FOUND)


def open_study(spec: StudySpec, storage=None, sampler_seed: int | None = None) -> optuna.Study:
    """Create the study, or resume it after checking it was made with the same defining settings."""
    storage = storage or open_storage(spec.storage)
    sampler = make_sampler(spec.seed if sampler_seed is None else sampler_seed)
    pruner = make_pruner(spec.pruner, spec.epochs)
    if spec.name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler, pruner=pruner)
        _check_same_settings(study, spec)
        return study
    study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    for key, value in asdict(spec).items():
        if key != "storage":  # never store a URL that may carry a password
            study.set_user_attr(key, value)
    return study


def _check_same_settings(study: optuna.Study, spec: StudySpec) -> None:
    stored = study.user_attrs
    for key in DEFINING:
        if key in stored and stored[key] != getattr(spec, key):
            flag = "--objective" if key == "objective" else f"--{key.replace('_', '-')}"
            raise CliError(f"study {spec.name!r} was created with {key} {stored[key]!r}, not "
                           f"{getattr(spec, key)!r}: rerun with {flag} {stored[key]} or choose a new --study",
                           USAGE)


def enqueue_warm_starts(study: optuna.Study, space, budget) -> list[str]:
    """Enqueue the source presets that fit the budget, once, as the study's first trials."""
    from mnistnet.model import trace
    from space import PRESET_ATTR

    if study.trials:
        return []
    queued = []
    for start in space.warm_starts():
        shape = trace(start.config)
        if max(budget.excess(shape.params, shape.macs)) <= 0:
            study.enqueue_trial(start.params, user_attrs={PRESET_ATTR: start.preset})
            queued.append(start.preset)
    return queued
