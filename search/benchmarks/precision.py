"""fp32 against bf16 autocast: training speed over whole epochs, and accuracy over several seeds.

bf16 is adopted only where it is both faster and as accurate: the accuracy check trains each net on
all the training images with each precision and several seeds, and compares the difference of the
mean final validation accuracies with the seeds' spread. Validation is scored in fp32 for both, as
the exported model runs.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from mnistnet.train import evaluate, fit

SPEED_NETS = ("seed001", "gap10k", "seed002")  # the three: a wide BN net, a 10k BN/GAP net, the classic
ACCURACY_NETS = ("gap10k", "seed002")  # seed001 needs ~2 min an epoch in fp32 on 2 cores: too slow for 3 seeds


def epoch_speed(config, recipe, data, device, precision: str, epochs: int = 1) -> dict:
    """Images per second of whole training epochs (the step loop, augmentation included)."""
    r = recipe.replace(epochs=epochs)
    result = fit(config, r, data, device, precision=precision)
    seconds = sum(m.train_seconds for m in result.history)
    images = sum(m.images for m in result.history)
    return {"precision": result.precision, "img_s": round(images / seconds), "epoch_s": round(seconds / epochs, 1)}


def train_once(config, recipe, data, device, precision: str, seed: int) -> dict:
    result = fit(config, recipe.replace(seed=seed), data, device, precision=precision)
    _, val_fp32 = evaluate(result.model, data.val)
    return {"precision": result.precision, "seed": seed, "val_acc": result.final_val_acc,
            "val_acc_fp32": val_fp32, "seconds": round(result.seconds, 1), "status": result.status}


def summarize(runs: list[dict]) -> dict:
    """Per precision: mean and std of the fp32-scored validation accuracy; the bf16-fp32 difference
    and whether it lies within the larger of the two seed spreads."""
    by = {}
    for r in runs:
        by.setdefault(r["precision"], []).append(r["val_acc_fp32"])
    out = {p: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
           for p, v in by.items()}
    if "fp32" in out and "bf16" in out:
        diff = out["bf16"]["mean"] - out["fp32"]["mean"]
        spread = max(out["fp32"]["std"], out["bf16"]["std"])
        out["difference"] = diff
        out["within_spread"] = abs(diff) <= spread
    return out


def accuracy_check(nets, seeds: int, data, device, base_net, log=print, cache: Path | None = None,
                   epochs: int | None = None) -> dict:
    """Train every net x precision x seed on `data` (for `epochs`, default each recipe's own); runs
    already in `cache` (JSON lines) are reused, so an interrupted check resumes."""
    done = {}
    if cache is not None and cache.exists():
        for line in cache.read_text().splitlines():
            r = json.loads(line)
            done[(r["net"], r["precision"], r["seed"], r.get("epochs"))] = r
    results = {}
    for net in nets:
        config, recipe = base_net(net)
        recipe = recipe.replace(epochs=epochs)
        runs = []
        for seed in range(seeds):
            for precision in ("fp32", "bf16"):
                key = (net, precision, seed, recipe.epochs)
                if key not in done:
                    done[key] = {"net": net, "epochs": recipe.epochs,
                                 **train_once(config, recipe, data, device, precision, seed)}
                    if cache is not None:
                        with cache.open("a") as f:
                            f.write(json.dumps(done[key]) + "\n")
                r = done[key]
                log(f"  {net} {precision} seed {seed}: val {r['val_acc_fp32']:.2%} (fp32-scored), {r['seconds']:.0f}s")
                runs.append(r)
        results[net] = {"epochs": recipe.epochs, "train_images": len(data.train), "runs": runs,
                        "summary": summarize(runs)}
    return results
