"""`mnist-search bench`: how fast training, studies and exported models are on this machine.

Sections (all by default; `--sections` picks some), each printed as a table with ratios against fp32
and against the previous defaults (fp32, one worker with all cores, no torch.compile):
- pipeline: our trainer against the source projects' DataLoader pipeline (search.benchmarks.pipeline);
- precision: whole training epochs in fp32 and bf16 autocast, run in turns side by side
  (search.benchmarks.precision);
- accuracy: with --accuracy-seeds K, nets trained on all images in both precisions, K seeds each;
- compile: torch.compile's one-off cost against its per-epoch gain (search.benchmarks.compiled);
- inference: the exported model's CPU latency and throughput (search.exporting);
- workers: trials per hour of the default run for worker/thread layouts (search.benchmarks.parallel);
  on a GPU, 1, 2, 4 and 8 workers sharing it.
On a GPU each training is timed up to a torch.cuda.synchronize(), and the pipeline section records
each side's peak GPU memory.
- storage (only when asked for): trials per second through the storage layer, trials that do not train,
  1 to 64 workers on SQLite, PostgreSQL and PostgreSQL behind the gRPC proxy (search.benchmarks.storage).
Figures are written as JSON; no test asserts a timing (these machines are shared and noisy).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from mnistnet import data as mdata
from mnistnet.model import build, count_params
from mnistnet.precision import resolve as precision_of
from mnistnet.train import GRAPHS_MODE

from ...engine import profiles
from ...api import describe_precision, resolve_device
from ...benchmarks import compiled, parallel, pipeline, precision
from ...errors import BadArgument
from ...settings import STUDIES_DIR

SECTIONS = ("pipeline", "precision", "accuracy", "compile", "inference", "workers", "storage")
TRAIN_IMAGES = 55_000


def sections(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        raise BadArgument(f"unknown bench section {', '.join(unknown) or '(empty)'}: choose from {', '.join(SECTIONS)}")
    return chosen


def say(text: str = "") -> None:
    print(text, flush=True)


def measure_pipeline(result, data, device, root, args) -> None:
    gpu = device.type == "cuda"
    images = {
        "seed001": 55_000 if gpu else 2_000,
        "seed002": 55_000 if gpu else 10_000,
        "arch-typical": 55_000 if gpu else 5_000,
    }
    if args.images:
        images = {k: args.images for k in images}
    say(f"\n== pipeline: our trainer ({result['precision']}) against the source projects' DataLoader pipeline ==")
    say(
        f"{'model':<14}{'params':>8}{'images':>8}{'ours img/s':>12}{'epoch s':>9}{'source img/s':>14}"
        f"{'epoch s':>9}{'ratio':>7}"
    )
    result["models"] = []
    for name, config, recipe in pipeline.models():
        n = images[name]
        pipeline.ours(config, recipe, data, min(n, 2 * recipe.batch_size), device, args.precision)  # warm-up
        with peak_memory(device) as ours_mb:
            fast = pipeline.ours(config, recipe, data, n, device, args.precision)
        with peak_memory(device) as source_mb:
            slow = pipeline.source_pipeline(config, recipe, root, n, device)
        row = {
            "model": name,
            "params": count_params(config),
            "images": n,
            "ours_img_s": round(fast),
            "ours_epoch_s": round(TRAIN_IMAGES / fast, 1),
            "source_img_s": round(slow),
            "source_epoch_s": round(TRAIN_IMAGES / slow, 1),
            "ratio": round(fast / slow, 2),
            "ours_peak_gpu_mb": ours_mb.get("mb"),
            "source_peak_gpu_mb": source_mb.get("mb"),
        }
        result["models"].append(row)
        say(
            f"{name:<14}{row['params']:>8,}{n:>8,}{row['ours_img_s']:>12,}{row['ours_epoch_s']:>9}"
            f"{row['source_img_s']:>14,}{row['source_epoch_s']:>9}{row['ratio']:>7}"
        )
    if args.profile and not gpu:
        result["cpu_profile_arch_typical"] = pipeline.profile_cpu(
            pipeline.ARCH_TYPICAL, pipeline.ARCH_RECIPE, data, 2000
        )
        say(result["cpu_profile_arch_typical"])


class peak_memory:
    """Peak GPU memory allocated by torch inside the block, in MB ({"mb": ...}; None off CUDA)."""

    def __init__(self, device):
        self.cuda, self.found = device.type == "cuda", {"mb": None}

    def __enter__(self) -> dict:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self.found

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.found["mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def measure_precision(result, data, device, args) -> None:
    from space.known import base_net

    n = args.epoch_images or TRAIN_IMAGES
    say(
        f"\n== precision: whole training epochs of {n:,} images, fp32 against bf16 autocast, "
        f"{args.repeats} pair(s) each (medians) =="
    )
    say(
        f"{'net':<10}{'params':>8}{'fp32 img/s':>12}{'bf16 img/s':>12}{'fp32 epoch s':>14}{'bf16 epoch s':>14}"
        f"{'bf16/fp32':>11}  pairs"
    )
    result["precision_speed"] = []
    subset = data.subset(n)
    for name in precision.SPEED_NETS:
        config, recipe = base_net(name)
        precision.warm_up(config, recipe, data.subset(4 * recipe.batch_size), device)
        row = {
            "net": name,
            "params": count_params(config),
            "images": n,
            **precision.paired_speed(config, recipe, subset, device, args.repeats),
        }
        result["precision_speed"].append(row)
        fp32, bf16 = row["fp32"], row["bf16"]
        say(
            f"{name:<10}{row['params']:>8,}{fp32['img_s']:>12,}{bf16['img_s']:>12,}{fp32['epoch_s']:>14}"
            f"{bf16['epoch_s']:>14}{row['speedup']:>10}x  {', '.join(f'{r}x' for r in row['speedup_runs'])}"
        )


def measure_accuracy(result, data, device, args) -> None:
    from space.known import base_net

    if not args.accuracy_seeds:
        result["precision_accuracy"] = "not measured (pass --accuracy-seeds K)"
        return
    epochs = f"{args.accuracy_epochs} epochs" if args.accuracy_epochs else "their recipes' epochs"
    say(
        f"\n== accuracy: {', '.join(precision.ACCURACY_NETS)} on {len(data.train):,} images x {epochs}, fp32 "
        f"and bf16, {args.accuracy_seeds} seeds each (validation scored in fp32) =="
    )
    cache = Path(args.accuracy_cache) if args.accuracy_cache else None
    found = precision.accuracy_check(
        precision.ACCURACY_NETS,
        args.accuracy_seeds,
        data,
        device,
        base_net,
        log=say,
        cache=cache,
        epochs=args.accuracy_epochs,
    )
    result["precision_accuracy"] = found
    for net, f in found.items():
        s = f["summary"]
        say(
            f"{net}: fp32 {s['fp32']['mean']:.2%} ± {s['fp32']['std']:.2%}, bf16 {s['bf16']['mean']:.2%} ± "
            f"{s['bf16']['std']:.2%}; difference {s['difference']:+.2%} "
            f"({'within' if s['within_spread'] else 'OUTSIDE'} the seeds' spread)"
        )


def measure_compile(result, data, device, args) -> None:
    from space.known import base_net

    n = args.compile_images
    modes = compile_modes(args.compile_modes or ("default,graphs" if device.type == "cuda" else "default"))
    say(f"\n== compile: torch.compile ({', '.join(modes)}) against eager, gap10k, two epochs of {n:,} images ==")
    config, recipe = base_net("gap10k")
    rows = []
    for p in measured_precisions(args):
        if rows and precision_of(p, device) in {r["precision"] for r in rows}:
            continue
        for row in compiled.measure_modes(
            config, recipe, data.subset(n), device, p, [COMPILE_MODES[m] for m in modes], log=say
        ):
            rows.append(row)
            payback = (
                f"pays back after {row['payback_images']:,} images "
                f"({row['payback_images'] / TRAIN_IMAGES:.1f} epochs of 55k)"
                if row["payback_images"]
                else "never pays back"
                if row["compiled"]
                else "could not compile"
            )
            say(
                f"{row['precision']} {row['mode']}: eager {row['eager_img_s']:,} img/s, compiled "
                f"{row['compiled_img_s']:,} img/s ({row['speedup']}x), compile {row['compile_s']}s; {payback}"
            )
    result["compile"] = rows


COMPILE_MODES = {"default": None, "graphs": GRAPHS_MODE}  # graphs: CUDA graphs on a GPU


def measured_precisions(args) -> list[str]:
    """The compile and workers sections' precisions: --section-precisions, else fp32 and --precision."""
    if not args.section_precisions:
        return ["fp32", args.precision] if args.precision != "fp32" else ["fp32"]
    chosen = [p.strip() for p in args.section_precisions.split(",") if p.strip()]
    if not chosen or set(chosen) - {"auto", "fp32", "bf16"}:
        raise BadArgument(
            f"--section-precisions takes a comma list of auto, fp32, bf16, got {args.section_precisions!r}"
        )
    return chosen


def compile_modes(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(COMPILE_MODES))
    if unknown or not chosen:
        raise BadArgument(
            f"unknown compile mode {', '.join(unknown) or '(empty)'}: choose from {', '.join(COMPILE_MODES)}"
        )
    return chosen


def worker_counts(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        counts = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise BadArgument(f"--layouts takes worker counts such as 1,2,4,8, got {text!r}")
    return counts


def study_args(args) -> list[str]:
    """The measured runs' settings beyond the default: a profile, a smaller proxy (quick checks)."""
    extra = ["--profile", args.study_profile]
    if args.trial_subset:
        extra += ["--subset", str(args.trial_subset)]
    if args.trial_epochs:
        extra += ["--epochs", str(args.trial_epochs)]
    if args.val_size:
        extra += ["--val-size", str(args.val_size)]
    return extra


def measure_inference(result, args) -> None:
    from space.known import base_net

    from ...exporting import runtimes, write_formats

    config, _ = base_net("gap10k")
    torch.manual_seed(0)
    model = build(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        write_formats(model, Path(tmp), ("torchscript", "onnx"))
        figures = runtimes(Path(tmp), model)
    result["inference"] = {"net": "gap10k", **figures}
    say(f"\n== inference: gap10k exported, CPU, {figures['threads']} threads ==")
    say(f"{'runtime':<13}{'ms/image @1':>13}{'img/s @256':>12}{'vs pytorch @1':>15}{'@256':>7}")
    base = figures.get("pytorch")
    for name, f in figures.items():
        if isinstance(f, dict):
            say(
                f"{name:<13}{f['latency_ms_batch1']:>13.3f}{f['img_s_batch256']:>12,}"
                f"{base['latency_ms_batch1'] / f['latency_ms_batch1']:>14.2f}x"
                f"{f['img_s_batch256'] / base['img_s_batch256']:>6.2f}x"
            )
        elif isinstance(f, str):
            say(f"{name:<13}{f}")


def measure_workers(result, device, args) -> None:
    if not args.trials:
        result["workers"] = "not measured (--trials 0)"
        return
    cores = os.cpu_count() or 1
    extra = study_args(args)
    if device.type == "cuda":
        counts = worker_counts(args.layouts) or list(parallel.GPU_LAYOUTS)
        say(
            f"\n== workers: {args.trials} proxy trials with {', '.join(map(str, counts))} workers sharing the GPU "
            f"({' '.join(extra)}) =="
        )
        rows = []
        for w in counts:
            wall = parallel.study_wall_time(args.trials, w, "cuda", args.precision, extra)
            rows.append(
                {
                    "workers": w,
                    "trials": args.trials,
                    "wall_s": round(wall, 1),
                    "trials_per_hour": round(args.trials / wall * 3600),
                    "precision": args.precision,
                }
            )
            say(
                f"  {w} workers: {wall:.0f}s, {rows[-1]['trials_per_hour']} trials/hour "
                f"({rows[-1]['trials_per_hour'] / rows[0]['trials_per_hour']:.2f}x one worker)"
            )
        result["workers"] = rows
        return
    say(f"\n== workers: {args.trials} proxy trials of the default run on {cores} cores, by worker/thread layout ==")
    rows = parallel.measure(
        args.trials, "cpu", measured_precisions(args), cores, log=say, extra=extra, counts=worker_counts(args.layouts)
    )
    result["workers"] = rows
    # the previous default (fp32, one worker), or the first layout measured when that was not
    previous = next((r for r in rows if r["precision"] == "fp32" and r["workers"] == 1), rows[0])
    best = max(rows, key=lambda r: r["trials_per_hour"])
    auto = profiles.auto_workers(profiles.for_device("cpu", profile=args.study_profile), cores)
    now = next((r for r in rows if r["precision"] == args.precision and r["workers"] == auto), None)
    say(
        f"best layout: {best['precision']} {best['workers']} x {best['threads']}, "
        f"{best['trials_per_hour'] / previous['trials_per_hour']:.2f}x the previous default (fp32, 1 worker)"
    )
    if now:
        say(
            f"the defaults now ({args.precision}, --workers auto = {auto}): "
            f"{now['trials_per_hour'] / previous['trials_per_hour']:.2f}x the previous default"
        )
    result["workers_summary"] = {
        "previous_default": previous,
        "best": best,
        "auto_workers": auto,
        "current_default": now,
    }


def measure_storage(result, args) -> None:
    from ...benchmarks import storage

    seconds = args.storage_seconds
    say(
        f"\n== storage: trials per second through the storage layer, trials that do not train, "
        f"{seconds:g} s per layout; more than {storage.MAX_PROCESSES} workers run as threads in "
        f"{storage.MAX_PROCESSES} processes =="
    )
    say(storage.HEADER)
    result["storage"] = {
        "seconds": seconds,
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "max_processes": storage.MAX_PROCESSES,
        "rows": storage.run(seconds, log=say),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(args) -> int:
    chosen = sections(args.sections)
    if args.compile_modes:
        compile_modes(args.compile_modes)
    worker_counts(args.layouts)  # bad lists are refused before anything runs
    measured_precisions(args)
    fewest = precision.min_epoch_images()
    if "precision" in chosen and args.epoch_images is not None and args.epoch_images < fewest:
        raise BadArgument(
            f"--epoch-images {args.epoch_images} is too few to time turns of fp32 and bf16: give at least {fewest}"
        )
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    root = mdata.resolve_root(args.data_root)
    data = mdata.load(args.data_root, val_size=args.val_size or mdata.DEFAULT_VAL_SIZE, device=device)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name()
        if gpu
        else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "sections": chosen,
        "precision": precision_of(args.precision, device),
    }
    say(
        f"{result['device']}, torch {result['torch']}, {result['threads']} threads; "
        f"{describe_precision(args.precision, device)}"
    )
    start = time.perf_counter()
    for name in chosen:
        if name == "pipeline":
            measure_pipeline(result, data, device, root, args)
        elif name == "precision":
            measure_precision(result, data, device, args)
        elif name == "accuracy":
            measure_accuracy(result, data, device, args)
        elif name == "compile":
            measure_compile(result, data, device, args)
        elif name == "inference":
            measure_inference(result, args)
        elif name == "workers":
            measure_workers(result, device, args)
        elif name == "storage":
            measure_storage(result, args)
    result["wall_s"] = round(time.perf_counter() - start)
    out = Path(args.out or Path(STUDIES_DIR) / "bench" / f"bench-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    say(f"\nfigures written to {out} ({result['wall_s']}s)")
    return 0
