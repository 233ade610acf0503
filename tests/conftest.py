import os

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


# `make test` runs the files in 2 processes (pytest-xdist, --dist loadfile). A file's tests run in one
# process, so its session fixtures (a trained reader, a PostgreSQL server) are built once; so do the
# files that share the tiny study. The longest files start first, so that no process is left with one
# at the end.
TINY_STUDY_FILES = ("tests/test_dashboard.py", "tests/test_report.py", "tests/test_results.py", "tests/test_search.py")
LONGEST_FIRST = ("test_reliability.py", "test_many_machines.py", "test_api.py", "test_gpu_profile.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order is kept


@pytest.hookimpl(optionalhook=True)  # the GPU machine installs pytest without pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None  # pytest-xdist's own
    from xdist.scheduler import LoadFileScheduling

    class FilesAndTheTinyStudy(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "the tiny study" if file in TINY_STUDY_FILES else file

    return FilesAndTheTinyStudy(config, log)


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
def _threads_per_test_process():
    # The CI machine has 2 cores, shared by the test processes (make test runs 2, pytest-xdist);
    # more threads only add contention.
    torch.set_num_threads(max(1, 2 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


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
