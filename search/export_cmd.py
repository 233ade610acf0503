"""`mnist-search export`: a trial's model as files that run anywhere, with a model card.

The folder holds config.json, recipe.json, weights.pt (a plain state dict), model.ts (TorchScript),
model.onnx (dynamic batch) and the card (card.json, MODEL_CARD.md). Every model takes raw pixels:
float32 [N, 1, 28, 28] in [0, 1], normalization inside, and returns logits [N, 10].
The folder is assembled under a temporary name and renamed into place, so it is never half-written.
"""
from __future__ import annotations

import datetime
import json
import shutil
import statistics
import tempfile
import warnings
from pathlib import Path

import optuna
import torch

from mnistnet import data as mdata
from mnistnet.data import MNIST, Split
from mnistnet.model import NetConfig, build, trace
from mnistnet.recipe import Recipe
from mnistnet.rundir import save_weights
from mnistnet.train import evaluate, fit, resolve_device

from . import fronts
from .errors import FAILED, NOT_FOUND, USAGE, CliError
from .model_dir import CARD_JSON
from .storage import artifact_dir, open_storage
from .study import pick_study

FORMATS = ("pt", "torchscript", "onnx")


def pick_trial(study: optuna.Study, which: str) -> optuna.trial.FrozenTrial:
    if which == "best":
        trial = fronts.best_trial(study)
        if trial is None:
            raise CliError(f"study {study.study_name!r} has no completed trial within budget yet", NOT_FOUND)
        return trial
    try:
        number = int(which)
    except ValueError:
        raise CliError(f"--trial takes a trial number or 'best', got {which!r}", USAGE) from None
    matches = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not matches:
        raise CliError(f"study {study.study_name!r} has no trial {number}", NOT_FOUND)
    t = matches[0]
    if t.state != optuna.trial.TrialState.COMPLETE or "config" not in t.user_attrs \
            or "infeasible" in t.user_attrs:
        raise CliError(f"trial {number} is {t.state.name.lower()}"
                       f"{' (over budget, never trained)' if 'infeasible' in t.user_attrs else ''}: "
                       f"export a completed trial (see `mnist-search best`)", USAGE)
    return t


def trial_weights(trial, store_dir: Path, config: NetConfig) -> torch.nn.Module:
    from optuna.artifacts import FileSystemArtifactStore, download_artifact

    ids = trial.user_attrs.get("artifacts", {})
    if "weights.pt" not in ids:
        raise CliError(f"trial {trial.number} stored no weights: use --retrain", NOT_FOUND)
    model = build(config)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pt"
        try:
            download_artifact(artifact_store=FileSystemArtifactStore(str(store_dir)),
                              artifact_id=ids["weights.pt"], file_path=str(path))
        except Exception as exc:
            raise CliError(f"cannot read trial {trial.number}'s weights from {store_dir} ({exc}): "
                           f"pass --artifacts DIR or use --retrain", NOT_FOUND) from None
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def retrain(config: NetConfig, recipe: Recipe, data: MNIST, seeds: int, device, epochs=None, subset=None):
    """Train on train+validation (or its first `subset` images) with `seeds` seeds.

    Returns (the first seed's model, the test accuracy of each seed).
    """
    full = MNIST(Split(torch.cat([data.train.x, data.val.x]), torch.cat([data.train.y, data.val.y])),
                 data.val, data.test).subset(subset)  # val is inside the training data: no selection on it
    models, accs = [], []
    for seed in range(seeds):
        r = recipe.replace(seed=seed, epochs=epochs)
        result = fit(config, r, full, device, progress=False)
        if result.status == "diverged":
            raise CliError(f"retraining diverged with seed {seed}: the trial's recipe is unstable", FAILED)
        accs.append(evaluate(result.model, data.test)[1])
        models.append(result.model)
        print(f"  seed {seed}: test accuracy {accs[-1]:.2%} ({result.seconds:.0f}s)")
    return models[0].cpu().eval(), accs


def write_formats(model: torch.nn.Module, folder: Path, formats) -> list[str]:
    with warnings.catch_warnings():
        # TorchScript and the TorchScript-based ONNX exporter are deprecated upstream but remain the
        # formats that load everywhere (C++ libtorch, onnxruntime) without extra packages.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _write_formats(model, folder, formats)


def _write_formats(model: torch.nn.Module, folder: Path, formats) -> list[str]:
    model = model.cpu().eval()
    written = []
    example = torch.rand(2, 1, 28, 28)
    if "pt" in formats:
        save_weights(model, folder / "weights.pt")
        written.append("weights.pt")
    if "torchscript" in formats:
        torch.jit.save(torch.jit.trace(model, example), str(folder / "model.ts"))
        written.append("model.ts")
    if "onnx" in formats:
        torch.onnx.export(model, (example,), str(folder / "model.onnx"), input_names=["pixels"],
                          output_names=["logits"], dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                          dynamo=False)
        written.append("model.onnx")
    return written


def model_card(card: dict) -> str:
    r = card["recipe"]
    test = (f"{card['test_acc_mean']:.2%} ± {card['test_acc_std']:.2%} over {card['retrain_seeds']} retrained seeds"
            if "test_acc_mean" in card else f"{card['test_acc']:.2%}")
    return "\n".join([
        f"# MNIST digit recogniser — study {card['study']}, trial {card['trial']}", "",
        f"- Parameters: {card['params']:,}", f"- Multiply-accumulates per image: {card['macs']:,}",
        f"- Validation accuracy (in the study): {card['val_acc']:.2%}",
        f"- Test accuracy (measured at export, {card['exported']}): {test}",
        f"- Recipe: {r['optimizer']} lr {r['lr']:.4g}, momentum {r['momentum']:.3g}, batch {r['batch_size']}, "
        f"{r['epochs']} epochs, {r['scheduler']} schedule", "",
        "## Use", "Input: float32 pixels `[N, 1, 28, 28]` in [0, 1], white digit on black as in MNIST "
        "(normalization is inside the model). Output: logits `[N, 10]`; softmax gives probabilities.",
        f"Files: {', '.join(card['files'])}.", ""])


def prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / CARD_JSON).exists())):
        raise CliError(f"{out} exists and is not an earlier export: choose another --out or remove it", USAGE)


def run_export(args) -> int:
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise CliError(f"unknown --format {', '.join(sorted(unknown)) or '(empty)'}; choose from {', '.join(FORMATS)}")
    out = Path(args.out)
    prepare_out(out)
    storage = open_storage(args.storage, create=False, heartbeat=False)
    study = pick_study(args.storage, args.study, storage)
    trial = pick_trial(study, args.trial)
    config = NetConfig.from_dict(trial.user_attrs["config"])
    recipe = Recipe.from_dict(trial.user_attrs["recipe"])
    device = resolve_device(args.device)
    data = mdata.load(args.data_root, device=device)
    card = {"study": study.study_name, "trial": trial.number, "params": trace(config).params,
            "macs": trace(config).macs, "val_acc": fronts.accuracy(trial), "recipe": recipe.to_dict(),
            "trial_params": trial.params, "exported": datetime.date.today().isoformat()}
    if args.retrain:
        print(f"retraining trial {trial.number} on train+validation with {args.seeds} seeds")
        model, accs = retrain(config, recipe, data, args.seeds, device, args.epochs, args.subset)
        card.update(test_acc=accs[0], test_accs=accs, test_acc_mean=statistics.mean(accs),
                    test_acc_std=statistics.stdev(accs) if len(accs) > 1 else 0.0, retrain_seeds=args.seeds)
    else:
        model = trial_weights(trial, artifact_dir(args.storage, args.artifacts), config).to(device)
        card["test_acc"] = evaluate(model, data.test)[1]
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        staging = Path(tmp) / "export"
        staging.mkdir()
        (staging / "config.json").write_text(config.to_json())
        (staging / "recipe.json").write_text(recipe.to_json())
        card["files"] = ["config.json", "recipe.json"] + write_formats(model, staging, formats) + \
            [CARD_JSON, "MODEL_CARD.md"]
        if "weights.pt" not in card["files"]:
            save_weights(model, staging / "weights.pt")  # evaluate/predict read it
            card["files"].insert(2, "weights.pt")
        (staging / CARD_JSON).write_text(json.dumps(card, indent=2))
        (staging / "MODEL_CARD.md").write_text(model_card(card))
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(staging), str(out))
    acc = (f"test accuracy {card['test_acc_mean']:.2%} ± {card['test_acc_std']:.2%}" if args.retrain
           else f"test accuracy {card['test_acc']:.2%}")
    print(f"exported trial {trial.number} of {study.study_name!r} ({card['params']:,} params, "
          f"validation {card['val_acc']:.2%}, {acc}) to {out}")
    return 0
