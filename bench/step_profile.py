"""Where a full-fidelity final's time goes on this CPU: one training step of a net, in parts.

The step is the trainer's (mnistnet/train.py, _fit), rebuilt here from the same pieces so that each
part can be timed (augmentation, forward and backward under autocast, the optimizer, the weight average,
the schedule): keep the two in step. Each part is timed over N steps on real MNIST after
a warm-up, eager and compiled, and the forward and backward broken down by operator with the PyTorch
profiler. A final is about 8,600 of these steps (55,000 images / 128 x 20 epochs), so the
milliseconds say what a cheaper final would have to remove. The compiled step is also timed at larger
batch sizes, as images per second (what a batch-size schedule could save). Run it alone on the machine.

    .venv/bin/python bench/step_profile.py bench/results/default-run-finals2-seed0-card.json --threads 1 \
        --out bench/results/step-profile.json
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
import torch.nn.functional as F  # noqa: E402

from mnistnet import data as mdata  # noqa: E402
from mnistnet.augment import augment, to_float  # noqa: E402
from mnistnet.model import build, trace  # noqa: E402
from mnistnet.precision import autocast, resolve as resolve_precision  # noqa: E402
from mnistnet.train import _average, _optimizer, _scheduler  # noqa: E402
from search.cli.commands.bench import _cpu_name as cpu_name  # noqa: E402
from space.arch import ArchSpace  # noqa: E402

PARTS = ("augment", "forward_backward", "optimizer", "average", "schedule", "metrics")


def net_and_recipe(card: str):
    params = json.loads(Path(card).read_text())["trial_params"]
    config, recipe = ArchSpace().sample(optuna.trial.FixedTrial(params))
    # the final's recipe: 20 epochs with the weight average over 128,000 images (search/engine/_profiles.py)
    return config, recipe.replace(seed=0, epochs=20, ema_images=128_000)


def time_parts(config, recipe, data, precision: str, compiled: bool, steps: int, warmup: int = 20) -> dict:
    """Milliseconds per step of each part of the trainer's step, averaged over `steps` after `warmup`."""
    device = torch.device("cpu")
    model = build(config).to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model
    opt = _optimizer(model, recipe)
    average = _average(model, recipe.ema_decay(len(data.train)))
    n, batch = len(data.train), recipe.batch_size
    per_epoch = n // batch
    sched = _scheduler(opt, recipe, per_epoch)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(n, generator=gen)
    loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
    spent = dict.fromkeys(PARTS, 0.0)
    for step in range(warmup + steps):
        if step == warmup:
            spent = dict.fromkeys(PARTS, 0.0)
            began = time.perf_counter()
        marks = [time.perf_counter()]
        idx = order[(step % per_epoch) * batch : (step % per_epoch + 1) * batch]
        x = augment(to_float(data.train.x[idx]), recipe.augment, gen).contiguous(memory_format=torch.channels_last)
        y = data.train.y[idx]
        marks.append(time.perf_counter())
        with autocast(device, precision):
            logits = forward(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        marks.append(time.perf_counter())
        opt.step()
        marks.append(time.perf_counter())
        if average is not None:
            average.update_parameters(model)
        marks.append(time.perf_counter())
        sched.step()
        marks.append(time.perf_counter())
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        marks.append(time.perf_counter())
        for part, a, b in zip(PARTS, marks, marks[1:]):
            spent[part] += b - a
    total = time.perf_counter() - began
    return {
        "compiled": compiled,
        "ms_per_step": round(1e3 * total / steps, 2),
        "parts_ms": {k: round(1e3 * v / steps, 2) for k, v in spent.items()},
        "final_seconds_at_this_rate": round(total / steps * per_epoch * recipe.epochs),
    }


def operators(config, recipe, precision: str, steps: int = 20, top: int = 8) -> list[dict]:
    """The forward and backward of one batch, eager, by operator: the `top` by self CPU time."""
    from torch.profiler import profile

    model = build(config).to(memory_format=torch.channels_last)
    x = torch.rand(recipe.batch_size, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (recipe.batch_size,))

    def step():
        with autocast(torch.device("cpu"), precision):
            out = model(x).float()
        F.cross_entropy(out, y).backward()

    for _ in range(5):
        step()
    with profile() as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    whole = sum(e.self_cpu_time_total for e in events)
    return [
        {
            "op": e.key,
            "share": round(e.self_cpu_time_total / whole, 3),
            "ms_per_step": round(e.self_cpu_time_total / 1e3 / steps, 2),
        }
        for e in events[:top]
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", help="an exported model's card.json (its trial_params give the net and recipe)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--precision", default="auto")
    ap.add_argument(
        "--batch-sizes",
        type=int,
        nargs="*",
        default=[256, 512, 1024],
        help="also time the compiled step at these batch sizes (images per second against the net's own)",
    )
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config, recipe = net_and_recipe(args.card)
    precision = resolve_precision(args.precision, torch.device("cpu"))
    data = mdata.load()
    result = {
        "cpu": cpu_name(),
        "threads": args.threads,
        "params": trace(config).params,
        "precision": precision,
        "batch_size": recipe.batch_size,
        "eager": time_parts(config, recipe, data, precision, False, args.steps),
        "compiled": time_parts(config, recipe, data, precision, True, args.steps),
        "operators_eager": operators(config, recipe, precision),
    }
    # Larger batches, same images: a CPU step's fixed costs (optimizer, average, Python) spread thinner.
    result["batch_sizes"] = [
        {
            "batch_size": recipe.batch_size,
            "images_per_s": round(1e3 * recipe.batch_size / result["compiled"]["ms_per_step"]),
        }
    ]
    for b in args.batch_sizes:
        timed = time_parts(config, recipe.replace(batch_size=b), data, precision, True, max(20, args.steps * 128 // b))
        result["batch_sizes"].append({"batch_size": b, "images_per_s": round(1e3 * b / timed["ms_per_step"])})
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
