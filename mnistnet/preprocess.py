"""Ordinary image files -> MNIST-style 28x28 digits, the way the MNIST images themselves were made.

Grayscale; inverted if the ink is dark on light paper (MNIST is white ink on black); cropped to the
ink's bounding box; scaled so the longer side is 20 pixels, keeping the aspect ratio; placed in a
28x28 canvas so that its centre of mass sits at the centre.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

INK_THRESHOLD = 0.2  # fraction of the stroke's brightness that still counts as ink when cropping


class ImageError(ValueError):
    """The file is not an image we can read."""


def read_gray(path) -> np.ndarray:
    """The image as float32 gray levels in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(Path(path)) as img:
            img.load()
            if img.mode in ("RGBA", "LA") or "transparency" in img.info:
                # Transparent pixels are paper: flatten onto white before dropping alpha.
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            gray = img.convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageError(f"{path} is not a readable image ({type(exc).__name__})") from None
    return np.asarray(gray, dtype=np.float32) / 255.0


def to_mnist(gray: np.ndarray) -> torch.Tensor:
    """A gray image in [0, 1] -> float tensor [1, 28, 28] in [0, 1], white digit on black."""
    from PIL import Image

    # The border is mostly paper: if it is light, the ink is dark, so invert.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if np.median(border) > 0.5 else gray.copy()
    ink = ink - np.median(border if np.median(border) <= 0.5 else 1.0 - border)  # paper -> 0
    ink = np.clip(ink, 0.0, None)
    if ink.max() <= 0.05:
        return torch.zeros(1, 28, 28)  # a blank page
    ink /= ink.max()
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS),
                       dtype=np.float32) / 255.0
    # Centre of mass to the canvas centre (14, 14), clamped so the digit stays inside.
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    top = int(np.clip(round(14 - cy), 0, 28 - nh))
    left = int(np.clip(round(14 - cx), 0, 28 - nw))
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[top:top + nh, left:left + nw] = small
    return torch.from_numpy(canvas).unsqueeze(0)


def load_images(paths) -> torch.Tensor:
    """Files -> [N, 1, 28, 28] batch; raises ImageError naming the first unreadable file."""
    return torch.stack([to_mnist(read_gray(p)) for p in paths])
