"""A CNN family described by a plain dataclass: NetConfig -> nn.Module, parameter and MAC counts.

A net is a stack of conv layers (each: conv, optional ReLU, optional BatchNorm, optional
Dropout2d, optional 2x2 max-pool, in that order) followed by a head: global average pooling
or flatten, then optionally a hidden FC layer and a final FC layer to the 10 digits. A 1x1
"transition" conv is simply a layer with kernel 1. Inputs are raw pixels in [0, 1]; the MNIST
normalization is the model's first step, so a consumer needs no constants.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from torch import nn

from .data import MEAN, STD

IMAGE_SIZE = 28
NUM_CLASSES = 10


class ConfigError(ValueError):
    """A NetConfig that cannot be built; the message names the layer and the fix."""


@dataclass
class ConvLayer:
    channels: int
    kernel: int = 3
    padding: int = 0
    relu: bool = True
    bn: bool = False
    dropout: float = 0.0
    pool: bool = False  # 2x2 max-pool after the layer


@dataclass
class Head:
    pool: str = "gap"  # "gap": global average pooling; "flatten": keep the spatial map
    hidden: int = 0  # width of a hidden FC layer (0: none)
    dropout: float = 0.0  # dropout before the final FC layer
    linear: bool = True  # final FC layer to 10 classes; without it the features must number 10


@dataclass
class NetConfig:
    layers: list[ConvLayer]
    head: Head = field(default_factory=Head)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        try:
            return cls([ConvLayer(**layer) for layer in d["layers"]], Head(**d.get("head", {})))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a NetConfig: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "NetConfig":
        return cls.from_dict(json.loads(text))


@dataclass
class Shape:
    """What the config does to a 1x28x28 image, layer by layer (computed without building)."""

    rows: list[tuple[str, tuple[int, ...], int, int]]  # (name, output shape, params, MACs)
    features: int  # width of the vector the head's FC layers see
    receptive_field: int = 1  # side in pixels of the input patch one unit of the last conv's map sees

    @property
    def params(self) -> int:
        return sum(r[2] for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r[3] for r in self.rows)


def trace(config: NetConfig) -> Shape:
    """Check the config and count parameters and multiply-accumulates per image."""
    if not config.layers:
        raise ConfigError("a net needs at least one conv layer")
    rows = []
    c, s = 1, IMAGE_SIZE
    rf, jump = 1, 1  # receptive field, and the input pixels between neighbouring units of the map
    for i, layer in enumerate(config.layers, 1):
        name = f"conv{i}"
        if layer.channels < 1:
            raise ConfigError(f"{name}: channels must be >= 1, got {layer.channels}")
        if layer.kernel < 1 or layer.padding < 0:
            raise ConfigError(f"{name}: kernel must be >= 1 and padding >= 0")
        if not 0.0 <= layer.dropout < 1.0:
            raise ConfigError(f"{name}: dropout must be in [0, 1), got {layer.dropout}")
        out = s + 2 * layer.padding - layer.kernel + 1
        if out < 1:
            raise ConfigError(
                f"{name}: the {s}x{s} map is too small for a {layer.kernel}x{layer.kernel} "
                f"kernel with padding {layer.padding}: use fewer layers, smaller kernels, "
                f"more padding or fewer pools"
            )
        k2 = layer.kernel * layer.kernel
        params = c * layer.channels * k2 + layer.channels
        rows.append(
            (
                f"{name} {layer.kernel}x{layer.kernel}",
                (layer.channels, out, out),
                params,
                out * out * layer.channels * c * k2,
            )
        )
        c, s = layer.channels, out
        rf += (layer.kernel - 1) * jump
        if layer.bn:
            rows.append((f"{name} batchnorm", (c, s, s), 2 * c, 0))
        if layer.pool:
            if s < 2:
                raise ConfigError(f"{name}: cannot max-pool a {s}x{s} map: remove a pool or add padding")
            s //= 2
            rf, jump = rf + jump, jump * 2
            rows.append((f"{name} maxpool", (c, s, s), 0, 0))
    head = config.head
    if head.pool not in ("gap", "flatten"):
        raise ConfigError(f"head.pool must be 'gap' or 'flatten', got {head.pool!r}")
    features = pooled = c if head.pool == "gap" else c * s * s
    rows.append(("gap" if head.pool == "gap" else "flatten", (features,), 0, 0))
    if head.hidden < 0 or not 0.0 <= head.dropout < 1.0:
        raise ConfigError("head.hidden must be >= 0 and head.dropout in [0, 1)")
    if head.hidden:
        rows.append(("fc hidden", (head.hidden,), features * head.hidden + head.hidden, features * head.hidden))
        features = head.hidden
    if head.linear:
        rows.append(("fc out", (NUM_CLASSES,), features * NUM_CLASSES + NUM_CLASSES, features * NUM_CLASSES))
    elif features != NUM_CLASSES:
        raise ConfigError(
            f"without a final FC layer the head must produce {NUM_CLASSES} features, "
            f"got {features}: set head.linear or make the last conv 10 channels"
        )
    return Shape(rows, pooled, rf)


def count_params(config: NetConfig) -> int:
    return trace(config).params


def count_macs(config: NetConfig) -> int:
    return trace(config).macs


class Normalize(nn.Module):
    """Raw [0, 1] pixels in, MNIST-standardized pixels out."""

    def forward(self, x):
        return (x - MEAN) / STD


def build(config: NetConfig) -> nn.Sequential:
    """The nn.Module for a config: float [N, 1, 28, 28] pixels in [0, 1] -> logits [N, 10]."""
    features = trace(config).features  # also rejects impossible configs before allocating
    modules: list[nn.Module] = [Normalize()]
    c = 1
    for layer in config.layers:
        modules.append(nn.Conv2d(c, layer.channels, layer.kernel, padding=layer.padding))
        if layer.relu:
            modules.append(nn.ReLU())
        if layer.bn:
            modules.append(nn.BatchNorm2d(layer.channels))
        if layer.dropout:
            modules.append(nn.Dropout2d(layer.dropout))
        if layer.pool:
            modules.append(nn.MaxPool2d(2))
        c = layer.channels
    head = config.head
    modules.append(nn.AdaptiveAvgPool2d(1) if head.pool == "gap" else nn.Identity())
    modules.append(nn.Flatten())
    if head.hidden:
        modules += [nn.Linear(features, head.hidden), nn.ReLU()]
        features = head.hidden
    if head.linear:
        if head.dropout:
            modules.append(nn.Dropout(head.dropout))
        modules.append(nn.Linear(features, NUM_CLASSES))
    return nn.Sequential(*modules)


def summary(config: NetConfig) -> str:
    """A model summary in the style of torchsummary: layer, output shape, parameters."""
    shape = trace(config)
    lines = [f"{'Layer':<22}{'Output shape':<18}{'Params':>10}{'MACs':>14}", "-" * 64]
    for name, out, params, macs in shape.rows:
        lines.append(f"{name:<22}{str(list(out)):<18}{params:>10,}{macs:>14,}")
    lines += ["-" * 64, f"Total params: {shape.params:,}", f"MACs per image: {shape.macs:,}"]
    return "\n".join(lines)
