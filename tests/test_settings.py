"""Every environment variable the project reads: parsed when used, and a bad value is one line naming it."""

import optuna
import pytest

from search import settings

from conftest import run_cli


@pytest.fixture
def study_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 's.db'}"
    (tmp_path / "db").mkdir()
    optuna.create_study(storage=url, study_name="s")
    return url


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", ""])
def test_a_bad_heartbeat_stops_run_before_anything_is_written(value, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_SEARCH_HEARTBEAT", value)
    code, _, err = run_cli(capsys, "run", "--trials", "1", "--storage", f"sqlite:///{tmp_path / 'new.db'}")
    line = one_line(err)
    assert code == 2 and f"MNIST_SEARCH_HEARTBEAT={value!r}" in line and "whole number of seconds >= 1" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_database_retry_window_is_one_line(value, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_SEARCH_DB_RETRY", value)
    code, _, err = run_cli(capsys, "studies", "--storage", "postgresql://me:pw@127.0.0.1:1/nothing")
    line = one_line(err)
    assert code == 2 and f"MNIST_SEARCH_DB_RETRY={value!r}" in line and "seconds >= 0" in line


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_a_bad_debug_flag_is_one_line(value, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_SEARCH_DEBUG", value)
    code, _, err = run_cli(capsys, "presets")
    line = one_line(err)
    assert code == 2 and f"MNIST_SEARCH_DEBUG={value!r}" in line and "1 or 0" in line


@pytest.mark.parametrize(
    "value, on", [("1", True), ("true", True), ("ON", True), ("0", False), ("no", False), ("", False)]
)
def test_debug_accepts_the_usual_spellings(value, on, monkeypatch):
    monkeypatch.setenv("MNIST_SEARCH_DEBUG", value)
    assert settings.debug() is on


@pytest.mark.parametrize("name", ["MNIST_DATA_ROOT", "XDG_CACHE_HOME"])
def test_a_data_folder_variable_naming_a_file_is_one_line(name, tmp_path, monkeypatch, capsys, study_url):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.delenv("MNIST_DATA_ROOT", raising=False)
    monkeypatch.setenv(name, str(a_file))
    code, _, err = run_cli(capsys, "run", "--trials", "1", "--storage", study_url, "--study", "s2")
    line = one_line(err)
    assert code == 3 and f"{name}={str(a_file)!r} is not a folder" in line
    assert optuna.get_all_study_names(study_url) == ["s"]  # nothing written


def test_a_relative_cache_home_is_ignored_as_the_xdg_spec_says(monkeypatch):
    from pathlib import Path

    from mnistnet import data as mdata

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert mdata.default_root() == Path.home() / ".cache" / "mnist-search"


def test_settings_are_read_when_used_not_when_imported(monkeypatch):
    monkeypatch.setenv("MNIST_SEARCH_HEARTBEAT", "7")
    monkeypatch.setenv("MNIST_SEARCH_DB_RETRY", "2.5")
    assert settings.heartbeat_seconds() == 7 and settings.db_retry_seconds() == 2.5
    monkeypatch.delenv("MNIST_SEARCH_HEARTBEAT")
    monkeypatch.delenv("MNIST_SEARCH_DB_RETRY")
    assert settings.heartbeat_seconds() == 30 and settings.db_retry_seconds() == 60
