"""A full disk, a file size limit or a damaged study file: one line, a documented exit code, nothing
half-written, and a run that resumes once there is space.

Each case runs `python -m search` in a subprocess, as a user would, against two real limits: a small
tmpfs (ENOSPC; skipped where this test may not mount one), and the command's file size limit
(RLIMIT_FSIZE with SIGXFSZ ignored, so a write past it fails with EFBIG), which needs no privilege.
"""

import errno
import hashlib
import io
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from search import records
from search.cli import main

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--workers", "1", "--subset", "300", "--epochs", "1", "--val-size", "500", "--no-progress", "--seed", "2"]
RUN = ["--finals", "0", "--study", "arch", *QUICK]
WRITE_EXIT = 6  # docs/failures.md: a write was refused


# The child ignores SIGXFSZ and takes the file size limit, then becomes the command (no preexec_fn: Python
# code between fork and exec can abort a process that has loaded gRPC, see test_reliability).
LIMITED = (
    "import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)) if n else None; "
    "os.execv(sys.executable, [sys.executable, '-m', 'search', *sys.argv[2:]])"
)


def cli(*argv, fsize: int = 0, timeout=300):
    """(exit code, stdout, stderr) of `python -m search ARGV`, with a file size limit of `fsize` bytes."""
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED, str(fsize), *map(str, argv)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def one_line(err: str) -> str:
    """stderr is exactly one `mnist-search: error:` line, with no traceback and no C++ abort."""
    assert "Traceback" not in err and "terminate called" not in err and "c10::Error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-search: error: "), err
    return lines[0]


class SmallDisk:
    """A folder whose disk can be filled while a command runs: a tmpfs (then ENOSPC), or the command's
    file size limit lowered to 4 KB (then EFBIG)."""

    def __init__(self, kind: str, folder: Path, size: int):
        self.kind, self.folder, self.size = kind, folder, size
        self.fsize = size if kind == "fsize" else 0  # a command's limit from its start

    def fill(self, pid: int) -> None:
        if self.kind == "fsize":
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (4096, 4096))
            return
        with open(self.folder / "filler", "wb") as f:
            try:
                while True:
                    f.write(bytes(1 << 16))
                    f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        (self.folder / "filler").unlink(missing_ok=True)
        self.fsize = 0

    @property
    def words(self) -> str:
        return (
            "no space left on device" if self.kind == "tmpfs" else "file too large for this process's file size limit"
        )


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(f"/tmp/mnist-search-probe-{uuid.uuid4().hex}")
    probe.mkdir()
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True)
        if ok.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return ok.returncode == 0
    finally:
        probe.rmdir()


CAN_MOUNT = _can_mount()


# Where a test trains (slow), one kind is enough: a tmpfs where this machine can mount one, else the limit.
EITHER = "tmpfs" if CAN_MOUNT else "fsize"


@pytest.fixture(params=["tmpfs", "fsize"])
def small_disk(request, tmp_path):
    def make(size: int) -> SmallDisk:
        folder = tmp_path / "small"
        folder.mkdir()
        if request.param == "tmpfs":
            if not CAN_MOUNT:
                pytest.skip("cannot mount a tmpfs here (not root, or no privilege): the fsize case covers it")
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
            request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(folder)]))
        return SmallDisk(request.param, folder, size)

    return make


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A real study with one trained trial (its weights among its artifacts)."""
    folder = tmp_path_factory.mktemp("study")
    url = f"sqlite:///{folder / 'mnist.db'}"
    assert main(["run", "--trials", "1", "--storage", url, *RUN]) == 0
    t = optuna.load_study(study_name="arch", storage=url).trials[0]
    assert t.state == TrialState.COMPLETE
    return url, t


def weights_size(trial) -> int:
    buffer = io.BytesIO()
    from mnistnet.model import build

    torch.save(build(records.config(trial)).state_dict(), buffer)
    return len(buffer.getvalue())


@pytest.mark.slow  # retrains, then evaluates what was kept
@pytest.mark.parametrize("small_disk", [EITHER], indirect=True)
def test_export_retrain_onto_a_full_disk_keeps_the_retrained_weights(study, small_disk, tmp_path):
    url, trial = study
    # Room for weights.pt, not for the torch.export program after it (the weights and the program).
    disk = small_disk(weights_size(trial) + 8192)
    out, fallback = disk.folder / "model", tmp_path / "kept"
    args = ["export", "--storage", url, "--trial", trial.number, "--retrain", "--seeds", "1", "--subset", "300"]
    args += ["--epochs", "1", "--format", "pt,export", "--out", out, "--fallback", fallback]
    code, _, err = cli(*args, fsize=disk.fsize)
    line = one_line(err)
    assert code == WRITE_EXIT, err
    assert f"cannot write the model folder {out}: {disk.words}" in line
    assert "the retrained model" in line and f"is kept in {fallback}" in line and "choose another --out" in line
    assert list(disk.folder.iterdir()) == []  # no model folder, no staging folder, no part file
    # What was kept is a model the other commands read.
    assert sorted(p.name for p in fallback.iterdir()) == ["config.json", "recipe.json", "weights.pt"]
    code, out_text, err = cli("evaluate", fallback, timeout=120)
    assert code == 0, err
    assert "accuracy" in out_text


@pytest.mark.slow  # measures the exported model on the test set first
@pytest.mark.parametrize("small_disk", [EITHER], indirect=True)
def test_export_without_retraining_onto_a_full_disk_writes_nothing(study, small_disk):
    url, trial = study
    disk = small_disk(weights_size(trial) + 8192)  # the trial's weights, read into a temporary file, fit
    out = disk.folder / "model"
    code, _, err = cli("export", "--storage", url, "--trial", trial.number, "--out", out, fsize=disk.fsize)
    line = one_line(err)
    assert code == WRITE_EXIT
    assert f"cannot write the model folder {out}: {disk.words}" in line and "then export again" in line
    assert list(disk.folder.iterdir()) == []


def test_report_onto_a_full_disk_leaves_no_part_file(study, small_disk):
    url, _ = study
    disk = small_disk(64 * 1024)  # the page inlines plotly.js: megabytes
    code, _, err = cli("report", "--storage", url, "--out", disk.folder / "r", fsize=disk.fsize)
    line = one_line(err)
    assert code == WRITE_EXIT
    assert f"cannot write {disk.folder / 'r' / 'arch.html'}: {disk.words}" in line
    assert "choose another --out" in line
    assert [p.name for p in (disk.folder / "r").iterdir()] == []


@pytest.mark.slow  # trains an epoch
@pytest.mark.parametrize("small_disk", [EITHER], indirect=True)
def test_train_onto_a_full_disk_says_which_file_and_leaves_no_part_file(small_disk):
    disk = small_disk(16 * 1024)  # room for the recipe and config, not for seed001's weights after them
    out = disk.folder / "run"
    args = ["train", "--preset", "seed001", "--epochs", "1", "--subset", "200", "--val-size", "200"]
    code, _, err = cli(*args, "--no-progress", "--out", out, fsize=disk.fsize)
    line = one_line(err)
    assert code == WRITE_EXIT
    assert f"cannot write {out}" in line and disk.words in line
    assert not [p for p in disk.folder.rglob("*") if p.name.endswith(".part")]


def states(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="arch", storage=url).trials


def completed(db: Path) -> int:
    """COMPLETE trials in the study file, read without writing it (the run is writing it)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # not created yet


@pytest.mark.slow  # two short runs
@pytest.mark.parametrize("small_disk", [EITHER], indirect=True)
def test_a_run_that_fills_the_disk_stops_with_one_line_and_resumes_losing_nothing(small_disk):
    disk = small_disk(16 << 20)
    db = disk.folder / "mnist.db"
    url = f"sqlite:///{db}"
    argv = ["run", "--trials", "5", "--storage", url, *RUN]
    proc = subprocess.Popen(
        [sys.executable, "-c", LIMITED, "0", *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not completed(db):  # once a trial is done, the disk fills
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.05)
    disk.fill(proc.pid)
    out, err = proc.communicate(timeout=300)
    line = one_line(err)
    assert proc.returncode == WRITE_EXIT, err
    assert "cannot write " in line and f"{disk.folder}" in line and disk.words in line, line
    assert "then rerun the same command: the study resumes" in line
    assert not [p for p in disk.folder.rglob("*.part")]  # no half-written artifact
    before = {t.number: t for t in states(url)}
    done = {n: t.values for n, t in before.items() if t.state == TrialState.COMPLETE}
    assert done and len(done) < 5, before

    code, out, err = cli("best", "--storage", url)  # the study is readable as it was left
    assert code == 0 and "Traceback" not in err, err
    assert "study arch:" in out

    disk.free()
    code, out, err = cli(*argv)
    assert code == 0, err
    after = states(url)
    assert [t.number for t in after] == list(range(len(after)))
    assert not [t for t in after if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for n, values in done.items():  # nothing completed is lost
        assert after[n].state == TrialState.COMPLETE and after[n].values == values
    for t in after:  # a trial the full disk stopped ran again, to the end
        if t.state == TrialState.FAIL:
            retries = [r for r in after if r.system_attrs.get("failed_trial") == t.number]
            assert [r.state for r in retries] in ([TrialState.COMPLETE], [TrialState.PRUNED]), t.number


def damaged_files(folder: Path, url: str) -> dict[str, Path]:
    random = folder / "random.db"
    random.write_bytes(os.urandom(64 * 1024))
    cut = folder / "cut.db"
    shutil.copy(Path(url.removeprefix("sqlite:///")), cut)
    with open(cut, "r+b") as f:
        f.truncate(cut.stat().st_size // 2)
    return {"random": random, "cut short": cut}


@pytest.mark.parametrize("kind", ["random", "cut short"])
@pytest.mark.parametrize("command", ["best", "run"])
def test_a_damaged_study_file_is_called_damaged_and_left_as_it_is(study, tmp_path, kind, command, capsys):
    url, _ = study
    db = damaged_files(tmp_path, url)[kind]
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    argv = [command, "--storage", f"sqlite:///{db}"] + (RUN if command == "run" else [])
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    line = one_line(capsys.readouterr().err)
    assert code == 4
    assert f"the study database {db} is damaged" in line and "is left as it is" in line
    assert f"--storage sqlite:///{db.with_name(db.stem + '-new.db')}" in line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # never written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.db", "random.db"]  # nothing beside it
