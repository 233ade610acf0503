import pytest
import torch

from mnistnet import ConfigError, ConvLayer, Head, NetConfig, build, count_macs, summary
from mnistnet.model import trace
from mnistnet.presets import PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_config_json_round_trip(name):
    config = PRESETS[name].config
    assert NetConfig.from_json(config.to_json()) == config


def test_built_model_maps_pixels_to_ten_logits():
    config = NetConfig(
        [ConvLayer(8, 3, padding=1, bn=True, pool=True), ConvLayer(16, 3, dropout=0.1)], Head(pool="gap")
    )
    model = build(config).eval()
    out = model(torch.rand(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert sum(p.numel() for p in model.parameters()) == trace(config).params


def test_macs_of_a_single_conv_are_counted_by_hand():
    # 26x26 outputs x 4 channels x 9 taps, then GAP and a 4->10 FC (40 MACs).
    config = NetConfig([ConvLayer(4, 3)], Head(pool="gap"))
    assert count_macs(config) == 26 * 26 * 4 * 9 + 40


@pytest.mark.parametrize(
    "config,message",
    [
        (NetConfig([ConvLayer(8, 3, pool=True)] * 5), "too small|cannot max-pool"),
        (NetConfig([ConvLayer(0, 3)]), "channels must be >= 1"),
        (NetConfig([]), "at least one conv layer"),
        (NetConfig([ConvLayer(16, 3)], Head(pool="gap", linear=False)), "must produce 10 features"),
        (NetConfig([ConvLayer(8, 29)]), "too small"),
    ],
)
def test_impossible_configs_are_rejected_before_training(config, message):
    with pytest.raises(ConfigError, match=message):
        build(config)


def test_summary_lists_layers_and_totals():
    text = summary(PRESETS["seed002"].config)
    assert "conv1 5x5" in text and "Total params: 21,840" in text and "MACs per image" in text


def test_from_dict_rejects_foreign_json():
    with pytest.raises(ConfigError):
        NetConfig.from_dict({"layers": [{"width": 3}]})
