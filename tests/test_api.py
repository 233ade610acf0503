"""The Python API on real MNIST slices: search.run -> answer -> search.export, the two stages,
resume, worker stop at N trials, bad input as SearchError kinds with nothing written."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import search
from search import records
from search import reports
from search.engine import profiles, selection

REPO = Path(__file__).resolve().parents[1]
QUICK = dict(
    workers=1, subset=800, epochs=2, finals=2, final_epochs=1, final_subset=3000, progress=False, log=lambda *_: None
)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A study with a proxy stage of 6 trials and 2 finals, run through the Python API."""
    folder = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{folder / 'nb.db'}"
    study = search.run(trials=6, storage=url, study="nb", seed=3, **QUICK)
    return study, url, folder


@pytest.mark.slow
def test_run_returns_the_study_with_both_stages(staged):
    study, _, _ = staged
    assert isinstance(study, optuna.Study)
    assert study.metric_names == ["validation accuracy", "parameters (at least 4,000)"]  # the default objective: pareto
    assert study.user_attrs[records.SCHEMA_KEY] == records.SCHEMA_VERSION
    proxies = [t for t in study.trials if records.stage(t) == records.PROXY]
    finals = [t for t in study.trials if records.is_final(t)]
    # What the code guarantees: a final for each of the top-2 *distinct* proxy trials. How many of the
    # 6 count as distinct (near-copies are skipped) depends on the CPU's numerics, so no count is assumed.
    top = selection.finalists(study, 2)
    assert len(proxies) == 6 and 1 <= len(top) <= 2
    assert sorted(records.final_of(f) for f in finals) == sorted(t.number for t in top)
    for f in finals:  # a final retrains its proxy trial's net on more data, unpruned, for the final epochs
        proxy = study.trials[records.final_of(f)]
        assert f.state == TrialState.COMPLETE and f.params == proxy.params
        assert f.user_attrs[records.CONFIG] == proxy.user_attrs[records.CONFIG]
        assert f.user_attrs[records.TRAIN_IMAGES] == 3000 and proxy.user_attrs[records.TRAIN_IMAGES] == 800
        assert records.epochs_trained(f) == 1 and not f.intermediate_values
    assert selection.find_answer(study).number in {f.number for f in finals}
    assert max(records.accuracy(f) for f in finals) > 0.6  # it learned: 3,000 images, one epoch
    # the default rung ran first, and never longer than a final: 3,000 images x 1 epoch, not 20,000 x 8
    rungs = [t for t in study.trials if records.is_rung(t)]
    assert rungs and all(t.user_attrs[records.TRAIN_IMAGES] == 3000 and records.epochs_trained(t) == 1 for t in rungs)
    assert all(t.number < f.number for t in rungs for f in finals)


@pytest.mark.slow
def test_warm_starts_a_timeout_left_queued_train_as_proxies_before_the_finals(tmp_path):
    lines = []
    settings = {**QUICK, "finals": 1, "log": lines.append}
    study = search.run(trials=3, timeout=0.01, storage=f"sqlite:///{tmp_path / 't.db'}", **settings)
    assert "1 proxy trial still queued: it trains before the rung and the finals" in lines
    gap8k, gap10k, *later = study.trials  # the timeout stopped the proxy stage after gap8k
    assert records.preset(gap10k) == "gap10k" and records.stage(gap10k) == records.PROXY
    assert gap10k.user_attrs[records.TRAIN_IMAGES] == 800 and gap10k.datetime_start > gap8k.datetime_complete
    # then the rung and the finals, drawn from both warm starts
    assert later and all(t.datetime_start > gap10k.datetime_complete for t in later)
    assert {records.stage(t) for t in later} == {records.RUNG, records.FINAL}
    assert {records.rung_of(t) for t in later if records.is_rung(t)} <= {0, 1}
    assert all(t.user_attrs[records.TRAIN_IMAGES] == 3000 for t in later)


@pytest.mark.slow
def test_over_budget_nets_are_pruned_with_their_reason_never_valued(staged):
    study, _, _ = staged
    for t in study.trials:
        if records.infeasible_reason(t):
            assert t.state == TrialState.PRUNED and t.value is None
            assert max(t.constraints.values()) > 0 and records.VAL_ACC_CURVE not in t.user_attrs
        elif t.state == TrialState.COMPLETE:
            assert all(v <= 0 for v in t.constraints.values())


@pytest.mark.slow
def test_export_writes_the_answers_own_weights_and_measures_test_once(staged, tmp_path):
    study, _, _ = staged
    card = search.export(study, out=tmp_path / "model", profile="cpu", log=lambda *_: None)
    a = selection.find_answer(study)
    assert card["trial"] == a.number and card["stage"] == "final" and card["final_of"] == records.final_of(a)
    assert card["val_acc"] == records.accuracy(a) and 0.6 < card["test_acc"] <= 1
    files = json.loads((tmp_path / "model" / "card.json").read_text())["files"]
    assert {"weights.pt", "model.onnx", "model.ts"} <= set(files)
    assert "seed_check" not in card  # the CPU profile retrains nothing at export


@pytest.mark.slow
def test_export_seed_check_reports_the_spread_over_retrained_seeds(staged, tmp_path):
    study, _, _ = staged
    card = search.export(
        study, out=tmp_path / "m", seed_check=2, subset=3000, epochs=1, formats=["pt"], log=lambda *_: None
    )
    check = card["seed_check"]
    assert check["seeds"] == 2 and len(check["test_accs"]) == 2 and min(check["test_accs"]) > 0.3  # chance: 0.1
    assert check["mean"] == pytest.approx(sum(check["test_accs"]) / 2)
    assert "Retrained with 2 seeds" in (tmp_path / "m" / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_resume_samples_new_points_and_finals_are_not_repeated(staged):
    study, url, _ = staged
    trials = study.trials
    first = {json.dumps(t.params, sort_keys=True) for t in trials if records.stage(t) == records.PROXY}
    finals_before = sum(records.is_final(t) for t in trials)
    again = search.run(trials=3, storage=url, study="nb", seed=3, **QUICK)
    new = [t for t in again.trials[len(trials) :] if records.stage(t) == records.PROXY]
    assert len(new) == 3
    assert not {json.dumps(t.params, sort_keys=True) for t in new} & first
    finals = [t for t in again.trials if records.is_final(t)]
    assert len({records.final_of(f) for f in finals}) == len(finals) >= finals_before


@pytest.mark.slow
def test_two_workers_stop_together_at_the_requested_count(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    study = search.run(trials=5, storage=url, **{**QUICK, "finals": 0, "workers": 2})
    worked = [t for t in study.trials if records.stage(t) != records.SURPLUS]
    assert len(worked) == 5  # a trial both workers started at the same moment is the sixth, untrained
    assert {t.state for t in study.trials} <= {TrialState.COMPLETE, TrialState.PRUNED}


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the other worker's trials, asked by hand
def test_a_trial_started_past_the_requested_count_stops_untrained_and_an_enqueued_one_goes_back(tmp_path):
    """Two workers that end a trial at the same moment both see one trial left and both start one
    (Optuna counts after each trial): the later one stops untrained, and the run stops there."""
    from search.engine import open_study
    from search.running import run_trials_in_process

    job = worker_job(tmp_path)
    study = open_study(job.spec)
    study.enqueue_trial({"x": 1}, user_attrs={records.PRESET: "known"})
    ran = []

    def objective(trial):
        ran.append(trial.suggest_int("x", 0, 9))
        return 0.5

    def other_worker_starts_one(st, frozen):  # after this worker's check saw 1 of 3 trials
        if frozen.number == 0:
            st.ask()
            st.ask()  # counted: now 3 of 3, but this worker's loop goes on to its next trial,
            st.enqueue_trial({"x": 2}, user_attrs={records.PRESET: "known"})  # which is this one

    run_trials_in_process(job, stage(until=3), callbacks=[other_worker_starts_one], objective=objective)
    trials = open_study(job.spec).trials
    assert ran == [1]  # trial 3 (the second enqueued point) was not trained
    surplus = [t for t in trials if records.stage(t) == records.SURPLUS]
    assert [t.number for t in surplus] == [3] and surplus[0].state == TrialState.PRUNED
    assert "not trained" in records.fail_reason(surplus[0])
    again = [t for t in trials if t.state == TrialState.WAITING]
    assert [(t.number, records.preset(t)) for t in again] == [(4, "known")]  # queued again, not lost


def test_a_database_lost_in_a_trial_stops_the_worker_and_leaves_the_trial_to_retry(tmp_path):
    """Not recorded as the trial's failure (which would need the database, and would lose the trial):
    the worker stops with the StorageError, and the trial stays RUNNING under its owner, so the next
    worker on this machine fails it and runs it again (tests/test_owners.py)."""
    from search.engine import open_study
    from search.running import run_trials_in_process

    job = worker_job(tmp_path)

    def objective(trial):
        trial.suggest_int("x", 0, 9)
        if trial.number == 1:
            raise search.StorageError("lost the database sqlite:///w.db: no answer for 60 s")
        return 0.5

    with pytest.raises(search.StorageError, match="lost the database"):
        run_trials_in_process(job, stage(until=3), objective=objective)
    first, second = open_study(job.spec).trials
    assert first.state == TrialState.COMPLETE and second.state == TrialState.RUNNING
    assert records.owner(second)["pid"] == os.getpid() and records.fail_reason(second) is None


@pytest.mark.parametrize(
    "kwargs, kind",
    [
        (dict(space="nope"), search.UnknownSpace),
        (dict(space="recipe", base="seed999"), search.UnknownPreset),
        (dict(target_acc=1.5), search.BadArgument),
        (dict(target_acc=0), search.BadArgument),
        (dict(finals=-1), search.BadArgument),
        (dict(trials=0), search.BadArgument),
        (dict(max_params=-5), search.ImpossibleBudget),
        (dict(storage="notaurl://"), search.StorageError),
        (dict(device="cuda"), search.DeviceUnavailable),
    ],
)
def test_bad_input_raises_a_search_error_and_writes_nothing(tmp_path, kwargs, kind):
    import torch

    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    kwargs = {"storage": f"sqlite:///{tmp_path / 'x.db'}", **kwargs}
    with pytest.raises(kind) as info:
        search.run(trials=kwargs.pop("trials", 2), **kwargs, progress=False, log=lambda *_: None)
    assert isinstance(info.value, search.SearchError) and str(info.value)
    assert not (tmp_path / "x.db").exists() or optuna.get_all_study_names(kwargs["storage"]) == []


def test_resuming_with_other_defining_settings_is_refused_untouched(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    from search.engine import StudySpec, open_study

    open_study(StudySpec("r", url, "arch", "", "pareto", 20000, 2_000_000, 4, "hyperband", 0, subset=8000))
    for change, flag in (
        (dict(epochs=3), "--epochs 4"),
        (dict(subset=500), "--subset 8000"),
        (dict(max_macs=0), "--max-macs 2000000"),
    ):
        with pytest.raises(search.SettingsMismatch, match=re.escape(flag)):
            search.run(
                trials=1,
                storage=url,
                study="r",
                **{"subset": 8000, "epochs": 4, **change},
                profile="cpu",
                progress=False,
                log=lambda *_: None,
            )  # the study was made with cpu's budgets
    assert len(optuna.load_study(study_name="r", storage=url).trials) == 0


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def python(folder: Path, *args, stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python ARGS` in `folder`, as a user runs it: this checkout importable, nothing else of pytest's."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, *args], cwd=folder, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_the_readme_python_example_runs_as_a_script(tmp_path):
    """The README's example as people run it: saved as example.py (no main guard), with the default
    workers ("auto": several processes on a multi-core machine). Standard input and `python -c`, which
    have no file to re-import either, are the test below."""
    code = readme_example()
    assert "workers" not in code and "__main__" not in code
    (tmp_path / "example.py").write_text(code)
    done = python(tmp_path, "example.py")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "exited with an error" not in done.stdout + done.stderr
    assert (tmp_path / "studies" / "nb.db").exists() and (tmp_path / "model" / "card.json").exists()
    study = optuna.load_study(study_name="nb", storage=f"sqlite:///{tmp_path / 'studies' / 'nb.db'}")
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("how", ["-c", "stdin"])
def test_workers_start_from_python_dash_c_and_from_standard_input(tmp_path, how):
    """Several workers from `python -c` or a script fed on standard input (no __main__ file at all to
    re-import)."""
    code = (
        "import search; st = search.run(trials=2, storage='sqlite:///c.db', study='c', subset=300, epochs=1, val_size=300, "
        "finals=0, workers=2, progress=False); print('finished', len(st.trials))"
    )
    done = python(tmp_path, "-c", code) if how == "-c" else python(tmp_path, "-", stdin=code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "finished 2" in done.stdout and "exited with an error" not in done.stdout + done.stderr


def worker_job(tmp_path, **changes):
    from search.engine import StudySpec
    from search.running import WorkerJob

    spec = StudySpec(
        "w", f"sqlite:///{tmp_path / 'w.db'}", "arch", "", "accuracy", 20000, None, 1, "hyperband", 0, subset=300
    )
    return WorkerJob(
        **{"spec": spec, "device": "cpu", "data_root": None, "artifact_dir": str(tmp_path / "artifacts"), **changes}
    )


def stage(until: int = 2):
    from search.running import Stage

    return Stage(until=until, timeout=None, threads=1)


def test_when_every_worker_fails_the_run_raises_naming_the_first_error_and_its_log(tmp_path):
    from search.engine import open_study
    from search.running import WorkerPool

    (tmp_path / "not-a-folder").write_text("")  # MNIST cannot be read or written there, by any worker
    job = worker_job(tmp_path, data_root=str(tmp_path / "not-a-folder"))
    open_study(job.spec)
    with pytest.raises(search.WorkersFailed) as info:
        with WorkerPool(job, 2, stage(), stages=False, poll_seconds=0.2) as pool:
            pool.wait()
    message = str(info.value)
    assert isinstance(info.value, search.SearchError)
    assert "all 2 workers" in message and "MNIST" in message  # worker 0's own error: the data is missing
    log = tmp_path / "logs" / "w" / "worker-0.log"
    assert str(log) in message and "Traceback" in log.read_text()


def test_when_some_workers_fail_the_warning_counts_them_and_names_their_logs(tmp_path):
    from search.running import exit_report

    job = worker_job(tmp_path)
    assert exit_report(job, [0, 0]) is None
    line = exit_report(job, [0, 1, 1])
    assert line.startswith("warning: 2 of 3 workers exited with an error")
    assert str(tmp_path / "logs" / "w" / "worker-1.log") in line and "worker-2.log" in line
    assert "worker-0.log" not in line


def test_run_flags_are_generated_from_the_run_settings_with_their_defaults():
    """Each RunSettings field is one `run` flag with the field's default; search.run takes the same names."""
    import inspect
    from dataclasses import fields
    from search.cli import build_parser
    from search.settings import RunSettings

    args = build_parser().parse_args(["run"])
    for f in fields(RunSettings):
        assert getattr(args, f.name) == f.default, f.name
    assert [n for n in inspect.signature(search.run).parameters if n != "log"] == [
        "trials",
        "space",
        "storage",
        "study",
    ] + [f.name for f in fields(RunSettings) if f.name not in ("trials", "space", "storage", "study")]
    flags = build_parser().parse_args(["run", "--no-progress", "--no-warm-start", "--target-acc", "0.99"])
    assert (flags.progress, flags.warm_start, flags.target_acc) == (False, False, 0.99)


TRAIN_FLAGS = [
    "--preset",
    "--epochs",
    "--batch-size",
    "--lr",
    "--momentum",
    "--subset",
    "--val-size",
    "--seed",
    "--out",
    "--no-progress",
    "--precision",
    "--compile",
    "--data-root",
    "--device",
]
EXPORT_FLAGS = [
    "--study",
    "--storage",
    "--trial",
    "--retrain",
    "--seeds",
    "--epochs",
    "--subset",
    "--seed-check",
    "--format",
    "--out",
    "--fallback",
    "--artifacts",
    "--precision",
    "--profile",
    "--data-root",
    "--device",
]


def option_strings(command: str) -> list[str]:
    from search.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return [a.option_strings[0] for a in sub._actions if a.option_strings and a.dest != "help"]


def test_train_flags_are_generated_from_the_train_settings_with_their_defaults(monkeypatch, capsys):
    """Each TrainSettings field is one `train` flag (the flags users know) with the field's default, and
    `train` runs on the settings its flags parse to."""
    from dataclasses import fields
    from conftest import run_cli
    from search.cli import build_parser
    from search.cli.commands import train
    from search.settings import TrainSettings

    assert option_strings("train") == TRAIN_FLAGS == [TrainSettings.flag(f.name) for f in fields(TrainSettings)]
    args = build_parser().parse_args(["train"])
    for f in fields(TrainSettings):
        assert getattr(args, f.name) == f.default, f.name
    got = []
    monkeypatch.setattr(train, "train", lambda s: got.append(s) or 0)
    assert run_cli(capsys, "train", "--no-progress", "--lr", "0.05", "--momentum", "0.8", "--subset", "300")[0] == 0
    assert got == [TrainSettings(progress=False, lr=0.05, momentum=0.8, subset=300)]


def test_export_flags_and_search_export_are_the_export_settings(monkeypatch, capsys):
    """Each ExportSettings field is one `export` flag with the field's default and one keyword of
    search.export (study and out also by position); the command passes its flags on unchanged."""
    import inspect
    from dataclasses import asdict, fields
    from conftest import run_cli
    from search import api
    from search.cli import build_parser
    from search.settings import ExportSettings

    assert option_strings("export") == EXPORT_FLAGS == [ExportSettings.flag(f.name) for f in fields(ExportSettings)]
    args = build_parser().parse_args(["export", "--out", "m"])
    for f in fields(ExportSettings):
        assert getattr(args, f.name) == (f.default if f.name != "out" else "m"), f.name
    params = inspect.signature(search.export).parameters
    assert [n for n in params if n != "log"] == ["study", "out"] + [
        f.name for f in fields(ExportSettings) if f.name not in ("study", "out")
    ]
    assert all(params[f.name].default == f.default for f in fields(ExportSettings))
    got = []
    monkeypatch.setattr(api, "export", lambda **kw: got.append(kw))
    code, _, _ = run_cli(
        capsys,
        "export",
        "--out",
        "m",
        "--format",
        "onnx,pt",
        "--retrain",
        "--seeds",
        "2",
        "--trial",
        "7",
        "--seed-check",
        "0",
    )
    assert code == 0
    assert got == [
        asdict(ExportSettings(out="m", formats=("onnx", "pt"), retrain=True, seeds=2, trial="7", seed_check=0))
    ]


def test_export_formats_are_a_comma_list_on_the_command_line_and_a_sequence_in_python():
    from search.settings import FORMATS, ExportSettings

    assert ExportSettings().formats == FORMATS
    assert (
        ExportSettings(formats=["pt", "onnx"]).formats == ExportSettings(formats="pt, onnx").formats == ("pt", "onnx")
    )
    with pytest.raises(search.BadArgument, match="unknown format gif; choose from pt, export, torchscript, onnx"):
        ExportSettings(formats=["pt", "gif"])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(formats=["gif"]), "unknown format gif"),
        (dict(formats="pt,"), None),  # an empty name is dropped, not an error: the check passes, the study is missing
        (dict(trial="x"), "trial takes a trial number or 'answer'"),
        (dict(seeds=0), "seeds must be a whole number >= 1"),
        (dict(subset=0), "subset must be a whole number >= 1"),
        (dict(seed_check=-1), "seed_check must be a whole number >= 0"),
        (dict(profile="tpu"), "profile must be one of auto, cpu, gpu"),
    ],
)
def test_a_bad_export_setting_raises_before_the_storage_is_opened(tmp_path, kwargs, words):
    db = tmp_path / "none.db"
    with pytest.raises(search.SearchError) as info:
        search.export(storage=f"sqlite:///{db}", out=tmp_path / "m", **kwargs)
    if words is None:
        assert isinstance(info.value, search.StorageError)  # the settings were fine: the storage was asked
    else:
        assert isinstance(info.value, search.BadArgument) and words in str(info.value)
        assert not db.exists() and not (tmp_path / "m").exists()
    with pytest.raises(TypeError, match="multiple values for argument 'study'"):
        search.export("a", study="b")
    with pytest.raises(TypeError, match="at most 2 positional arguments"):
        search.export("a", "m", "extra")


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["export", "--out", "m", "--format", "pt,gif"],
            "argument --format: unknown format gif; choose from pt, export",
        ),
        (["export", "--out", "m", "--format", ","], "unknown format (empty)"),
        (["export", "--out", "m", "--seed-check", "-1"], "argument --seed-check: expected a whole number >= 0"),
        (["train", "--val-size", "0"], "argument --val-size: expected a positive whole number"),
        (["train", "--momentum", "1"], "argument --momentum: expected a number in [0, 1)"),
        (["train", "--compile", "yes"], "invalid choice: 'yes'"),
    ],
)
def test_a_bad_train_or_export_flag_is_one_line_and_exit_code_2(capsys, argv, words):
    from conftest import run_cli

    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err


def test_the_target_accuracy_has_one_default_everywhere(tmp_path):
    from search.settings import RunSettings
    from search.engine import StudySpec

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 't.db'}", study_name="t")  # no target stored
    assert (
        records.target_acc(study)
        == RunSettings().target_acc
        == StudySpec("t", "sqlite://", "arch", "", "accuracy", 20000, None, 1, "hyperband", 0).target_acc
    )


def test_the_profile_line_counts_the_training_images_left_by_the_validation_split(tmp_path, monkeypatch, capsys):
    """`--val-size 10000` leaves 50,000 training images, and the profile line says so."""
    from conftest import run_cli
    from search import api

    monkeypatch.setattr(api.Workers, "proxy_stage", lambda self, st: None)  # nothing trains: only the lines
    quiet = ("--profile", "cpu", "--workers", "1", "--no-progress", "--no-warm-start")  # nothing queued to run
    _, out, _ = run_cli(capsys, "run", "--val-size", "10000", *quiet, "--storage", f"sqlite:///{tmp_path / 'v.db'}")
    assert (
        f"then {profiles.CPU.finals} finals on all 50,000 images x {profiles.CPU.final_epochs} epochs" in out
        and "55,000" not in out
    )
    _, out, _ = run_cli(capsys, "run", "--subset", "all", *quiet, "--storage", f"sqlite:///{tmp_path / 'w.db'}")
    assert "proxy all 55,000 training images" in out
    # the finals' slice, when --final-subset sets one, as the finals line says it
    slice_ = ("--finals", "1", "--final-subset", "5000", "--final-epochs", "2")
    _, out, _ = run_cli(capsys, "run", *slice_, *quiet, "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    assert "then 1 final on 5,000 training images x 2 epochs" in out


@pytest.mark.slow
def test_worker_processes_start_once_for_both_stages(tmp_path):
    """workers=2: two processes run the proxy trials and then the finals (no second start)."""
    lines = []
    study = search.run(
        trials=3,
        storage=f"sqlite:///{tmp_path / 'o.db'}",
        study="o",
        workers=2,
        subset=200,
        epochs=1,
        finals=2,
        final_epochs=1,
        final_subset=300,
        val_size=500,
        progress=False,
        log=lines.append,
    )
    started = [line for line in lines if line.startswith("started ")]
    assert len(started) == 1 and started[0].startswith("started 2 worker processes")
    pids = {int(p) for p in re.search(r"pids ([\d, ]+)", started[0]).group(1).split(", ")}
    finals = [t for t in study.trials if records.is_final(t)]
    assert finals and all(t.state == TrialState.COMPLETE for t in finals)
    owners = {t.user_attrs["worker"]["pid"] for t in study.trials if "worker" in t.user_attrs}
    assert owners <= pids  # every trial, proxy and final, ran in one of the two processes started
    assert {t.user_attrs["worker"]["pid"] for t in finals} <= pids


@pytest.mark.slow
def test_the_answer_is_confirmed_over_seeds_and_export_tests_each_seeds_own_weights(tmp_path):
    """A target the tiny finals reach: the smallest net at it retrains with a second seed, the answer
    is judged on the mean of both, and export tests both seeds' stored weights without training."""
    lines = []
    settings = {**QUICK, "finals": 2, "log": lines.append}
    study = search.run(
        trials=4, storage=f"sqlite:///{tmp_path / 'c.db'}", seed=3, target_acc=0.5, confirm_seeds=2, **settings
    )
    a = selection.find_answer(study)
    net = [t for t in study.trials if records.is_final(t) and records.final_of(t) == records.final_of(a)]
    assert sorted(records.train_seed(t) for t in net) == [0, 3]  # the run's seed, then the first one free
    assert all(t.state == TrialState.COMPLETE and t.user_attrs[records.TRAIN_IMAGES] == 3000 for t in net)
    assert net[0].user_attrs[records.VAL_ACC_CURVE] != net[1].user_attrs[records.VAL_ACC_CURVE]  # two trainings
    assert any(line.startswith(f"confirmation: trial {records.final_of(a)} (") for line in lines)
    assert "over 2 seeds" in reports.summary(study)
    card = search.export(study, out=tmp_path / "model", formats=["pt"], log=lambda *_: None)
    assert card["val_acc_seeds"] == [records.accuracy(t) for t in net] and len(card["test_acc_seeds"]) == 2
    assert card["val_acc_mean"] == pytest.approx(sum(card["val_acc_seeds"]) / 2)
    assert card["test_acc"] in card["test_acc_seeds"] and min(card["test_acc_seeds"]) > 0.5  # each seed learned
    assert card["test_acc_mean"] == pytest.approx(sum(card["test_acc_seeds"]) / 2) and card["confirmed"]
    assert "over 2 seeds' own weights" in (tmp_path / "model" / "MODEL_CARD.md").read_text()
