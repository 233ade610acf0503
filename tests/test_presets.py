import json

import pytest

from mnistnet import build, count_params, presets
from search.cli import main

# The source projects' own counts.
EXPECTED = {"seed000": 593_200, "seed001": 16_478, "seed002": 21_840, "seed003": 593_200, "seed004": 21_840}


@pytest.mark.parametrize("name,count", EXPECTED.items())
def test_preset_parameter_counts_match_the_source_projects(name, count):
    config = presets.get(name).config
    assert count_params(config) == count
    assert sum(p.numel() for p in build(config).parameters()) == count


def test_presets_command_lists_every_preset_with_its_count(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name, count in EXPECTED.items():
        line = next(l for l in out.splitlines() if name in l)  # under its own name, with the source names
        assert line.startswith(presets.canonical(name)) and f"{count:,}" in line


def test_five_source_names_are_aliases_of_three_nets_named_by_architecture():
    assert list(presets.PRESETS) == ["fc593k", "gap16k", "fc22k"]
    assert presets.ALIASES == {
        "seed000": "fc593k",
        "seed003": "fc593k",
        "seed001": "gap16k",
        "seed002": "fc22k",
        "seed004": "fc22k",
    }
    from space.known import base_net

    for old, name in presets.ALIASES.items():
        assert presets.get(old) is presets.get(name) and old in presets.PRESETS
        assert base_net(old) == base_net(name)  # --base seed002, --preset seed001, a study made with them


def test_seed001_ends_in_global_average_pooling_without_fc():
    config = presets.get("seed001").config
    assert config.head.pool == "gap" and not config.head.linear and config.layers[-1].channels == 10


def test_unknown_preset_names_the_choices():
    with pytest.raises(KeyError, match="seed000"):
        presets.get("lenet")


def test_presets_results_prints_each_measured_preset_and_says_when_none_is(tmp_path, monkeypatch, capsys):
    from mnistnet import preset_results

    monkeypatch.setattr(preset_results, "RESULTS_FILE", tmp_path / "none.json")
    assert main(["presets", "--results"]) == 0
    assert "no preset has been measured yet" in capsys.readouterr().out
    row = {
        "preset": "gap16k", "params": 16_478, "macs": 1, "claim": 0.994, "seeds": [0, 1, 2],
        "val_acc_mean": 0.9931, "val_acc_std": 0.0004, "test_acc_mean": 0.9942, "test_acc_std": 0.0006,
        "test_selected_mean": 0.9948, "minutes": 7.5, "threads": 1, "cpu": "AMD EPYC",
    }  # fmt: skip
    (tmp_path / "r.json").write_text(json.dumps([row]))
    monkeypatch.setattr(preset_results, "RESULTS_FILE", tmp_path / "r.json")
    assert main(["presets", "--results"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("gap16k"))
    assert all(s in line for s in ("16,478", "99.4%", "99.31% ± 0.04", "99.42% ± 0.06", "99.48%", "7.5"))
    assert "AMD EPYC" in out


@pytest.mark.slow
def test_the_claims_bench_selects_on_validation_and_tests_that_epoch_once(mnist):
    """bench/preset_claims.py on a slice: the kept epoch is the best by validation, and it learned."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import preset_claims

    row = preset_claims.train_one("fc22k", seed=0, data=mnist, threads=2, limit=1000)
    assert (row["params"], row["epochs"], row["train_images"]) == (21_840, 10, 1000)
    assert 1 <= row["val_epoch"] <= 10 and row["val_acc"] >= row["val_acc_last"]
    assert row["test_acc"] >= 0.7 and row["test_selected_acc"] >= row["test_acc"]  # its epoch is among those
