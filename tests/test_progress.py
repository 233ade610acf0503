"""Progress where stderr is not a terminal (CI, a log file): one line per finished trial, not a bar
redrawn at every refresh; a final's epochs as lines with validation accuracy and the time left."""

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search import records
from search.reports import _progress as progress  # line_mode is looked up there
from search.settings import clock
from space.known import gap_net


def finished(study, value, params):
    study.add_trial(
        create_trial(
            state=TrialState.COMPLETE,
            value=value,
            params={"x": value},
            distributions={"x": FloatDistribution(0, 1)},
            user_attrs={
                records.PARAMS: params,
                records.STAGE: records.PROXY,
                records.CONFIG: gap_net([8, 10, 14], [10, 14], 8).to_dict(),
            },
            system_attrs={"constraints:params": -1.0},
        )
    )


def test_without_a_terminal_the_trial_bar_writes_a_line_per_finished_trial(monkeypatch, capsys):
    monkeypatch.setattr(progress, "line_mode", lambda: True)
    study = optuna.create_study(direction="maximize")
    bar = progress.TrialBar(study, 3, desc="proxy trials")
    bar.refresh()  # nothing finished: nothing written
    finished(study, 0.97, 9000)
    bar(study, None)
    bar.refresh()  # a poll with nothing new: no second line
    finished(study, 0.98, 7000)
    finished(study, 0.95, 5000)
    bar.refresh()
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "\r" not in "".join(lines)
    assert lines[0].startswith("proxy trials: 1/3 finished, 0:00 elapsed; best 97.00% (9,000 params)")
    assert lines[1].startswith("proxy trials: 3/3 finished") and "best 98.00% (7,000 params)" in lines[1]


def test_a_disabled_bar_writes_nothing_in_either_mode(monkeypatch, capsys):
    for lines in (True, False):
        monkeypatch.setattr(progress, "line_mode", lambda lines=lines: lines)
        study = optuna.create_study(direction="maximize")
        bar = progress.TrialBar(study, 2, enabled=False)
        finished(study, 0.9, 1000)
        bar.refresh()
        bar.close()
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""


def test_under_pytest_stderr_is_no_terminal():
    assert progress.line_mode()


def test_a_final_epoch_line_says_accuracy_and_time_left():
    line = progress.final_epoch_line(12, 5, 3, 20, 0.99123, 63.0)
    assert line == ("final trial 12 (retrains trial 5): epoch 3/20, validation 99.12%, 1:03 elapsed, about 5:57 left")
    assert clock(3725) == "1:02:05"
