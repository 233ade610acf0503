"""How well does a cheap proxy training rank candidate nets, compared with full-fidelity training?

The search can only afford to train most candidates briefly (on a subset of the training images,
for a few epochs), and a pruner judges them even earlier, after epoch 1 or 2. That is only useful
if the cheap score orders the candidates the way full training would. This script trains a varied
set of small nets (the hand-tuned ones in space/known.py plus random samples of the `arch` space)
both ways and reports Spearman's rank correlation between each proxy score (its final val accuracy
and its val accuracy after every earlier epoch) and the full-fidelity val accuracy, over all
candidates and over the better half, next to what each proxy costs. The cheapest proxy that still
ranks well is the one the search should use.

    .venv/bin/python bench/proxy_ranking.py --out bench/results/proxy-ranking-cpu.json \
        --candidates 12 --deadline-min 85

All proxies of all candidates run first (cheap), then the full trainings one by one; the JSON is
rewritten atomically after every training, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import space  # noqa: E402
from mnistnet import data as mdata  # noqa: E402
from mnistnet.model import ConfigError, trace  # noqa: E402
from mnistnet.train import fit  # noqa: E402
from search.engine import spearman  # noqa: E402  (one definition, tested in tests/test_selection.py)
from space.known import KNOWN  # noqa: E402

MAX_PARAMS, MAX_MACS = 20_000, 1_200_000  # keep sampled nets cheap enough to train on a CPU


def parse_stage(text: str) -> tuple[int, int]:
    """'4000x4' -> (4000 training images, 4 epochs)."""
    n, e = text.lower().split("x")
    return int(n), int(e)


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def candidates(count: int, seed: int) -> list[dict]:
    """The known nets first, then random arch-space samples within the size limits."""
    cands = [{"name": k.name, "config": k.config, "recipe": k.recipe} for k in KNOWN][:count]
    sp = space.get("arch")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    while len(cands) < count:
        trial = study.ask()
        config, recipe = sp.sample(trial)
        try:
            shape = trace(config)
        except ConfigError:
            continue
        if shape.params <= MAX_PARAMS and shape.macs <= MAX_MACS:
            cands.append({"name": f"arch-t{trial.number:03d}", "config": config, "recipe": recipe})
    for c in cands:
        shape = trace(c["config"])
        c["params"], c["macs"] = shape.params, shape.macs
    return cands


def train(cand: dict, data, n: int, epochs: int) -> dict:
    """One training of a candidate on the first n images for `epochs` epochs, with its own recipe."""
    t0 = time.perf_counter()
    result = fit(cand["config"], cand["recipe"].replace(epochs=epochs, seed=0), data.subset(n))
    return {
        "subset": min(n, len(data.train)),
        "epochs": epochs,
        "status": result.status,
        "final_val_acc": result.final_val_acc,
        "curve": [m.val_acc for m in result.history],
        "seconds": round(time.perf_counter() - t0, 2),
    }


def acc_at(run: dict, epoch: int) -> float:
    """Val accuracy after `epoch`; 0 if the run never got there (it diverged)."""
    return run["curve"][epoch - 1] if len(run["curve"]) >= epoch else 0.0


def proxy_scores(stages: list[tuple[int, int]]) -> list[tuple[str, int, int, int]]:
    """(score name, proxy index, epoch, images seen so far) for every epoch of every proxy."""
    return [
        (f"{n}x{e}@{k}" if k < e else f"{n}x{e}", i, k, n * k)
        for i, (n, e) in enumerate(stages)
        for k in range(1, e + 1)
    ]


def spearman_table(records: list[dict], stages) -> list[dict]:
    done = [r for r in records if r.get("full")]
    full = [acc_at(r["full"], r["full"]["epochs"]) for r in done]
    best = sorted(range(len(done)), key=lambda i: -full[i])[: len(done) // 2]
    rows = []
    for name, i, k, images in proxy_scores(stages):
        score = [acc_at(r["proxies"][i], k) for r in done]
        rows.append(
            {
                "proxy": name,
                "images_seen": images,
                "n_all": len(done),
                "rho_all": spearman(score, full),
                "n_top_half": len(best),
                "rho_top_half": spearman([score[j] for j in best], [full[j] for j in best]),
            }
        )
    return rows


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


def fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:+.3f}"


def report(doc: dict, stages) -> None:
    records = doc["candidates"]
    print(
        f"\nfull-fidelity trainings finished: {doc['full_finished']} of {len(records)}"
        + (" (stopped by the deadline)" if doc["deadline_hit"] else "")
    )
    print("\nproxy costs (training images seen, measured seconds summed over candidates):")
    for i, (n, e) in enumerate(stages):
        secs = sum(r["proxies"][i]["seconds"] for r in records)
        print(f"  {n}x{e}: {n * e:>9,} images/candidate, {secs:7.1f} s total, {secs / len(records):6.1f} s mean")
    full_secs = [r["full"]["seconds"] for r in records if r.get("full")]
    if full_secs:
        print(
            f"  full : {doc['full_stage'][0] * doc['full_stage'][1]:>9,} images/candidate, "
            f"{sum(full_secs):7.1f} s total, {sum(full_secs) / len(full_secs):6.1f} s mean"
        )
    names = [f"{n}x{e}" for n, e in stages]
    print(
        "\n"
        + f"{'candidate':<12}{'params':>8}{'MACs':>11}"
        + "".join(f"{s:>11}" for s in names)
        + f"{'full acc':>10}{'full s':>8}"
    )
    for r in records:
        full = r.get("full")
        print(
            f"{r['name']:<12}{r['params']:>8,}{r['macs']:>11,}"
            + "".join(f"{p['final_val_acc']:>11.4f}" for p in r["proxies"])
            + (f"{full['final_val_acc']:>10.4f}{full['seconds']:>8.0f}" if full else f"{'-':>10}{'-':>8}")
        )
    print("\nSpearman rho vs full-fidelity val acc ('NxE@k' = val acc after epoch k of that proxy):")
    print(f"{'proxy score':<14}{'images':>9}{'all (n)':>14}{'top half (n)':>18}")
    for row in doc["spearman"]:
        print(
            f"{row['proxy']:<14}{row['images_seen']:>9,}{fmt(row['rho_all']):>10} ({row['n_all']})"
            f"{fmt(row['rho_top_half']):>13} ({row['n_top_half']})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench/results/proxy-ranking-cpu.json")
    ap.add_argument("--candidates", type=int, default=12, help="number of nets, the known ones included")
    ap.add_argument(
        "--deadline-min", type=float, default=None, help="start no full-fidelity training after this many minutes"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the random arch-space sampler")
    ap.add_argument("--proxies", default="4000x4,8000x4,16000x2", help="proxy stages, SUBSETxEPOCHS")
    ap.add_argument("--full", default="55000x15", help=argparse.SUPPRESS)  # for quick end-to-end tests
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the trainings already in --out (same candidate, same config) and run the rest",
    )
    args = ap.parse_args()
    start = time.time()
    torch.set_num_threads(2)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stages = [parse_stage(s) for s in args.proxies.split(",")]
    full_n, full_e = parse_stage(args.full)

    data = mdata.load(None, val_size=5000)
    cands = candidates(args.candidates, args.seed)
    records = [
        {
            "name": c["name"],
            "params": c["params"],
            "macs": c["macs"],
            "config": c["config"].to_dict(),
            "recipe": c["recipe"].to_dict(),
            "proxies": [],
            "full": None,
        }
        for c in cands
    ]
    doc = {
        "command": shlex.join([sys.executable] + sys.argv),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "proxy_stages": stages,
        "full_stage": [full_n, full_e],
        "deadline_min": args.deadline_min,
        "full_finished": 0,
        "deadline_hit": False,
        "candidates": records,
        "spearman": [],
    }
    out = Path(args.out)
    if args.resume and out.exists():
        # Reuse what an interrupted run finished; a candidate whose config differs is trained anew.
        before = {r["name"]: r for r in json.loads(out.read_text())["candidates"]}
        for r in records:
            old = before.get(r["name"])
            if old and old["config"] == r["config"] and old["recipe"] == r["recipe"]:
                r["proxies"], r["full"] = old["proxies"], old["full"]
        doc["resumed"] = True

    def save():
        doc["full_finished"] = sum(1 for r in records if r["full"])
        doc["elapsed_min"] = round((time.time() - start) / 60, 2)
        doc["spearman"] = spearman_table(records, stages)
        write_json(out, doc)

    print(f"{len(cands)} candidates, proxies {args.proxies}, full {full_n}x{full_e}, out {out}", flush=True)
    for c, r in zip(cands, records):
        for n, e in stages[len(r["proxies"]) :]:
            r["proxies"].append(train(c, data, n, e))
            p = r["proxies"][-1]
            print(
                f"[{(time.time() - start) / 60:6.1f} min] {c['name']:<12} proxy {n}x{e}: "
                f"curve {[round(a, 4) for a in p['curve']]} {p['status']} in {p['seconds']:.0f} s",
                flush=True,
            )
            save()
    for c, r in zip(cands, records):
        if r["full"]:
            continue
        if args.deadline_min is not None and time.time() - start > args.deadline_min * 60:
            doc["deadline_hit"] = True
            print(f"deadline of {args.deadline_min} min passed: no more full-fidelity trainings", flush=True)
            break
        r["full"] = train(c, data, full_n, full_e)
        print(
            f"[{(time.time() - start) / 60:6.1f} min] {c['name']:<12} full {full_n}x{full_e}: "
            f"val acc {r['full']['final_val_acc']:.4f} {r['full']['status']} in {r['full']['seconds']:.0f} s",
            flush=True,
        )
        save()
    save()
    report(doc, stages)


if __name__ == "__main__":
    main()
