import pytest
import torch

from mnistnet import data as mdata


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST (train/val/test) on the CPU, loaded once for the whole session."""
    return mdata.load()


@pytest.fixture(autouse=True)
def _two_threads():
    # The CI machine has 2 cores; more threads only add contention.
    torch.set_num_threads(2)
