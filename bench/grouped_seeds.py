"""Would several seeds of one net train cheaper as one grouped net? A speed bound, on this CPU.

A confirmed answer is three full-fidelity trainings of one net (search.engine.confirmation). Its seeds
could run as one net whose every convolution has groups=K (K copies side by side, each seeing its own
images through its own channels), so that each operator works on K times the channels in one call.
This times one training step (forward and backward under autocast, then SGD) of a net from a run's card,
alone and as K = 2, 3, 4 grouped copies, on random inputs of the right shape, and prints the
milliseconds a step and a seed-step. It does not train: it bounds what such a trainer could save.

    .venv/bin/python bench/grouped_seeds.py bench/results/default-run-finals2-seed0-card.json --threads 1 \
        --out bench/results/grouped-seeds.json
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
from torch import nn  # noqa: E402

from mnistnet.model import NUM_CLASSES, build, trace  # noqa: E402
from mnistnet.precision import autocast, resolve as resolve_precision  # noqa: E402
from search.cli.commands.bench import _cpu_name as cpu_name  # noqa: E402
from space.arch import ArchSpace  # noqa: E402


class GroupedLinear(nn.Module):
    """K independent linear layers, one per copy: [N, K * features] -> [N, K * out]."""

    def __init__(self, k: int, features: int, out: int):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.randn(k, features, out) / features**0.5)
        self.bias = nn.Parameter(torch.zeros(k, out))

    def forward(self, x):
        y = torch.einsum("nkf,kfo->nko", x.view(x.shape[0], self.k, -1), self.weight) + self.bias
        return y.reshape(x.shape[0], -1)


def grouped(config, k: int) -> nn.Sequential:
    """The net of `config` (mnistnet.model.build) as k copies in one module: input [N, k, 28, 28], logits
    [N, k * 10]. Each layer with weights becomes its k-copy twin; the others act per channel already."""

    def twin(m: nn.Module) -> nn.Module:
        if isinstance(m, nn.Conv2d):
            return nn.Conv2d(m.in_channels * k, m.out_channels * k, m.kernel_size, padding=m.padding, groups=k)
        if isinstance(m, nn.BatchNorm2d):
            return nn.BatchNorm2d(m.num_features * k)
        if isinstance(m, nn.Linear):
            return GroupedLinear(k, m.in_features, m.out_features)
        return m

    return nn.Sequential(*(twin(m) for m in build(config)))


def ms_per_step(model: nn.Module, k: int, batch: int, precision: str, steps: int, warmup: int = 10) -> float:
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.rand(batch, k, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, NUM_CLASSES, (batch * k,))
    for step in range(warmup + steps):
        if step == warmup:
            began = time.perf_counter()
        with autocast(torch.device("cpu"), precision):
            logits = model(x).float()
        loss = F.cross_entropy(logits.view(batch, k, NUM_CLASSES).reshape(-1, NUM_CLASSES), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return 1e3 * (time.perf_counter() - began) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", help="a model card (card.json) whose trial_params describe the net")
    ap.add_argument("--copies", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    params = json.loads(Path(args.card).read_text())["trial_params"]
    config, recipe = ArchSpace().sample(optuna.trial.FixedTrial(params))
    precision = resolve_precision("auto", torch.device("cpu"))
    alone = ms_per_step(build(config), 1, recipe.batch_size, precision, args.steps)
    rows = [{"copies": 1, "ms_per_step": round(alone, 2), "ms_per_seed_step": round(alone, 2), "vs_alone": 1.0}]
    for k in args.copies:
        ms = ms_per_step(grouped(config, k), k, recipe.batch_size, precision, args.steps)
        rows.append(
            {
                "copies": k,
                "ms_per_step": round(ms, 2),
                "ms_per_seed_step": round(ms / k, 2),
                "vs_alone": round(ms / k / alone, 3),
            }
        )
    for r in rows:
        print(
            f"{r['copies']} cop{'y' if r['copies'] == 1 else 'ies'}: {r['ms_per_step']:.2f} ms a step, "
            f"{r['ms_per_seed_step']:.2f} ms a seed-step ({r['vs_alone']:.2f}x alone)"
        )
    out = {
        "card": args.card,
        "params": trace(config).params,
        "batch": recipe.batch_size,
        "precision": precision,
        "threads": args.threads,
        "steps": args.steps,
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "rows": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
