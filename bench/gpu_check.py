"""Everything a GPU session measures, in one call of at most 8 minutes (run it through bench/gpu_check.sh).

    bash bench/gpu_check.sh                       # on a GPU machine: <= 8 minutes planned on an H200
    bash bench/gpu_check.sh --device cpu --tiny /tmp/gc   # the same steps at tiny sizes, on a 2-core CPU

Steps, in order of what matters most (each one a subprocess with its own time limit, all of them
within one deadline, so a slow step costs only itself and the steps after it):
  run       the default `mnist-search run --trials 100` (gpu profile on a GPU), wall time timed; its
            confirmation rounds train the answer's seeds (the seed check happens here)
  export    its answer exported: each seed's own weights tested once, nothing retrained
  final     images/s of one final: gap10k (10,414 params, its one-cycle recipe, not compiled, as the
            gpu profile's finals) on all 55,000 training images, 4 of a final's 20 epochs timed (a final's cost per image does not depend on how
            many epochs it runs; 20 would cost a minute of the plan)
  peer      bench/peer_training.py (PyTorch's examples/mnist defaults) on CUDA, 2 of its 14 epochs
            timed; its JSON says the epochs, and the seconds an epoch
  workers   `mnist-search bench --sections workers`: 8 proxy trials with 1, 2, 4 and 8 workers
            sharing the GPU (what the gpu profile's workers_per_gpu is set from)
  compile   `mnist-search bench --sections compile`: CUDA graphs (torch.compile mode reduce-overhead)
            against eager, gap10k, cold compile cost and speed-up
  tests     the quick test suite (pytest -m "not slow") on CUDA; when the deadline cuts it, the
            counts of the tests that ended before are kept
Not in the 8-minute plan, run only when --only names them: seed001 (`mnist-search train --preset
seed001 --epochs 20`), pipeline and precision (the bench's sections); their limits add to 150 s.

The plan's arithmetic, from the one H200 run (2026-12-04, 16 cores, bf16; the check's earlier plan
there: run 199 s, then export's 3-seed retraining cut at 100 s, workers cut after 1 worker, the
rest never started within its 470 s deadline). Seconds planned for each step, and its limit:
  run      193 s in the run, 199 s with the process start (proxy 79, rung 30, finals 71)  199   300
  export   no retraining now (it cost 73 s a seed): data, 3 test passes, the formats;
           not measured without the retraining, so an allowance                          20    35
  final    one 20-epoch final alone took 73 s (1.1 M images, ~15,000 images/s); 4 epochs
           = 220,000 images ~ 15 s, plus the process start and data                        21    30
  peer     12.3 s an epoch on CUDA (6 epochs in 74 s): 2 epochs plus its imports          29    40
  workers  1 worker ran 24 trials in 78 s (~3 s a trial, plus a start): 8 trials at
           1 / 2 / 4 / 8 workers ~ 28 + 17 + 13 + 12                                       70    90
  compile  eager, then a cold reduce-overhead compile of gap10k, two 11,000-image epochs
           each: not measured (the compile is what it measures), an allowance             55    65
  tests    the quick suite on CUDA ran in 72 s                                             72    95
  sum                                                                                     466
within a 470 s deadline: with the device probe and the files written, under 8 minutes in one call
(the machine's start, 1-2 minutes, comes on top, inside a session's 15 minutes). A step's limit
is min(its own, what is left of the deadline). The run's limit leaves it room because the finals'
confirmation rounds came after that run: each further round costs about one final (55-58 s with 4
workers busy), and what the run takes beyond 199 s comes out of the last steps (the tests first,
whose counts so far are kept).

Writes OUT/gpu-check.json (every step: command, exit code, wall time, figures) and OUT/gpu-run.json
(device, trials, wall_s, params, val_acc_seeds, val_acc_mean, test_acc_mean, peer_wall_s,
final_images_per_s, ...) after each step, so a check cut short keeps what it measured. OUT is
bench/results unless --out or --tiny names another folder; logs go to OUT/gpu-check-logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = {"full": 470, "tiny": 285}  # under 8 (GPU) and 5 (tiny CPU) minutes with the probe and files

# Each step: (time limit in seconds full, tiny), in the order they run; the arguments are built in
# steps(). PLAN runs by default; EXTRA only when --only names them.
LIMITS = {
    "run": (300, 110),
    "export": (35, 60),
    "final": (30, 40),
    "peer": (40, 40),
    "workers": (90, 60),
    "compile": (65, 120),  # tiny: a cold torch.compile on a busy 2-core CPU took over 60 s
    "tests": (95, 60),
    "seed001": (60, 40),
    "pipeline": (45, 30),
    "precision": (45, 30),
}
PLAN = ("run", "export", "final", "peer", "workers", "compile", "tests")
EXTRA = ("seed001", "pipeline", "precision")
FINAL_EPOCHS = 4  # of a final's 20, timed for its images/s
PEER_EPOCHS = 2  # of the peer's 14, timed for its seconds an epoch


def steps(device: str, tiny: bool, work: Path, out: Path) -> list[tuple[str, list[str]]]:
    """(name, command) of every step, PLAN then EXTRA."""
    py = [sys.executable]
    db = f"sqlite:///{work / 'study' / 'mnist.db'}"
    dev = ["--device", device]
    logs = out / "gpu-check-logs"
    if tiny:
        # The gpu profile's own logic is tested in tests/test_gpu_profile.py; here each step runs once,
        # as small as it goes (validation on a few hundred images), to prove the plumbing. The target is
        # low, so that the answer's net is confirmed with 2 seeds and export tests both. The run already
        # starts worker processes (2 on 2 cores), so the workers step times one worker alone.
        tests = ["tests/test_gpu_profile.py", "-m", "not slow", "-k", "gpu_profile_is_chosen or workers_auto_shares"]
        run = [
            *("--trials", "3", "--profile", "gpu", "--subset", "200", "--epochs", "2", "--max-params", "11000"),
            *("--finals", "1", "--final-epochs", "1", "--final-subset", "400", "--val-size", "300"),
            *("--target-acc", "0.1", "--confirm-seeds", "2"),
        ]
        export = ["--profile", "gpu", "--format", "pt"]
        final = ["--epochs", "1", "--subset", "300", "--val-size", "300"]
        peer = ["--limit", "200"]
        train = ["--epochs", "1", "--subset", "300", "--val-size", "300", "--compile", "off"]
        small = ["--val-size", "200"]
        bench = {
            "workers": [
                *("--trials", "2", "--layouts", "1", "--study-profile", "gpu", "--trial-subset", "200"),
                *("--trial-epochs", "1", "--section-precisions", "fp32", *small),
            ],
            "compile": ["--compile-images", "256", "--compile-modes", "graphs", "--section-precisions", "fp32", *small],
            "pipeline": ["--images", "128", *small],
            "precision": ["--epoch-images", "256", "--repeats", "1", *small],
        }
    else:
        tests = ["-m", "not slow"]
        run, export, final, peer, train = (
            ["--trials", "100"],
            [],
            ["--epochs", str(FINAL_EPOCHS)],
            [],
            ["--epochs", "20"],
        )
        bench = {
            "workers": ["--trials", "8", "--layouts", "1,2,4,8"],
            "compile": ["--compile-images", "11000", "--compile-modes", "graphs", "--section-precisions", "auto"],
            "pipeline": ["--images", "20000"],
            "precision": ["--epoch-images", "20000", "--repeats", "2"],
        }
    search = [*py, "-m", "search"]
    found = {
        "run": [*search, "run", "--storage", db, "--no-progress", *dev, *run],
        "export": [*search, "export", "--storage", db, "--out", str(work / "model"), *dev, *export],
        # A final: gap10k with the run's final recipe family, not compiled (the gpu profile compiles nothing).
        "final": [
            *(*search, "train", "--preset", "gap10k", "--compile", "off", "--no-progress"),
            *("--out", str(work / "final"), *dev, *final),
        ],
        "peer": [
            *(*py, str(REPO / "bench" / "peer_training.py"), "--epochs", str(PEER_EPOCHS)),
            *("--out", str(logs / "peer.json"), *dev, *peer),
        ],
        "tests": [*py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        "seed001": [
            *(*search, "train", "--preset", "seed001", "--no-progress", "--out", str(work / "seed001")),
            *dev,
            *train,
        ],
    }
    for section, extra in bench.items():
        found[section] = [
            *(*search, "bench", "--sections", section, *dev),
            *("--out", str(logs / f"bench-{section}.json"), *extra),
        ]
    return [(name, found[name]) for name in (*PLAN, *EXTRA)]


def device_name(device: str) -> str:
    """The GPU's name (asked in a child process, so this one holds no CUDA context), or the CPU's."""
    if device.startswith("cuda"):
        probe = subprocess.run(
            [sys.executable, "-c", "import torch; print(torch.cuda.get_device_name(0))"],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
        return "CUDA device (name unavailable)"
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU ({os.cpu_count()} cores, {model})"


def pytest_counts(text: str) -> dict:
    """{"passed": n, "failed": n, ...} from pytest's summary line; without one (a run cut short), from
    its progress lines (`..F.E [ 26%]`), marked "partial"."""
    lines = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    if lines:
        return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", lines[-1])}
    marks = "".join(
        m.group(1) for line in text.splitlines() if (m := re.fullmatch(r"([.FEsxX]+)\s*(\[\s*\d+%\])?", line.strip()))
    )
    if not marks:
        return {}
    found = {"passed": marks.count("."), "failed": marks.count("F"), "errors": marks.count("E")}
    found |= {"skipped": marks.count("s")} if "s" in marks else {}
    return found | {"partial": True}


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def figures(name: str, work: Path, out: Path, log_text: str) -> dict | None:
    """What a step produced, read from its files (or, for a workers step cut short, from its log)."""
    logs = out / "gpu-check-logs"
    if name == "export":
        card = read_json(work / "model" / "card.json")
        if card is None:
            return None
        keep = (
            *("trial", "stage", "params", "macs", "val_acc", "val_acc_seeds", "val_acc_mean", "confirmed"),
            *("test_acc", "test_acc_seeds", "test_acc_mean", "seed_check", "trained_precision"),
        )
        return {k: card[k] for k in keep if k in card}
    if name in ("final", "seed001"):
        m = read_json(work / name / "metrics.json")
        if m is None:
            return None
        history = m.get("history") or []
        images = sum(h.get("images", 0) for h in history)
        got = {k: m.get(k) for k in ("params", "precision", "compiled", "train_images", "seconds")}
        got |= {"epochs": len(history), "val_acc": (m.get("val_acc") or [None])[-1]}
        if name == "seed001":
            return got | {"test_acc": m.get("test_acc")}
        train_s = sum(h.get("train_seconds", 0.0) for h in history)
        return got | {
            "images": images,
            # the whole fit (its training steps, the weight average, each epoch's validation pass)
            "images_per_s": round(images / m["seconds"]) if m.get("seconds") else None,
            "train_images_per_s": round(images / train_s) if train_s else None,  # the step loops alone
        }
    if name == "peer":
        peer = read_json(logs / "peer.json")
        if peer is None:
            return None
        return peer | {"s_per_epoch": round(peer["train_s"] / peer["epochs"], 1)}
    if name in ("pipeline", "precision", "compile", "workers"):
        got = read_json(logs / f"bench-{name}.json")
        if got is None and name == "workers":  # cut short: the layouts measured before the cut
            rows = re.findall(r"^\s*(\d+) workers: (\d+)s, (\d+) trials/hour", log_text, re.M)
            if rows:
                return {
                    "workers": [{"workers": int(w), "wall_s": int(t), "trials_per_hour": int(h)} for w, t, h in rows]
                }
        return got
    return None


def gpu_run(report: dict) -> dict:
    """gpu-run.json: the run, its exported answer (seeds and means from its model card), the peer and
    one final's images/s, as measured (None: not measured)."""
    st = report["steps"]
    ok = lambda name: st.get(name, {}).get("status") == "ok"  # noqa: E731
    got = lambda name: st.get(name, {}).get("figures") or {}  # noqa: E731
    run, card, peer, final = st.get("run", {}), got("export"), got("peer"), got("final")
    trials = re.search(r"--trials (\d+)", run.get("cmd", ""))
    val_seeds = card.get("val_acc_seeds") or ([card["val_acc"]] if "val_acc" in card else None)
    test_seeds = card.get("test_acc_seeds") or ([card["test_acc"]] if "test_acc" in card else None)
    return {
        "device": report["device"],
        "trials": int(trials.group(1)) if trials else None,
        "wall_s": run.get("wall_s") if ok("run") else None,
        "params": card.get("params"),
        "val_acc_seeds": val_seeds,
        "val_acc_mean": card.get("val_acc_mean", val_seeds[0] if val_seeds else None),
        "test_acc": card.get("test_acc"),
        "test_acc_seeds": test_seeds,
        "test_acc_mean": card.get("test_acc_mean", test_seeds[0] if test_seeds else None),
        # the peer: only the epochs timed, as timed (its whole process, and the seconds an epoch)
        "peer_epochs": peer.get("epochs") if ok("peer") else None,
        "peer_wall_s": peer.get("wall_s") if ok("peer") else None,
        "peer_s_per_epoch": peer.get("s_per_epoch") if ok("peer") else None,
        "final_epochs": final.get("epochs") if ok("final") else None,
        "final_images_per_s": final.get("images_per_s") if ok("final") else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", metavar="OUT", help="tiny sizes (a 2-core CPU in <= 5 minutes), files under OUT")
    ap.add_argument("--out", metavar="DIR", help="folder of gpu-check.json and gpu-run.json (default bench/results)")
    ap.add_argument(
        "--only",
        metavar="LIST",
        help=f"run only these steps (comma list, in the plan's order), e.g. run,export; also {','.join(EXTRA)}",
    )
    args = ap.parse_args(argv)
    tiny = args.tiny is not None
    out = Path(args.tiny or args.out or REPO / "bench" / "results").resolve()
    only = args.only.split(",") if args.only else list(PLAN)
    unknown = [n for n in only if n not in LIMITS]
    if unknown:
        ap.error(f"--only: unknown step(s) {', '.join(unknown)}; steps: {', '.join((*PLAN, *EXTRA))}")
    logs = out / "gpu-check-logs"
    logs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-", dir=out if tiny else None))
    deadline = time.monotonic() + DEADLINE_S["tiny" if tiny else "full"]
    start = time.monotonic()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "device": device_name(args.device),
        "device_type": args.device,
        "tiny": tiny,
        "work": str(work),
        "python": platform.python_version(),
        "deadline_s": DEADLINE_S["tiny" if tiny else "full"],
        "steps": {},
    }

    def save() -> None:
        report["wall_s"] = round(time.monotonic() - start, 1)
        report["gpu_run"] = gpu_run(report)
        (out / "gpu-check.json").write_text(json.dumps(report, indent=2))
        (out / "gpu-run.json").write_text(json.dumps(report["gpu_run"], indent=2) + "\n")

    print(f"gpu check on {report['device']} ({'tiny' if tiny else 'full'} sizes); files in {out}", flush=True)
    for name, cmd in steps(args.device, tiny, work, out):
        if name not in only:
            continue
        left = deadline - time.monotonic()
        limit = min(LIMITS[name][1 if tiny else 0], left)
        shown = cmd[1:] if cmd[1] == "-m" else [str(Path(cmd[1]).relative_to(REPO)), *cmd[2:]]
        step = {"cmd": " ".join(shown), "limit_s": round(limit), "log": str(logs / f"{name}.log")}
        report["steps"][name] = step
        if limit < 5:
            step["status"] = "skipped: the check's deadline was reached"
            print(f"{name}: skipped (deadline)", flush=True)
            save()
            continue
        if name == "tests" and subprocess.run([sys.executable, "-c", "import pytest"], capture_output=True).returncode:
            step["status"] = (
                "skipped: pytest is not installed (on the GPU machine, build .device with "
                "DEVICE_EXTRA_WHEELS='pytest pluggy iniconfig pygments')"
            )
            print(f"{name}: {step['status']}", flush=True)
            save()
            continue
        t0 = time.monotonic()
        with open(logs / f"{name}.log", "w") as log:
            try:
                rc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=limit).returncode
            except subprocess.TimeoutExpired:
                rc = None
        step["wall_s"] = round(time.monotonic() - t0, 1)
        step["rc"] = rc
        step["status"] = "timed out" if rc is None else "ok" if rc == 0 else "failed"
        text = Path(step["log"]).read_text(errors="replace")
        step["tail"] = text.strip().splitlines()[-8:]
        if name == "tests":
            step["counts"] = pytest_counts(text)
        got = figures(name, work, out, text) if rc == 0 or name == "workers" else None
        if got is not None:
            step["figures"] = got
        counts = f" ({step['counts']})" if name == "tests" else ""
        print(f"{name}: {step['status']} in {step['wall_s']}s{counts}", flush=True)
        save()
    save()
    failed = [n for n, s in report["steps"].items() if s.get("status") != "ok"]
    print(
        f"done in {report['wall_s']}s: {out / 'gpu-check.json'}, {out / 'gpu-run.json'}"
        + (f"; not ok: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
