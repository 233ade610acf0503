"""How a net is trained: optimizer, schedule, batch size, epochs, augmentation, as plain dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

OPTIMIZERS = ("sgd", "adam", "adamw")
EMA_MIN_HORIZONS = 5  # a training shorter than this many weight-average horizons keeps its last weights
SCHEDULERS = ("none", "step", "onecycle", "cosine", "wsd")


@dataclass
class Augment:
    rotate: float = 0.0  # degrees, uniform in [-rotate, rotate]
    translate: float = 0.0  # pixels, uniform in [-translate, translate] on each axis
    crop_p: float = 0.0  # probability of a center crop resized back to 28x28
    crop_size: int = 22  # side of that center crop

    @property
    def active(self) -> bool:
        return bool(self.rotate or self.translate or self.crop_p)


@dataclass
class Recipe:
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # SGD momentum; Adam's beta1
    nesterov: bool = False
    weight_decay: float = 0.0
    scheduler: str = "none"
    step_size: int = 15  # StepLR: epochs between decays
    gamma: float = 0.1  # StepLR: decay factor
    batch_size: int = 128
    epochs: int = 10
    label_smoothing: float = 0.0
    # A weight average: an exponential moving average of the weights (and BatchNorm statistics) over about
    # this many training images (its decay per step is 1 - batch_size / ema_images: 0.999 at batch 128 for
    # 128,000); validation and the trained model use the average. 0: off. A training shorter than
    # EMA_MIN_HORIZONS such horizons keeps its last weights: the average would still hold its start.
    ema_images: int = 0
    augment: Augment = field(default_factory=Augment)
    seed: int = 0

    def validate(self) -> "Recipe":
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            problems.append(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        if not self.lr > 0:
            problems.append(f"learning rate must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        if self.batch_size < 1:
            problems.append(f"batch size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.ema_images < 0:
            problems.append(f"ema_images (the weight average's horizon) must be >= 0, got {self.ema_images}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            problems.append("nesterov needs the sgd optimizer with momentum > 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def ema_decay(self, train_images: int) -> float:
        """The weight average's decay per step for a training on `train_images` images an epoch (0: none)."""
        if not self.ema_images or train_images * self.epochs < EMA_MIN_HORIZONS * self.ema_images:
            return 0.0
        return 1 - min(self.batch_size, train_images) / self.ema_images

    def replace(self, **changes) -> "Recipe":
        """A copy with the given fields changed (None values are ignored)."""
        d = asdict(self)
        d.update({k: v for k, v in changes.items() if v is not None})
        return Recipe.from_dict(d)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        d = dict(d)
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown recipe fields: {', '.join(sorted(unknown))}")
        d["augment"] = Augment(**d.get("augment", {}))
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Recipe":
        return cls.from_dict(json.loads(text))
