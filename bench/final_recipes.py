"""Cheaper full-fidelity training: which recipe reaches the 30-epoch final's mean validation accuracy in
fewer epochs? Each net trains on all 55,000 training images with each recipe variant and each seed
(its own recipe from the arch space, the one-cycle schedule stretched over the variant's epochs, the
variant's changes on top); one JSON line per training, validation accuracy only (the test set is
never read). Run two copies side by side, one thread each, with --part 0/2 and --part 1/2; a rerun
skips the trainings already in --out.

    .venv/bin/python bench/final_recipes.py NETS.json --variants 30 20 20-ema --seeds 0 1 2 \
        --part 0/2 --out bench/results/final-recipes.jsonl
    .venv/bin/python bench/final_recipes.py NETS.json --summary --out bench/results/final-recipes.jsonl

NETS.json: [{"label": ..., "params": {...}} | {"label": ..., "card": PATH}], as bench/small_net_fidelity.py
reads it. --summary prints one row a net and variant (mean ± sample std over seeds, the difference
from the 30-epoch mean, seconds a training) and the mean difference over nets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
import torch  # noqa: E402

from mnistnet import data as mdata  # noqa: E402
from mnistnet.model import trace  # noqa: E402
from mnistnet.train import fit  # noqa: E402
from search.cli.commands.bench import _cpu_name as cpu_name  # noqa: E402  (the bench command's own reading)
from space.arch import ArchSpace  # noqa: E402

# name -> changes to the net's own recipe. "30" is today's final.
VARIANTS = {
    "30": {"epochs": 30},
    "20": {"epochs": 20},
    # ema: an average over 128,000 images, decay 0.999 a step at batch 128 (the measured nets' batch)
    "20-ema": {"epochs": 20, "ema_images": 128_000},
    "20-ls": {"epochs": 20, "label_smoothing": 0.1},
    "20-ema-ls": {"epochs": 20, "ema_images": 128_000, "label_smoothing": 0.1},
    "15-ema": {"epochs": 15, "ema_images": 128_000},
    # 10 epochs keep their last weights: 10 x 55,000 images is under EMA_MIN_HORIZONS averages of 128,000
    "10": {"epochs": 10},
    # A batch that fills a GPU (the gpu profile's question), the learning rate scaled from the net's own
    # batch linearly or by the square root; the average's horizon stays 128,000 images (0.992 a step).
    "20-ema-b1024": {"epochs": 20, "ema_images": 128_000, "batch_size": 1024, "lr_scale": "linear"},
    "20-ema-b1024-sqrt": {"epochs": 20, "ema_images": 128_000, "batch_size": 1024, "lr_scale": "sqrt"},
    "20-ema-b512-sqrt": {"epochs": 20, "ema_images": 128_000, "batch_size": 512, "lr_scale": "sqrt"},
    # the one-cycle's peak 1.5x the net's own learning rate, over 15 epochs: a hotter cycle, shorter
    "15-ema-peak1.5": {"epochs": 15, "ema_images": 128_000, "lr_factor": 1.5},
    # twice the images at batch 1024: a quarter of today's final's steps (what a launch-bound GPU pays for)
    "40-ema-b1024-sqrt": {"epochs": 40, "ema_images": 128_000, "batch_size": 1024, "lr_scale": "sqrt"},
    # warmup-stable-decay at the net's own peak: a stable-phase checkpoint (a rung's) could be continued
    "20-ema-wsd": {"epochs": 20, "ema_images": 128_000, "scheduler": "wsd"},
}
BASELINE = "30"


def variant_recipe(recipe, changes: dict):
    """The net's own recipe with a variant's changes; lr_factor multiplies the learning rate (the
    one-cycle's peak), lr_scale by the new batch size over the recipe's own ("linear") or by its square
    root ("sqrt")."""
    changes = dict(changes)
    factor = changes.pop("lr_factor", 1.0)
    scale = changes.pop("lr_scale", None)
    if scale:
        ratio = changes["batch_size"] / recipe.batch_size
        factor *= ratio if scale == "linear" else ratio**0.5
    return recipe.replace(lr=recipe.lr * factor, **changes)


def trial_params(net: dict) -> dict:
    if "params" in net:
        return net["params"]
    return json.loads(Path(net["card"]).read_text())["trial_params"]


def done(out: Path) -> set:
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["label"], r["variant"], r["seed"]) for r in rows}


def train(args) -> None:
    torch.set_num_threads(args.threads)
    nets = json.loads(Path(args.nets).read_text())
    index, parts = (int(x) for x in args.part.split("/"))
    data = mdata.load()
    # seed-major: an interrupted measurement still has every net and variant for the first seeds
    jobs = [(net, v, s) for s in args.seeds for net in nets for v in args.variants]
    skip = done(Path(args.out))
    for net, variant, seed in jobs[index::parts]:
        if (net["label"], variant, seed) in skip:
            continue
        config, recipe = ArchSpace().sample(optuna.trial.FixedTrial(trial_params(net)))
        recipe = variant_recipe(recipe.replace(seed=seed), VARIANTS[variant])
        start = time.perf_counter()
        result = fit(config, recipe, data, torch.device("cpu"), precision="auto", log=lambda *_: None)
        row = {
            "label": net["label"],
            "params": trace(config).params,
            "variant": variant,
            "epochs": recipe.epochs,
            "ema": recipe.ema_decay(len(data.train)),
            "label_smoothing": recipe.label_smoothing,
            "batch_size": recipe.batch_size,
            "lr": recipe.lr,
            "seed": seed,
            "val_acc": result.final_val_acc,
            "val_curve": [round(m.val_acc, 4) for m in result.history],
            "precision": result.precision,
            "threads": args.threads,
            "cpu": cpu_name(),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps({k: v for k, v in row.items() if k != "val_curve"}), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


def summary(args) -> None:
    rows = [json.loads(line) for line in Path(args.out).read_text().splitlines() if line.strip()]
    labels = sorted(
        {r["label"] for r in rows}, key=lambda label: next(r["params"] for r in rows if r["label"] == label)
    )
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]

    def cell(label, variant):
        return [r for r in rows if r["label"] == label and r["variant"] == variant]

    print("| net | params | recipe | seeds | validation mean ± std | vs 30 epochs | seconds a training |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    deltas: dict[str, list[float]] = {}
    for label in labels:
        base = [r["val_acc"] for r in cell(label, BASELINE)]
        for v in variants:
            got = cell(label, v)
            if not got:
                continue
            accs = [r["val_acc"] for r in got]
            mean = statistics.mean(accs)
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            delta = "" if v == BASELINE or not base else f"{100 * (mean - statistics.mean(base)):+.2f} pp"
            if v != BASELINE and base:
                deltas.setdefault(v, []).append(mean - statistics.mean(base))
            secs = statistics.mean(r["seconds"] for r in got)
            print(
                f"| {label} | {got[0]['params']:,} | {v} | {len(accs)} | {100 * mean:.2f} ± {100 * std:.2f} % "
                f"| {delta} | {secs:.0f} |"
            )
    for v, ds in deltas.items():
        print(f"{v}: mean difference from {BASELINE} epochs over {len(ds)} nets: {100 * statistics.mean(ds):+.3f} pp")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nets")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--part", default="0/1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="bench/results/final-recipes.jsonl")
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    if args.summary:
        summary(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
