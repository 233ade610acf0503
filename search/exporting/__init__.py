"""A study's net as a model folder: retrained on the train and validation images (or its final's
weights kept), written in the formats asked for (PyTorch weights, torch.export, TorchScript, ONNX
checked against PyTorch), with a model card and the CPU inference speed of each runtime; and
reading such a folder back (`model_dir.load`, for `evaluate` and `predict`).
"""

from . import _model_dir as model_dir
from ._export import export, pick_trial, write_formats
from ._inference_speed import runtimes

__all__ = ["export", "model_dir", "pick_trial", "runtimes", "write_formats"]
