"""The gpu profile's logic on whatever device runs the tests (a CPU here, at tiny sizes), and the GPU
defects a CPU can show: the caller's thread count, emulated bf16, TF32 under "fp32", the bench's
CUDA timing and its children's errors, the Triton cache, a torch without CUDA on a GPU machine.
`-k gpu_profile` selects the profile's own tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

import search
from search import records
from search.engine import profiles
from search.cli import build_parser
from search.engine import StudySpec, make_pruner

REPO = Path(__file__).resolve().parents[1]
QUIET = dict(progress=False, log=lambda *_: None)


def test_gpu_profile_is_chosen_by_name_on_any_device_and_auto_follows_the_device():
    assert profiles.for_device("cpu", profile="gpu") == profiles.GPU
    assert profiles.for_device("cuda", profile="cpu") == profiles.CPU
    assert profiles.for_device("cuda").name == "gpu" and profiles.for_device("cpu").name == "cpu"
    p = profiles.for_device("cpu", subset=0, epochs=3, finals=1, profile="gpu")  # overrides apply as before
    assert (p.name, p.subset, p.epochs, p.finals, p.final_epochs) == ("gpu", None, 3, 1, profiles.GPU.final_epochs)
    assert profiles.for_device("cpu", 500, 2).subset == 500  # the positional overrides still work
    with pytest.raises(search.BadArgument, match="profile must be one of auto, cpu, gpu"):
        search.run(trials=1, profile="tpu", storage="sqlite:///:memory:", **QUIET)


def test_gpu_profile_cli_flag_on_run_worker_and_export(capsys):
    from search.cli import build_parser

    for argv in (["run"], ["worker", "--study", "s"], ["export", "--out", "m"]):
        assert build_parser().parse_args([*argv, "--profile", "gpu"]).profile == "gpu"
        assert build_parser().parse_args(argv).profile == "auto"
    from conftest import run_cli

    code, _, err = run_cli(capsys, "run", "--profile", "tpu")
    assert code == 2 and "--profile" in err


def test_gpu_profile_workers_auto_shares_one_gpu_between_several_workers():
    gpu = profiles.GPU
    assert profiles.auto_workers(gpu, 16) == gpu.workers_per_gpu > 1
    assert profiles.auto_workers(gpu, 2) == 2 and profiles.auto_workers(gpu, 1) == 1  # at most one per core
    assert profiles.auto_workers(profiles.CPU, 2) == 2  # the CPU rule is unchanged
    assert profiles.threads_per_worker("cuda", 4, 16) == 1


def test_gpu_profile_hyperband_judges_from_epoch_3_of_8():
    gpu = profiles.GPU
    assert gpu.epochs == 8
    spec = StudySpec(
        "g", "sqlite://", "arch", "", "accuracy", 20000, gpu.max_macs, gpu.epochs, "hyperband", 0, subset=gpu.subset
    )
    pruner = make_pruner(spec)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (3, 8, 3)
    assert spec.warmup_epochs == 3  # after the one-cycle warm-up (30 % of 8 epochs)


@pytest.fixture(scope="module")
def gpu_profile_study(tmp_path_factory):
    """A tiny real study under the gpu profile on this machine's CPU: its 8 proxy epochs, its finals
    (6 at most), `--workers auto` (worker processes), on 256-image slices with a small validation split;
    nets within 11k parameters (gap8k and gap10k start it), so that exporting it stays quick."""
    folder = tmp_path_factory.mktemp("gpuprofile")
    url = f"sqlite:///{folder / 'g.db'}"
    lines = []
    study = search.run(
        trials=5,
        storage=url,
        study="g",
        profile="gpu",
        device="cpu",
        workers="auto",
        subset=256,
        max_params=11000,
        val_size=500,
        final_subset=512,
        final_epochs=1,
        seed=2,
        progress=False,
        log=lines.append,
    )
    return study, url, folder, lines


@pytest.mark.slow  # trains a study (worker processes, finals): not for the quick suite
def test_gpu_profile_study_trains_8_epoch_proxies_then_its_finals_with_auto_workers(gpu_profile_study):
    study, _, _, lines = gpu_profile_study
    text = "\n".join(lines)
    assert "profile gpu: proxy 256 training images x 8 epochs, no MACs bound; then 6 finals" in text
    workers = profiles.auto_workers(profiles.GPU, os.cpu_count() or 1)
    assert f"{workers} worker{'s' if workers > 1 else ''}" in text
    assert study.user_attrs["epochs"] == 8 and study.user_attrs["max_macs"] is None
    proxies = [t for t in study.trials if records.stage(t) == records.PROXY]
    finals = [t for t in study.trials if records.is_final(t)]
    assert len(proxies) == 5
    trained = [t for t in proxies if records.curve(t)]  # one validation accuracy per epoch trained
    assert trained and max(len(records.curve(t)) for t in trained) <= 8
    assert any(t.state == TrialState.COMPLETE and len(records.curve(t)) == 8 for t in trained)
    assert 1 <= len(finals) <= 6 and all(f.state == TrialState.COMPLETE for f in finals)
    assert all(f.user_attrs[records.TRAIN_IMAGES] == 512 for f in finals)


@pytest.mark.slow  # trains a study (worker processes, finals): not for the quick suite
def test_gpu_profile_export_tests_the_answer_without_retraining_it(gpu_profile_study, tmp_path):
    """The run's confirmation trains the answer's seeds; export tests their weights and retrains nothing."""
    study, _, _, _ = gpu_profile_study
    lines = []
    card = search.export(study, out=tmp_path / "m", profile="gpu", device="cpu", formats=["pt"], log=lines.append)
    assert profiles.GPU.seed_check == 0 and "seed_check" not in card
    assert not any("retraining" in line for line in lines)
    assert card["stage"] == "final" and 0 < card["test_acc"] <= 1
    assert search.api.choose_profile("cpu", "cuda").seed_check == 0  # the cpu profile retrains nothing, anywhere


def test_run_gives_the_caller_its_thread_count_back(tmp_path, monkeypatch):
    """An in-process worker sets torch's intra-op threads for its trials; the caller's count returns."""
    from search import api

    seen = []

    def worker(job, stage, callbacks=()):
        torch.set_num_threads(stage.threads)  # what a real worker does for its stage
        seen.append(torch.get_num_threads())

    monkeypatch.setattr(api, "run_trials_in_process", worker)
    monkeypatch.setattr(api.os, "cpu_count", lambda: 3)  # one worker x 3 threads
    torch.set_num_threads(2)
    search.run(
        trials=1, workers=1, device="cpu", profile="cpu", finals=0, storage=f"sqlite:///{tmp_path / 't.db'}", **QUIET
    )
    assert seen == [3] and torch.get_num_threads() == 2


def test_bf16_auto_leaves_out_a_gpu_that_only_emulates_bf16(monkeypatch):
    from mnistnet import precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cuda = torch.device("cuda")
    # A V100 or T4: bf16 only through emulation (torch's default answer counts emulation as support).
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert precision.resolve("auto", cuda) == "fp32" and "lacks bf16" in precision.describe("auto", cuda)
    with pytest.raises(precision.PrecisionError, match="emulate"):
        precision.resolve("bf16", cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere and later
    assert precision.resolve("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # a torch without the argument
    assert precision.resolve("auto", cuda) == "bf16"


def test_fp32_on_cuda_means_ieee_fp32_for_the_duration_only():
    from mnistnet.precision import _conv_tf32_flag, exact_fp32

    get, _, ieee = _conv_tf32_flag()
    before = get()
    with exact_fp32(torch.device("cuda")):
        assert get() == ieee
        with exact_fp32("cuda"):  # nested (two trainings in threads): still fp32, restored once
            assert get() == ieee
        assert get() == ieee
    assert get() == before
    with exact_fp32("cpu"):
        assert get() == before  # nothing to switch off the GPU


def test_compile_graphs_compiles_the_finals_with_cuda_graphs(monkeypatch, mnist):
    from mnistnet import train
    from space.known import base_net
    from search.api import finals_compiled

    spec = StudySpec("s", "sqlite://", "arch", "", "accuracy", 20000, None, 8, "hyperband", 0)
    assert finals_compiled("graphs", spec, profiles.GPU) == "reduce-overhead"
    assert finals_compiled("auto", spec, profiles.GPU) is False  # not adopted on a GPU until measured
    modes, steps = [], []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None, **_: modes.append(mode) or model)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: steps.append(1))
    config, recipe = base_net("gap8k")
    result = train.fit(
        config,
        recipe.replace(epochs=1, batch_size=64),
        mnist.subset(256),
        "cpu",
        precision="fp32",
        compile="reduce-overhead",
    )
    assert modes == ["reduce-overhead"] and len(steps) == 4 and result.compiled


def test_cold_compile_cache_empties_inductors_and_tritons_caches(monkeypatch):
    from search.benchmarks.compiled import cold_compile_cache

    monkeypatch.setenv("TRITON_CACHE_DIR", "/kept/triton")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    with cold_compile_cache():
        inside = os.environ["TRITON_CACHE_DIR"], os.environ["TORCHINDUCTOR_CACHE_DIR"]
    assert "/kept/triton" not in inside and inside[0] != inside[1]
    assert os.environ["TRITON_CACHE_DIR"] == "/kept/triton" and "TORCHINDUCTOR_CACHE_DIR" not in os.environ


def test_precision_turns_read_the_clock_only_after_the_gpu_finished(monkeypatch):
    """On CUDA the baton synchronizes before each reading of the clock, so a turn's time holds its kernels."""
    from search.benchmarks import precision

    events = []
    clock = iter(range(1000))
    monkeypatch.setattr(precision.time, "perf_counter", lambda: events.append("clock") or next(clock))
    baton = precision._Baton(("a",), chunk=2, sync=lambda: events.append("sync"))
    for step in range(5):
        baton.before_step("a", step)
    baton.done("a")
    assert events.count("clock") >= 4 and baton.steps == {"a": 4}
    assert all(events[i - 1] == "sync" for i, e in enumerate(events) if e == "clock")


def test_bench_workers_show_a_failed_childs_own_error_line():
    from search.benchmarks import parallel

    with pytest.raises(parallel.ChildFailed, match="unknown space 'nope'"):
        parallel.study_wall_time(1, 1, "cpu", "fp32", extra=["--space", "nope"])


def test_bench_refuses_bad_layouts_and_compile_modes(capsys):
    from conftest import run_cli

    code, _, err = run_cli(capsys, "bench", "--sections", "workers", "--layouts", "1,x")
    assert code == 2 and "--layouts" in err
    code, _, err = run_cli(capsys, "bench", "--sections", "compile", "--compile-modes", "default,fast")
    assert code == 2 and "unknown compile mode fast" in err


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_setup_stops_on_a_gpu_machine_whose_torch_has_no_cuda(tmp_path):
    """nvidia-smi lists a GPU, the venv's torch is a CPU build: one line saying how to install a CUDA build."""
    from tools.torch_cuda_check import problem

    assert problem([], "2.14.1+cpu", None) is None and problem(["GPU 0: H100"], "2.14.1", "13.0") is None
    fake_bin, fake_torch, venv = tmp_path / "bin", tmp_path / "fake" / "torch", tmp_path / "venv"
    for d in (fake_bin, fake_torch, venv / "bin"):
        d.mkdir(parents=True)
    (fake_bin / "nvidia-smi").write_text('#!/bin/sh\necho "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)"\n')
    (fake_torch / "__init__.py").write_text('__version__ = "2.14.1+cpu"\nclass version:\n    cuda = None\n')
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nPYTHONPATH={tmp_path / "fake"} exec {sys.executable} "$@"\n')
    for f in (fake_bin / "nvidia-smi", venv / "bin" / "python"):
        f.chmod(0o755)
    (venv / ".installed").touch()  # newer than pyproject.toml and constraints.txt: make never rebuilds this venv
    assert all(
        (REPO / f).stat().st_mtime <= (venv / ".installed").stat().st_mtime
        for f in ("pyproject.toml", "constraints.txt")
    )
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO), "setup", f"VENV={venv}"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1
    assert "torch 2.14.1+cpu was built without CUDA" in done.stderr and "download.pytorch.org/whl/cu" in done.stderr
    (fake_torch / "__init__.py").write_text('__version__ = "2.14.1"\nclass version:\n    cuda = "13.0"\n')
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO), "setup", f"VENV={venv}"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and done.stderr == ""


def _gpu_check():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import gpu_check
        import peer_training
    finally:
        sys.path.remove(str(REPO / "bench"))
    return gpu_check, peer_training


def test_gpu_check_plans_the_same_steps_at_full_and_tiny_sizes(tmp_path):
    gpu_check, peer_training = _gpu_check()
    names = ["run", "export", "final", "peer", "workers", "compile", "tests", "seed001", "pipeline", "precision"]
    full = dict(gpu_check.steps("cuda", False, tmp_path / "w", tmp_path))
    tiny = dict(gpu_check.steps("cpu", True, tmp_path / "w", tmp_path))
    assert list(full) == list(tiny) == names == list(gpu_check.LIMITS) == [*gpu_check.PLAN, *gpu_check.EXTRA]
    assert gpu_check.PLAN[:2] == ("run", "export")  # gpu-run.json needs both: they come first
    assert "run --storage" in " ".join(full["run"]) and full["run"][-2:] == ["--trials", "100"]
    assert "--profile gpu" in " ".join(tiny["run"]) and "--device cpu" in " ".join(tiny["run"])
    # The seed check happens in the run (its confirmation); export retrains nothing.
    assert not any("--seed-check" in cmd or "--retrain" in cmd for cmd in (full["export"], tiny["export"]))
    assert "--preset gap10k" in " ".join(full["final"]) and full["final"][-2:] == ["--epochs", "4"]
    assert full["peer"][1].endswith("bench/peer_training.py") and "--limit" not in full["peer"]
    assert "--limit" in tiny["peer"]
    assert "--preset seed001" in " ".join(full["seed001"]) and full["seed001"][-2:] == ["--epochs", "20"]
    assert "--layouts 1,2,4,8" in " ".join(full["workers"]) and "--compile-modes graphs" in " ".join(full["compile"])
    assert full["tests"][-2:] == ["-m", "not slow"]
    # Every command the check runs is one mnist-search (or the peer) accepts, at both sizes: a misspelt
    # flag would otherwise surface only on the lent GPU machine, at the cost of its one session.
    parser = build_parser()
    for name, cmd in [*full.items(), *tiny.items()]:
        if name == "peer":
            peer_training.parser().parse_args(cmd[2:])
        elif name != "tests":
            assert cmd[1:3] == ["-m", "search"], (name, cmd)
            parser.parse_args(cmd[3:])
    assert gpu_check.pytest_counts("x\n3 passed, 1 failed, 2 deselected in 4.1s\n") == {
        "passed": 3,
        "failed": 1,
        "deselected": 2,
    }
    # A tests step cut short keeps the counts of the tests that ended before the cut.
    assert gpu_check.pytest_counts("..s.F [ 10%]\n..E.\n") == {
        "passed": 6,
        "failed": 1,
        "errors": 1,
        "skipped": 1,
        "partial": True,
    }
    # A workers step cut short keeps the layouts it measured.
    log = "== workers: 8 proxy trials ==\n  1 workers: 28s, 1029 trials/hour (1.00x one worker)\n"
    assert gpu_check.figures("workers", tmp_path / "w", tmp_path, log) == {
        "workers": [{"workers": 1, "wall_s": 28, "trials_per_hour": 1029}]
    }


GPU_RUN_FIELDS = {
    *("device", "trials", "wall_s", "params", "val_acc_seeds", "val_acc_mean", "test_acc_mean"),
    *("peer_wall_s", "peer_epochs", "peer_s_per_epoch", "final_images_per_s", "final_epochs"),
}


def test_the_gpu_checks_test_step_runs_without_pytest_xdist():
    """The GPU machine installs pytest alone (../shared/device: DEVICE_EXTRA_WHEELS), and the gpu check's
    tests step runs the suite's conftest there."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "tests/test_augment.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_gpu_check_runs_end_to_end_at_tiny_sizes_on_cpu(tmp_path):
    """Every step of the plan at tiny sizes, and gpu-run.json with every figure filled in: the run's
    answer confirmed with 2 seeds, both tested at export, the peer and one final timed."""
    import json

    done = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--device", "cpu", "--tiny", str(tmp_path)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = json.loads((tmp_path / "gpu-run.json").read_text())
    assert GPU_RUN_FIELDS <= set(summary), done.stdout
    assert all(summary[k] is not None for k in GPU_RUN_FIELDS), done.stdout
    assert len(summary["val_acc_seeds"]) == len(summary["test_acc_seeds"]) == 2, done.stdout
    assert summary["peer_epochs"] == 2 and summary["final_images_per_s"] > 0
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    steps = report["steps"]
    assert list(steps) == ["run", "export", "final", "peer", "workers", "compile", "tests"], done.stdout
    assert {n: s["status"] for n, s in steps.items() if s["status"] != "ok"} == {}, done.stdout
    assert report["gpu_run"] == summary and done.returncode == 0, done.stdout
    assert steps["tests"]["counts"]["passed"] >= 1 and "failed" not in steps["tests"]["counts"]
