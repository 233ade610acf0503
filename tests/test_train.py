"""Real training on small slices of real MNIST."""

import json

import pytest

from mnistnet import ConvLayer, Head, NetConfig, Recipe, fit
from mnistnet.train import wsd_factor
from search.cli import main

SMALL = NetConfig([ConvLayer(8, 3, bn=True, pool=True), ConvLayer(16, 3, bn=True, pool=True)], Head(pool="flatten"))


def test_small_net_learns_in_one_epoch(mnist):
    recipe = Recipe(optimizer="adam", lr=3e-3, batch_size=32, epochs=1)
    result = fit(SMALL, recipe, mnist.subset(4000))
    assert result.status == "completed"
    assert result.history[0].val_acc >= 0.90


def test_training_is_reproducible_on_cpu(mnist):
    recipe = Recipe(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=100, epochs=1, seed=3)
    a = fit(SMALL, recipe, mnist.subset(1000)).history[0]
    b = fit(SMALL, recipe, mnist.subset(1000)).history[0]
    assert a.train_loss == b.train_loss and a.val_acc == b.val_acc


def test_the_weight_average_spans_its_horizon_in_images_and_short_trainings_keep_their_last_weights():
    r = Recipe(batch_size=128, epochs=20, ema_images=128_000)
    assert r.ema_decay(55_000) == pytest.approx(0.999)  # what bench/final_recipes.py measured
    assert r.replace(batch_size=512).ema_decay(55_000) == pytest.approx(0.996)  # the same horizon in images
    assert r.replace(epochs=1).ema_decay(3000) == 0.0  # 3,000 images: the average would still hold its start
    assert Recipe().ema_decay(55_000) == 0.0


def test_a_weight_averaged_training_validates_and_returns_the_average(mnist):
    recipe = Recipe(optimizer="adam", lr=3e-3, batch_size=32, epochs=2, ema_images=640)  # decay 0.95
    averaged = fit(SMALL, recipe, mnist.subset(4000))
    last = fit(SMALL, recipe.replace(ema_images=0), mnist.subset(4000))
    # the same steps (one seed), another model: the average of the last ~20 steps' weights
    assert averaged.history[0].train_loss == last.history[0].train_loss
    assert any((a != b).any() for a, b in zip(averaged.model.state_dict().values(), last.model.state_dict().values()))
    assert averaged.history[-1].val_acc >= 0.9


def test_callback_stops_training(mnist):
    seen = []
    result = fit(
        SMALL,
        Recipe(epochs=5, batch_size=100),
        mnist.subset(500),
        on_epoch=lambda m: seen.append(m.epoch) or m.epoch >= 2,
    )
    assert result.status == "stopped" and seen == [1, 2] and len(result.history) == 2


def test_step_hook_sees_every_step_of_the_run_in_order(mnist):
    seen = []
    data = mnist.subset(550)  # 5 whole steps of 100 per epoch, the ragged 50 dropped
    fit(SMALL, Recipe(epochs=2, batch_size=100), data, on_step=seen.append)
    assert seen == list(range(2 * (len(data.train) // 100)))


def test_nan_loss_is_a_reported_failure_not_a_crash(mnist):
    result = fit(SMALL, Recipe(optimizer="sgd", lr=1e12, momentum=0.9, batch_size=50, epochs=3), mnist.subset(500))
    assert result.status == "diverged" and result.history == []


@pytest.mark.parametrize("scheduler", ["step", "cosine", "onecycle", "wsd"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_every_optimizer_and_scheduler_runs(mnist, optimizer, scheduler):
    recipe = Recipe(
        optimizer=optimizer,
        lr=1e-3,
        scheduler=scheduler,
        step_size=1,
        batch_size=100,
        epochs=2,
        label_smoothing=0.1,
        nesterov=optimizer == "sgd",
    )
    result = fit(SMALL, recipe, mnist.subset(300))
    assert result.status == "completed" and len(result.history) == 2


def test_warmup_stable_decay_warms_up_holds_the_peak_then_cools_to_zero():
    total = 1000
    lrs = [wsd_factor(step, total) for step in range(total + 1)]
    assert lrs[0] == pytest.approx(1 / 25) and all(a < b for a, b in zip(lrs[:50], lrs[1:50]))
    assert all(lr == 1.0 for lr in lrs[50:800])  # the stable phase: any checkpoint here can be continued
    assert all(a > b for a, b in zip(lrs[800:], lrs[801:])) and lrs[-1] == 0.0


@pytest.mark.slow
def test_train_command_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--preset",
            "seed002",
            "--epochs",
            "2",
            "--subset",
            "3000",
            "--batch-size",
            "50",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "epoch 1/2" in printed and "epoch 2/2" in printed and "test loss" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["params"] == 21_840 and len(metrics["val_acc"]) == 2
    assert 0.8 < metrics["test_acc"] <= 1.0  # it learned
    assert (out / "curves.html").read_text().count("Validation accuracy") >= 1
    for name in ("config.json", "recipe.json", "weights.pt"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "recipe.json").read_text())["batch_size"] == 50


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--epochs", "0"], "positive whole number"),
        (["train", "--epochs", "abc"], "positive whole number"),
        (["train", "--lr", "-1"], "positive number"),
        (["train", "--preset", "nope"], "unknown base net"),
    ],
)
def test_bad_train_arguments_give_one_line(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code in (2, 5) and message in err and len(err.splitlines()) == 1


def test_the_validated_model_is_handed_over_each_epoch_so_the_best_epoch_can_be_kept(mnist):
    """on_validated gets the very weights that scored each epoch's validation accuracy."""
    from mnistnet.train import evaluate

    data = mnist.subset(1000)
    scored = []
    result = fit(
        SMALL,
        Recipe(optimizer="adam", lr=3e-3, batch_size=50, epochs=2),
        data,
        on_validated=lambda model, m: scored.append((m.epoch, evaluate(model, data.val)[1], m.val_acc)),
    )
    assert [e for e, _, _ in scored] == [1, 2]
    assert all(again == pytest.approx(reported, abs=2e-3) for _, again, reported in scored)  # bf16 vs fp32 eval
    assert result.history[-1].val_acc >= 0.8
