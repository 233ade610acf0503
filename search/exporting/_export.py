"""Writing a trial's model folder: files that run anywhere, with a model card.

The folder holds config.json, recipe.json, weights.pt (a plain state dict), model.pt2 (a torch.export program,
the format to prefer), model.ts (TorchScript, deprecated upstream), model.onnx (dynamic batch) and the card (card.json, MODEL_CARD.md). Every model takes raw pixels:
float32 [N, 1, 28, 28] in [0, 1], normalization inside, and returns logits [N, 10].
The test set is read here, once, to measure the exported model; it never takes part in selection.
The folder is assembled under a temporary name and renamed into place, so it is never half-written.
"""

from __future__ import annotations

import datetime
import json
import shutil
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch

from mnistnet import data as mdata
from mnistnet.augment import to_float
from mnistnet.data import MNIST, Split
from mnistnet.model import NetConfig, build
from mnistnet.precision import resolve as resolve_precision
from mnistnet.recipe import Recipe
from mnistnet.rundir import in_memory, save_weights, write_atomic
from mnistnet.train import evaluate, fit

from .. import optuna_adapter, records
from . import _inference_speed as inference_speed, _onnx as onnx_export
from ..engine import confirmation
from ..storage import disk
from ..errors import BadArgument, DataUnavailable, ModelFolderError, TrainingFailed, UnknownTrial, WriteFailed
from ..settings import ExportSettings, trial_number
from ._model_dir import CARD_JSON
from ..storage import location

CPU = torch.device("cpu")


def pick_trial(study: optuna.Study, which) -> optuna.trial.FrozenTrial:
    """'answer' (or 'best'): the study's answer; else a trial number of a trained trial."""
    number = trial_number(which)
    if number is None:
        from ..engine import require_answer

        return require_answer(study)
    matches = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not matches:
        raise UnknownTrial(f"study {study.study_name!r} has no trial {number}")
    t = matches[0]
    if not records.is_trained(t):
        why = records.infeasible_reason(t) or records.fail_reason(t) or "it did not finish"
        raise BadArgument(
            f"trial {number} has no trained model ({t.state.name.lower()}: {why}): export a "
            f"completed trial (see `mnist-search best`)"
        )
    return t


def trial_weights(study: optuna.Study, trial, store_dir: Path | str, config: NetConfig) -> torch.nn.Module:
    """The trial's trained weights from its artifact store (a folder, or s3://BUCKET/PREFIX)."""
    from optuna.artifacts import download_artifact

    from ..storage import open_store

    ids = records.artifact_ids(optuna_adapter.storage_of(study), trial)
    if records.WEIGHTS_FILE not in ids:
        raise UnknownTrial(f"trial {trial.number} stored no weights: export with --retrain")
    model = build(config)
    store = open_store(str(store_dir), create=False)  # a missing bucket: one line (StorageError)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / records.WEIGHTS_FILE
        try:
            download_artifact(artifact_store=store, artifact_id=ids[records.WEIGHTS_FILE], file_path=str(path))
        except Exception as exc:
            raise UnknownTrial(
                f"cannot read trial {trial.number}'s weights from {store_dir} ({exc}): "
                f"pass --artifacts DIR or use --retrain"
            ) from None
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def seed_model(study: optuna.Study, trial, store_dir, device) -> torch.nn.Module:
    """Another seed's final of the same net, from its own stored weights."""
    return trial_weights(study, trial, store_dir, records.config(trial)).to(device)


def retrain_model(
    config: NetConfig,
    recipe: Recipe,
    data: MNIST,
    seeds: int,
    device,
    epochs=None,
    subset=None,
    log=print,
    precision: str = "auto",
):
    """Train on train+validation (or its first `subset` images) with `seeds` seeds.

    Returns (the first seed's model, the test accuracy of each seed).
    """
    full = MNIST(
        Split(torch.cat([data.train.x, data.val.x]), torch.cat([data.train.y, data.val.y])), data.val, data.test
    ).subset(subset)  # val is inside the training data: no selection on it
    from ..engine import compile_pays_back, for_device

    models, accs = [], []
    for seed in range(seeds):
        r = recipe.replace(seed=seed, epochs=epochs)
        # compiled where the device profile's measurements say it pays back (a CPU final's length does)
        result = fit(
            config,
            r,
            full,
            device,
            progress=False,
            precision=precision,
            compile=compile_pays_back(for_device(torch.device(device).type), len(full.train) * r.epochs),
        )
        if result.status == "diverged":
            raise TrainingFailed(f"retraining diverged with seed {seed}: the trial's recipe is unstable")
        accs.append(evaluate(result.model, data.test)[1])
        models.append(result.model)
        log(f"  seed {seed}: test accuracy {accs[-1]:.2%} ({result.seconds:.0f}s)")
    return models[0].cpu().eval(), accs


def write_formats(model: torch.nn.Module, folder: Path, formats, card=None, images=None, log=print) -> list[str]:
    with warnings.catch_warnings():
        # TorchScript and the TorchScript-based ONNX exporter are deprecated upstream but remain the
        # formats that load everywhere (C++ libtorch, onnxruntime) without extra packages.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _write_formats(model, folder, formats, {} if card is None else card, images, log)


def _write_formats(model: torch.nn.Module, folder: Path, formats, card, images, log) -> list[str]:
    model = model.cpu().eval()
    written = []
    example = torch.rand(2, 1, 28, 28)
    if "pt" in formats:
        save_weights(model, folder / records.WEIGHTS_FILE)
        written.append(records.WEIGHTS_FILE)
    if "export" in formats:
        card["export"] = write_program(model, folder / PROGRAM_FILE, example)
        written.append(PROGRAM_FILE)
    if "torchscript" in formats:
        write_atomic(folder / "model.ts", in_memory(torch.jit.save, torch.jit.trace(model, example)))
        written.append("model.ts")
    if "onnx" in formats:
        card["onnx"] = onnx_export.write(model, folder / "model.onnx", images, log)  # exporter and parity
        written.append("model.onnx")
    return written


PROGRAM_FILE = "model.pt2"


def write_program(model: torch.nn.Module, path: Path, example: torch.Tensor) -> dict:
    """A torch.export program (dynamic batch), saved and loaded back; its outputs must match the model's."""
    import copy

    model = copy.deepcopy(model)
    for t in [*model.parameters(), *model.buffers()]:
        t.data = t.data.clone()  # each tensor its own storage, saved whole (no views into shared memory)
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    with warnings.catch_warnings():
        # torch's archive writer warns on tensors it cannot tie to one storage ("No complete tensor found");
        # the program is loaded back and compared below, so a real problem is an ExportFailed, not a warning.
        warnings.filterwarnings("ignore", message="No complete tensor found", category=UserWarning)
        write_atomic(path, in_memory(torch.export.save, program))
    check = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        diff = float((torch.export.load(str(path)).module()(check) - model(check)).abs().max())
    if not diff < 1e-4:
        from ..errors import ExportFailed

        raise ExportFailed(f"the torch.export program {path.name} differs from the model by {diff:.2g}")
    return {"torch": torch.__version__.split("+")[0], "max_abs_diff": diff}


def validation_text(card: dict) -> str:
    """The validation accuracy the model was chosen on: its net's mean over seeds where it has several."""
    seeds = card.get("val_acc_seeds") or []
    if len(seeds) < 2:
        return f"validation {card['val_acc']:.2%}"
    each = ", ".join(f"{a * 100:.2f}" for a in seeds)
    return (
        f"validation {card['val_acc_mean']:.2%} ± {card['val_acc_std']:.2%} over {len(seeds)} seeds ({each} %; "
        f"the exported seed {card['val_acc']:.2%})"
    )


def test_text(card: dict) -> str:
    if "retrain_seeds" in card:
        return f"test accuracy {card['test_acc_mean']:.2%} ± {card['test_acc_std']:.2%} over {card['retrain_seeds']} retrained seeds"
    if "test_acc_seeds" in card:
        each = ", ".join(f"{a * 100:.2f}" for a in card["test_acc_seeds"])
        return (
            f"test accuracy {card['test_acc_mean']:.2%} ± {card['test_acc_std']:.2%} over "
            f"{len(card['test_acc_seeds'])} seeds' own weights ({each} %; the exported seed {card['test_acc']:.2%})"
        )
    return f"test accuracy {card['test_acc']:.2%}"


def model_card(card: dict) -> str:
    r = card["recipe"]
    stage = "a final (all training images, full epochs)" if card["stage"] == records.FINAL else "a proxy trial"
    return "\n".join(
        [
            f"# MNIST digit recogniser — study {card['study']}, trial {card['trial']}",
            "",
            f"- Parameters: {card['params']:,}",
            f"- Multiply-accumulates per image: {card['macs']:,}",
            f"- Selected as: {stage}; {validation_text(card)} (model selection used validation only)",
            f"- Measured once, at export ({card['exported']}): {test_text(card)}",
            *(
                [
                    f"- Retrained with {card['seed_check']['seeds']} seeds on train+validation: test accuracy "
                    f"{card['seed_check']['mean']:.2%} ± {card['seed_check']['std']:.2%}"
                ]
                if card.get("seed_check")
                else []
            ),
            f"- Recipe: {r['optimizer']} lr {r['lr']:.4g}, momentum {r['momentum']:.3g}, batch {r['batch_size']}, "
            f"{r['epochs']} epochs, {r['scheduler']} schedule; trained in {card.get('trained_precision', 'fp32')}, "
            f"weights stored in fp32",
            *inference_lines(card.get("inference_cpu", {})),
            "",
            "## Use",
            "Input: float32 pixels `[N, 1, 28, 28]` in [0, 1], white digit on black as in MNIST "
            "(normalization is inside the model). Output: logits `[N, 10]`; softmax gives probabilities.",
            f"Files: {', '.join(card['files'])}.",
            *format_advice(card['files']),
            *([onnx_export.card_line(card["onnx"])] if card.get("onnx") else []),
            "",
        ]
    )


def format_advice(files) -> list[str]:
    """Which file to load, in the card: torch.export is current PyTorch's format; TorchScript is deprecated."""
    lines = []
    if PROGRAM_FILE in files:
        lines.append(
            f"Prefer `{PROGRAM_FILE}` in Python with PyTorch: `torch.export.load(path).module()(pixels)` "
            "(torch.export, the format current PyTorch supports)."
        )
    if "model.ts" in files:
        lines.append(
            "`model.ts` is TorchScript, deprecated in current PyTorch: use it only where TorchScript is "
            "required (C++ libtorch); `model.onnx` runs in onnxruntime anywhere."
        )
    return lines


def inference_lines(figures: dict) -> list[str]:
    rows = [(name, f) for name, f in figures.items() if isinstance(f, dict)]
    if not rows:
        return []
    return [
        f"- CPU inference at export ({figures.get('threads', '?')} threads): "
        + "; ".join(
            f"{name} {f['latency_ms_batch1']:.2f} ms per image at batch 1, {f['img_s_batch256']:,} images/s at batch 256"
            for name, f in rows
        )
    ]


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / CARD_JSON).exists())):
        raise ModelFolderError(f"{out} exists and is not an earlier export: choose another --out or remove it")


def export(study: optuna.Study, s: ExportSettings, *, storage_url: str, device=CPU, seed_check=None, log=print) -> dict:
    """Write the model folder `s.out` of the trial `s.trial` (search.settings.ExportSettings: every other
    setting too), on `device`; seed_check None: the device profile's."""
    out = Path(s.out)
    check_out(out)
    t = pick_trial(study, s.trial)
    config, recipe = records.config(t), records.recipe(t)
    try:
        data = mdata.load(s.data_root, device=device)
    except mdata.DataError as exc:
        raise DataUnavailable(str(exc)) from None
    card = {
        "study": study.study_name,
        "trial": t.number,
        "stage": records.stage(t),
        "final_of": records.final_of(t),
        "params": records.params(t),
        "macs": records.macs(t),
        "val_acc": records.accuracy(t),
        "target_acc": records.target_acc(study, default=None),
        "recipe": recipe.to_dict(),
        "trial_params": t.params,
        "exported": datetime.date.today().isoformat(),
        "trained_precision": records.precision(t),
        "weights": "fp32",
    }
    net = confirmation.net_of(study, t) if records.is_final(t) else None
    if net is not None:  # the net's finals, one per seed: what its answer was judged on
        card.update(
            seed=records.train_seed(t),
            seeds=net.seeds,
            seed_trials=[f.number for f in net.finals],
            val_acc_seeds=net.accs,
            val_acc_mean=net.mean,
            val_acc_std=net.std,
            confirmed=net.confirmed(records.confirm_seeds(study)),
        )
    retrained = None
    if s.retrain:
        log(f"retraining trial {t.number} on train+validation with {s.seeds} seeds")
        began = time.perf_counter()
        model, accs = retrain_model(
            config, recipe, data, s.seeds, device, s.epochs, s.subset, log=log, precision=s.precision
        )
        retrained = Retrained(model, config, recipe, time.perf_counter() - began, s.fallback)
        card["trained_precision"] = resolve_precision(s.precision, device)
        card.update(
            test_acc=accs[0],
            test_accs=accs,
            test_acc_mean=statistics.mean(accs),
            test_acc_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
            retrain_seeds=s.seeds,
        )
    else:
        model = trial_weights(study, t, location(storage_url, s.artifacts), config).to(device)
        card["test_acc"] = evaluate(model, data.test)[1]  # the one look at the test set
        if net is not None and net.count > 1:
            # Each seed's own weights, tested once: the net's test accuracy as its answer was chosen,
            # over seeds, without training anything again.
            store = location(storage_url, s.artifacts)
            accs = [
                card["test_acc"]
                if f.number == t.number
                else evaluate(seed_model(study, f, store, device), data.test)[1]
                for f in net.finals
            ]
            card.update(test_acc_seeds=accs, test_acc_mean=statistics.mean(accs), test_acc_std=statistics.stdev(accs))
        if seed_check is None:
            from ..engine import for_device

            seed_check = for_device(device.type).seed_check
        if seed_check:
            # How much the recipe's test accuracy varies with the seed (the exported weights stay the
            # trial's own): cheap on a GPU, the device profile's default there.
            log(f"retraining trial {t.number} with {seed_check} seeds to measure the spread of its test accuracy")
            _, accs = retrain_model(
                config, recipe, data, seed_check, device, s.epochs, s.subset, log=log, precision=s.precision
            )
            card["seed_check"] = {
                "seeds": seed_check,
                "test_accs": accs,
                "mean": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            }
    try:
        _write_folder(out, model, config, recipe, s.formats, card, data, log)
    except OSError as exc:
        error = disk.refused(exc)
        if error is None:
            raise
        raise _not_written(out, error, retrained) from None
    log(
        f"exported trial {t.number} ({records.stage(t)}) of {study.study_name!r} ({card['params']:,} params, "
        f"{validation_text(card)}, {test_text(card)}) to {out}"
    )
    return card


def _write_folder(out: Path, model, config: NetConfig, recipe: Recipe, formats, card: dict, data: MNIST, log) -> None:
    """The model folder, assembled in a staging folder beside `out` and moved into place: whole or not
    at all (a failed write removes the staging folder)."""
    out.parent.mkdir(parents=True, exist_ok=True)  # staged on the same disk, so the move is a rename
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staging = Path(tmp) / "export"
        staging.mkdir()
        (staging / records.CONFIG_FILE).write_text(config.to_json())
        (staging / records.RECIPE_FILE).write_text(recipe.to_json())
        card["files"] = (
            [records.CONFIG_FILE, records.RECIPE_FILE]
            + write_formats(model, staging, formats, card, to_float(data.test.x[: onnx_export.BATCH].cpu()), log)
            + [CARD_JSON, "MODEL_CARD.md"]
        )
        if records.WEIGHTS_FILE not in card["files"]:
            save_weights(model, staging / records.WEIGHTS_FILE)  # evaluate/predict read it
            card["files"].insert(2, records.WEIGHTS_FILE)
        card["inference_cpu"] = inference_speed.runtimes(staging, model)
        (staging / CARD_JSON).write_text(json.dumps(card, indent=2))
        (staging / "MODEL_CARD.md").write_text(model_card(card))
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(staging), str(out))


@dataclass(frozen=True)
class Retrained:
    """A retraining done at export: what a failed write of the model folder would otherwise lose."""

    model: torch.nn.Module
    config: NetConfig
    recipe: Recipe
    seconds: float
    fallback: str | None  # where it is kept then (default: a new temporary folder)


def _not_written(out: Path, error: OSError, retrained: Retrained | None) -> WriteFailed:
    """The one line for a model folder the disk refused: what happened, what was kept or lost, the fix."""
    line = f"cannot write the model folder {out}: {disk.cause(error.errno)} (nothing was written there)"
    fix = f"{disk.FIXES[error.errno]} or choose another --out"
    if retrained is None:
        return WriteFailed(f"{line}; {fix}, then export again")
    try:
        kept = _keep(retrained)
    except OSError as again:
        return WriteFailed(
            f"{line}; the retraining ({retrained.seconds:.0f} s) is lost: its weights could not be kept in "
            f"{retrained.fallback or tempfile.gettempdir()} either ({disk.cause(again.errno, again.strerror)}); "
            f"{fix}, and pass --fallback DIR on another disk"
        )
    return WriteFailed(
        f"{line}; the retrained model ({retrained.seconds:.0f} s of training) is kept in {kept} "
        f"(config.json, recipe.json, weights.pt: `mnist-search evaluate {kept}` reads it); {fix}"
    )


def _keep(retrained: Retrained) -> Path:
    """Write the retrained model's config, recipe and weights to its fallback folder; returns it."""
    if retrained.fallback:
        folder = Path(retrained.fallback)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="mnist-search-retrained-"))
    try:
        write_atomic(folder / records.CONFIG_FILE, retrained.config.to_json())
        write_atomic(folder / records.RECIPE_FILE, retrained.recipe.to_json())
        save_weights(retrained.model, folder / records.WEIGHTS_FILE)
    except OSError:
        for name in (records.CONFIG_FILE, records.RECIPE_FILE):  # no folder that looks whole but is not
            (folder / name).unlink(missing_ok=True)
        if not retrained.fallback:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
