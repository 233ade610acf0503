"""The precision choice: what `auto` picks from the hardware, that bf16 really runs in bf16 while the
weights stay fp32, that it still learns, and that a failing torch.compile falls back with one line."""

import json

import pytest
import torch

from mnistnet import ConvLayer, Head, NetConfig, Recipe, fit
from mnistnet import precision as prec
from search.engine import profiles
from search.cli import main

SMALL = NetConfig([ConvLayer(8, 3, bn=True, pool=True), ConvLayer(16, 3, bn=True, pool=True)], Head(pool="flatten"))
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    "amx, avx512_bf16, expected",
    [(True, False, "bf16"), (False, True, "bf16"), (True, True, "bf16"), (False, False, "fp32")],
)
def test_auto_picks_bf16_only_on_a_cpu_with_fast_bf16(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert prec.resolve("auto", CPU) == expected
    assert prec.resolve("fp32", CPU) == "fp32" and prec.resolve("bf16", CPU) == "bf16"  # explicit wins
    assert prec.describe("auto", CPU).startswith(f"precision {expected} (auto: CPU has")


def test_a_cpu_probe_that_is_missing_or_fails_means_fp32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: 1 / 0, raising=False)
    assert prec.cpu_bf16_units() == [] and prec.resolve("auto", CPU) == "fp32"


def test_an_unknown_precision_is_refused():
    with pytest.raises(prec.PrecisionError, match="choose one of auto, fp32, bf16"):
        prec.resolve("fp16", CPU)


@pytest.mark.slow
@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_training_runs_its_convolutions_in_the_chosen_precision_and_keeps_fp32_weights(
    mnist, monkeypatch, precision, dtype
):
    seen = set()
    real_conv = torch.nn.Conv2d.forward

    def spy(self, x):
        out = real_conv(self, x)
        if torch.is_grad_enabled():  # the training steps, not validation
            seen.add(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    recipe = Recipe(optimizer="adam", lr=3e-3, batch_size=32, epochs=1)
    result = fit(SMALL, recipe, mnist.subset(4000), CPU, precision=precision)
    assert result.precision == precision and seen == {dtype}
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}
    assert result.history[0].val_acc >= 0.90  # it learned, bf16 too


@pytest.mark.slow
def test_a_failing_compile_trains_eagerly_after_one_line(mnist, monkeypatch):
    def broken_compile(model, **_):
        def call(x):
            raise RuntimeError("no working C++ compiler found\nsecond line")

        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    lines = []
    recipe = Recipe(optimizer="adam", lr=3e-3, batch_size=32, epochs=2)
    result = fit(SMALL, recipe, mnist.subset(2000), CPU, precision="fp32", compile=True, log=lines.append)
    assert result.status == "completed" and not result.compiled and len(result.history) == 2
    assert len(lines) == 1 and "torch.compile is unavailable" in lines[0] and "training without it" in lines[0]
    assert result.history[-1].val_acc > 0.8


@pytest.mark.slow
def test_the_train_command_records_the_precision_it_used(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--preset",
                "gap8k",
                "--subset",
                "1500",
                "--epochs",
                "1",
                "--precision",
                "bf16",
                "--compile",
                "off",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["precision"] == "bf16" and metrics["compiled"] is False
    assert "precision bf16" in printed and metrics["params"] == 7820


def test_auto_workers_and_compile_follow_the_profile():
    p = profiles.Profile("t", 1000, 2, None, 0, 1, "gap8k", threads_per_worker=1, compile_payback_images=10_000)
    assert profiles.auto_workers(p, 2) == 2 and profiles.auto_workers(p, 16) == 16
    assert profiles.auto_workers(profiles.Profile("t", 1000, 2, None, 0, 1, "gap8k"), 16) == 1
    assert profiles.threads_per_worker("cpu", 2, 2) == 1 and profiles.threads_per_worker("cpu", 1, 2) == 2
    assert profiles.compile_pays_back(p, 10_000) and not profiles.compile_pays_back(p, 9_999)
