"""Our trainer against the source projects' pipeline, on the same model, recipe and augmentation.

Theirs: torchvision.datasets.MNIST + DataLoader(num_workers=2) + PIL transforms (RandomApply
CenterCrop, Resize, RandomRotation, ToTensor, Normalize) and a step loop that reads loss and
accuracy with .item() every step, as they wrote it. The ratio is ours/theirs.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mnistnet import presets
from mnistnet.model import NetConfig, build
from mnistnet.presets import ERA_AUGMENT
from mnistnet.recipe import Recipe
from mnistnet.train import fit

# A typical net the CPU arch study found under 20k parameters (trial 63 of the 100-trial CPU study
# recorded in bench/RESULTS.md): 4-5x5 BN conv, five 16-channel 3x3 BN convs, two pools, FC head.
ARCH_TYPICAL = NetConfig.from_dict(
    {
        "layers": [
            {"channels": 4, "kernel": 5, "padding": 2, "bn": True, "dropout": 0.05, "pool": True},
            {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
            {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
            {"channels": 16, "kernel": 3, "padding": 1, "bn": True, "dropout": 0.05, "pool": True},
            {"channels": 16, "kernel": 3, "padding": 1, "bn": True},
            {"channels": 16, "kernel": 3, "padding": 1, "bn": True, "dropout": 0.05},
        ],
        "head": {"pool": "flatten"},
    }
)
ARCH_RECIPE = Recipe(optimizer="sgd", lr=0.06, momentum=0.88, batch_size=32, scheduler="onecycle")


def models() -> list[tuple[str, NetConfig, Recipe]]:
    return [
        ("seed001", presets.get("seed001").config, presets.get("seed001").recipe),
        ("seed002", presets.get("seed002").config, presets.get("seed002").recipe),
        ("arch-typical", ARCH_TYPICAL, ARCH_RECIPE),
    ]


def ours(config, recipe, data, images: int, device, precision: str = "fp32") -> float:
    """Images per second of our trainer's training loop (one epoch over `images` images)."""
    r = recipe.replace(epochs=1, augment=ERA_AUGMENT.__dict__)
    m = fit(config, r, data.subset(images), device, precision=precision).history[0]
    return m.images / m.train_seconds


def source_pipeline(config, recipe, root: Path, images: int, device) -> float:
    """Images per second of the source projects' loop: PIL transforms in DataLoader workers."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    train_tf = transforms.Compose(
        [
            transforms.RandomApply([transforms.CenterCrop(22)], p=0.1),
            transforms.Resize((28, 28)),
            transforms.RandomRotation((-15.0, 15.0), fill=0),
            transforms.ToTensor(),
            transforms.Normalize((0.1307,), (0.3081,)),
        ]
    )
    dataset = Subset(datasets.MNIST(str(root), train=True, download=True, transform=train_tf), range(images))
    loader = DataLoader(
        dataset,
        batch_size=recipe.batch_size,
        shuffle=True,
        num_workers=2,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    torch.manual_seed(0)
    model = build(config)[1:].to(device)  # their transform normalizes, so drop our Normalize
    opt = (
        torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
        if recipe.optimizer == "sgd"
        else torch.optim.Adam(model.parameters(), lr=recipe.lr)
    )
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


def profile_cpu(config, recipe, data, images: int, rows: int = 10) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ours(config, recipe, data, images, torch.device("cpu"))
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
