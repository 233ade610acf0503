"""The objective: trial -> space.sample -> budget check -> mnistnet.fit -> the study's value.

A study's values are one of (search.settings.OBJECTIVES):
- "accuracy": validation accuracy;
- "size": size-adjusted validation accuracy, accuracy minus SIZE_WEIGHT per doubling of
  parameters over SIZE_REFERENCE, so the sampler and the pruner weigh a net's size as well;
- "pareto": (validation accuracy, parameters counted from PARETO_MIN_PARAMS up), two objectives.
  Optuna cannot prune those, so a proxy trial is stopped here instead when, after the warm-up, its
  accuracy is below the median of the earlier trials of similar size at the same epoch
  (search.engine.bands).
Every trial also stores its plain validation accuracy (records), which is what selection reads.

An Objective is handed its fidelity (search.running.ByStage holds one per stage). At proxy fidelity a
trial trains on the profile's subset for the proxy epochs and reports each epoch to the pruner; at
full fidelity (a final: a proxy trial's params enqueued again) it trains on all the training images
for the final epochs, unpruned. An over-budget or impossible net is never trained:
its constraint values are set and it is PRUNED with its reason, at no cost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import optuna
import torch

from mnistnet.data import MNIST
from mnistnet.model import ConfigError, trace
from mnistnet.train import fit

from .. import records
from . import _bands as bands
from ..settings import PARETO_MIN_PARAMS

# "size" objective: validation accuracy traded for each doubling of parameters. At proxy fidelity a
# doubling bought ~0.7 pp (gap8k 97.88 % -> a 16.5k net 98.70 %) where full fidelity gave 0.14 pp
# (99.36 % -> 99.50 %): 0.5 pp cancels most of the proxy's preference for size.
SIZE_WEIGHT = 0.005
SIZE_REFERENCE = 10_000  # parameters at which the size-adjusted accuracy equals the accuracy


def pareto_size(params: int) -> float:
    """The pareto objective's second value: parameters, with every net under PARETO_MIN_PARAMS at it."""
    return float(max(params, PARETO_MIN_PARAMS))


def size_adjusted(accuracy: float, params: int) -> float:
    return accuracy - SIZE_WEIGHT * math.log2(max(1, params) / SIZE_REFERENCE)


@dataclass
class Budget:
    max_params: int | None
    max_macs: int | None
    min_receptive_field: int = 0  # the space's prior (space.arch): a net that sees less is not trained

    def excess(self, shape) -> list[float]:
        """How far outside each bound a net (a mnistnet Shape) is (<= 0: within it)."""
        return [
            float(shape.params - self.max_params) if self.max_params else 0.0,
            float(shape.macs - self.max_macs) if self.max_macs else 0.0,
            float(self.min_receptive_field - shape.receptive_field) if self.min_receptive_field else 0.0,
        ]

    def describe_excess(self, shape) -> str:
        over = []
        if self.max_params and shape.params > self.max_params:
            over.append(f"params {shape.params:,} > {self.max_params:,}")
        if self.max_macs and shape.macs > self.max_macs:
            over.append(f"MACs {shape.macs:,} > {self.max_macs:,}")
        if shape.receptive_field < self.min_receptive_field:
            over.append(f"receptive field {shape.receptive_field} px < {self.min_receptive_field} px")
        return "over budget: " + ", ".join(over)

    @classmethod
    def for_space(cls, space, max_params: int | None, max_macs: int | None) -> "Budget":
        return cls(max_params, max_macs, getattr(space, "min_receptive_field", 0))


@dataclass
class Fidelity:
    data: MNIST
    epochs: int
    final: bool = False  # full fidelity: trained to the end (never pruned), compiled where it pays back
    rung: bool = False  # a rung (search.records.RUNG): trained to the end, never pruned, not compiled
    ema_images: int = 0  # a weight average's horizon in images (finals: search.engine.profiles), 0: none

    @property
    def stage(self) -> str:
        return records.FINAL if self.final else records.RUNG if self.rung else records.PROXY


class Objective:
    """Callable for study.optimize, returning the value(s) of the study's objective (module doc)."""

    def __init__(
        self,
        space,
        fidelity: Fidelity,
        budget: Budget,
        device: torch.device,
        objective: str = "accuracy",
        artifact_store=None,
        seed: int = 0,
        precision: str = "fp32",
        compile_finals: bool = False,
        warmup_epochs: int = 1,
        on_final_epoch=None,
        stop_early: bool = True,
    ):
        self.space, self.fidelity, self.budget = space, fidelity, budget
        # Called after each epoch of a final with (trial, final_of, epoch, epochs, val_acc, elapsed, seed):
        # how it is shown (a line on stderr, search.reports.final_epoch_line) is its caller's.
        self.on_final_epoch = on_final_epoch
        self.device, self.objective, self.artifact_store, self.seed = device, objective, artifact_store, seed
        self.precision, self.compile_finals, self.warmup_epochs = precision, compile_finals, warmup_epochs
        self.stop_early = stop_early  # False (--pruner none): every proxy trial trains to its last epoch
        self.stop_at: float | None = None  # a time budget's end of the proxy stage (time.time()), set per stage

    @property
    def pareto(self) -> bool:
        return self.objective == "pareto"

    def value(self, accuracy: float, params: int):
        if self.objective == "size":
            return size_adjusted(accuracy, params)
        return (accuracy, pareto_size(params)) if self.pareto else accuracy

    def __call__(self, trial: optuna.Trial):
        start = time.perf_counter()
        fidelity = self.fidelity
        final = fidelity.final
        config, recipe = self.space.sample(trial)
        # A final enqueued to confirm a net carries its own seed (records.TRAIN_SEED).
        seed = trial.user_attrs.get(records.TRAIN_SEED, self.seed) if final else self.seed
        recipe = recipe.replace(epochs=fidelity.epochs, seed=seed, ema_images=fidelity.ema_images or None)
        try:
            shape = trace(config)
        except ConfigError as exc:
            # An impossible net is infeasible, not a crash: the sampler learns to avoid it too.
            records.write_constraints(trial, [1.0, 1.0, 1.0])
            return self._not_trained(trial, f"invalid config: {exc}")
        excess = self.budget.excess(shape)
        records.write_constraints(trial, excess)
        records.write_net(
            trial,
            shape.params,
            shape.macs,
            config.to_dict(),
            recipe.to_dict(),
            str(self.device),
            fidelity.stage,
            len(fidelity.data.train),
            self.precision,
            threads=torch.get_num_threads() if self.device.type == "cpu" else None,
        )
        if max(excess) > 0:
            return self._not_trained(trial, self.budget.describe_excess(shape))

        def report(m) -> bool:
            if final:
                if self.on_final_epoch is not None:
                    self.on_final_epoch(
                        trial.number,
                        trial.user_attrs.get(records.FINAL_OF),
                        m.epoch,
                        fidelity.epochs,
                        m.val_acc,
                        time.perf_counter() - start,
                        seed,
                    )
                return False  # finals run to the end
            if fidelity.rung:
                return False  # a rung is a measurement: it runs to the end too
            if self.stop_at is not None and time.time() > self.stop_at:
                return True  # the time budget's proxy stage is over: no trial runs on past it
            if self.pareto:  # Optuna cannot prune multi-objective trials: compare with nets of similar size
                return (
                    self.stop_early
                    and m.epoch >= self.warmup_epochs
                    and m.epoch < fidelity.epochs
                    and bands.below_band_median(trial.study, trial.number, shape.params, m.epoch, m.val_acc)
                )
            trial.report(self.value(m.val_acc, shape.params), m.epoch)
            return trial.should_prune()

        try:
            result = fit(
                config,
                recipe,
                fidelity.data,
                self.device,
                on_epoch=report,
                precision=self.precision,
                compile=final and self.compile_finals,
            )
        except torch.OutOfMemoryError as exc:
            # This trial's net or batch does not fit beside the others on the GPU: fail it, keep going.
            records.write_failure(trial, f"out of memory: {str(exc).splitlines()[0]}")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise
        except Exception as exc:
            records.write_failure(trial, f"{type(exc).__name__}: {exc}")
            raise
        records.write_training(trial, result.history, time.perf_counter() - start)
        if result.status == "diverged":
            records.write_failure(trial, "non-finite training loss")
            raise optuna.TrialPruned("non-finite training loss")
        if result.status == "stopped":
            raise optuna.TrialPruned(f"pruned after epoch {len(result.history)}")
        if self.artifact_store is not None:
            records.upload_files(trial, self.artifact_store, config, recipe, result.model)
        return self.value(result.final_val_acc, shape.params)

    @staticmethod
    def _not_trained(trial, reason: str):
        records.write_infeasible(trial, reason)
        raise optuna.TrialPruned(reason)
