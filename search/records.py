"""The one contract for what a study and its trials store, written and read only through here.

A trial of an mnist-search study carries:
- user attributes (names below): its net's size, config and recipe, the device and numeric
  precision it trained with, its curves, its stage (proxy or final) and, for a trial that did not
  train, the reason;
- Optuna's own `constraints` system attributes (`trial.set_constraint`): a value > 0 means over
  budget, so samplers and `study.best_trials` know feasibility;
- Optuna artifacts: config.json, recipe.json and weights.pt, listed with
  `optuna.artifacts.get_all_artifact_meta`.

The study carries its settings (search.engine.StudySpec) and `SCHEMA_KEY`, the version of this
contract it was written with, so studies made today stay readable after a change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from space.warm import PRESET_ATTR

SCHEMA_VERSION = 2  # 1: before this module (infeasible trials were COMPLETE with value 0.0)
SCHEMA_KEY = "records_schema"

# Trial user attributes.
PARAMS = "params"  # int: parameters of the net
MACS = "macs"  # int: multiply-accumulates per 28x28 image
CONFIG = "config"  # dict: mnistnet NetConfig.to_dict()
RECIPE = "recipe"  # dict: mnistnet Recipe.to_dict(), with the epochs and seed it trained with
DEVICE = "device"  # str: torch device it trained on
PRECISION = "precision"  # str: "fp32" or "bf16", what its forward passes ran in (weights are fp32)
STAGE = "stage"  # "proxy" (cheap, ranked), "final" (full data, full epochs) or "surplus" (never trained)
FINAL_OF = "final_of"  # int, on a final: the proxy trial it retrains
# int, on a final enqueued to confirm a net (search.engine.confirmation): the training seed it uses instead of
# the run's --seed, so that a net's finals are trainings of one net with distinct seeds.
TRAIN_SEED = "train_seed"
RUNG_OF = "rung_of"  # int: the proxy trial a rung trial retrains
PRESET = PRESET_ATTR  # str: the preset or warm start an enqueued trial reproduces
TRAIN_IMAGES = "train_images"  # int: training images per epoch
VAL_ACC_CURVE = "val_acc_curve"  # list[float], one per epoch
TRAIN_LOSS_CURVE = "train_loss_curve"
VAL_LOSS_CURVE = "val_loss_curve"
EPOCHS_TRAINED = "epochs_trained"  # int
SECONDS = "seconds"  # float: wall time of the trial
THREADS = "threads"  # int: torch CPU threads the trial trained with (CPU trials only)
INFEASIBLE = "infeasible"  # str: why the net was not trained (over budget, impossible config)
FAIL_REASON = "fail_reason"  # str: why training failed or was stopped
OWNER = "worker"  # dict: the process that runs the trial (host, pid, start time: search.storage.owners)

# Study user attributes read here (the study's other settings: search.engine.StudySpec, stored whole).
TARGET_ACC = "target_acc"  # float: the validation accuracy the answer must reach
DEFAULT_TARGET_ACC = 0.994  # the answer: the smallest final reaching this validation accuracy (99.4 %)
# int: full-fidelity trainings (seeds) a net needs before its mean validation accuracy can be the answer.
CONFIRM_SEEDS = "confirm_seeds"
DEFAULT_CONFIRM_SEEDS = 3  # one seed moves a small net's final by about +-0.1 pp, the whole margin to the target

PROXY, FINAL, SURPLUS = "proxy", "final", "surplus"
# A rung: a plausible proxy trial's net retrained at an intermediate fidelity before the finals are drawn,
# because among the small nets the proxy's own score says little about full fidelity (bench/RESULTS.md).
RUNG = "rung"
# A run's trials are counted in these states: waiting (enqueued) trials are not yet anyone's work.
COUNTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# Files each trained trial uploads as Optuna artifacts.
CONFIG_FILE, RECIPE_FILE, WEIGHTS_FILE = "config.json", "recipe.json", "weights.pt"
ARTIFACT_FILES = (CONFIG_FILE, RECIPE_FILE, WEIGHTS_FILE)


# --- writing (the objective) ---


def write_net(
    trial: optuna.Trial,
    params: int,
    macs: int,
    config: dict,
    recipe: dict,
    device: str,
    stage: str,
    train_images: int,
    precision: str = "fp32",
    threads: int | None = None,
) -> None:
    if threads is not None:
        trial.set_user_attr(THREADS, threads)
    for key, value in (
        (PARAMS, params),
        (MACS, macs),
        (CONFIG, config),
        (RECIPE, recipe),
        (DEVICE, device),
        (STAGE, stage),
        (TRAIN_IMAGES, train_images),
        (PRECISION, precision),
    ):
        trial.set_user_attr(key, value)


CONSTRAINTS = ("params", "macs", "receptive_field")  # search.engine.Budget's bounds, in its order


def write_constraints(trial: optuna.Trial, excess: list[float]) -> None:
    """Optuna's constraint values (<= 0: within budget), one per budget."""
    for key, value in zip(CONSTRAINTS, excess):
        trial.set_constraint(key, value)


def write_infeasible(trial: optuna.Trial, reason: str) -> None:
    trial.set_user_attr(INFEASIBLE, reason)


def write_failure(trial: optuna.Trial, reason: str) -> None:
    trial.set_user_attr(FAIL_REASON, reason[:400])


def write_failure_by_id(storage, trial_id: int, reason: str) -> None:
    """write_failure for a trial this process does not run (a dead worker's: search.storage.owners)."""
    storage.set_trial_user_attr(trial_id, FAIL_REASON, reason[:400])


def retry_user_attrs(t: FrozenTrial) -> dict:
    """The user attributes a failed trial's retry starts with: no owner, no failure reason."""
    return {k: v for k, v in t.user_attrs.items() if k not in (OWNER, FAIL_REASON)}


# What an enqueued trial is: the attributes a trial put back in the queue must carry again.
QUEUE_ATTRS = (STAGE, FINAL_OF, RUNG_OF, PRESET, TRAIN_SEED)


def write_owner(trial: optuna.Trial, owner: dict) -> None:
    trial.set_user_attr(OWNER, owner)


def write_training(trial: optuna.Trial, history, seconds: float) -> None:
    trial.set_user_attr(VAL_ACC_CURVE, [m.val_acc for m in history])
    trial.set_user_attr(TRAIN_LOSS_CURVE, [m.train_loss for m in history])
    trial.set_user_attr(VAL_LOSS_CURVE, [m.val_loss for m in history])
    trial.set_user_attr(EPOCHS_TRAINED, len(history))
    trial.set_user_attr(SECONDS, round(seconds, 2))


def upload_files(trial: optuna.Trial, store, config, recipe, model) -> None:
    """Config, recipe and weights as Optuna artifacts of the trial (dashboard and export read them)."""
    from optuna.artifacts import upload_artifact

    from mnistnet.rundir import save_weights

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / CONFIG_FILE).write_text(config.to_json())
        (folder / RECIPE_FILE).write_text(recipe.to_json())
        save_weights(model, folder / WEIGHTS_FILE)
        for name in ARTIFACT_FILES:
            upload_artifact(artifact_store=store, file_path=str(folder / name), study_or_trial=trial)


def mark_study(study: optuna.Study) -> None:
    study.set_user_attr(SCHEMA_KEY, SCHEMA_VERSION)


# --- reading (selection, report, export, dashboard, best) ---


def accuracy(t: FrozenTrial) -> float:
    """Validation accuracy after the last epoch (the study's value may be a size-adjusted score)."""
    curve = t.user_attrs.get(VAL_ACC_CURVE)
    return float(curve[-1]) if curve else t.values[0]


def params(t: FrozenTrial) -> int:
    return int(t.user_attrs[PARAMS])


def macs(t: FrozenTrial) -> int:
    return int(t.user_attrs[MACS])


def stage(t: FrozenTrial) -> str:
    return t.user_attrs.get(STAGE, PROXY)


def write_surplus(trial: optuna.Trial, until: int) -> None:
    trial.set_user_attr(STAGE, SURPLUS)
    trial.set_user_attr(
        FAIL_REASON, f"not trained: another worker had already started the run's last trial (of {until} in the study)"
    )


def is_final(t: FrozenTrial) -> bool:
    return stage(t) == FINAL


def final_of(t: FrozenTrial) -> int | None:
    return t.user_attrs.get(FINAL_OF)


def is_rung(t: FrozenTrial) -> bool:
    return stage(t) == RUNG


def rung_of(t: FrozenTrial) -> int | None:
    return t.user_attrs.get(RUNG_OF)


def preset(t: FrozenTrial) -> str:
    return t.user_attrs.get(PRESET, "")


def precision(t: FrozenTrial) -> str:
    """What the trial trained in; trials from before the choice existed ran fp32 on CPU, bf16 on CUDA."""
    return t.user_attrs.get(PRECISION) or ("bf16" if str(t.user_attrs.get(DEVICE, "")).startswith("cuda") else "fp32")


def curve(t: FrozenTrial) -> list[float]:
    return list(t.user_attrs.get(VAL_ACC_CURVE, []))


def seconds(t: FrozenTrial) -> float:
    return float(t.user_attrs.get(SECONDS, 0.0))


def threads(t: FrozenTrial) -> int | None:
    return t.user_attrs.get(THREADS)


def epochs_trained(t: FrozenTrial) -> int:
    return int(t.user_attrs.get(EPOCHS_TRAINED, 0))


def owner(t: FrozenTrial) -> dict | None:
    return t.user_attrs.get(OWNER)


def infeasible_reason(t: FrozenTrial) -> str | None:
    return t.user_attrs.get(INFEASIBLE)


def target_acc(study: optuna.Study, default: float | None = DEFAULT_TARGET_ACC) -> float | None:
    """The study's target validation accuracy (the latest run's: search.engine)."""
    value = study.user_attrs.get(TARGET_ACC)
    return default if value is None else value


def confirm_seeds(study: optuna.Study) -> int:
    """Seeds a net's finals need before their mean counts (the latest run's); 1 for a study from before
    confirmation existed, whose finals were believed on one seed."""
    return int(study.user_attrs.get(CONFIRM_SEEDS, 1))


def train_seed(t: FrozenTrial) -> int | None:
    """The seed the trial trained with (its recipe's), or, for a waiting one, the seed it is queued with."""
    if TRAIN_SEED in t.user_attrs:
        return int(t.user_attrs[TRAIN_SEED])
    recipe = t.user_attrs.get(RECIPE)
    return int(recipe["seed"]) if recipe and "seed" in recipe else None


def fail_reason(t: FrozenTrial) -> str | None:
    return t.user_attrs.get(FAIL_REASON)


def is_feasible(t: FrozenTrial) -> bool:
    """Within every budget (Optuna's constraints), and actually a net."""
    return INFEASIBLE not in t.user_attrs and all(v <= 0 for v in t.constraints.values())


def is_trained(t: FrozenTrial) -> bool:
    """Completed its training within budget: it has a value and a model."""
    if t.state != TrialState.COMPLETE or CONFIG not in t.user_attrs:
        return False
    # Schema 1 stored over-budget nets as COMPLETE with value 0.0 and an `infeasible` reason.
    return is_feasible(t)


def config(t: FrozenTrial):
    from mnistnet.model import NetConfig

    return NetConfig.from_dict(t.user_attrs[CONFIG])


def recipe(t: FrozenTrial):
    from mnistnet.recipe import Recipe

    return Recipe.from_dict(t.user_attrs[RECIPE])


def artifact_ids(storage, t: FrozenTrial) -> dict[str, str]:
    """File name -> artifact id of a trial's uploaded files (`storage`: the study's storage)."""
    from optuna.artifacts import get_all_artifact_meta

    return {m.filename: m.artifact_id for m in get_all_artifact_meta(t, storage=storage)}
