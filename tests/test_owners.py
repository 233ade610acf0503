"""Trials left RUNNING by a dead worker on this machine are failed at once and retried (search.storage.owners)."""

import os
import sqlite3
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from search import optuna_adapter, records
from search.errors import StudyWriteFailed
from search.storage import open_storage, owners

pytestmark = [
    pytest.mark.skipif(owners.me() is None, reason="needs /proc (Linux) to tell a process's liveness"),
    pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning"),
]  # trials made by ask(), not optimize


def dead_process() -> tuple[int, int]:
    """The pid and start time of a process that ran here and has exited."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = owners.process_start(p.pid)
    p.kill()
    p.wait()
    return p.pid, start


def test_only_trials_of_dead_workers_on_this_machine_are_failed_and_retried(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'o.db'}"), study_name="s")
    me = owners.me()
    pid, start = dead_process()
    assert owners.process_start(pid) is None and start is not None
    cases = {
        "dead": {**me, "pid": pid, "start": start},
        "pid reused": {**me, "start": me["start"] + 1},  # the pid now belongs to a process started later
        "alive": dict(me),
        "other host": {**me, "host": "elsewhere", "pid": pid, "start": start},
        "other container": {**me, "pidns": "pid:[1]", "pid": pid, "start": start},
        "copied": {**me, "pid": pid, "start": start},  # a retry's copy of an older trial's owner
        "no owner": None,
    }
    trials = {}
    for name, owner in cases.items():
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.set_user_attr(records.STAGE, records.FINAL if name == "dead" else records.PROXY)
        trial.set_user_attr(records.FINAL_OF, 7)
        if owner is not None:
            trial.set_user_attr(records.OWNER, {**owner, "trial": trial.number + (name == "copied")})
        trials[name] = trial.number
    failed = owners.reap(study)
    assert sorted(failed) == sorted([trials["dead"], trials["pid reused"]])
    after = {t.number: t for t in study.get_trials()}
    for name, number in trials.items():
        expected = TrialState.FAIL if number in failed else TrialState.RUNNING
        assert after[number].state == expected, name
    assert "died" in after[trials["dead"]].user_attrs[records.FAIL_REASON]
    retries = {t.system_attrs["failed_trial"]: t for t in after.values() if "failed_trial" in t.system_attrs}
    assert sorted(retries) == sorted(failed)
    for number, retry in retries.items():  # as a heartbeat retry: waiting, same params and stage
        assert retry.state == TrialState.WAITING and retry.params == after[number].params
        assert retry.system_attrs["retry_history"] == [number]
        assert records.OWNER not in retry.user_attrs and records.FAIL_REASON not in retry.user_attrs
    assert retries[trials["dead"]].user_attrs[records.STAGE] == records.FINAL  # a final is retried as a final
    assert retries[trials["dead"]].user_attrs[records.FINAL_OF] == 7
    assert owners.reap(study) == []  # nothing twice


def test_a_retry_that_dies_too_is_failed_but_not_retried_again(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'o.db'}"), study_name="s")
    pid, start = dead_process()
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.set_user_attr(records.OWNER, {**owners.me(), "pid": pid, "start": start, "trial": trial.number})
    assert owners.reap(study) == [trial.number]
    retry = study.ask()  # the waiting retry runs next
    assert retry.params == {"x": study.trials[trial.number].params["x"]}
    pid, start = dead_process()
    retry.set_user_attr(records.OWNER, {**owners.me(), "pid": pid, "start": start, "trial": retry.number})
    assert owners.reap(study) == [retry.number]
    assert not [t for t in study.get_trials() if t.state in (TrialState.WAITING, TrialState.RUNNING)]


def test_a_zombie_counts_as_dead():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:  # exited, not yet waited for: a zombie
        state = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        os.sched_yield()
    assert owners.process_start(p.pid) is None
    p.wait()


ASK_AND_DIE = """
import os, sys, optuna
from search.storage import open_storage, owners
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="s", storage=open_storage(sys.argv[1]))
owners.own_trials_from_the_start(study)
study.ask()  # created, or taken from the queue: then the database is lost before the objective claims it
os._exit(3)
"""


@pytest.mark.parametrize("queued", [False, True], ids=["sampled", "taken from the queue"])
def test_a_worker_that_dies_before_its_objective_runs_leaves_an_owner_to_reap(queued, tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    if queued:
        study.enqueue_trial({"x": 0.5}, user_attrs={records.STAGE: records.FINAL})
    worker = subprocess.run([sys.executable, "-c", ASK_AND_DIE, url], capture_output=True, text=True)
    assert worker.returncode == 3, worker.stderr
    [left] = study.get_trials(states=(TrialState.RUNNING,))
    assert records.owner(left)["pid"] != os.getpid()  # the worker's, recorded without the objective
    assert owners.reap(study) == [left.number]
    after = study.get_trials()
    assert after[left.number].state == TrialState.FAIL
    if queued:  # the final goes back to the queue, as a final, without the dead owner
        [retry] = study.get_trials(states=(TrialState.WAITING,))
        assert retry.user_attrs == {records.STAGE: records.FINAL}
    assert not study.get_trials(states=(TrialState.RUNNING,))


def test_a_trial_created_in_this_worker_is_its_own_and_the_objective_names_its_number(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'o.db'}"), study_name="s")
    owners.own_trials_from_the_start(study)
    create = optuna_adapter.storage_of(study).create_new_trial
    owners.own_trials_from_the_start(study)  # twice in one process: the storage is wrapped once
    assert optuna_adapter.storage_of(study).create_new_trial is create
    trial = study.ask()
    assert records.owner(study.trials[trial.number]) == {**owners.me(), "trial": None}
    owners.claim(trial)
    assert records.owner(study.trials[trial.number]) == {**owners.me(), "trial": trial.number}
    assert owners.reap(study) == []  # alive


def test_a_disk_that_fills_as_a_worker_takes_a_queued_trial_leaves_the_trial_queued(tmp_path):
    """The take and the owner are one write: refused, neither happens, so no RUNNING trial is left that
    names no worker (nothing could tell it was dead; the rerun would leave it RUNNING forever)."""
    from sqlalchemy import event, exc as sa

    storage = open_storage(f"sqlite:///{tmp_path / 'o.db'}")
    study = optuna.create_study(storage=storage, study_name="s")
    study.enqueue_trial({"x": 0.5})
    owners.own_trials_from_the_start(study)

    def disk_full(_conn, _cursor, statement, params, _context, _many):
        if statement.lstrip().upper().startswith("INSERT INTO TRIAL_USER_ATTRIBUTES"):
            full = sqlite3.OperationalError("database or disk is full")
            raise sa.OperationalError(statement, params, full) from full  # as SQLAlchemy raises it

    event.listen(storage.engine, "before_cursor_execute", disk_full)
    with pytest.raises(StudyWriteFailed, match="then rerun the same command"):
        study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    event.remove(storage.engine, "before_cursor_execute", disk_full)
    assert [t.state for t in study.get_trials()] == [TrialState.WAITING]
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # with space again: taken, owned
    assert trial.params == {"x": 0.5}
    assert records.owner(study.trials[trial.number]) == {**owners.me(), "trial": None}
