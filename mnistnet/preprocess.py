"""Image files (scans, phone photos, drawings) -> MNIST-style 28x28 digits, made the way MNIST was made.

Reading: any still image Pillow opens; the EXIF orientation is applied; colour, palette, 16-bit and
32-bit pixels become gray levels; transparent pixels are flattened onto a background that contrasts
with the ink.
Finding the digit: the page's uneven light is fitted (a smooth surface through the paper, blind to the
ink) and divided out; the polarity (dark ink on light paper or light on dark) is the side the outliers
lie on; the digit is the strongest connected patch of ink plus the parts close to it, specks dropped;
inside its box an Otsu threshold tells strokes from paper texture and JPEG noise.
Placing it as MNIST did: its ink cropped, scaled so the longer side is 20 pixels keeping the aspect
ratio (strokes too fine to survive that are thickened first), and put in a 28x28 canvas so that its
centre of mass sits at the centre; white ink on black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

WORK_SIDE = 512  # the picture's longer side is reduced to this first: enough for a 20 px digit, and fast
LIGHT_SIDE = 48  # the coarse copy the lighting is fitted on: light varies slowly
MIN_CONTRAST = 0.08  # weakest ink (relative to the paper's brightness) that is not a blank page
LABEL_SIDE = 160  # patches of ink are labelled on a copy this size (a flood fill in Python is slow)
EVEN = 0.03  # a border whose levels spread less than this is plain paper (scans, crops, drawings)
MAX_COVER, MAX_STROKES = 0.75, 5  # beyond these a placed 28x28 picture is no digit (see not_a_digit)
MAX_STROKE_WIDTH = 8  # px in the 28x28 picture: MNIST's strokes, thickened ones included, are narrower
MIN_SIDE = 4  # a mark smaller than this (pixels of the reduced picture) is a dot, not a digit
SPECK = 0.08  # a patch with less ink than this fraction of the digit's main patch is a speck
MNIST_WIDTH, THIN = 1.45, 0.9  # stroke widths at the 20 px scale (2 area / perimeter): MNIST's median, 5th percentile
# That width's 95th percentile and median over MNIST's training digits: beyond the first, strokes are
# eroded to the second.
THICK, THINNED = 2.4, 1.5


class ImageError(ValueError):
    """The file is not an image we can read."""


# --- reading -------------------------------------------------------------------------------------


def read_gray(path) -> np.ndarray:
    """The image as float32 gray levels in [0, 1], upright as its EXIF orientation says."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(Path(path)) as img:
            img.load()
            return _gray(_upright(img))
    except Image.DecompressionBombError:
        raise ImageError(
            f"{path} is too large to read safely (over {Image.MAX_IMAGE_PIXELS:,} pixels): scale it down"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            f"{path} is not a readable image ({type(exc).__name__}): give PNG, JPEG or another image file"
        ) from None


def _upright(img):
    """Turned as the EXIF Orientation tag says: phones store the pixels sideways and a tag to turn them."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: the pixels are still worth reading as stored
        return img


def _gray(img) -> np.ndarray:
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _deep_gray(np.asarray(img, dtype=np.float64))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        return _flatten_alpha(np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0)
    if img.mode not in ("L", "RGB", "1", "P"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV: through RGB, which every mode converts to
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _deep_gray(values: np.ndarray) -> np.ndarray:
    """16-bit and 32-bit pixels -> [0, 1]: by the range the values fit in (8-bit data may sit in 32-bit files)."""
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 255:
        return (values / 255.0).astype(np.float32)
    if low >= 0 and high <= 65535:
        return (values / 65535.0).astype(np.float32)
    return ((values - low) / (high - low)).astype(np.float32)  # floats or odd ranges: stretch


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Composite onto a background that keeps the ink visible.

    If the opaque pixels are a minority they are the ink (a digit drawn on a transparent layer): put
    them on black if they are light, on white if dark. If they are the majority they are the paper:
    transparent holes get the paper's own brightness.
    """
    lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3]
    opaque = alpha > 0.5
    if not opaque.any():
        return np.ones_like(lum)  # nothing drawn: a blank page
    if opaque.mean() < 0.5:
        background = 0.0 if lum[opaque].mean() > 0.5 else 1.0
    else:
        background = float(np.median(lum[opaque]))
    return alpha * lum + (1 - alpha) * background


# --- finding the digit -----------------------------------------------------------------------------


def to_mnist(gray: np.ndarray) -> torch.Tensor:
    """A gray image in [0, 1] -> float tensor [1, 28, 28] in [0, 1], white digit on black (all zeros
    when there is no digit; find_digit says why)."""
    return find_digit(gray)[0]


def find_digit(gray: np.ndarray) -> tuple[torch.Tensor, str | None]:
    """(the 28x28 digit as to_mnist gives it, None) or (zeros, why there is no digit)."""
    gray = np.clip(np.nan_to_num(np.asarray(gray, dtype=np.float32), nan=1.0), 0, 1)
    gray = _margin(_shrink(gray, WORK_SIDE))
    ink = _ink(gray)
    if ink is None:
        return torch.zeros(1, 28, 28), "no ink: the picture is blank or an even surface"
    digit = _digit(ink)
    if digit is None:
        return torch.zeros(1, 28, 28), "the only mark is a dot or a speck"
    placed = _place(digit)
    reason = not_a_digit(placed)
    if reason:
        return torch.zeros(1, 28, 28), reason
    return torch.from_numpy(placed).unsqueeze(0), None


def not_a_digit(placed: np.ndarray) -> str | None:
    """Why a placed 28x28 ink image does not look like a handwritten digit, or None if it does.

    Bounds from MNIST's 60k training digits, with room to spare: a digit's ink covers 5-60 % of its
    box and forms at most a few separate strokes (a noise page or wood grain gives dozens, or a solid block)."""
    on = placed > 0.5
    rows, cols = np.nonzero(on)
    if rows.size == 0:
        return None  # soft strokes only: the net judges them
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    cover = on.sum() / (height * width)
    # A bar no wider than a thick stroke is a "1", however fully it fills its box.
    if cover > MAX_COVER and min(height, width) > MAX_STROKE_WIDTH:
        return f"the ink is a solid block ({cover:.0%} of its box), not strokes"
    labels = _flood(on)
    sizes = np.bincount(labels.ravel())[1:]
    strokes = int((sizes >= 3).sum())
    if strokes > MAX_STROKES:
        return f"the ink is {strokes} scattered marks, not a digit's strokes"
    return None


def _shrink(gray: np.ndarray, side: int) -> np.ndarray:
    """Area-averaged down to `side` pixels on the longer side (never enlarged)."""
    from PIL import Image

    h, w = gray.shape
    if max(h, w) <= side:
        return gray
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.BOX), dtype=np.float32)


def _margin(gray: np.ndarray) -> np.ndarray:
    """A picture whose border is even paper (a scan, a crop, a drawing) gets a wide margin of that paper.

    A digit cropped tight to its strokes covers a third or more of its picture, too much for the light
    and noise to be told from the ink; with paper around it, it is a digit on a page like any other.
    The border's typical level is its median: strokes touching the edges are a minority of it. A border
    that is not even (a photo's light falling off, a desk) is left alone.
    """
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    level = float(np.median(border))
    if border.size < 8 or _spread(border) > EVEN:
        return gray
    pad = max(gray.shape) // 2 + 1
    return np.pad(gray, pad, constant_values=level)


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)x(2r+1) window, edges repeated: a cheap blur, via summed-area tables."""
    k = 2 * r + 1
    c = np.pad(a.astype(np.float64), ((r + 1, r), (r + 1, r)), mode="edge").cumsum(0).cumsum(1)
    return ((c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)).astype(np.float32)


def _lighting(gray: np.ndarray) -> np.ndarray:
    """The bare paper's brightness at every pixel: a quadratic surface fitted to a coarse copy.

    Light across a page changes slowly (a gradient, a vignette), so a smooth surface follows it. The
    fit is repeated with the outliers left out, and the ink, a minority of either polarity, drops out.
    """
    small = _shrink(gray, LIGHT_SIDE)
    values, terms = small.ravel(), _surface_terms(*small.shape)
    keep = np.abs(values - np.median(values)) <= 2.5 * _spread(values) + 1e-3
    for _ in range(5):
        a = terms[keep]
        coef = np.linalg.solve(a.T @ a + 1e-9 * np.eye(6), a.T @ values[keep])  # least squares, 6 unknowns
        resid = values - terms @ coef
        keep = np.abs(resid) <= 2.5 * _spread(resid[keep]) + 1e-3
    h, w = gray.shape
    y, x = _unit(h)[:, None], _unit(w)[None, :]  # the surface evaluated by broadcasting, not a big matrix
    return (coef[0] + coef[1] * x + coef[2] * y + coef[3] * x * x + coef[4] * x * y + coef[5] * y * y).astype(
        np.float32
    )


def _unit(n: int) -> np.ndarray:
    """Pixel centres of a side of n pixels mapped onto [-1, 1], whatever the resolution."""
    return (2 * np.arange(n) + 1) / n - 1


def _surface_terms(h: int, w: int) -> np.ndarray:
    """1, x, y, x², xy, y² for every pixel of an h x w grid."""
    y, x = np.meshgrid(_unit(h), _unit(w), indexing="ij")
    x, y = x.ravel(), y.ravel()
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def _spread(values: np.ndarray) -> float:
    """A standard deviation that outliers (ink) barely move: 1.4826 x the median absolute deviation."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _one_sided_spread(values: np.ndarray) -> float:
    """The paper's noise when ink may cover a third of the picture: the spread of the quieter side of
    the median (ink lies on one side only, so the other side is paper alone)."""
    low, mid, high = np.quantile(values, [0.25, 0.5, 0.75])
    return 1.4826 * float(min(mid - low, high - mid))


def _ink(gray: np.ndarray) -> np.ndarray | None:
    """How much ink each pixel holds, >= 0, as a fraction of the paper's brightness there; None if blank.

    Dividing by the fitted light makes a stroke in the shadow as strong as one in the light.
    """
    light = _lighting(gray)
    diff = gray - light
    smooth = _box(diff, 1)  # judged on a 3x3 blur, so single noisy pixels and JPEG specks do not count
    noise = _one_sided_spread(smooth)
    dark_side, light_side = -smooth.min(), smooth.max()
    if max(dark_side, light_side) < max(MIN_CONTRAST * max(light.mean(), 0.1), 6 * noise):
        return None
    sign = -1.0 if dark_side > light_side else 1.0  # the ink is where the far outliers are
    return np.clip(sign * diff / np.maximum(light, 0.05), 0, None)


def _digit(ink: np.ndarray) -> np.ndarray | None:
    """The digit's ink, cropped to it, scaled to [0, 1] (strokes 1, paper 0), other marks removed; None if
    the only mark is a dot (a speck of dust is not a digit)."""
    near = _locate(ink)
    top, bottom, left, right = _bbox(near)
    strokes = _strokes(ink[top:bottom, left:right], near[top:bottom, left:right])
    return None if strokes is None else _stroke_width(strokes)


def _locate(ink: np.ndarray) -> np.ndarray:
    """Where the digit is: its patches of sure ink, widened by a few pixels to take in their soft edges."""
    smooth = _box(ink, 1)
    strong = smooth > 0.4 * smooth.max()  # surely ink, whatever the threshold inside the digit turns out to be
    labels, masses = _components(strong, smooth)
    parts = _digit_parts(labels, masses)
    return _box(np.isin(labels, parts).astype(np.float32), 3) > 0


def _strokes(crop: np.ndarray, near: np.ndarray) -> np.ndarray | None:
    """The digit's box -> strokes 1, paper 0, cropped to the ink; None if it is only a dot."""
    cut = _otsu(crop[near])  # within the digit's box ink and paper are both plentiful: Otsu separates them
    above = crop[near & (crop > cut)]
    level = float(np.median(above)) if above.size else float(crop[near].max())  # a typical stroke's strength
    floor = cut / 2  # below this, paper texture and JPEG noise
    out = np.where(near, np.clip((crop - floor) / max(level - floor, 1e-6), 0, 1), 0).astype(np.float32)
    rows, cols = np.nonzero(out > 0.5)
    if rows.size == 0 or max(np.ptp(rows), np.ptp(cols)) + 1 < MIN_SIDE:
        return None
    top, bottom, left, right = _bbox(out > 0)
    return out[top:bottom, left:right]


def _stroke_width(digit: np.ndarray) -> np.ndarray:
    """Strokes brought within MNIST's range of widths, measured at the final 20 px scale.

    The width is estimated as 2 x area / perimeter of the strokes. Strokes thinner than MNIST's thinnest
    (a fine pen on a big photo) are thickened to its median. Strokes thicker than all but 1 % of MNIST's
    (a marker, a brush) are eroded toward the thick end of its range, not further, so that a stroke's
    narrow parts survive; their width is measured on the digit shrunk to 20 px, as MNIST's was.
    """
    width, scale = _width(digit)
    if width < THIN:
        return _grow(digit, int(round((MNIST_WIDTH - width) / 2 / scale)), np.max)
    width = _width(_shrunk(digit))[0]
    if width > THICK:
        thinned = _grow(digit, int(round((width - THINNED) / 2 / scale)), np.min)
        if (thinned > 0.5).any():
            top, bottom, left, right = _bbox(thinned > 0)
            return thinned[top:bottom, left:right]
    return digit


def _width(digit: np.ndarray) -> tuple[float, float]:
    """(stroke width at the 20 px scale, that scale: 20 px over the digit's longer side)."""
    ink = np.pad(digit > 0.5, 1)  # padded so that ink touching the box's edge has a perimeter there too
    area = ink.sum()
    perimeter = max((ink[:, 1:] != ink[:, :-1]).sum() + (ink[1:] != ink[:-1]).sum(), 1)
    scale = 20.0 / max(digit.shape)
    return 2 * area / perimeter * np.pi / 4 * scale, scale  # pi/4: steps along a diagonal overcount its length


def _shrunk(digit: np.ndarray) -> np.ndarray:
    """The digit area-averaged to 20 px on its longer side (never enlarged)."""
    from PIL import Image

    h, w = digit.shape
    scale = min(1.0, 20.0 / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(digit.astype(np.float32)).resize(size, Image.BOX), dtype=np.float32)


def _grow(digit: np.ndarray, r: int, pick) -> np.ndarray:
    """A (2r+1) square maximum (pick=np.max: strokes r px wider each side) or minimum (np.min: narrower)
    filter, one axis at a time; outside the box counts as paper."""
    for axis in (0, 1):
        padded = np.pad(digit, [(r, r) if a == axis else (0, 0) for a in (0, 1)])
        digit = pick([np.take(padded, range(i, i + digit.shape[axis]), axis=axis) for i in range(2 * r + 1)], axis=0)
    return digit


def _components(mask: np.ndarray, weight: np.ndarray):
    """8-connected patches of `mask`: (label image, 0 = none; ink mass of each label, index 0 unused).

    Labelled on a copy pooled down to LABEL_SIDE pixels (a pixel-by-pixel flood fill in Python is slow);
    marks closer than the pooling step count as touching, which is what a digit's parts want anyway.
    """
    step = max(1, -(-max(mask.shape) // LABEL_SIDE))
    h, w = -(-mask.shape[0] // step), -(-mask.shape[1] // step)
    padded = np.zeros((h * step, w * step), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    coarse = _flood(padded.reshape(h, step, w, step).any(axis=(1, 3)))
    labels = np.repeat(np.repeat(coarse, step, 0), step, 1)[: mask.shape[0], : mask.shape[1]] * mask
    masses = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=coarse.max() + 1)
    return labels, masses


def _flood(mask: np.ndarray) -> np.ndarray:
    """Label image of the 8-connected patches of a small boolean image (a plain flood fill)."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    on = mask.tolist()  # plain lists: far faster than numpy for pixel-by-pixel work
    seen = [[False] * w for _ in range(h)]
    n = 0
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0][x0]:
            continue
        n += 1
        seen[y0][x0] = True
        stack, pixels = [(y0, x0)], []
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for yy in (y - 1, y, y + 1):
                if 0 <= yy < h:
                    for xx in (x - 1, x, x + 1):
                        if 0 <= xx < w and on[yy][xx] and not seen[yy][xx]:
                            seen[yy][xx] = True
                            stack.append((yy, xx))
        ys, xs = np.array(pixels).T
        labels[ys, xs] = n
    return labels


def _digit_parts(labels: np.ndarray, masses: np.ndarray) -> list[int]:
    """The main patch, and the patches close to it that are not specks (a 5's detached bar, a 7's stroke)."""
    main = int(np.argmax(masses[1:])) + 1
    box = _bbox(labels == main)
    reach = 0.5 * max(box[1] - box[0], box[3] - box[2])  # how far from the main patch a part may lie
    parts = [main]
    for n in range(1, len(masses)):
        if n == main or masses[n] < SPECK * masses[main]:
            continue
        top, bottom, left, right = _bbox(labels == n)
        gap_y = max(box[0] - bottom, top - box[1], 0)
        gap_x = max(box[2] - right, left - box[3], 0)
        if max(gap_y, gap_x) <= reach:
            parts.append(n)
    return parts


def _bbox(mask: np.ndarray):
    rows, cols = np.nonzero(mask)
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


def _otsu(values: np.ndarray) -> float:
    """The cut that best splits `values` into two groups (Otsu's between-class variance criterion)."""
    hist, edges = np.histogram(values, bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    return float(edges[1:][np.argmax(w0 * w1 * (mean0 - mean1) ** 2)])


# --- placing it as MNIST did ----------------------------------------------------------------------------


def _place(digit: np.ndarray) -> np.ndarray:
    """Longer side scaled to 20 px (aspect kept), centre of mass put at the centre of a 28x28 canvas."""
    from PIL import Image

    h, w = digit.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.clip(np.asarray(Image.fromarray(digit).resize((nw, nh), Image.LANCZOS), dtype=np.float32), 0, 1)
    ys, xs = np.indices(small.shape)
    mass = max(float(small.sum()), 1e-6)
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    top = int(np.clip(round(14 - cy), 0, 28 - nh))  # clamped so the digit stays inside
    left = int(np.clip(round(14 - cx), 0, 28 - nw))
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[top : top + nh, left : left + nw] = small
    return canvas


def load_images(paths) -> torch.Tensor:
    """Files -> [N, 1, 28, 28] batch; raises ImageError naming the first unreadable file."""
    return load_digits(paths)[0]


def load_digits(paths) -> tuple[torch.Tensor, list[str | None]]:
    """Files -> ([N, 1, 28, 28] batch, per file None or why it holds no digit); ImageError as load_images."""
    found = [find_digit(read_gray(p)) for p in paths]
    return torch.stack([x for x, _ in found]), [reason for _, reason in found]
