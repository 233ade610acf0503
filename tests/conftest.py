import optuna
import pytest
import torch

from mnistnet import data as mdata
from search.cli import main

# One worker: the tests count trials exactly and patch things in this process (`--workers auto` spawns).
# The accuracy objective, so that Hyperband prunes and trials report per epoch (the default, pareto, is
# tested in test_api and test_objectives).
TINY = [
    "--workers",
    "1",
    "--subset",
    "1000",
    "--epochs",
    "2",
    "--no-progress",
    "--seed",
    "1",
    "--finals",
    "1",
    "--final-epochs",
    "1",
    "--final-subset",
    "2000",
    "--objective",
    "accuracy",
    "--study",
    "arch",
]


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of `mnist-search ARGV`, run in-process."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST (train/val/test) on the CPU, loaded once for the whole session."""
    return mdata.load()


@pytest.fixture(autouse=True)
def _two_threads():
    # The CI machine has 2 cores; more threads only add contention.
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """A real arch study on CPU: 8 trials, then 3 more by re-running the same command."""
    folder = tmp_path_factory.mktemp("study")
    url = f"sqlite:///{folder / 'mnist.db'}"
    assert main(["run", "--trials", "8", "--storage", url, *TINY]) == 0
    first = sum(t.user_attrs.get("stage") == "proxy" for t in optuna.load_study(study_name="arch", storage=url).trials)
    assert main(["run", "--trials", "3", "--storage", url, *TINY]) == 0
    return url, folder, first


@pytest.fixture(scope="session", autouse=True)
def _studies_untouched():
    """Tests write only into temporary folders: the repository's studies/ is the same afterwards."""
    from pathlib import Path

    studies = Path(__file__).resolve().parents[1] / "studies"
    listing = lambda: sorted((str(p), p.stat().st_mtime) for p in studies.rglob("*"))  # noqa: E731
    before = listing()
    yield
    assert listing() == before, "a test wrote into studies/: use tmp_path"
