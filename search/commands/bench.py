"""`mnist-search bench`: how fast our trainer and studies are, against the source projects' pipeline.

1. Our trainer's throughput (images/s) and time per 55k-image epoch for seed001, seed002 and a
   typical arch-space net.
2. The same model and recipe through the source projects' pipeline, measured in the same run:
   torchvision.datasets.MNIST + DataLoader(num_workers=2) + PIL transforms (RandomApply CenterCrop,
   Resize, RandomRotation, ToTensor, Normalize) and a step loop that reads loss and accuracy with
   .item() every step, as they wrote it. Both sides use that same augmentation; the ratio is ours/theirs.
3. `mnist-search run --trials N` end to end in a subprocess: wall time and trials per hour.
4. On a GPU: trials per hour with 1, 2 and 4 workers sharing it.
Figures are printed as a table and written as JSON; timings are never asserted in tests.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mnistnet import data as mdata
from mnistnet import presets
from mnistnet.model import NetConfig, build, count_params
from mnistnet.presets import ERA_AUGMENT
from mnistnet.recipe import Recipe
from mnistnet.train import fit

from ..api import resolve_device

# A typical net the CPU arch study found under 20k parameters (trial 63 of the 100-trial CPU study
# recorded in bench/RESULTS.md): 4-5x5 BN conv, five 16-channel 3x3 BN convs, two pools, FC head.
ARCH_TYPICAL = NetConfig.from_dict({"layers": [
    {"channels": 4, "kernel": 5, "padding": 2, "bn": True, "dropout": 0.05, "pool": True},
    {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
    {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
    {"channels": 16, "kernel": 3, "padding": 1, "bn": True, "dropout": 0.05, "pool": True},
    {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
    {"channels": 16, "kernel": 3, "padding": 1, "bn": True, "dropout": 0.05}],
    "head": {"pool": "flatten"}})
ARCH_RECIPE = Recipe(optimizer="sgd", lr=0.06, momentum=0.88, batch_size=32, scheduler="onecycle")

TRAIN_IMAGES = 55_000


def models() -> list[tuple[str, NetConfig, Recipe]]:
    return [("seed001", presets.get("seed001").config, presets.get("seed001").recipe),
            ("seed002", presets.get("seed002").config, presets.get("seed002").recipe),
            ("arch-typical", ARCH_TYPICAL, ARCH_RECIPE)]


def ours(config, recipe, data, images: int, device) -> float:
    """Images per second of our trainer's training loop (one epoch over `images` images)."""
    r = recipe.replace(epochs=1, augment=ERA_AUGMENT.__dict__)
    m = fit(config, r, data.subset(images), device).history[0]
    return m.images / m.train_seconds


def source_pipeline(config, recipe, root: Path, images: int, device) -> float:
    """Images per second of the source projects' loop: PIL transforms in DataLoader workers."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    train_tf = transforms.Compose([
        transforms.RandomApply([transforms.CenterCrop(22)], p=0.1),
        transforms.Resize((28, 28)),
        transforms.RandomRotation((-15.0, 15.0), fill=0),
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,)),
    ])
    dataset = Subset(datasets.MNIST(str(root), train=True, download=True, transform=train_tf), range(images))
    loader = DataLoader(dataset, batch_size=recipe.batch_size, shuffle=True, num_workers=2,
                        pin_memory=device.type == "cuda", drop_last=True)
    torch.manual_seed(0)
    model = build(config)[1:].to(device)  # their transform normalizes, so drop our Normalize
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum) \
        if recipe.optimizer == "sgd" else torch.optim.Adam(model.parameters(), lr=recipe.lr)
    model.train()
    start, seen, correct = time.perf_counter(), 0, 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        opt.zero_grad()
        pred = model(data)
        loss = F.nll_loss(F.log_softmax(pred, 1), target)
        loss.backward()
        opt.step()
        correct += pred.argmax(1).eq(target).sum().item()  # per-step host syncs, as in the sources
        _ = f"loss={loss.item():.4f}"
        seen += len(target)
    return seen / (time.perf_counter() - start)


def study_wall_time(trials: int, workers: int, device: str, extra=()) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "search", "run", "--trials", str(trials), "--workers", str(workers),
               "--storage", f"sqlite:///{tmp}/bench.db", "--no-progress", "--device", device, "--finals", "0",
               *extra]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[2])
        return time.perf_counter() - start


def profile_cpu(config, recipe, data, images: int, rows: int = 10) -> str:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ours(config, recipe, data, images, torch.device("cpu"))
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main(args) -> int:
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    root = mdata.resolve_root(args.data_root)
    data = mdata.load(args.data_root, device=device)
    images = {"seed001": 55_000 if gpu else 2_000, "seed002": 55_000 if gpu else 10_000,
              "arch-typical": 55_000 if gpu else 5_000}
    if args.images:
        images = {k: args.images for k in images}
    result = {"date": time.strftime("%Y-%m-%d"), "device": torch.cuda.get_device_name() if gpu else
              f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
              "torch": torch.__version__, "threads": torch.get_num_threads(), "models": []}
    print(f"{'model':<14}{'params':>8}{'images':>8}{'ours img/s':>12}{'epoch s':>9}"
          f"{'source img/s':>14}{'epoch s':>9}{'ratio':>7}")
    for name, config, recipe in models():
        n = images[name]
        ours(config, recipe, data, min(n, 2 * recipe.batch_size), device)  # warm-up
        fast = ours(config, recipe, data, n, device)
        slow = source_pipeline(config, recipe, root, n, device)
        row = {"model": name, "params": count_params(config), "images": n, "ours_img_s": round(fast),
               "ours_epoch_s": round(TRAIN_IMAGES / fast, 1), "source_img_s": round(slow),
               "source_epoch_s": round(TRAIN_IMAGES / slow, 1), "ratio": round(fast / slow, 2)}
        result["models"].append(row)
        print(f"{name:<14}{row['params']:>8,}{n:>8,}{row['ours_img_s']:>12,}{row['ours_epoch_s']:>9}"
              f"{row['source_img_s']:>14,}{row['source_epoch_s']:>9}{row['ratio']:>7}", flush=True)
    if args.trials:
        wall = study_wall_time(args.trials, 1, args.device)
        result["study"] = {"trials": args.trials, "wall_s": round(wall, 1),
                           "trials_per_hour": round(args.trials / wall * 3600)}
        print(f"mnist-search run --trials {args.trials}: {wall:.0f}s wall, "
              f"{result['study']['trials_per_hour']} trials/hour", flush=True)
    if gpu and args.worker_trials:
        result["workers"] = []
        for w in (1, 2, 4):
            wall = study_wall_time(args.worker_trials, w, "cuda")
            tph = round(args.worker_trials / wall * 3600)
            result["workers"].append({"workers": w, "trials": args.worker_trials, "wall_s": round(wall, 1),
                                      "trials_per_hour": tph})
            print(f"{w} workers: {args.worker_trials} trials in {wall:.0f}s, {tph} trials/hour", flush=True)
    elif not gpu:
        result["workers"] = "not measured (no GPU)"
    if args.profile and not gpu:
        table = profile_cpu(ARCH_TYPICAL, ARCH_RECIPE, data, 2000)
        result["cpu_profile_arch_typical"] = table
        print(table)
    out = Path(args.out or Path("studies") / "bench" / f"bench-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"figures written to {out}")
    return 0
