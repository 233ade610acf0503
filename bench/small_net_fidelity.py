"""Which cheap training tells the small nets that reach the target at full fidelity from those that stop
short? The proxy (8,000 images x 4 epochs, one seed) scored both kinds alike (bench/RESULTS.md).

Each net is given by the trial parameters of the `arch` space (from an exported model's card.json, or
from a study's trial), with what is known of it at full fidelity. Every net trains at every fidelity
given (N images x E epochs) with every seed, its own recipe with the one-cycle schedule stretched over
E epochs; one JSON line per training (validation accuracy only: the test set is never read). Run two
copies side by side, one thread each, with --part 0/2 and --part 1/2.

    .venv/bin/python bench/small_net_fidelity.py NETS.json --fidelity 8000x4 20000x8 --seeds 0 1 2 \
        --part 0/2 --out bench/results/small-net-fidelity.jsonl

NETS.json: [{"label": ..., "params": {...}} | {"label": ..., "card": PATH} | {"label": ..., "storage": URL,
"study": NAME, "trial": N}, each with "full": [full-fidelity validation accuracies seen so far]];
`--resolve FILE` writes NETS.json with every net's parameters written out (a file that needs no study). `--summary` reads the JSON lines
back and prints each net's mean per fidelity beside its full-fidelity mean, and Spearman's rank
correlation between them.
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
from search.engine import spearman  # noqa: E402
from space.arch import ArchSpace  # noqa: E402


def trial_params(net: dict) -> dict:
    if "params" in net:
        return net["params"]
    if "card" in net:
        return json.loads(Path(net["card"]).read_text())["trial_params"]
    study = optuna.load_study(study_name=net["study"], storage=net["storage"])
    return study.trials[net["trial"]].params


def train(args) -> None:
    torch.set_num_threads(1)
    nets = json.loads(Path(args.nets).read_text())
    index, parts = (int(x) for x in args.part.split("/"))
    data = mdata.load()
    jobs = [(net, f, s) for net in nets for f in args.fidelity for s in args.seeds]
    for net, fidelity, seed in jobs[index::parts]:
        images, epochs = (int(x) for x in fidelity.split("x"))
        config, recipe = ArchSpace().sample(optuna.trial.FixedTrial(trial_params(net)))
        recipe = recipe.replace(epochs=epochs, seed=seed)
        start = time.perf_counter()
        result = fit(config, recipe, data.subset(images), torch.device("cpu"), precision="auto", log=lambda *_: None)
        row = {
            "label": net["label"],
            "params": trace(config).params,
            "fidelity": fidelity,
            "seed": seed,
            "val_acc": result.final_val_acc,
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


def summary(args) -> None:
    nets = {n["label"]: n for n in json.loads(Path(args.nets).read_text())}
    rows = [json.loads(line) for line in Path(args.out).read_text().splitlines() if line.strip()]
    fidelities = sorted({r["fidelity"] for r in rows}, key=lambda f: [int(x) for x in f.split("x")])
    means = {}
    for label in nets:
        for f in fidelities:
            accs = [r["val_acc"] for r in rows if r["label"] == label and r["fidelity"] == f]
            if accs:
                means[label, f] = (statistics.mean(accs), statistics.pstdev(accs), len(accs))
    full = {label: statistics.mean(n["full"]) for label, n in nets.items()}
    head = ["net", "full-fidelity val (mean, n)"] + [f"{f} mean ± std (n)" for f in fidelities]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |")
    for label, net in sorted(nets.items(), key=lambda kv: -full[kv[0]]):
        cells = [label, f"{100 * full[label]:.2f} % ({len(net['full'])})"]
        for f in fidelities:
            m = means.get((label, f))
            cells.append(f"{100 * m[0]:.2f} ± {100 * m[1]:.2f} % ({m[2]})" if m else "-")
        print("| " + " | ".join(cells) + " |")
    for f in fidelities:
        labels = [label for label in nets if (label, f) in means]
        rho = spearman([means[label, f][0] for label in labels], [full[label] for label in labels])
        seed0 = {r["label"]: r["val_acc"] for r in rows if r["fidelity"] == f and r["seed"] == 0 and r["label"] in nets}
        rho0 = spearman(list(seed0.values()), [full[label] for label in seed0])
        print(
            f"{f}: Spearman against full fidelity {fmt(rho)} (mean over seeds), {fmt(rho0)} (seed 0 alone); "
            f"pairs ordered right, a net reaching {100 * TARGET:.2f} % against one that does not: "
            f"{pairs_right({k: means[k, f][0] for k in labels}, full)} (mean), {pairs_right(seed0, full)} (seed 0)"
        )


TARGET = 0.994


def fmt(rho) -> str:
    return "n/a" if rho is None else f"{rho:+.2f}"


def pairs_right(score: dict, full: dict) -> str:
    """Of all (reaching, short) pairs of nets, how many the cheap score puts the right way round."""
    good = [k for k in score if full[k] >= TARGET]
    bad = [k for k in score if full[k] < TARGET]
    right = sum(score[g] > score[b] for g in good for b in bad)
    return f"{right}/{len(good) * len(bad)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nets")
    ap.add_argument("--fidelity", nargs="+", default=["8000x4"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--part", default="0/1")
    ap.add_argument("--out", default="bench/results/small-net-fidelity.jsonl")
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--resolve", metavar="FILE")
    args = ap.parse_args()
    if args.resolve:
        nets = [{**n, "params": trial_params(n)} for n in json.loads(Path(args.nets).read_text())]
        nets = [{k: v for k, v in n.items() if k not in ("card", "storage", "study", "trial")} for n in nets]
        Path(args.resolve).write_text(json.dumps(nets, indent=1) + "\n")
    elif args.summary:
        summary(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
