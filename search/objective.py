"""The objective: trial -> space.sample -> budget check -> mnistnet.fit with per-epoch pruning -> value."""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch

from mnistnet.data import MNIST
from mnistnet.model import ConfigError, trace
from mnistnet.rundir import save_weights
from mnistnet.train import fit


INFEASIBLE_ATTR = "infeasible"


def set_constraints(trial: optuna.Trial, excess: list[float]) -> None:
    """Optuna's constraint values (<= 0: within budget); constrained samplers learn from them."""
    trial.set_constraint("params", excess[0])
    trial.set_constraint("macs", excess[1])


@dataclass
class Budget:
    max_params: int | None
    max_macs: int | None

    def excess(self, params: int, macs: int) -> list[float]:
        return [float(params - self.max_params) if self.max_params else 0.0,
                float(macs - self.max_macs) if self.max_macs else 0.0]


class Objective:
    """Callable for study.optimize. Single objective: validation accuracy. Pareto: (accuracy, params)."""

    def __init__(self, space, data: MNIST, epochs: int, budget: Budget, device: torch.device,
                 pareto: bool = False, artifact_store=None, seed: int = 0):
        self.space, self.data, self.epochs, self.budget = space, data, epochs, budget
        self.device, self.pareto, self.artifact_store, self.seed = device, pareto, artifact_store, seed

    def _infeasible(self, trial, params: int, reason: str):
        trial.set_user_attr(INFEASIBLE_ATTR, reason)
        return (0.0, float(params)) if self.pareto else 0.0

    def __call__(self, trial: optuna.Trial):
        start = time.perf_counter()
        config, recipe = self.space.sample(trial)
        recipe = recipe.replace(epochs=self.epochs, seed=self.seed)
        try:
            shape = trace(config)
        except ConfigError as exc:
            # An impossible net is infeasible, not a crash: the sampler learns to avoid it too.
            set_constraints(trial, [1.0, 1.0])
            return self._infeasible(trial, 0, f"invalid config: {exc}")
        excess = self.budget.excess(shape.params, shape.macs)
        set_constraints(trial, excess)
        trial.set_user_attr("params", shape.params)
        trial.set_user_attr("macs", shape.macs)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("recipe", recipe.to_dict())
        trial.set_user_attr("device", str(self.device))
        if max(excess) > 0:
            return self._infeasible(trial, shape.params, "over budget: " + ", ".join(
                f"{what} {value:,} > {limit:,}" for what, value, limit, over in
                [("params", shape.params, self.budget.max_params, excess[0]),
                 ("MACs", shape.macs, self.budget.max_macs, excess[1])] if over > 0))

        def report(m) -> bool:
            if self.pareto:
                return False  # Optuna cannot prune multi-objective trials
            trial.report(m.val_acc, m.epoch)
            return trial.should_prune()

        try:
            result = fit(config, recipe, self.data, self.device, on_epoch=report)
        except torch.OutOfMemoryError as exc:
            # This trial's net or batch does not fit beside the others on the GPU: fail it, keep going.
            trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:300]}")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {str(exc)[:300]}")
            raise
        h = result.history
        trial.set_user_attr("val_acc_curve", [m.val_acc for m in h])
        trial.set_user_attr("train_loss_curve", [m.train_loss for m in h])
        trial.set_user_attr("val_loss_curve", [m.val_loss for m in h])
        trial.set_user_attr("epochs_trained", len(h))
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
        if result.status == "diverged":
            trial.set_user_attr("fail_reason", "non-finite training loss")
            raise optuna.TrialPruned("non-finite training loss")
        if result.status == "stopped":
            raise optuna.TrialPruned(f"pruned after epoch {len(h)}")
        self._upload(trial, config, recipe, result.model)
        return (result.final_val_acc, float(shape.params)) if self.pareto else result.final_val_acc

    def _upload(self, trial, config, recipe, model) -> None:
        """Config, recipe and weights as Optuna artifacts, so the dashboard and export can fetch them."""
        if self.artifact_store is None:
            return
        from optuna.artifacts import upload_artifact
        with tempfile.TemporaryDirectory() as tmp:
            files = {"config.json": config.to_json(), "recipe.json": recipe.to_json()}
            for name, text in files.items():
                (Path(tmp) / name).write_text(text)
            save_weights(model, Path(tmp) / "weights.pt")
            ids = {}
            for name in ("config.json", "recipe.json", "weights.pt"):
                ids[name] = upload_artifact(artifact_store=self.artifact_store, file_path=str(Path(tmp) / name),
                                            study_or_trial=trial)
            trial.set_user_attr("artifacts", json.loads(json.dumps(ids)))
