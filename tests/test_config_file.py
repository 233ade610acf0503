"""A run saved to a file (`run --print-config > run.json`) and started again from it (`run --config`)."""

import json

import optuna
import pytest

from conftest import run_cli


def printed(capsys, *argv) -> dict:
    code, out, err = run_cli(capsys, "run", *argv, "--print-config")
    assert code == 0, err
    return json.loads(out)


def test_a_saved_run_reads_back_the_same_and_flags_given_beside_it_win(tmp_path, capsys):
    flags = ["--trials", "7", "--subset", "all", "--no-warm-start", "--max-params", "9000", "--study", "s"]
    saved = printed(capsys, *flags)
    assert saved["trials"] == 7 and saved["subset"] == 0 and saved["warm_start"] is False  # as the flags read them
    assert saved["max_params"] == 9000 and saved["study"] == "s"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved))
    assert printed(capsys, "--config", str(path)) == saved
    assert printed(capsys, "--config", str(path), "--trials", "9") == {**saved, "trials": 9}
    # Values written by hand are read as their flags read them; the rest stay at their defaults.
    path.write_text('{"subset": "all", "finals": 2}')
    assert printed(capsys, "--config", str(path)) == {**printed(capsys), "subset": 0, "finals": 2}
    assert not (tmp_path / "studies").exists()  # printing the settings runs nothing


@pytest.mark.parametrize(
    "text, says",
    [
        (None, "cannot read the config file"),
        ("{'trials': 3}", "is not JSON"),
        ("[3]", "must hold one JSON object of settings"),
        ('{"trial": 3}', "unknown setting 'trial'; the settings are: trials, "),
        ('{"profile": "tpu"}', "profile must be one of auto, cpu, gpu, got 'tpu'"),
        ('{"trials": 1.5}', "trials must be a whole number >= 1, got 1.5"),
        ('{"trials": "many"}', "argument --trials: expected a positive whole number, got 'many'"),
    ],
)
def test_a_bad_config_file_is_one_line_and_runs_nothing(text, says, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "run.json"
    if text is not None:
        path.write_text(text)
    for extra in ([], ["--print-config"]):
        code, out, err = run_cli(capsys, "run", "--config", str(path), *extra)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and says in lines[0], err
    assert not (tmp_path / "studies").exists()


@pytest.mark.slow
def test_a_run_started_from_a_config_file_trains_with_its_settings(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = {"trials": 2, "storage": url, "study": "c", "subset": 400, "epochs": 1, "finals": 0}
    settings.update(workers=1, progress=False, objective="accuracy", warm_start=False)
    (tmp_path / "run.json").write_text(json.dumps(settings))
    code, out, err = run_cli(capsys, "run", "--config", str(tmp_path / "run.json"))
    assert code == 0, err
    study = optuna.load_study(study_name="c", storage=url)
    assert len(study.trials) == 2 and study.user_attrs["subset"] == 400 and study.user_attrs["epochs"] == 1
    assert any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
