"""End to end: `mnist-search dashboard` serves our study and headless Chromium shows it."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps dialling out on a machine with no network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]

pytestmark = [pytest.mark.slow]  # a real study, a server and a browser
if CHROMIUM is None:
    pytestmark.append(
        pytest.mark.skipif(
            not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it: apt-get install chromium)"
        )
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if int(p, 16) == port and state == "0A":
            found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return found


@pytest.fixture(scope="module")
def dashboard(tiny_study):
    url, _, _ = tiny_study
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", "--storage", url, "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"dashboard exited: {proc.stdout.read()}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("dashboard did not start listening within 60 s")
    yield f"http://127.0.0.1:{port}", port
    proc.terminate()
    proc.wait(timeout=20)


def chromium(url: str, tmp_path, *extra) -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: .ci/run installs it with apt-get install chromium")
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", *extra, url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return result.stdout


def test_dashboard_binds_loopback_only(dashboard):
    _, port = dashboard
    assert listening_addresses(port) == {"127.0.0.1"}


def test_dashboard_lists_the_study_in_a_real_browser(dashboard, tmp_path):
    base, _ = dashboard
    dom = chromium(f"{base}/dashboard", tmp_path, "--dump-dom")
    assert "arch" in dom


def test_dashboard_names_the_objective_and_plots_no_over_budget_value(dashboard, tmp_path):
    base, _ = dashboard
    dom = chromium(f"{base}/dashboard/studies/1", tmp_path, "--dump-dom")
    assert "validation accuracy" in dom and "Objective 0" not in dom
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/api/studies/1?after=0", timeout=30) as r:
        trials = json.loads(r.read())["trials"]
    over = [t for t in trials if any(a["key"] == "infeasible" for a in t["user_attrs"])]
    assert over and all(t["state"] == "Pruned" and not t.get("values") for t in over)


def test_dashboard_shows_a_trial_and_keeps_a_screenshot(dashboard, tmp_path):
    base, _ = dashboard
    page = f"{base}/dashboard/studies/1/trials"
    dom = chromium(page, tmp_path, "--dump-dom")
    assert "Trial 0" in dom and "Artifacts" in dom and "weights.pt" in dom
    shot = tmp_path / "dashboard-trials.png"  # tests write only into temporary folders
    chromium(page, tmp_path, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
