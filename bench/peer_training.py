"""The peer: what a person who "just trains MNIST" runs instead of a search.

PyTorch's examples/mnist with its defaults, written here from its description: conv 1->32 (3x3),
conv 32->64 (3x3), 2x2 max-pool, dropout 0.25, fc 9216->128, dropout 0.5, fc 128->10, log-softmax
(1,199,882 parameters); Adadelta lr 1.0 with StepLR (step 1 epoch, gamma 0.7); batch 64 shuffled,
test batch 1000; 14 epochs, each followed by a pass over the test set, as the example prints it;
torchvision's MNIST through DataLoaders (ToTensor, Normalize 0.1307/0.3081), seed 1. On CUDA the
loaders use one worker and pinned memory, as the example does; on a CPU the loader is
single-process. The torch thread count is torch's default (all cores), as a plain script gets.

Usage:
    .venv/bin/python bench/peer_training.py [--epochs 14] [--device auto|cpu|cuda] [--limit N]
        [--out bench/results/peer.json]

Prints one line per epoch and, at the end, one JSON object: wall seconds of the whole process
from its start (imports, data, training, the per-epoch test passes), seconds of training alone,
each epoch's seconds (its training and test pass), the last epoch's test accuracy, device, torch
version and thread count. --limit N trains on the first N images only (a quick try; the figures
then say nothing about the peer). bench/gpu_check.py times its first 2 epochs on CUDA.
"""

from __future__ import annotations

import time

START = time.perf_counter()  # the peer's time counts its imports, as a person timing the script sees

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnistnet import data as mdata  # noqa: E402


class PeerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def loaders(root: Path, device: torch.device, limit: int | None):
    from torchvision import datasets, transforms

    mdata.ensure_files(root)  # the project's verified copies of the four files: nothing is downloaded
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(root), train=True, download=True, transform=tf)
    test = datasets.MNIST(str(root), train=False, transform=tf)
    if limit:
        train = torch.utils.data.Subset(train, range(limit))
        test = torch.utils.data.Subset(test, range(min(limit, len(test))))
    cuda = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    return (
        torch.utils.data.DataLoader(train, batch_size=64, shuffle=True, **cuda),
        torch.utils.data.DataLoader(test, batch_size=1000, **cuda),
    )


def train_epoch(model, device, loader, opt) -> None:
    model.train()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()


@torch.no_grad()
def test(model, device, loader) -> tuple[float, float]:
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss += F.nll_loss(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    return loss / n, correct / n


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--device", default="auto", help="auto (cuda if visible), cpu or cuda")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only (a quick try)")
    ap.add_argument("--data-root", default=None, help="folder holding MNIST/raw (default: the project's)")
    ap.add_argument("--out", default=None, help="also write the JSON summary to this file")
    return ap


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    torch.manual_seed(1)
    train_loader, test_loader = loaders(mdata.resolve_root(args.data_root), device, args.limit)
    model = PeerNet().to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    t0 = time.perf_counter()
    acc, epoch_s = 0.0, []
    for epoch in range(1, args.epochs + 1):
        e0 = time.perf_counter()
        train_epoch(model, device, train_loader, opt)
        loss, acc = test(model, device, test_loader)
        sched.step()
        epoch_s.append(round(time.perf_counter() - e0, 2))
        print(
            f"epoch {epoch}/{args.epochs}: test loss {loss:.4f}, test accuracy {acc:.2%}, "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    summary = {
        "peer": "examples/mnist defaults",
        "epochs": args.epochs,
        "limit": args.limit,
        "params": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_s": round(time.perf_counter() - t0, 1),
        "epoch_s": epoch_s,  # each epoch's training and its test pass
        "wall_s": round(time.perf_counter() - START, 1),
        "test_acc": acc,
    }
    print(json.dumps(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
