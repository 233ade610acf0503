"""Tight crops, tiny digits and marker strokes vs margined digits through `predict`'s preprocessing.

100 real MNIST test digits (the fixture's pick, seed 0), each written as a user would send it
(tests/photo_fixtures.py, write_real_world): with MNIST's own margin (64x64, the reference), cropped to
the box around its strokes (longer side 64 px), 8-10 px tall cut out close and enlarged to 64 px (blocky
or blurred, JPEG), and written with a marker (photographed). Every set goes through mnistnet.preprocess
exactly as `mnist-search predict` reads files; the bar is each set >= 95 % of margined.

    .venv/bin/python bench/tight_crops.py runs/default/model [--seed 2] [--old-preprocess FILE]

--seed draws other random pictures (sizes, interpolation, paper, light) from the same digits.
--old-preprocess runs another copy of preprocess.py (e.g. `git show 8d1e014:mnistnet/preprocess.py`)
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
from search.exporting import model_dir  # noqa: E402


def accuracy(model, module, paths, labels) -> float:
    x = torch.stack([module.to_mnist(module.read_gray(p)) for p in paths])  # to_mnist: in old copies too
    return float((predict(model, x).argmax(1).numpy() == labels).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2, help="the fixture sets' seed (2: the test suite's)")
    ap.add_argument("--old-preprocess", help="another preprocess.py to measure on the same files")
    args = ap.parse_args()
    torch.set_num_threads(2)
    _, model, card = model_dir.load(args.model_dir)
    test = mdata.load().test
    idx = pf.pick(test.y, 200, seed=0)[: args.n]
    x, y = test.x[idx].numpy(), test.y[idx].numpy()
    modules = {"this": preprocess}
    if args.old_preprocess:
        spec = importlib.util.spec_from_file_location("old_preprocess", args.old_preprocess)
        modules["old"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules["old"])
    with tempfile.TemporaryDirectory() as tmp:
        sets = pf.write_real_world(x, Path(tmp), seed=args.seed)
        print(
            f"model {args.model_dir}: {card.get('params', '?')} params; {len(x)} MNIST test digits; "
            f"fixture seed {args.seed}"
        )
        for label, module in modules.items():
            scores = {k: accuracy(model, module, paths, y) for k, paths in sets.items()}
            print(
                f"{label} preprocessing: "
                + ", ".join(
                    f"{k} {v:.1%}" + ("" if k == "margined" else f" ({v / scores['margined']:.3f})")
                    for k, v in scores.items()
                )
            )


if __name__ == "__main__":
    main()
