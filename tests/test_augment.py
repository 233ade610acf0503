import torch

from mnistnet.augment import augment, to_float
from mnistnet.presets import ERA_AUGMENT
from mnistnet.recipe import Augment

STRONG = Augment(rotate=15, translate=2, crop_p=0.5)


def batch(mnist, n=64):
    return to_float(mnist.train.x[:n]), mnist.train.y[:n]


def test_augmentation_keeps_shapes_range_and_labels(mnist):
    x, y = batch(mnist)
    y_before = y.clone()
    out = augment(x, STRONG, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(y, y_before)


def test_augmentation_is_reproducible_under_a_seed(mnist):
    x, _ = batch(mnist)
    a = augment(x, ERA_AUGMENT, torch.Generator().manual_seed(7))
    b = augment(x, ERA_AUGMENT, torch.Generator().manual_seed(7))
    c = augment(x, ERA_AUGMENT, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augmentation_moves_pixels_per_sample(mnist):
    x, _ = batch(mnist)
    out = augment(x, STRONG, torch.Generator().manual_seed(0))
    moved = (out - x).abs().flatten(1).sum(1)
    assert (moved > 1.0).float().mean() > 0.9  # nearly every image changed
    # ...but each stays the same digit-sized blob of ink (mass changes little, a crop-zoom adds some)
    ratio = out.flatten(1).sum(1) / x.flatten(1).sum(1)
    assert ratio.min() > 0.6 and ratio.max() < 2.0


def test_rotation_alone_turns_a_bar(mnist):
    bar = torch.zeros(1, 1, 28, 28)
    bar[0, 0, 4:24, 13:15] = 1.0  # a vertical stroke
    out = augment(bar, Augment(rotate=45), torch.Generator().manual_seed(1))
    cols = out[0, 0].sum(0).nonzero()
    assert cols.max() - cols.min() > 6  # no longer two pixels wide


def test_no_augmentation_is_identity(mnist):
    x, _ = batch(mnist)
    assert augment(x, Augment(), torch.Generator()) is x
