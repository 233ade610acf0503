"""Tight crops vs margined digits through `predict`'s preprocessing, with an exported model.

100 real MNIST test digits (the fixture's pick, seed 0), each written twice as a user would send it:
cropped to the box around its strokes (strokes touching the picture's edges, longer side 64 px) and with
MNIST's own margin (64x64), both dark on light (tests/photo_fixtures.py: tight, margined). Both sets go
through mnistnet.preprocess exactly as `mnist-search predict` reads files; the bar is tight >= 95 % of
margined.

    .venv/bin/python bench/tight_crops.py runs/default/model [--old-preprocess FILE]

--old-preprocess runs another copy of preprocess.py (e.g. `git show 082b17e:mnistnet/preprocess.py`)
on the same files, for a before/after comparison.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import photo_fixtures as pf  # noqa: E402
from mnistnet import data as mdata  # noqa: E402
from mnistnet import preprocess  # noqa: E402
from mnistnet.train import predict  # noqa: E402
from search import model_dir  # noqa: E402


def accuracy(model, module, paths, labels) -> float:
    x = torch.stack([module.find_digit(module.read_gray(p))[0] for p in paths])
    return float((predict(model, x).argmax(1).numpy() == labels).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--old-preprocess", help="another preprocess.py to measure on the same files")
    args = ap.parse_args()
    torch.set_num_threads(2)
    _, model, card = model_dir.load(args.model_dir)
    test = mdata.load().test
    idx = pf.pick(test.y, 200, seed=0)[:args.n]
    x, y = test.x[idx].numpy(), test.y[idx].numpy()
    modules = {"this": preprocess}
    if args.old_preprocess:
        spec = importlib.util.spec_from_file_location("old_preprocess", args.old_preprocess)
        modules["old"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules["old"])
    with tempfile.TemporaryDirectory() as tmp:
        sets = {}
        for name, make in (("margined", pf.margined), ("tight", pf.tight)):
            sets[name] = [Path(tmp) / f"{name}-{i}.png" for i in range(len(x))]
            for d, path in zip(x, sets[name]):
                make(d).save(path)
        print(f"model {args.model_dir}: {card.get('params', '?')} params; {len(x)} MNIST test digits")
        for label, module in modules.items():
            m, t = (accuracy(model, module, sets[k], y) for k in ("margined", "tight"))
            print(f"{label} preprocessing: margined {m:.1%}, tight {t:.1%}, tight/margined {t / m:.3f}")


if __name__ == "__main__":
    main()
