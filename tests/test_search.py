"""Tiny real studies on CPU: a slice of real MNIST, 1-2 epochs, a handful of trials, real SQLite."""
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import main

from conftest import TINY, run_cli


def test_tiny_study_has_complete_pruned_and_infeasible_trials(tiny_study):
    url, folder, _ = tiny_study
    study = optuna.load_study(study_name="arch", storage=url)
    states = [t.state for t in study.trials]
    assert TrialState.COMPLETE in states and TrialState.PRUNED in states
    assert TrialState.RUNNING not in states
    infeasible = [t for t in study.trials if "infeasible" in t.user_attrs]
    assert infeasible, "no sampled net went over budget"
    for t in infeasible:  # recorded, never trained, in about zero time
        assert t.state == TrialState.COMPLETE and t.value == 0.0
        assert "val_acc_curve" not in t.user_attrs
        assert max(t.constraints.values()) > 0
        assert (t.datetime_complete - t.datetime_start).total_seconds() < 2
    trained = [t for t in study.trials if "val_acc_curve" in t.user_attrs]
    for t in trained:
        assert t.user_attrs["params"] <= 20000 and t.user_attrs["macs"] > 0
        assert t.user_attrs["device"] == "cpu" and t.user_attrs["seconds"] > 0
        assert len(t.intermediate_values) == len(t.user_attrs["val_acc_curve"])


def test_best_trial_learned_and_its_artifacts_are_stored(tiny_study):
    url, folder, _ = tiny_study
    study = optuna.load_study(study_name="arch", storage=url)
    best = study.best_trial
    assert best.value > 0.5  # real learning on 1,000 images in 2 epochs
    names = set(best.user_attrs["artifacts"])
    assert names == {"config.json", "recipe.json", "weights.pt"}
    for artifact_id in best.user_attrs["artifacts"].values():
        assert (folder / "artifacts" / artifact_id).stat().st_size > 0


def test_rerunning_the_command_adds_trials_to_the_same_study(tiny_study):
    url, _, first = tiny_study
    assert first == 8
    assert optuna.get_all_study_names(url) == ["arch"]
    assert len(optuna.load_study(study_name="arch", storage=url).trials) == 11


def test_optuna_command_line_reads_our_database(tiny_study):
    url, _, _ = tiny_study
    optuna_cli = Path(sys.executable).with_name("optuna")
    out = subprocess.run([str(optuna_cli), "trials", "--study-name", "arch", "--storage", url, "-f", "json"],
                         capture_output=True, text=True, check=True).stdout
    assert out.count('"number"') == 11
    best = subprocess.run([str(optuna_cli), "best-trial", "--study-name", "arch", "--storage", url],
                          capture_output=True, text=True)
    assert best.returncode == 0


def test_best_and_studies_commands(tiny_study, capsys):
    url, _, _ = tiny_study
    code, out, _ = run_cli(capsys, "best", "--storage", url)
    assert code == 0 and "Pareto front" in out and "best trial" in out
    code, out, _ = run_cli(capsys, "studies", "--storage", url)
    assert code == 0 and "arch" in out and "11" in out


def test_resuming_with_another_objective_is_refused(tiny_study, capsys):
    url, _, _ = tiny_study
    code, _, err = run_cli(capsys, "run", "--study", "arch", "--objective", "pareto", "--storage", url, *TINY)
    assert code == 2 and "created with objective 'accuracy'" in err and len(err.splitlines()) == 1


def test_unknown_study_is_exit_5(tiny_study, capsys):
    url, _, _ = tiny_study
    code, _, err = run_cli(capsys, "best", "--study", "nope", "--storage", url)
    assert code == 5 and "no study named 'nope'" in err and "arch" in err


def test_pareto_study_keeps_accuracy_and_parameters(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    code, out, _ = run_cli(capsys, "run", "--objective", "pareto", "--space", "recipe", "--base", "seed002",
                       "--max-params", "0", "--trials", "3", "--storage", url, *TINY)
    assert code == 0 and "Pareto front" in out
    study = optuna.load_study(study_name="recipe-pareto", storage=url)
    assert study.trials[0].user_attrs["preset"] == "seed002"  # warm start
    assert len(study.directions) == 2
    for t in study.trials:
        assert t.state == TrialState.COMPLETE  # multi-objective trials are never pruned
        assert t.values[1] == t.user_attrs["params"]


def test_two_workers_share_one_study(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, _, _ = run_cli(capsys, "run", "--workers", "2", "--trials", "4", "--storage", url,
                     "--subset", "500", "--epochs", "1", "--no-progress")
    assert code in (0, 1)  # 1 only if every sampled net was over budget
    trials = optuna.load_study(study_name="arch", storage=url).trials
    assert len(trials) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state.is_finished() for t in trials)


@pytest.mark.parametrize("argv,code,message", [
    (["run", "--trials", "-1"], 2, "positive whole number"),
    (["run", "--trials", "abc"], 2, "positive whole number"),
    (["run", "--space", "nope"], 5, "unknown space"),
    (["run", "--space", "recipe", "--base", "nope"], 5, "unknown preset"),
    (["run", "--storage", "not a url"], 4, "malformed storage URL"),
    (["best", "--storage", "sqlite:////nonexistent/dir/x.db"], 4, "no study database"),
])
def test_bad_run_input_gives_one_line(argv, code, message, capsys):
    got, _, err = run_cli(capsys, *argv)
    assert got == code and message in err and len(err.strip().splitlines()) == 1
