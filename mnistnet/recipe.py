"""How a net is trained: optimizer, schedule, batch size, epochs, augmentation, as plain dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "onecycle", "cosine")


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
    # Exponential moving average of the weights (and BatchNorm statistics), updated every step with this
    # decay; validation and the trained model use the average. 0: off.
    ema: float = 0.0
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
        if not 0 <= self.ema < 1:
            problems.append(f"ema (the average's decay per step) must be in [0, 1), got {self.ema}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            problems.append("nesterov needs the sgd optimizer with momentum > 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

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
