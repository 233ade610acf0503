"""A configurable CNN family for MNIST and a fast trainer. Knows nothing of Optuna."""

from .data import MNIST, DataError, load
from .model import ConfigError, ConvLayer, Head, NetConfig, build, count_macs, count_params, summary
from .recipe import Augment, Recipe
from .train import EpochMetrics, FitResult, evaluate, fit

__all__ = [
    "MNIST",
    "DataError",
    "load",
    "ConfigError",
    "ConvLayer",
    "Head",
    "NetConfig",
    "build",
    "count_macs",
    "count_params",
    "summary",
    "Augment",
    "Recipe",
    "EpochMetrics",
    "FitResult",
    "evaluate",
    "fit",
]
