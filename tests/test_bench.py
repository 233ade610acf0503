"""The benchmark runs end to end and writes its figures (no timing is asserted: machines are noisy)."""

import json
import statistics
import time

import pytest

from mnistnet import presets
from mnistnet.presets import ERA_AUGMENT
from mnistnet.train import fit
from search.cli import main


@pytest.mark.slow
def test_bench_measures_every_quick_section_and_writes_json(tmp_path, capsys, mnist):
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "--sections",
                "pipeline,precision,inference",
                "--images",
                "512",
                "--epoch-images",
                "512",
                "--repeats",
                "2",
                "--out",
                str(out),
                "--device",
                "cpu",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert [m["model"] for m in figures["models"]] == ["seed001", "seed002", "arch-typical"]
    for m in figures["models"]:
        assert m["ours_img_s"] > 0 and m["source_img_s"] > 0 and m["model"] in printed
    # Both precisions measured per net, with the ratio printed.
    assert [r["net"] for r in figures["precision_speed"]] == ["seed001", "gap10k", "seed002"]
    for r in figures["precision_speed"]:
        assert r["fp32"]["precision"] == "fp32" and r["bf16"]["precision"] == "bf16"
        assert r["fp32"]["img_s"] > 0 and r["bf16"]["img_s"] > 0
        # Two alternated pairs; the reported ratio is the median of the pairs' own ratios.
        assert len(r["fp32"]["img_s_runs"]) == len(r["bf16"]["img_s_runs"]) == len(r["speedup_runs"]) == 2
        for f, b, ratio in zip(r["fp32"]["img_s_runs"], r["bf16"]["img_s_runs"], r["speedup_runs"]):
            assert ratio == pytest.approx(b / f, abs=0.01)
        assert r["speedup"] == pytest.approx(statistics.median(r["speedup_runs"]), abs=0.01)
        assert r["fp32"]["img_s"] in r["fp32"]["img_s_runs"]
    inference = figures["inference"]
    for runtime in ("pytorch", "torchscript", "onnxruntime"):
        assert inference[runtime]["latency_ms_batch1"] > 0 and inference[runtime]["img_s_batch256"] > 0
        assert runtime in printed
    # An independent figure: time seed002's training here, by the wall clock, on as many images.
    p = presets.get("seed002")
    recipe = p.recipe.replace(epochs=1, augment=ERA_AUGMENT.__dict__)
    fit(p.config, recipe, mnist.subset(512), "cpu", precision="fp32")  # warm-up
    start = time.perf_counter()
    fit(p.config, recipe, mnist.subset(512), "cpu", precision="fp32")
    wall_img_s = 512 / (time.perf_counter() - start)  # includes validation: a lower bound
    bench = next(m for m in figures["models"] if m["model"] == "seed002")["ours_img_s"]
    # Within a broad factor (noisy shared machine), but a miscounted unit (per batch, per epoch of
    # 55k, per second of validation) would be off by far more.
    assert wall_img_s / 3 < bench < wall_img_s * 20, (bench, wall_img_s)


def test_bench_refuses_an_unknown_section(capsys):
    assert main(["bench", "--sections", "precision,speedy"]) == 2
    assert "unknown bench section speedy" in capsys.readouterr().err


def test_interleaved_trainings_take_turns_of_whole_chunks_and_never_overlap():
    """The side-by-side speed measurement: two trainings in threads, one running at a time."""
    import threading

    from search.benchmarks.precision import _Baton

    baton, log, active, overlaps = _Baton(("a", "b"), chunk=3), [], [], []
    lock = threading.Lock()

    def train(name, steps):
        try:
            for i in range(steps):
                baton.before_step(name, i)
                with lock:
                    active.append(name)
                    if len(active) > 1:  # recorded, not asserted: a thread's failure would not fail the test
                        overlaps.append(list(active))
                log.append(name)
                time.sleep(0.001)
                with lock:
                    active.remove(name)
        finally:
            baton.done(name)

    threads = [threading.Thread(target=train, args=("a", 10)), threading.Thread(target=train, args=("b", 7))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert overlaps == []
    # Turns of 3 steps; when b runs out, a finishes alone.
    assert "".join(log) == "aaabbbaaabbbaaaba"
    # Only complete turns are timed: a's last step and b's last step are not.
    assert baton.steps == {"a": 9, "b": 6}
    assert baton.seconds["a"] > 0 and baton.seconds["b"] > 0
