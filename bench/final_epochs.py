"""How long the finals should train: a study's final retrained for E epochs with seed S, on all the
training images, validation accuracy only (the test set is never read here).

Usage (one training per call, so that two can run side by side, one thread each):
    .venv/bin/python bench/final_epochs.py STORAGE_URL STUDY TRIAL --epochs 20 30 --seed 1 [--threads 1]
        [--out bench/results/final_epochs.jsonl]

For each E in --epochs it trains the trial's net with the trial's recipe (its one-cycle schedule
stretched over E epochs), the seed changed, and appends one JSON line: trial, params, epochs, seed,
final validation accuracy, wall seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
import torch  # noqa: E402

from mnistnet import data as mdata  # noqa: E402
from mnistnet.train import fit  # noqa: E402
from search import records  # noqa: E402
from space.arch import augment_at  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("storage")
    ap.add_argument("study")
    ap.add_argument("trial", type=int)
    ap.add_argument("--epochs", type=int, nargs="+", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--aug", type=float, default=None, help="augmentation strength 0-1 instead of the trial's")
    ap.add_argument("--out", default="bench/results/final_epochs.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t = optuna.load_study(study_name=args.study, storage=args.storage).trials[args.trial]
    data = mdata.load()
    for epochs in args.epochs:
        recipe = records.recipe(t).replace(epochs=epochs, seed=args.seed)
        if args.aug is not None:
            recipe = recipe.replace(augment=augment_at(args.aug).__dict__)
        start = time.perf_counter()
        result = fit(records.config(t), recipe, data, torch.device("cpu"), log=lambda *_: None)
        row = {
            "trial": t.number,
            "params": records.params(t),
            "epochs": epochs,
            "seed": args.seed,
            "aug": args.aug,
            "val_acc": result.final_val_acc,
            "precision": result.precision,
            "seconds": round(time.perf_counter() - start),
        }
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
