"""Tiny real studies on CPU: a slice of real MNIST, 1-2 epochs, a handful of trials, real SQLite."""

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState


from search import records
from search.engine import selection
from search.settings import PARETO_MIN_PARAMS
from conftest import TINY, run_cli


@pytest.mark.slow
def test_tiny_study_has_complete_pruned_and_infeasible_trials(tiny_study):
    url, folder, _ = tiny_study
    study = optuna.load_study(study_name="arch", storage=url)
    states = [t.state for t in study.trials]
    assert TrialState.COMPLETE in states and TrialState.PRUNED in states
    assert TrialState.RUNNING not in states
    infeasible = [t for t in study.trials if "infeasible" in t.user_attrs]
    assert infeasible, "no sampled net went over budget"
    for t in infeasible:  # recorded as pruned with its reason, never valued or trained, in about zero time
        assert t.state == TrialState.PRUNED and t.value is None and "over budget" in t.user_attrs["infeasible"]
        assert "val_acc_curve" not in t.user_attrs
        assert max(t.constraints.values()) > 0
        assert (t.datetime_complete - t.datetime_start).total_seconds() < 2
    trained = [t for t in study.trials if "val_acc_curve" in t.user_attrs]
    for t in trained:
        assert t.user_attrs["params"] <= 20000 and t.user_attrs["macs"] > 0
        assert t.user_attrs["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto
        assert t.user_attrs["seconds"] > 0
        if t.user_attrs["stage"] == "proxy":  # finals are never pruned, so they report nothing
            assert len(t.intermediate_values) == len(t.user_attrs["val_acc_curve"])
        else:
            assert not t.intermediate_values and t.user_attrs["train_images"] == 2000


@pytest.mark.slow
def test_best_trial_learned_and_its_artifacts_are_stored(tiny_study):
    url, folder, _ = tiny_study
    study = optuna.load_study(study_name="arch", storage=url)
    from optuna.artifacts import get_all_artifact_meta

    best = max(
        (t for t in study.trials if t.user_attrs.get("stage") == "proxy" and t.value is not None), key=lambda t: t.value
    )
    assert best.value > 0.5  # real learning on 1,000 images in 2 epochs
    metas = get_all_artifact_meta(best, storage=study._storage)
    assert {m.filename for m in metas} == {"config.json", "recipe.json", "weights.pt"}
    for m in metas:
        assert (folder / "artifacts" / m.artifact_id).stat().st_size > 0


@pytest.mark.slow
def test_rerunning_the_command_adds_trials_to_the_same_study(tiny_study):
    url, _, first = tiny_study
    assert first == 8
    assert optuna.get_all_study_names(url) == ["arch"]
    trials = optuna.load_study(study_name="arch", storage=url).trials
    assert sum(t.user_attrs.get("stage") == "proxy" for t in trials) == 11
    assert 1 <= sum(t.user_attrs.get("stage") == "final" for t in trials) <= 2  # one per run at most


@pytest.mark.slow
def test_optuna_command_line_reads_our_database(tiny_study):
    url, _, _ = tiny_study
    optuna_cli = Path(sys.executable).with_name("optuna")
    out = subprocess.run(
        [str(optuna_cli), "trials", "--study-name", "arch", "--storage", url, "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.count('"number"') == len(optuna.load_study(study_name="arch", storage=url).trials)
    best = subprocess.run(
        [str(optuna_cli), "best-trial", "--study-name", "arch", "--storage", url], capture_output=True, text=True
    )
    assert best.returncode == 0


@pytest.mark.slow
def test_best_and_studies_commands(tiny_study, capsys):
    url, _, _ = tiny_study
    code, out, _ = run_cli(capsys, "best", "--storage", url)
    assert code == 0 and "Pareto front" in out and "Finals" in out and "answer: trial" in out
    n = len(optuna.load_study(study_name="arch", storage=url).trials)
    code, out, _ = run_cli(capsys, "studies", "--storage", url)
    assert code == 0 and "arch" in out and str(n) in out and "final" in out


@pytest.mark.slow
def test_resuming_with_another_objective_is_refused(tiny_study, capsys):
    url, _, _ = tiny_study
    code, _, err = run_cli(capsys, "run", "--storage", url, *TINY, "--objective", "pareto")
    assert code == 2 and "created with objective 'accuracy'" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_unknown_study_is_exit_5(tiny_study, capsys):
    url, _, _ = tiny_study
    code, _, err = run_cli(capsys, "best", "--study", "nope", "--storage", url)
    assert code == 5 and "no study named 'nope'" in err and "arch" in err


@pytest.mark.slow
def test_pareto_study_keeps_accuracy_and_parameters(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    code, out, _ = run_cli(
        capsys,
        "run",
        "--storage",
        url,
        *TINY,
        "--objective",
        "pareto",
        "--space",
        "recipe",
        "--base",
        "seed002",
        "--max-params",
        "0",
        "--trials",
        "3",
        "--study",
        "recipe-pareto",
    )
    assert code == 0 and "Pareto front" in out
    study = optuna.load_study(study_name="recipe-pareto", storage=url)
    assert study.trials[0].user_attrs["preset"] == "seed002"  # warm start
    assert len(study.directions) == 2
    for t in study.trials:
        assert t.state == TrialState.COMPLETE  # stopped only below the median of 4+ nets of its size
        assert t.values[1] == max(t.user_attrs["params"], PARETO_MIN_PARAMS)


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, _, _ = run_cli(
        capsys,
        "run",
        "--workers",
        "2",
        "--trials",
        "4",
        "--storage",
        url,
        "--subset",
        "500",
        "--epochs",
        "1",
        "--no-progress",
        "--finals",
        "0",
    )
    assert code == 0  # the warm starts (gap8k, gap10k) train within budget
    trials = optuna.load_study(study_name="arch", storage=url).trials
    # both workers stop at 4 trials; finishing at the same instant, each may start one more
    assert 4 <= len(trials) <= 5 and sorted(t.number for t in trials) == list(range(len(trials)))
    assert all(t.state.is_finished() for t in trials)
    presets = [t.user_attrs.get("preset") for t in trials if t.user_attrs.get("preset")]
    assert sorted(presets) == ["gap10k", "gap8k"]  # both warm starts ran, each as one trial


@pytest.mark.parametrize(
    "argv,code,message",
    [
        (["run", "--trials", "-1"], 2, "positive whole number"),
        (["run", "--trials", "abc"], 2, "positive whole number"),
        (["run", "--space", "nope"], 5, "unknown space"),
        (["run", "--space", "recipe", "--base", "nope"], 5, "unknown base net"),
        (["run", "--storage", "not a url"], 4, "malformed storage URL"),
        (["best", "--storage", "sqlite:////nonexistent/dir/x.db"], 4, "no study database"),
    ],
)
def test_bad_run_input_gives_one_line(argv, code, message, capsys):
    got, _, err = run_cli(capsys, *argv)
    assert got == code and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_rung_retrains_the_plausible_nets_and_its_best_gets_a_final(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    rung = ["--rung", "1", "--rung-subset", "1500", "--rung-epochs", "1", "--finals", "2"]
    code, out, _ = run_cli(capsys, "run", "--storage", url, *TINY, "--trials", "6", *rung, "--study", "rung")
    assert code == 0 and "rung: " in out, out
    study = optuna.load_study(study_name="rung", storage=url)
    rungs = [t for t in study.trials if records.is_rung(t)]
    finals = [t for t in study.trials if records.is_final(t)]
    assert rungs and 1 <= len(finals) <= 2
    # the finals are the rung's front
    assert sorted(records.final_of(t) for t in finals) == sorted(t.number for t in selection.finalists(study, 2))
    for t in rungs:  # trained to the end at the rung's fidelity, a net of the proxy stage
        assert t.state == TrialState.COMPLETE and t.user_attrs["train_images"] == 1500
        assert t.user_attrs["epochs_trained"] == 1
        assert records.stage(study.trials[records.rung_of(t)]) == records.PROXY
        assert study.trials[records.rung_of(t)].params == t.params
    best = max(rungs, key=records.accuracy)
    assert records.rung_of(best) in {records.final_of(t) for t in finals}
    assert all(t.number < f.number for t in rungs for f in finals)  # the rung runs before the finals
