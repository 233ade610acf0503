"""Crashes, Ctrl-C, faults inside trials, concurrency on SQLite and PostgreSQL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

import search.engine._objective  # the objective looks up fit there
from search.cli import main

pytestmark = pytest.mark.slow  # trains on real MNIST, starts servers or browsers

REPO = Path(__file__).resolve().parents[1]
# Small, quick trials: few images, a small validation split, one or two epochs.
QUICK = [
    "--workers",
    "1",
    "--subset",
    "300",
    "--epochs",
    "1",
    "--val-size",
    "500",
    "--no-progress",
    "--seed",
    "2",
    "--finals",
    "0",
]


# A test run started in the background inherits an ignored SIGINT, which the child would keep; a user's
# terminal delivers Ctrl-C with the default action. So the child restores it, then becomes the command.
# (No preexec_fn: Python code run between fork and exec aborts in a test process that has loaded gRPC.)
TRAMPOLINE = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'search', *sys.argv[1:]])"
)


def cli(*argv, env=None, **kw):
    """Run `python -m search ...` in a subprocess (a separate process, as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", TRAMPOLINE, *argv],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def trials_of(url, name="arch"):
    return optuna.load_study(study_name=name, storage=url).trials


def wait_for(predicate, timeout=120, what="condition", proc=None):
    """Poll until predicate() holds; fail at once, with its stderr, if `proc` exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except (KeyError, OSError):
            pass  # the study or the server is not there yet
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process exited ({proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def running_after_a_completed_trial(url):
    ts = trials_of(url)
    done = [t for t in ts if t.state == TrialState.COMPLETE and "val_acc_curve" in t.user_attrs]
    running = [
        t for t in ts if t.state == TrialState.RUNNING and "params" in t.user_attrs and "infeasible" not in t.user_attrs
    ]
    return bool(done) and bool(running)


SLOWER = [
    "--workers",
    "1",
    "--subset",
    "3000",
    "--epochs",
    "3",
    "--val-size",
    "500",
    "--no-progress",
    "--seed",
    "3",
    "--finals",
    "0",
]


def kill_mid_trial(url: str, env: dict):
    """Start a run, kill -9 it while a trial runs after a completed one; (process, the killed
    trial, {number: values} of the completed trials)."""
    proc = cli("run", "--trials", "40", "--storage", url, *SLOWER, env=env)
    try:
        wait_for(lambda: running_after_a_completed_trial(url), what="a running trial after a completed one", proc=proc)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {t.number: t for t in trials_of(url)}
    killed = [t for t in before.values() if t.state == TrialState.RUNNING]
    assert len(killed) == 1
    completed = {n: t.values for n, t in before.items() if t.state == TrialState.COMPLETE}
    return proc, killed[0], completed


def rerun_and_check_the_retry(url: str, env: dict, killed, completed):
    """Re-run once; the killed trial is FAIL and retried once, nothing completed is lost, nothing
    is left RUNNING. Returns (the re-run's stdout, the trials by number)."""
    rerun = cli("run", "--trials", "1", "--storage", url, *SLOWER, env=env)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    after = {t.number: t for t in trials_of(url)}
    assert after[killed.number].state == TrialState.FAIL
    retries = [t for t in after.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    for n, values in completed.items():  # no completed trial lost
        assert after[n].state == TrialState.COMPLETE and after[n].values == values
    assert not [t for t in after.values() if t.state == TrialState.RUNNING]
    return out, after


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_of_a_killed_run_stop_and_leave_no_trial_running(tmp_path):
    """kill -9 of `run` (not Ctrl-C): its worker processes notice and exit (marking their trials FAIL
    as on Ctrl-C, or leaving them to the next run's check of dead workers), instead of training on."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    proc = cli("run", "--trials", "40", "--storage", url, *SLOWER[2:], "--workers", "2")
    try:
        wait_for(lambda: running_after_a_completed_trial(url), what="a running trial after a completed one", proc=proc)
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            workers = [int(p) for p in f.read().split()]
        with open(f"/proc/{workers[0]}/cmdline") as f:
            folder = Path(f.read().split("\0")[3]).parent  # python -c BOOT JOB_FILE STATUS: the run's worker files
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(workers) == 2 and folder.is_dir()
    wait_for(lambda: all(_gone(p) for p in workers), timeout=90, what="the orphaned workers to exit")
    assert not folder.exists()  # nothing left behind in the temporary folder


def test_sigkill_mid_trial_is_failed_retried_and_loses_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    env = {"MNIST_SEARCH_HEARTBEAT": "1"}  # 1 s heartbeats, stale after 2 s
    _, killed, completed = kill_mid_trial(url, env)
    time.sleep(3)  # past the heartbeat grace period
    rerun_and_check_the_retry(url, env, killed, completed)


def test_sigkill_then_an_immediate_rerun_fails_and_retries_the_dead_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'zombie.db'}"
    # Default heartbeats (30 s, stale after 60 s): only the dead owner's pid can free the trial this soon.
    env = {"MNIST_SEARCH_HEARTBEAT": "30"}
    proc, killed, completed = kill_mid_trial(url, env)
    assert killed.user_attrs["worker"]["pid"] == proc.pid
    out, after = rerun_and_check_the_retry(url, env, killed, completed)
    assert f"pid {proc.pid}" in after[killed.number].user_attrs["fail_reason"]
    assert f"trial {killed.number}: its worker (pid {proc.pid}" in out


def test_failing_trials_are_one_line_each_with_the_traceback_in_the_log(tmp_path, monkeypatch, capfd):
    def broken_fit(*args, **kw):
        raise RuntimeError("the trainer caught fire")

    monkeypatch.setattr(search.engine._objective, "fit", broken_fit)
    url = f"sqlite:///{tmp_path / 'fail.db'}"
    assert main(["run", "--trials", "3", "--storage", url, "--max-macs", "0", *QUICK]) == 1  # nothing trained
    _, err = capfd.readouterr()
    failed = [t.number for t in trials_of(url) if t.state == TrialState.FAIL]
    log = tmp_path / "logs" / "arch" / "worker-0.log"
    assert failed
    assert [line for line in err.splitlines() if " failed: " in line] == [
        f"trial {n} failed: RuntimeError: the trainer caught fire (traceback in {log})" for n in failed
    ]
    assert "Traceback" not in err
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == len(failed)
    assert all(f"trial {n} failed" in text for n in failed) and "broken_fit" in text

    monkeypatch.setenv("MNIST_SEARCH_DEBUG", "1")  # everything on stderr too
    main(["run", "--trials", "1", "--study", "debug", "--storage", url, "--max-macs", "0", "--max-params", "0", *QUICK])
    _, err = capfd.readouterr()
    assert "Traceback (most recent call last)" in err and "the trainer caught fire (traceback in" in err


SITECUSTOMIZE = """
import os
if os.environ.get("BREAK") == "fit":  # every trial raises
    import mnistnet.train
    def fit(*args, **kw):
        raise RuntimeError("the trainer caught fire")
    mnistnet.train.fit = fit
elif os.environ.get("BREAK") == "load":  # a worker process dies before its first trial
    import mnistnet.data
    def load(*args, **kw):
        raise OSError("cannot map the training images")
    mnistnet.data.load = load
"""


@pytest.mark.parametrize("broken", ["fit", "load"])
def test_failures_in_worker_processes_are_one_line_each_with_a_log(tmp_path, broken):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)  # imported by every process, children included
    url = f"sqlite:///{tmp_path / 'w.db'}"
    env = {"BREAK": broken, "PYTHONPATH": f"{hooks}{os.pathsep}{REPO}"}
    proc = cli("run", "--trials", "4", "--storage", url, *QUICK, "--workers", "2", env=env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    logs = tmp_path / "logs" / "arch"
    lines = err.strip().splitlines()
    if broken == "fit":
        failed = sorted(t.number for t in trials_of(url) if t.state == TrialState.FAIL)
        reported = sorted(int(line.split()[1]) for line in lines if " failed: " in line)
        assert failed and reported == failed
        assert all(
            line.startswith("trial ") and "RuntimeError: the trainer caught fire (traceback in " in line
            for line in lines
            if " failed: " in line
        )
        text = "".join(p.read_text() for p in logs.glob("worker-*.log"))
        assert text.count("Traceback (most recent call last)") == len(failed)
    else:
        stopped = [line for line in lines if " stopped: " in line]
        assert stopped and all(
            line.startswith("worker ") and "OSError: cannot map the training images (traceback in " in line
            for line in stopped
        )
        for i in (0, 1):
            text = (logs / f"worker-{i}.log").read_text()
            assert "Traceback (most recent call last)" in text and "cannot map the training images" in text
        # every worker failed: the run says so, naming the first worker's error and its log
        assert lines[-1].startswith(
            "mnist-search: error: all 2 workers exited with an error; worker 0: "
            "OSError: cannot map the training images (traceback in "
        )
        return
    assert lines[-1].startswith("mnist-search: error: no trial")


def test_ctrl_c_stops_cleanly_and_the_study_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'int.db'}"
    proc = cli("run", "--trials", "40", "--storage", url, *SLOWER)
    wait_for(lambda: running_after_a_completed_trial(url), what="a running trial", proc=proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)  # generous: CI machines are shared
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "mnist-search: error: interrupted"
    assert "Traceback" not in err
    states = [t.state for t in trials_of(url)]
    assert TrialState.RUNNING not in states and TrialState.FAIL in states
    n = len(states)
    assert main(["run", "--trials", "1", "--storage", url, *SLOWER]) == 0
    assert len(trials_of(url)) == n + 1


def test_out_of_memory_fails_one_trial_and_the_study_goes_on(tmp_path, monkeypatch):
    real_fit, calls = search.engine._objective.fit, []

    def flaky_fit(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_fit(*args, **kw)

    monkeypatch.setattr(search.engine._objective, "fit", flaky_fit)
    url = f"sqlite:///{tmp_path / 'oom.db'}"
    assert main(["run", "--trials", "6", "--storage", url, "--max-macs", "0", *QUICK]) == 0
    trials = trials_of(url)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs["fail_reason"].startswith("out of memory")
    assert len(trials) == 6 and sum(t.state != TrialState.FAIL for t in trials) == 5


def test_non_finite_loss_prunes_the_trial_with_its_reason(tmp_path, monkeypatch):
    real_fit = search.engine._objective.fit
    monkeypatch.setattr(
        search.engine._objective,
        "fit",
        lambda config, recipe, *a, **kw: real_fit(
            config, recipe.replace(optimizer="sgd", lr=1e12, momentum=0.9), *a, **kw
        ),
    )
    url = f"sqlite:///{tmp_path / 'nan.db'}"
    main(["run", "--trials", "3", "--storage", url, "--max-macs", "0", *QUICK])
    trained = [t for t in trials_of(url) if "infeasible" not in t.user_attrs]
    assert trained and all(t.state == TrialState.PRUNED for t in trained)
    assert all(t.user_attrs["fail_reason"] == "non-finite training loss" for t in trained)


def poll_dashboard(base: str, stop: threading.Event, codes: list):
    while not stop.is_set():
        for path in ("/api/studies", "/api/studies/1?after=0"):
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    codes.append(r.status)
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
                codes.append(repr(exc))
        time.sleep(0.1)


def test_four_sqlite_workers_and_a_live_dashboard_never_lock(tmp_path, capfd):
    from test_dashboard import free_port

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    tiny = ["--subset", "64", "--epochs", "1", "--val-size", "200", "--no-progress", "--finals", "0"]
    assert main(["run", "--trials", "4", "--storage", url, *tiny]) == 0
    port = free_port()
    dash = cli("dashboard", "--storage", url, "--port", str(port))
    stop, codes, poller = threading.Event(), [], None
    try:
        wait_for(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2).status == 200,
            timeout=60,
            what="the dashboard",
        )
        poller = threading.Thread(target=poll_dashboard, args=(f"http://127.0.0.1:{port}", stop, codes))
        poller.start()
        main(["run", "--workers", "4", "--trials", "56", "--storage", url, *tiny])
    finally:
        stop.set()
        if poller is not None:
            poller.join(timeout=30)  # no request in flight when the server goes down
        dash.terminate()
        dash_out, dash_err = dash.communicate(timeout=20)
    out, err = capfd.readouterr()
    assert "locked" not in (dash_out + dash_err).lower(), dash_err[-2000:]
    trials = trials_of(url)
    # The workers stop together at 60 (MaxTrialsCallback); two finishing at the same instant may
    # each start one more, so at most workers - 1 extra.
    assert 60 <= len(trials) <= 63 and sorted(t.number for t in trials) == list(range(len(trials)))
    assert not [t for t in trials if t.state in (TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING)]
    assert "locked" not in (out + err).lower()
    assert codes and all(c == 200 for c in codes), ([c for c in codes if c != 200][:3], dash_err[-3000:])


TAKE_WAITING = """
import json, os, sys, time
import optuna
from search.storage import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="queue", storage=open_storage(sys.argv[1], create=False, heartbeat=False))
while not os.path.exists(sys.argv[2]):  # all workers start asking at once
    time.sleep(0.01)
taken = []
while True:
    item = study.ask().user_attrs.get("item")
    if item is None:  # a fresh trial: the queue is empty
        break
    taken.append(item)
print(json.dumps(taken))
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_take_each_waiting_trial_once(backend, tmp_path, request):
    """Enqueued trials (presets, finalists, retries) are run by exactly one worker each."""
    from search.storage import open_storage

    url = f"sqlite:///{tmp_path / 'queue.db'}" if backend == "sqlite" else request.getfixturevalue("postgres")
    study = optuna.create_study(study_name="queue", storage=open_storage(url, heartbeat=False))
    for item in range(150):
        study.enqueue_trial({"x": item}, user_attrs={"item": item}, skip_if_exists=False)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_WAITING, url, str(go)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    time.sleep(3)  # the workers have imported Optuna and opened the study
    go.touch()
    taken = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err[-2000:]
        taken += json.loads(out)
    assert sorted(taken) == list(range(150))  # none taken twice, none left


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else None


class PostgresServer:
    """A real PostgreSQL server on loopback in a temporary folder, which a test may stop and restart."""

    def __init__(self):
        pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL server binaries missing: .ci/run installs Debian's postgresql package")
            pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
        from test_dashboard import free_port

        # Not under pytest's tmp dir: that is private to root, and the server runs as another user.
        self.root = Path(tempfile.mkdtemp(prefix="mnist-search-pg-"))
        self.data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        self.as_user = []
        if os.geteuid() == 0:  # the server refuses to run as root
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self.as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        self.options = f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1"
        self.ctl("start")
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as con:
            con.execute("CREATE DATABASE mnist")
        self.url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{self.port}/mnist"

    def ctl(self, action: str, check: bool = True):
        """pg_ctl start, stop (fast: connections are cut) or restart, waiting until it is done."""
        return subprocess.run(
            [
                *self.as_user,
                self.pg_ctl,
                "-D",
                str(self.data),
                "-w",
                "-m",
                "fast",
                "-l",
                str(self.root / "log"),
                "-o",
                self.options,
                action,
            ],
            check=check,
            capture_output=True,
        )

    def close(self):
        self.ctl("stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server on loopback for this module; yields a URL with a password in it."""
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def postgres_server():
    """A PostgreSQL server of the test's own, to stop or restart."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()


def test_three_workers_share_a_postgres_study(postgres, capsys, tmp_path):
    arts = ["--artifacts", str(tmp_path / "artifacts")]  # not studies/: tests write only to temporary folders
    assert main(["run", "--trials", "2", "--storage", postgres, *arts, *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "s3cret-pw" not in printed and "***" in printed  # the password is masked
    workers = [
        cli("worker", "--study", "arch", "--storage", postgres, "--trials", "3", "--no-progress", *arts)
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err
        assert "s3cret-pw" not in out + err
    trials = trials_of(postgres)
    numbers = [t.number for t in trials]
    assert len(numbers) == 11 and sorted(numbers) == list(range(11))  # unique, none lost
    assert all(t.state.is_finished() for t in trials)


def test_unreachable_postgres_is_one_masked_line(capsys):
    code = main(["best", "--storage", "postgresql://me:hunter2@127.0.0.1:1/nothing"])
    err = capsys.readouterr().err
    assert code == 4 and "hunter2" not in err and len(err.strip().splitlines()) == 1


def test_sigkill_during_the_finals_then_rerun_finishes_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'finals.db'}"
    env = {"MNIST_SEARCH_HEARTBEAT": "30"}  # stale only after 60 s: the rerun must see the dead owner
    args = [
        "--subset",
        "300",
        "--epochs",
        "1",
        "--val-size",
        "500",
        "--no-progress",
        "--seed",
        "4",
        "--finals",
        "1",
        "--final-epochs",
        "3",
        "--final-subset",
        "4000",  # 12,000 images: seconds of training, time to see the final running and kill it
        "--rung",
        "0",  # the finals straight after the proxies: a rung would change which net the rerun's final retrains
    ]
    proc = cli("run", "--trials", "3", "--storage", url, *args, env=env)
    try:
        wait_for(
            lambda: any(
                t.state == TrialState.RUNNING and t.user_attrs.get("stage") == "final" and "params" in t.user_attrs
                for t in trials_of(url)
            ),
            what="a running final",
            proc=proc,
        )
        time.sleep(1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = next(t for t in trials_of(url) if t.user_attrs.get("stage") == "final")
    # Left running (the run trained it in-process) or failed by its worker process, which stops when
    # its run is gone (test_workers_of_a_killed_run_stop_and_leave_no_trial_running).
    assert killed.state in (TrialState.RUNNING, TrialState.FAIL)
    rerun = cli("run", "--trials", "1", "--storage", url, *args, env=env)  # at once
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    after = trials_of(url)
    finals = [t for t in after if t.user_attrs.get("stage") == "final"]
    assert after[killed.number].state == TrialState.FAIL
    done = [t for t in finals if t.state == TrialState.COMPLETE]
    assert len(done) == 1 and done[0].params == killed.params
    assert done[0].user_attrs["final_of"] == killed.user_attrs["final_of"]
    assert not [t for t in after if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert "answer: trial" in out


PG_TINY = ["--subset", "1000", "--epochs", "2", "--val-size", "500", "--no-progress", "--seed", "5", "--finals", "0"]


def counts(url):
    states = [t.state for t in trials_of(url)]
    return {s: states.count(s) for s in TrialState}


def test_a_postgres_restart_mid_study_loses_nothing(postgres_server, tmp_path):
    url = postgres_server.url
    proc = cli(
        "run", "--workers", "2", "--trials", "16", "--storage", url, "--artifacts", str(tmp_path / "a"), *PG_TINY
    )
    try:

        def mid_study():
            now = counts(url)  # one snapshot: two reads could straddle a trial's end
            return now[TrialState.COMPLETE] >= 2 and now[TrialState.RUNNING] >= 1

        wait_for(mid_study, timeout=180, what="completed trials and a running one", proc=proc)
        done = {t.number: t.values for t in trials_of(url) if t.state == TrialState.COMPLETE}
        postgres_server.ctl("restart")  # every connection is cut; the server is back a moment later
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    trials = trials_of(url)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers))) and 16 <= len(numbers) <= 17  # none lost, none twice
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING, TrialState.FAIL)]
    after = {t.number: t for t in trials}
    assert all(after[n].state == TrialState.COMPLETE and after[n].values == v for n, v in done.items())


def test_a_postgres_that_stays_down_stops_the_workers_with_one_line(postgres_server, tmp_path):
    url = postgres_server.url
    proc = cli(
        "run",
        "--workers",
        "2",
        "--trials",
        "200",
        "--storage",
        url,
        "--artifacts",
        str(tmp_path / "a"),
        *PG_TINY,
        env={"MNIST_SEARCH_DB_RETRY": "4"},
    )
    try:
        wait_for(lambda: counts(url)[TrialState.COMPLETE] >= 2, timeout=180, what="completed trials", proc=proc)
        postgres_server.ctl("stop")
        stopped = time.time()
        out, err = proc.communicate(timeout=180)
        waited = time.time() - stopped
    finally:
        proc.kill()
    assert proc.returncode == 4, err
    assert "Traceback" not in err and "s3cret-pw" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-search: error: lost the database "), err
    assert "no answer for 4 s" in lines[0] and "MNIST_SEARCH_DB_RETRY" in lines[0]
    assert 4 <= waited < 4 + 30, waited  # the retry window, plus the step each worker was in
    print(f"workers stopped {waited:.1f} s after the server did (MNIST_SEARCH_DB_RETRY=4)")
