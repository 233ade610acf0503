"""Train-time augmentation as one batched affine warp on the model's device.

The source projects apply PIL transforms image by image on the CPU (RandomApply(CenterCrop 22 +
Resize 28, p=0.1), RandomRotation(15)). Here every image of a batch gets its own rotation,
translation and crop-zoom, composed into one 2x3 matrix per image and applied with a single
grid_sample call, so augmentation costs one kernel, not a Python loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .recipe import Augment

SIZE = 28


def to_float(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28] in [0, 1] (what the models take)."""
    return x_uint8.unsqueeze(1).float().div_(255.0)


def affine_matrices(n: int, aug: Augment, generator: torch.Generator, device) -> torch.Tensor:
    """One [2, 3] matrix per image mapping output coordinates to input coordinates (in [-1, 1])."""

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator, device=device) * 2 - 1) * limit

    angle = uniform(math.radians(aug.rotate))
    # A center crop of side c resized to 28 samples the input on a grid shrunk by c/28.
    zoom = torch.ones(n, device=device)
    if aug.crop_p:
        cropped = torch.rand(n, generator=generator, device=device) < aug.crop_p
        zoom = torch.where(cropped, torch.full_like(zoom, aug.crop_size / SIZE), zoom)
    shift = 2.0 / SIZE  # one pixel in normalized coordinates
    tx, ty = uniform(aug.translate * shift), uniform(aug.translate * shift)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def augment(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Float images [N, 1, 28, 28] in [0, 1] -> warped copies; background stays 0 (black)."""
    if not aug.active:
        return x
    theta = affine_matrices(len(x), aug, generator, x.device).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
