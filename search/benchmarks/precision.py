"""fp32 against bf16 autocast: training speed over whole epochs, and accuracy over several seeds.

bf16 is adopted only where it is both faster and as accurate: the accuracy check trains each net on
all the training images with each precision and several seeds, and compares the difference of the
mean final validation accuracies with the seeds' spread. Validation is scored in fp32 for both, as
the exported model runs.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

from mnistnet.train import evaluate, fit

SPEED_NETS = ("seed001", "gap10k", "seed002")  # a wide BN net, a 10k BN/GAP net, the classic
ACCURACY_NETS = ("gap10k", "seed002")  # seed001 needs ~2 min an epoch in fp32 on 2 cores: too slow for 3 seeds


def min_epoch_images() -> int:
    """The fewest images per timed epoch: two batches of the largest speed net's batch, so that the
    two precisions trade at least one complete, timed turn."""
    from space.known import base_net

    return 2 * max(base_net(name)[1].batch_size for name in SPEED_NETS)


def warm_up(config, recipe, data, device) -> None:
    """One short, untimed bf16 epoch, so that one-off start-up costs (kernel selection, first
    allocations) fall outside the measured pairs."""
    fit(config, recipe.replace(epochs=1), data, device, precision="bf16")


class _Baton:
    """Lets trainings in several threads take turns, `chunk` steps at a time, and adds up each one's
    time while it holds the turn: side by side on the same machine state, one at a time.

    sync() (torch.cuda.synchronize on a GPU) runs before each reading of the clock: CUDA work is
    queued, so without it a turn's time would be its launches, and the queued kernels would run,
    untimed or in the next holder's turn."""

    def __init__(self, names, chunk: int, sync=None):
        self.order, self.chunk = list(names), chunk
        self.sync = sync or (lambda: None)
        self.turn = threading.Condition()
        self.holder = self.order[0]
        self.started = 0.0  # when the holder's current turn began; 0 between turns
        self.seconds = dict.fromkeys(self.order, 0.0)
        self.steps = dict.fromkeys(self.order, 0)  # steps inside timed, complete turns
        self.arrived, self.finished = set(), set()  # reached its first step; ended

    def _pass_on(self, name: str) -> None:
        """Hand the turn to the next unfinished training (caller holds the lock)."""
        i = self.order.index(name)
        for nxt in self.order[i + 1 :] + self.order[: i + 1]:
            if nxt not in self.finished:
                self.holder = nxt
                break
        self.started = 0.0
        self.turn.notify_all()

    def before_step(self, name: str, step: int) -> None:
        with self.turn:
            if name not in self.arrived:
                self.arrived.add(name)
                self.turn.notify_all()
            if step % self.chunk == 0 and self.holder == name and self.started:
                self.sync()
                self.seconds[name] += time.perf_counter() - self.started
                self.steps[name] += self.chunk
                self._pass_on(name)
            # Nobody starts before every training's start-up (model building, first allocations) is
            # over: one still starting would take cores from the other's first turns.
            self.turn.wait_for(lambda: self.holder == name and self.arrived | self.finished >= set(self.order))
            if not self.started:
                self.sync()  # nothing of the previous holder's (or this one's start-up) runs in this turn
                self.started = time.perf_counter()

    def done(self, name: str) -> None:
        """The training ended: its unfinished turn is not counted; the others go on."""
        with self.turn:
            self.finished.add(name)
            if self.holder == name:
                self._pass_on(name)
            self.turn.notify_all()


def interleaved_speed(config, recipe, data, device, chunk: int = 20) -> dict:
    """One whole epoch in fp32 and one in bf16, in two threads taking turns of `chunk` steps, so that
    both see the same stretch of a shared machine whose speed drifts by tens of percent within a
    minute. Speeds come from the complete turns' step-loop time (validation is not timed).

    Both run in secondary threads, where torch runs small nets slower than in the main thread
    (seed002: about a third, measured), so the absolute img/s are lower than a training's own;
    the ratio is the figure. Separate processes were tried and gave less steady ratios."""
    r = recipe.replace(epochs=1)
    batch = min(r.batch_size, len(data.train))
    steps = len(data.train) // batch
    import torch

    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    baton = _Baton(("fp32", "bf16"), max(1, min(chunk, steps // 4)), sync)  # small test epochs: still several turns
    results, errors = {}, []

    def train(precision: str) -> None:
        try:
            results[precision] = fit(
                config,
                r,
                data,
                device,
                precision=precision,
                log=lambda _: None,
                on_step=lambda i: baton.before_step(precision, i),
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
        finally:
            baton.done(precision)

    threads = [threading.Thread(target=train, args=(p,)) for p in baton.order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    out = {}
    for p in baton.order:
        img_s = baton.steps[p] * batch / baton.seconds[p]
        out[p] = {
            "precision": results[p].precision,
            "img_s": round(img_s),
            "epoch_s": round(len(data.train) / img_s, 1),
        }
    return out


def paired_speed(config, recipe, data, device, repeats: int) -> dict:
    """fp32 and bf16 whole epochs, interleaved (see interleaved_speed) `repeats` times; the medians
    of each precision's img/s and of the per-pair ratios."""
    pairs = [
        (run["fp32"], run["bf16"]) for run in (interleaved_speed(config, recipe, data, device) for _ in range(repeats))
    ]
    ratios = [b["img_s"] / f["img_s"] for f, b in pairs]

    def median_of(k: int) -> dict:
        runs = [pair[k] for pair in pairs]
        middle = sorted(runs, key=lambda r: r["img_s"])[(len(runs) - 1) // 2]  # the lower median: a real run
        return {**middle, "img_s_runs": [r["img_s"] for r in runs]}

    return {
        "fp32": median_of(0),
        "bf16": median_of(1),
        "speedup": round(statistics.median(ratios), 2),
        "speedup_runs": [round(r, 2) for r in ratios],
        "repeats": repeats,
    }


def train_once(config, recipe, data, device, precision: str, seed: int) -> dict:
    result = fit(config, recipe.replace(seed=seed), data, device, precision=precision)
    _, val_fp32 = evaluate(result.model, data.val)
    return {
        "precision": result.precision,
        "seed": seed,
        "val_acc": result.final_val_acc,
        "val_acc_fp32": val_fp32,
        "seconds": round(result.seconds, 1),
        "status": result.status,
    }


def summarize(runs: list[dict]) -> dict:
    """Per precision: mean and std of the fp32-scored validation accuracy; the bf16-fp32 difference
    and whether it lies within the larger of the two seed spreads."""
    by = {}
    for r in runs:
        by.setdefault(r["precision"], []).append(r["val_acc_fp32"])
    out = {
        p: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
        for p, v in by.items()
    }
    if "fp32" in out and "bf16" in out:
        diff = out["bf16"]["mean"] - out["fp32"]["mean"]
        spread = max(out["fp32"]["std"], out["bf16"]["std"])
        out["difference"] = diff
        out["within_spread"] = abs(diff) <= spread
    return out


def accuracy_check(
    nets, seeds: int, data, device, base_net, log=print, cache: Path | None = None, epochs: int | None = None
) -> dict:
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
                    done[key] = {
                        "net": net,
                        "epochs": recipe.epochs,
                        **train_once(config, recipe, data, device, precision, seed),
                    }
                    if cache is not None:
                        with cache.open("a") as f:
                            f.write(json.dumps(done[key]) + "\n")
                r = done[key]
                log(f"  {net} {precision} seed {seed}: val {r['val_acc_fp32']:.2%} (fp32-scored), {r['seconds']:.0f}s")
                runs.append(r)
        results[net] = {
            "epochs": recipe.epochs,
            "train_images": len(data.train),
            "runs": runs,
            "summary": summarize(runs),
        }
    return results
