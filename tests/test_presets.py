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
