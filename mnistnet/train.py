"""fit(): train a NetConfig with a Recipe on device-resident MNIST; evaluate(): accuracy and loss.

The whole training split sits on the device as one uint8 tensor; each epoch is a random
permutation of it, sliced into batches, augmented in one batched op. Loss and accuracy are
accumulated on the device and read once per epoch, so the step loop never waits on the host.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .augment import augment, to_float
from .data import MNIST, Split
from .model import NetConfig, build, trace
from .precision import autocast, exact_fp32, resolve as resolve_precision
from .recipe import Recipe

EVAL_BATCH = 2000
GRAPHS_MODE = "reduce-overhead"  # torch.compile's mode that replays the steps as CUDA graphs


@dataclass
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float  # wall time of this epoch's training and validation
    train_seconds: float = 0.0  # of which training (the step loop, up to its one sync)
    images: int = 0  # training images seen this epoch


@dataclass
class FitResult:
    model: nn.Module
    history: list[EpochMetrics] = field(default_factory=list)
    status: str = "completed"  # "completed" | "stopped" (callback asked) | "diverged" (non-finite loss)
    params: int = 0
    seconds: float = 0.0
    precision: str = "fp32"  # what the forward passes ran in: "fp32" or "bf16" (weights are fp32 either way)
    compiled: bool = False  # whether the training steps ran through torch.compile

    @property
    def best_val_acc(self) -> float:
        return max((m.val_acc for m in self.history), default=0.0)

    @property
    def final_val_acc(self) -> float:
        return self.history[-1].val_acc if self.history else 0.0


class DeviceError(RuntimeError):
    """The asked-for device is not available."""


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but no CUDA GPU is visible: use --device cpu or auto")
    return torch.device(name)


def _optimizer(model: nn.Module, r: Recipe) -> torch.optim.Optimizer:
    params = model.parameters()
    if r.optimizer == "sgd":
        return torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, nesterov=r.nesterov, weight_decay=r.weight_decay)
    betas = (r.momentum, 0.999)
    if r.optimizer == "adam":
        return torch.optim.Adam(params, lr=r.lr, betas=betas, weight_decay=r.weight_decay)
    return torch.optim.AdamW(params, lr=r.lr, betas=betas, weight_decay=r.weight_decay)


def _scheduler(opt, r: Recipe, steps_per_epoch: int):
    """A per-step scheduler (or None): StepLR's epoch boundaries are expressed in steps."""
    total = r.epochs * steps_per_epoch
    if r.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=r.step_size * steps_per_epoch, gamma=r.gamma)
    if r.scheduler == "onecycle":
        # cycle_momentum=False: the recipe's (searched) momentum is used as given, not replaced
        # by OneCycleLR's own 0.95 -> 0.85 cycle.
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=total, cycle_momentum=False)
    if r.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if r.scheduler == "wsd":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: wsd_factor(step, total))
    return None


WSD_WARMUP = 0.05  # share of the steps warming up, from OneCycleLR's own start (a 25th of the peak)
WSD_DECAY = 0.2  # share of the steps cooling down to zero, as 1 - sqrt (the stable phase in between)


def wsd_factor(step: int, total: int) -> float:
    """Warmup-stable-decay: the learning rate's share of its peak at `step` of `total`. Any checkpoint
    of the stable phase can be continued into a longer training, or cooled down into a shorter one."""
    warm = max(1, round(WSD_WARMUP * total))
    cool_from = total - max(1, round(WSD_DECAY * total))
    if step < warm:
        return 1 / 25 + (1 - 1 / 25) * step / warm
    if step < cool_from:
        return 1.0
    return 1 - min(1.0, (step - cool_from) / (total - cool_from)) ** 0.5


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = EVAL_BATCH, precision: str = "fp32"):
    """(mean cross-entropy loss, accuracy) of `model` on a split, in large batches.

    fp32 by default, as an exported model runs; training validates in its own precision."""
    was_training = model.training
    model.eval()
    device = split.x.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    with exact_fp32(device):
        for i in range(0, len(split), batch_size):
            x, y = to_float(split.x[i : i + batch_size]), split.y[i : i + batch_size]
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                logits = model(x).float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    n = max(len(split), 1)
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Class probabilities [N, 10] for float images [N, 1, 28, 28] in [0, 1]."""
    model.eval()
    return torch.cat([F.softmax(model(x[i : i + batch_size]).float(), 1) for i in range(0, len(x), batch_size)])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


OnEpoch = Callable[[EpochMetrics], bool | None]
OnStep = Callable[[int], None]
OnValidated = Callable[[nn.Module, EpochMetrics], None]


@torch.enable_grad()  # callers may have switched autograd off (e.g. inside an inference block)
def fit(
    config: NetConfig,
    recipe: Recipe,
    data: MNIST,
    device=None,
    on_epoch: OnEpoch | None = None,
    progress: bool = False,
    precision: str = "auto",
    compile: bool | str = False,
    log=print,
    on_step: OnStep | None = None,
    on_validated: OnValidated | None = None,
) -> FitResult:
    """Train from scratch; after each epoch call on_epoch(metrics), and stop early if it returns True.

    precision: "auto" (bf16 autocast where the hardware has fast bf16, see mnistnet.precision),
    "fp32" or "bf16"; fp32 convolutions on CUDA run in true fp32, not TF32 (see
    mnistnet.precision.exact_fp32). compile: run the training steps through torch.compile (True, or
    a torch.compile mode such as GRAPHS_MODE: CUDA graphs on a GPU), falling back to eager
    with one logged line where it cannot compile. on_step(i), if given, is called before each
    training step i (counted from 0 over the whole run), e.g. to time or pace steps.
    on_validated(model, metrics), if given, is called after each epoch's validation with the model that
    was validated (the weight average where the recipe keeps one), e.g. to keep the best epoch's weights.
    A non-finite
    training loss ends the run with status "diverged" instead of raising.
    """
    recipe.validate()
    device = torch.device(device) if device is not None else data.device
    with exact_fp32(device), _quiet_toolchain_probe(bool(compile)):
        return _fit(config, recipe, data, device, on_epoch, progress, precision, compile, log, on_step, on_validated)


@contextmanager
def _quiet_toolchain_probe(compiling: bool):
    """While compiling: torch.compile's C++ toolchain probe warns "No CUDA runtime is found" on CPU-only
    machines, and that changes nothing. Its logger's level is the caller's again afterwards."""
    if not compiling:
        yield
        return
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fit(config, recipe, data, device, on_epoch, progress, precision, compile, log, on_step, on_validated) -> FitResult:
    if data.device != device:
        data = data.to(device)
    precision = resolve_precision(precision, device)
    seed_everything(recipe.seed)
    # channels_last: NHWC convolutions are faster on both oneDNN (CPU, measured 1.4-1.7x on the
    # presets) and cuDNN.
    model = build(config).to(device).to(memory_format=torch.channels_last)
    result = FitResult(model, params=trace(config).params, precision=precision)
    forward = _Compiled(model, log, None if compile is True else compile) if compile else None

    def gradients(x, y):
        """Forward and backward of one batch: (loss, logits); compiled where asked and possible."""
        with autocast(device, precision):
            logits = (forward or model)(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        return loss, logits

    opt = _optimizer(model, recipe)
    average = _average(model, recipe.ema_decay(len(data.train)))
    n = len(data.train)
    batch = min(recipe.batch_size, n)
    steps = n // batch  # drop the ragged last batch: BatchNorm dislikes tiny batches
    sched = _scheduler(opt, recipe, steps)
    gen = torch.Generator(device=device).manual_seed(recipe.seed)
    start = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, device=device, generator=gen)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        bar = _progress(steps, epoch, recipe.epochs) if progress else None
        for step in range(steps):
            if on_step is not None:
                on_step((epoch - 1) * steps + step)
            idx = order[step * batch : (step + 1) * batch]
            x = augment(to_float(data.train.x[idx]), recipe.augment, gen)
            y = data.train.y[idx]
            x = x.contiguous(memory_format=torch.channels_last)
            if forward is not None and not forward.proven:
                loss, logits = forward.first_step(gradients, x, y)
            else:
                loss, logits = gradients(x, y)
            opt.step()
            if average is not None:
                average.update_parameters(model)
            if sched is not None:
                sched.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        seen = steps * batch
        train_loss = loss_sum.item() / seen  # the epoch's one host sync
        train_seconds = time.perf_counter() - t0
        if not math.isfinite(train_loss):
            result.status = "diverged"
            break
        val_loss, val_acc = evaluate(model if average is None else average.module, data.val, precision=precision)
        if len(data.val) and not math.isfinite(val_loss):  # the last step blew the weights up
            result.status = "diverged"
            break
        metrics = EpochMetrics(
            epoch,
            train_loss,
            correct.item() / seen,
            val_loss,
            val_acc,
            opt.param_groups[0]["lr"],
            time.perf_counter() - t0,
            train_seconds,
            seen,
        )
        result.history.append(metrics)
        if on_validated is not None:
            on_validated(model if average is None else average.module, metrics)
        if on_epoch is not None and on_epoch(metrics):
            result.status = "stopped"
            break
    result.seconds = time.perf_counter() - start
    result.compiled = forward is not None and not forward.fell_back
    if average is not None:
        result.model = average.module
    return result


def _average(model: nn.Module, decay: float):
    """An exponential moving average of the model's weights and BatchNorm buffers (None for decay 0).
    Its BatchNorm statistics are averaged too (use_buffers), so the average needs no extra pass."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


class _Compiled:
    """torch.compile(model) for the training steps, or the eager model after one failed compile.

    Compiling happens during the first forward and backward, so that is where a missing compiler
    shows: the first step is tried compiled, and on failure redone eagerly (no optimizer step has
    been taken yet). Validation calls the eager model (same parameters), so its batch sizes cause
    no recompiles."""

    def __init__(self, model: nn.Module, log, mode: str | None = None):
        self.model, self.log = model, log
        self.compiled = torch.compile(model, mode=mode)
        # CUDA graphs (GRAPHS_MODE) reuse their output memory: mark each step as a new one.
        self.graphs = mode == GRAPHS_MODE
        self.proven = self.fell_back = False

    def __call__(self, x):
        if self.fell_back:
            return self.model(x)
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        return self.compiled(x)

    def first_step(self, gradients, x, y):
        try:
            out = gradients(x, y)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: train eagerly instead
            self.fell_back = True
            text = str(exc).strip()
            reason = text.splitlines()[-1][:160] if text else type(exc).__name__
            self.log(f"torch.compile is unavailable here ({type(exc).__name__}: {reason}); training without it")
            out = gradients(x, y)
        self.proven = True
        return out


def _progress(total: int, epoch: int, epochs: int):
    """A bar over an epoch's batches, in a terminal only: elsewhere (a log, CI) the epoch's line says it."""
    import sys

    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # only the interactive path pays for the import

    return tqdm(total=total, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False, dynamic_ncols=True)
