"""Everything a GPU session measures, in one go (run it through bench/gpu_check.sh).

    bash bench/gpu_check.sh                       # on a GPU machine: <= 8 minutes planned on an H100
    bash bench/gpu_check.sh --device cpu --tiny /tmp/gc   # the same steps at tiny sizes, on a 2-core CPU

Steps, in order of what matters most (each one a subprocess with its own time limit, all of them
within one deadline, so a slow step costs only itself):
  tests     the quick test suite (pytest -m "not slow"), on CUDA when there is one
  run       the default `mnist-search run --trials 100` (gpu profile on a GPU), wall time timed
  export    its answer exported (the gpu profile also retrains it with 3 seeds: the seed check)
  seed001   `mnist-search train --preset seed001 --epochs 20` with its own recipe
  pipeline, precision, compile, workers
            the bench's GPU sections: our trainer against the source pipeline (with peak GPU
            memory), bf16 against fp32, torch.compile and CUDA graphs against eager, 1/2/4/8
            workers sharing the GPU
Writes OUT/gpu-check.json (every step: command, exit code, wall time, figures) after each step, and
OUT/gpu-run.json ({device, trials, wall_s, params, test_acc}) from the run and its export. OUT is
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
DEADLINE_S = {"full": 470, "tiny": 285}  # leaves a margin within 8 (GPU) and 5 (tiny CPU) minutes

# Each step: (name, time limit in seconds full, tiny). The arguments are built in steps().
# The run and its export come first and get the most room: gpu-run.json needs both. On a shared,
# busy machine the later steps are the ones the deadline cuts ("skipped" in gpu-check.json).
LIMITS = {
    "tests": (110, 40),
    "run": (240, 110),
    "export": (100, 80),
    "seed001": (60, 40),
    "pipeline": (45, 30),
    "precision": (45, 30),
    "compile": (90, 60),
    "workers": (150, 50),
}


def steps(device: str, tiny: bool, work: Path, out: Path) -> list[tuple[str, list[str]]]:
    py = [sys.executable]
    db = f"sqlite:///{work / 'study' / 'mnist.db'}"
    dev = ["--device", device]
    if tiny:
        # The gpu profile's own logic is tested in tests/test_gpu_profile.py; here each step runs once,
        # as small as it goes (validation on a few hundred images), to prove the plumbing.
        tests = ["-m", "not slow", "-k", "gpu_profile and not study and not export and not bench and not compile"]
        run = [
            "--trials",
            "3",
            "--profile",
            "gpu",
            "--subset",
            "200",
            "--epochs",
            "2",
            "--max-params",
            "11000",
            "--finals",
            "1",
            "--final-epochs",
            "1",
            "--final-subset",
            "400",
            "--val-size",
            "300",
        ]
        export = ["--profile", "gpu", "--seed-check", "1", "--subset", "400", "--epochs", "1", "--format", "pt"]
        train = ["--epochs", "1", "--subset", "300", "--val-size", "300", "--compile", "off"]
        small = ["--val-size", "200"]
        bench = {
            "pipeline": ["--images", "128", *small],
            "precision": ["--epoch-images", "256", "--repeats", "1", *small],
            "compile": ["--compile-images", "256", "--compile-modes", "graphs", "--section-precisions", "fp32", *small],
            "workers": [
                "--trials",
                "2",
                "--layouts",
                "1,2",
                "--study-profile",
                "gpu",
                "--trial-subset",
                "200",
                "--trial-epochs",
                "1",
                "--section-precisions",
                "fp32",
                *small,
            ],
        }
    else:
        tests = ["-m", "not slow"]
        run, export, train = ["--trials", "100"], [], ["--epochs", "20"]
        bench = {
            "pipeline": ["--images", "20000"],
            "precision": ["--epoch-images", "20000", "--repeats", "2"],
            "compile": [
                "--compile-images",
                "11000",
                "--compile-modes",
                "default,graphs",
                "--section-precisions",
                "auto",
            ],
            "workers": ["--trials", "24", "--layouts", "1,2,4,8"],
        }
    found = [
        ("tests", [*py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]),
        ("run", [*py, "-m", "search", "run", "--storage", db, "--no-progress", *dev, *run]),
        ("export", [*py, "-m", "search", "export", "--storage", db, "--out", str(work / "model"), *dev, *export]),
        (
            "seed001",
            [
                *py,
                "-m",
                "search",
                "train",
                "--preset",
                "seed001",
                "--no-progress",
                "--out",
                str(work / "seed001"),
                *dev,
                *train,
            ],
        ),
    ]
    for section, extra in bench.items():
        found.append(
            (
                section,
                [
                    *py,
                    "-m",
                    "search",
                    "bench",
                    "--sections",
                    section,
                    *dev,
                    "--out",
                    str(out / "gpu-check-logs" / f"bench-{section}.json"),
                    *extra,
                ],
            )
        )
    return found


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
    """{"passed": n, "failed": n, ...} from pytest's summary line."""
    lines = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    if not lines:
        return {}
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", lines[-1])}


def figures(name: str, work: Path, out: Path) -> dict | None:
    """What a finished step produced, read from its files."""
    try:
        if name == "export":
            card = json.loads((work / "model" / "card.json").read_text())
            keep = ("trial", "stage", "params", "macs", "val_acc", "test_acc", "seed_check", "trained_precision")
            return {k: card.get(k) for k in keep}
        if name == "seed001":
            m = json.loads((work / "seed001" / "metrics.json").read_text())
            return {k: m.get(k) for k in ("params", "test_acc", "precision", "compiled", "train_images")} | {
                "epochs": len(m.get("val_acc", [])),
                "val_acc": (m.get("val_acc") or [None])[-1],
            }
        if name in ("pipeline", "precision", "compile", "workers"):
            return json.loads((out / "gpu-check-logs" / f"bench-{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", metavar="OUT", help="tiny sizes (a 2-core CPU in <= 5 minutes), files under OUT")
    ap.add_argument("--out", metavar="DIR", help="folder of gpu-check.json and gpu-run.json (default bench/results)")
    ap.add_argument("--only", metavar="LIST", help="run only these steps (comma list), e.g. run,export")
    args = ap.parse_args(argv)
    tiny = args.tiny is not None
    out = Path(args.tiny or args.out or REPO / "bench" / "results").resolve()
    logs = out / "gpu-check-logs"
    logs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-", dir=out if tiny else None))
    deadline = time.monotonic() + DEADLINE_S["tiny" if tiny else "full"]
    only = set(args.only.split(",")) if args.only else None
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "device": device_name(args.device),
        "device_type": args.device,
        "tiny": tiny,
        "work": str(work),
        "python": platform.python_version(),
        "steps": {},
    }
    start = time.monotonic()

    def save() -> None:
        report["wall_s"] = round(time.monotonic() - start, 1)
        (out / "gpu-check.json").write_text(json.dumps(report, indent=2))

    print(f"gpu check on {report['device']} ({'tiny' if tiny else 'full'} sizes); files in {out}", flush=True)
    for name, cmd in steps(args.device, tiny, work, out):
        if only and name not in only:
            continue
        left = deadline - time.monotonic()
        limit = min(LIMITS[name][1 if tiny else 0], left)
        step = {"cmd": " ".join(cmd[1:]), "limit_s": round(limit), "log": str(logs / f"{name}.log")}
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
        got = figures(name, work, out) if rc == 0 else None
        if got is not None:
            step["figures"] = got
        counts = f" ({step['counts']})" if name == "tests" else ""
        print(f"{name}: {step['status']} in {step['wall_s']}s{counts}", flush=True)
        save()
    run, export = report["steps"].get("run", {}), report["steps"].get("export", {})
    card = export.get("figures") or {}
    trials = re.search(r"--trials (\d+)", run.get("cmd", ""))
    summary = {
        "device": report["device"],
        "trials": int(trials.group(1)) if trials else None,
        "wall_s": run.get("wall_s") if run.get("status") == "ok" else None,
        "params": card.get("params"),
        "test_acc": card.get("test_acc"),
    }
    report["gpu_run"] = summary
    save()
    (out / "gpu-run.json").write_text(json.dumps(summary, indent=2) + "\n")
    failed = [n for n, s in report["steps"].items() if s.get("status") != "ok"]
    print(
        f"done in {report['wall_s']}s: {out / 'gpu-check.json'}, {out / 'gpu-run.json'}"
        + (f"; not ok: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
