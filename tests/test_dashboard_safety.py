"""The dashboard has no authentication: a warning off loopback, and --read-only refuses every write."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from conftest import run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def study_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    study = optuna.create_study(storage=url, study_name="dash")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    return url


@pytest.mark.parametrize(
    "host, warned",
    [
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
        ("myhost", True),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("localhost", False),
        ("::1", False),
    ],
)
def test_a_dashboard_off_loopback_warns_it_has_no_authentication(host, warned, study_url, monkeypatch, capsys):
    import bottle

    served = []
    monkeypatch.setattr(bottle, "run", lambda app, host, port: served.append((app, host, port)))
    code, out, err = run_cli(capsys, "dashboard", "--storage", study_url, "--host", host, "--port", "8123")
    assert code == 0 and served and served[0][1:] == (host, 8123)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    if warned:
        assert len(warnings) == 1 and "no authentication" in warnings[0] and "deleting studies" in warnings[0]
        assert "--read-only" in warnings[0]
    else:
        assert not warnings


def test_a_read_only_dashboard_off_loopback_still_warns(study_url, monkeypatch, capsys):
    import bottle

    monkeypatch.setattr(bottle, "run", lambda app, host, port: None)
    code, out, err = run_cli(capsys, "dashboard", "--storage", study_url, "--host", "0.0.0.0", "--read-only")
    assert code == 0 and "no authentication" in err and "refused" in err and "read-only" in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, method: str = "GET", body=None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
@pytest.mark.parametrize("read_only", [True, False])
def test_read_only_refuses_write_actions_and_still_serves_pages(read_only, study_url, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "search",
            "dashboard",
            "--storage",
            study_url,
            "--port",
            str(port),
            *(["--read-only"] if read_only else []),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"dashboard did not start: {proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(0.3)
        status, page = request(f"{base}/dashboard")
        assert status == 200 and b"<html" in page.lower()
        status, body = request(f"{base}/api/studies")
        assert status == 200 and json.loads(body)["study_summaries"][0]["study_name"] == "dash"
        status, body = request(f"{base}/api/studies/1?after=0")
        assert status == 200 and len(json.loads(body)["trials"]) == 2

        status, _ = request(f"{base}/api/studies/1/note", "PUT", {"version": 1, "body": "written"})
        note = optuna_dashboard_note(study_url)
        status_del, _ = request(f"{base}/api/studies/1", "DELETE", {})
        names = optuna.get_all_study_names(study_url)
        if read_only:
            assert status == 403 and note == "" and status_del == 403 and names == ["dash"]
        else:  # the same requests change the storage when the dashboard is not read-only
            assert status == 204 and note == "written" and status_del == 204 and names == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def optuna_dashboard_note(url: str) -> str:
    from optuna_dashboard import get_note

    return get_note(optuna.load_study(study_name="dash", storage=url))
