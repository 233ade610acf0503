"""Image files made from real MNIST test digits, as a user would photograph or scan them.

Every set is built deterministically (a fixed seed) from the same digits, so the accuracy on a set
can be compared with the accuracy on the plain one:

- plain: the digit, dark on light, as an 84x84 grayscale PNG;
- photo: dark ink on paper under uneven light with paper texture and noise, 60-140 px tall at a
  random place on a 320x240 RGB canvas, saved as JPEG quality 60;
- exif: the photo stored sideways (pixels turned 90 degrees) with an EXIF Orientation tag that says
  how to turn it back;
- small variants: light on dark, RGBA on a transparent background, palette, 16-bit, thick and thin
  strokes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

CANVAS = (320, 240)  # width, height of a photo
ORIENTATION = 0x0112  # the EXIF tag
# EXIF orientation -> the transpose that stores an upright picture so that the tag turns it back.
SIDEWAYS = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}


def pick(labels, n: int, seed: int = 0) -> np.ndarray:
    """n test-set indices, the same for a given seed."""
    return np.sort(np.random.default_rng(seed).choice(len(labels), n, replace=False))


def plain(digit: np.ndarray) -> Image.Image:
    """Dark ink on white, enlarged 3x: what the old preprocessing already read."""
    return Image.fromarray(255 - digit).resize((84, 84), Image.BILINEAR)


def _ink(digit: np.ndarray, rng, stroke: float = 0) -> tuple[np.ndarray, int]:
    """The digit's ink in [0, 1] at a random size (its 20x20 box 60-140 px tall).

    stroke > 0 thickens and < 0 thins every stroke by about |stroke| MNIST pixels in all.
    """
    height = int(rng.integers(60, 141))
    side = round(height * 28 / 20)  # MNIST's 28 px frame around a 20 px digit
    img = Image.fromarray(digit).resize((side, side), Image.BICUBIC)
    if stroke:
        size = 2 * max(1, round(abs(stroke) * side / 56)) + 1  # a filter of radius r changes widths by 2r
        img = img.filter(ImageFilter.MaxFilter(size) if stroke > 0 else ImageFilter.MinFilter(size))
    return np.asarray(img, dtype=np.float32) / 255.0, side


def _lighting(rng, low: float, high: float) -> np.ndarray:
    """Light falling across the page: a gradient in a random direction and a soft vignette."""
    w, h = CANVAS
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xs - w / 2) + np.sin(angle) * (ys - h / 2)) / (w / 2)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    vignette = 1 - 0.15 * (((xs - w / 2) / w) ** 2 + ((ys - h / 2) / h) ** 2)
    return (low + (high - low) * ramp) * vignette


def _texture(rng, amount: float) -> np.ndarray:
    """Paper grain: blotches a few tens of pixels wide plus fine fibres."""
    w, h = CANVAS
    coarse = Image.fromarray(rng.normal(0, 1, (h // 16, w // 16)).astype(np.float32)).resize((w, h), Image.BICUBIC)
    return amount * (np.asarray(coarse) + 0.5 * rng.normal(0, 1, (h, w)))


def _place(ink: np.ndarray, side: int, rng) -> np.ndarray:
    w, h = CANVAS
    canvas = np.zeros((h, w), dtype=np.float32)
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    canvas[top : top + side, left : left + side] = ink
    return canvas


def photo_array(digit: np.ndarray, rng, stroke: float = 0, light_on_dark: bool = False) -> np.ndarray:
    """RGB uint8 [240, 320, 3]: the digit written on paper (or chalk on a board) and photographed."""
    ink, side = _ink(digit, rng, stroke)
    ink = _place(ink, side, rng)[..., None]
    if light_on_dark:
        light = _lighting(rng, rng.uniform(0.5, 0.7), 1.0)[..., None]
        board, chalk = np.array([0.12, 0.16, 0.14]), np.array([0.9, 0.9, 0.85])
        surface = board * (1 - ink) + chalk * ink
    else:
        light = _lighting(rng, rng.uniform(0.45, 0.6), rng.uniform(0.9, 1.0))[..., None]
        paper = np.array([1.0, 0.97, 0.9])
        pen = paper * (1 - rng.uniform(0.6, 0.85)) * np.array([1.0, 1.0, rng.uniform(1.0, 2.5)])
        surface = paper * (1 - ink) + pen * ink
    pixels = light * surface + _texture(rng, 0.02)[..., None] + rng.normal(0, 0.015, ink.shape)
    return (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)


def save_jpeg(rgb: np.ndarray, path: Path, orientation: int | None = None) -> Path:
    """JPEG quality 60; with `orientation`, the pixels are stored turned and the tag says how to undo it."""
    img = Image.fromarray(rgb)
    exif = Image.Exif()
    if orientation:
        img = img.transpose(SIDEWAYS[orientation])
        exif[ORIENTATION] = orientation
    img.save(path, "JPEG", quality=60, exif=exif)
    return path


def rgba(digit: np.ndarray, rng, colour=(0, 0, 0)) -> Image.Image:
    """Ink of one colour on a fully transparent background (the ink is in the alpha channel only)."""
    ink, side = _ink(digit, rng)
    alpha = (_place(ink, side, rng) * 255).round().astype(np.uint8)
    rgb = np.zeros(alpha.shape + (3,), dtype=np.uint8) + np.array(colour, dtype=np.uint8)
    rgb[alpha == 0] = 0  # what many programs store under transparent pixels
    return Image.fromarray(np.dstack([rgb, alpha]))


def sixteen_bit(digit: np.ndarray, rng, mode: str = "I;16") -> Image.Image:
    """A 16-bit grayscale photo ("I;16", or "I" for 32-bit integer pixels holding 16-bit values)."""
    gray = photo_array(digit, rng).astype(np.float32).mean(2) / 255.0
    values = (gray * 65535).round()
    return Image.fromarray(values.astype(np.uint16 if mode == "I;16" else np.int32))


def write_sets(digits: np.ndarray, folder: Path, seed: int = 0) -> dict[str, list[Path]]:
    """Every set as files under `folder`: {set name: one path per digit} (small sets use the first few digits)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sets = {name: [] for name in ("plain", "photo", "exif")}
    for i, d in enumerate(digits):
        sets["plain"].append(folder / f"plain-{i}.png")
        plain(d).save(sets["plain"][-1])
        rgb = photo_array(d, rng)
        sets["photo"].append(save_jpeg(rgb, folder / f"photo-{i}.jpg"))
        sets["exif"].append(save_jpeg(rgb, folder / f"exif-{i}.jpg", orientation=(6, 8, 3)[i % 3]))
    return sets


def write_variants(digits: np.ndarray, folder: Path, seed: int = 1) -> dict[str, list[Path]]:
    """The small variant sets, one file per digit each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "light_on_dark.jpg": lambda d: Image.fromarray(photo_array(d, rng, light_on_dark=True)),
        "rgba_dark.png": lambda d: rgba(d, rng),
        "rgba_white.png": lambda d: rgba(d, rng, colour=(255, 255, 255)),
        "palette.png": lambda d: Image.fromarray(photo_array(d, rng)).quantize(32),
        "i16.png": lambda d: sixteen_bit(d, rng),
        "i32.tif": lambda d: sixteen_bit(d, rng, mode="I"),
        "thick.jpg": lambda d: Image.fromarray(photo_array(d, rng, stroke=1.5)),
        "thin.jpg": lambda d: Image.fromarray(photo_array(d, rng, stroke=-0.7)),
    }
    sets = {}
    for name, make in makers.items():
        stem, ext = name.split(".")
        sets[stem] = []
        for i, d in enumerate(digits):
            path = folder / f"{stem}-{i}.{ext}"
            make(d).save(path, **({"quality": 60} if ext == "jpg" else {}))
            sets[stem].append(path)
    return sets


# --- the pictures people really send: tight crops, tiny digits enlarged, marker pens, no digit at all ----


def margined(digit: np.ndarray) -> Image.Image:
    """The digit with MNIST's own margin, dark on light at 64x64: what a tight crop is compared with."""
    return Image.fromarray(255 - digit).resize((64, 64), Image.BILINEAR)


def tight(digit: np.ndarray) -> Image.Image:
    """Cropped to the box around its strokes (no paper margin: strokes touch the edges), dark on light,
    the longer side enlarged to 64 px, the aspect kept."""
    rows, cols = np.nonzero(digit > 0)
    crop = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = 64 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return Image.fromarray(255 - crop).resize(size, Image.BILINEAR)


def low_res(digit: np.ndarray, rng) -> Image.Image:
    """A digit only 8-10 px tall cut out with one pixel of paper around it (a thumbnail, a far-away sign,
    a corner of a screenshot), enlarged to 64 px on its longer side by nearest neighbour (blocky),
    bilinear or bicubic (blurry, ringing) interpolation, softened by a slight blur, dark on gray paper
    with a little noise; saved as JPEG it also gets JPEG's blocks and ringing."""
    height = int(rng.integers(8, 11))
    rows, cols = np.nonzero(digit > 0)
    crop = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = height / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    ink = np.pad(np.asarray(Image.fromarray(crop).resize(size, Image.BOX), dtype=np.float32) / 255.0, 1)
    paper, pen = rng.uniform(0.8, 0.95), rng.uniform(0.1, 0.3)
    small = Image.fromarray((255 * (paper - (paper - pen) * ink)).round().astype(np.uint8))
    method = (Image.NEAREST, Image.BILINEAR, Image.BICUBIC)[int(rng.integers(3))]
    k = 64 / max(small.size)
    big = small.resize((round(small.width * k), round(small.height * k)), method)
    big = np.asarray(big.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5))), dtype=np.float32)
    return Image.fromarray(np.clip(big + rng.normal(0, 3, big.shape), 0, 255).round().astype(np.uint8))


def marker(digit: np.ndarray, rng) -> Image.Image:
    """Written with a thick marker: strokes about 3 MNIST pixels wider than the pen's, photographed."""
    return Image.fromarray(photo_array(digit, rng, stroke=3.0))


def blank(rng) -> Image.Image:
    """A blank white page, scanned: pure white (the file the issue was found with)."""
    return Image.new("L", (256, 256), 255)


def empty_desk(rng) -> Image.Image:
    """A photo of a wooden desk with nothing on it: uneven light, grain running across, JPEG noise."""
    w, h = CANVAS
    light = _lighting(rng, rng.uniform(0.5, 0.7), 1.0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(-0.3, 0.3)
    u = np.cos(angle) * ys + np.sin(angle) * xs
    grain = 0.04 * np.sin(u / rng.uniform(3, 6) + 2 * np.sin(xs / rng.uniform(40, 90)))
    wood = np.array([0.62, 0.45, 0.3])
    pixels = light[..., None] * (wood + grain[..., None]) + _texture(rng, 0.015)[..., None]
    pixels = pixels + rng.normal(0, 0.015, pixels.shape)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))


def noise_page(rng) -> Image.Image:
    """A page of noise: every pixel an independent random gray level."""
    return Image.fromarray(rng.integers(0, 256, (200, 200), dtype=np.uint8))


def write_real_world(digits: np.ndarray, folder: Path, seed: int = 2) -> dict[str, list[Path]]:
    """The margined, tight, low_res and marker sets, one file per digit each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "margined.png": margined,
        "tight.png": tight,
        "low_res.jpg": lambda d: low_res(d, rng),
        "marker.jpg": lambda d: marker(d, rng),
    }
    sets = {}
    for name, make in makers.items():
        stem, ext = name.split(".")
        sets[stem] = []
        for i, d in enumerate(digits):
            path = folder / f"{stem}-{i}.{ext}"
            make(d).save(path, **({"quality": 60 if stem == "marker" else 50} if ext == "jpg" else {}))
            sets[stem].append(path)
    return sets


def write_no_digit(folder: Path, seed: int = 3, each: int = 3) -> dict[str, list[Path]]:
    """Pictures holding no digit: blank pages, empty desks, pages of noise (`each` of every kind)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, make, ext in (("blank", blank, "png"), ("desk", empty_desk, "jpg"), ("noise", noise_page, "png")):
        sets[name] = []
        for i in range(each):
            path = folder / f"{name}-{i}.{ext}"
            make(rng).save(path, **({"quality": 60} if ext == "jpg" else {}))
            sets[name].append(path)
    return sets
