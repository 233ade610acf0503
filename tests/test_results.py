"""Export, evaluate, predict and report on a real (tiny) study and a real trained model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from mnistnet.augment import to_float
from mnistnet.preprocess import load_images, to_mnist
from mnistnet.rundir import load_run
from conftest import run_cli
from search.cli import main


@pytest.fixture(scope="session")
def exported(tiny_study, tmp_path_factory):
    url, _, _ = tiny_study
    out = tmp_path_factory.mktemp("export") / "best"
    assert main(["export", "--storage", url, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def good_model(tmp_path_factory):
    """A ~97 % classic net (seed002 recipe, 10k images, 1 epoch) as a model folder."""
    out = tmp_path_factory.mktemp("model") / "seed002"
    assert (
        main(["train", "--preset", "seed002", "--epochs", "1", "--subset", "20000", "--no-progress", "--out", str(out)])
        == 0
    )
    return out


@pytest.mark.slow
def test_export_writes_every_format_and_a_card(exported):
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "recipe.json", "weights.pt", "model.ts", "model.onnx", "card.json", "MODEL_CARD.md"} <= names
    card = json.loads((exported / "card.json").read_text())
    for key in ("params", "macs", "val_acc", "test_acc", "recipe", "study", "trial"):
        assert key in card
    assert card["study"] == "arch" and 0.3 < card["test_acc"] <= 1.0
    assert f"{card['params']:,}" in (exported / "MODEL_CARD.md").read_text()
    # model.onnx: the dynamo exporter (onnxscript is in the test extra), checked in onnxruntime at export time
    assert card["onnx"]["exporter"] == "dynamo"
    parity = card["onnx"]["parity"]
    assert (
        parity["images"] == 64 and 0 <= parity["max_abs_diff"] <= parity["tolerance"] <= 1e-4 * parity["max_abs_logit"]
    )
    assert parity["max_abs_diff"] < 1e-4
    assert "ONNX: written by the dynamo exporter" in (exported / "MODEL_CARD.md").read_text()
    state = torch.load(exported / "weights.pt", weights_only=True)
    assert sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k) == card["params"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")  # docs/models.md says so
def test_exported_models_take_raw_pixels_and_agree(exported, mnist):
    _, model = load_run(exported)
    x = to_float(mnist.test.x[:500])  # raw [0, 1] pixels, no normalization by the caller
    with torch.no_grad():
        logits = model(x)
    acc = (logits.argmax(1) == mnist.test.y[:500]).float().mean().item()
    card = json.loads((exported / "card.json").read_text())
    assert abs(acc - card["test_acc"]) < 0.06
    scripted = torch.jit.load(str(exported / "model.ts"))
    assert torch.allclose(scripted(x), logits, atol=1e-4)


@pytest.mark.slow
def test_onnx_model_gives_the_pytorch_predictions_in_onnxruntime(exported, mnist):
    ort = pytest.importorskip("onnxruntime")
    _, model = load_run(exported)
    x = to_float(mnist.test.x[:300])
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (x[:1], x[:7], x):  # the batch dimension is dynamic
        got = session.run(["logits"], {"pixels": batch.numpy()})[0]
        assert got.shape == (len(batch), 10)
        assert (got.argmax(1) == expected[: len(batch)].argmax(1)).all()
        assert np.allclose(got, expected[: len(batch)], atol=1e-3)


@pytest.mark.slow
def test_onnx_export_falls_back_to_the_torchscript_exporter(tiny_study, tmp_path, capsys, monkeypatch):
    from search.exporting import _onnx as onnx_export  # its exporters, tested one by one

    def no_dynamo(*args):
        raise RuntimeError("dynamo cannot trace this\nsecond line of a long trace")

    monkeypatch.setattr(onnx_export, "_dynamo", no_dynamo)
    url, _, _ = tiny_study
    out = tmp_path / "fallback"
    code, printed, _ = run_cli(capsys, "export", "--storage", url, "--format", "onnx", "--out", str(out))
    assert code == 0
    notes = [line for line in printed.splitlines() if "dynamo" in line]
    assert notes == [
        "ONNX: the dynamo exporter is unavailable (RuntimeError: dynamo cannot trace this); "
        "using the TorchScript-based exporter"
    ]
    card = json.loads((out / "card.json").read_text())
    assert card["onnx"]["exporter"] == "torchscript" and card["onnx"]["parity"]["max_abs_diff"] < 1e-4


@pytest.mark.slow
def test_export_refuses_an_onnx_model_that_disagrees_with_pytorch(tiny_study, tmp_path, capsys, monkeypatch):
    import copy

    from search.exporting import _onnx as onnx_export  # its exporters, tested one by one

    def skewed(model, example, path):  # an exporter that gets one weight slightly wrong
        wrong = copy.deepcopy(model)
        with torch.no_grad():
            next(wrong.parameters()).add_(0.01)
        onnx_export._legacy(wrong, example, path)

    monkeypatch.setattr(onnx_export, "_dynamo", skewed)
    url, _, _ = tiny_study
    out = tmp_path / "skewed"
    code, _, err = run_cli(capsys, "export", "--storage", url, "--format", "onnx", "--out", str(out))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "differs from the PyTorch model by up to" in err and "(tolerance " in err
    assert not out.exists()  # nothing half-written


def test_onnx_parity_is_skipped_with_a_note_without_onnxruntime(tmp_path, monkeypatch):
    import sys

    from mnistnet.model import build
    from search.exporting import _onnx as onnx_export  # its exporters, tested one by one
    from space.known import base_net

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    monkeypatch.setattr(onnx_export, "_dynamo", onnx_export._legacy)  # the fast exporter: not what is tested here
    notes = []
    info = onnx_export.write(build(base_net("gap8k")[0]), tmp_path / "m.onnx", log=notes.append)
    assert info["parity"] is None and notes == [
        "ONNX: parity not checked, onnxruntime is not installed (pip install 'mnist-search[export]')"
    ]
    assert "not checked" in onnx_export.card_line(info) and (tmp_path / "m.onnx").stat().st_size > 0


@pytest.mark.slow
def test_export_retrain_reports_mean_and_std_over_seeds(tiny_study, tmp_path, capsys):
    url, _, _ = tiny_study
    out = tmp_path / "retrained"
    code, printed, _ = run_cli(
        capsys,
        "export",
        "--storage",
        url,
        "--retrain",
        "--seeds",
        "2",
        "--subset",
        "2000",
        "--epochs",
        "1",
        "--format",
        "pt",
        "--out",
        str(out),
    )
    assert code == 0 and "±" in printed
    card = json.loads((out / "card.json").read_text())
    assert card["retrain_seeds"] == 2 and len(card["test_accs"]) == 2
    assert card["test_acc_mean"] == pytest.approx(sum(card["test_accs"]) / 2)
    assert not (out / "model.onnx").exists()


@pytest.mark.slow
def test_export_refuses_an_untrained_trial_and_a_foreign_folder(tiny_study, tmp_path, capsys):
    url, _, _ = tiny_study
    import optuna

    study = optuna.load_study(study_name="arch", storage=url)
    infeasible = next(t.number for t in study.trials if "infeasible" in t.user_attrs)
    code, _, err = run_cli(capsys, "export", "--storage", url, "--trial", str(infeasible), "--out", str(tmp_path / "x"))
    assert code == 2 and "no trained model" in err and "over budget" in err and not (tmp_path / "x").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = run_cli(capsys, "export", "--storage", url, "--out", str(tmp_path / "mine"))
    assert code == 2 and "not an earlier export" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_evaluate_prints_accuracy_confusion_and_draws_the_errors(good_model, capsys):
    code, out, _ = run_cli(capsys, "evaluate", str(good_model))
    assert code == 0 and "test accuracy" in out and "true\\pred" in out
    report = json.loads((good_model / "evaluation.json").read_text())
    cm = np.array(report["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000
    assert report["test_acc"] == pytest.approx(np.trace(cm) / 10_000) and report["test_acc"] > 0.9
    png = Image.open(good_model / "misclassified.png")
    assert png.size[0] == 10 * 84 and png.size[1] >= 98


def paper_digit(digit: np.ndarray, size=(120, 90), dark_on_light=True) -> Image.Image:
    """An MNIST digit drawn large, off-centre, as if photographed on paper."""
    big = Image.fromarray(digit).resize((84, 84), Image.BILINEAR)
    canvas = Image.new("L", size, color=0)
    canvas.paste(big, (size[0] - 90, 3))
    arr = np.asarray(canvas)
    return Image.fromarray(255 - arr if dark_on_light else arr)


def test_preprocessing_recovers_mnist_style_digits(mnist, tmp_path):
    scores = []
    for i in range(20):
        original = mnist.test.x[i].numpy()
        path = tmp_path / f"{i}.png"
        paper_digit(original, dark_on_light=i % 2 == 0).convert("RGB").save(path)
        recovered = load_images([path])[0, 0].numpy()
        scores.append(np.corrcoef(recovered.ravel(), original.ravel() / 255.0)[0, 1])
    assert np.median(scores) > 0.7


def test_preprocessing_centres_by_mass():
    img = np.ones((50, 200), dtype=np.float32)  # white paper
    img[10:40, 150:160] = 0.0  # a dark bar at the right edge
    out = to_mnist(img)[0].numpy()
    ys, xs = np.indices(out.shape)
    assert abs((ys * out).sum() / out.sum() - 13.5) < 1.5 and abs((xs * out).sum() / out.sum() - 13.5) < 1.5
    assert out.max() == pytest.approx(1.0, abs=0.05) and out[0].sum() == 0


@pytest.mark.slow
def test_predict_reads_image_files_in_order(good_model, mnist, tmp_path, capsys):
    files = []
    for i in range(10):
        path = tmp_path / f"digit{i}.{'png' if i % 2 else 'jpg'}"
        paper_digit(mnist.test.x[i].numpy(), dark_on_light=i % 3 != 0).save(path)
        files.append(str(path))
    code, out, _ = run_cli(capsys, "predict", str(good_model), *files, "--json")
    assert code == 0
    results = json.loads(out)
    assert [r["file"] for r in results] == files
    assert all(0 <= r["digit"] <= 9 and 0.1 <= r["confidence"] <= 1 for r in results)
    correct = sum(r["digit"] == int(mnist.test.y[i]) for i, r in enumerate(results))
    assert correct >= 8
    code, out, _ = run_cli(capsys, "predict", str(good_model), files[0])
    assert code == 0 and out.startswith(f"{files[0]}: {results[0]['digit']} (")


@pytest.mark.parametrize(
    "make,code,message",
    [
        (lambda d: [str(d / "missing")], 5, "no model folder"),
        (lambda d: [str(d)], 2, "not an mnist-search model folder"),
    ],
)
def test_predict_and_evaluate_reject_bad_model_folders(make, code, message, tmp_path, capsys):
    (tmp_path / "img.png").write_bytes(b"")
    for command in ("evaluate", "predict"):
        extra = [str(tmp_path / "img.png")] if command == "predict" else []
        got, _, err = run_cli(capsys, command, *make(tmp_path), *extra)
        assert got == code and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_predict_rejects_a_non_image_file(good_model, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not a picture")
    code, _, err = run_cli(capsys, "predict", str(good_model), str(bad))
    assert code == 2 and "not a readable image" in err and len(err.strip().splitlines()) == 1
