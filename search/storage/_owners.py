"""Who runs a trial, and failing at once the running trials whose worker process is gone.

Each trial records its worker process (records.OWNER: host, boot, PID namespace, pid, and the
process's start time from /proc/<pid>/stat) in the same storage write that creates it or takes it
from the queue (own_trials_from_the_start; through the gRPC proxy, in the call right after the take):
a worker that loses the database, or whose disk fills, between creating a trial and running it
leaves no trial without an owner. A worker starting up (and each worker before each trial) looks at the study's RUNNING trials: one whose owner ran on this machine, in
this boot and PID namespace, and whose process no longer exists (pid gone or a zombie, or the pid
now belongs to a process started at another time) is failed now and retried with the storage's
heartbeat retry policy, exactly as a heartbeat-stale trial would be. Trials of other machines, and
any trial where this cannot be told (no /proc, e.g. macOS), are left to the heartbeats.
"""

from __future__ import annotations

import copy
import datetime
import os
import socket
from functools import lru_cache
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import optuna_adapter, records


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


@lru_cache(maxsize=1)
def _machine() -> tuple[str, str, str] | None:
    """(host, boot id, PID namespace) of this process, or None where /proc cannot tell."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    if not boot:
        return None
    return socket.gethostname(), boot, pidns


def process_start(pid: int) -> int | None:
    """The start time of a live process (clock ticks since boot, /proc/<pid>/stat field 22);
    None when no such process runs (gone, or a zombie awaiting its parent)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": fields 3 onwards
    if fields[0] in ("Z", "X"):  # dead, not yet reaped by its parent
        return None
    return int(fields[19])


def me() -> dict | None:
    """This process as a trial owner, or None where its liveness cannot be checked later."""
    machine = _machine()
    start = process_start(os.getpid()) if machine else None
    if machine is None or start is None:
        return None
    host, boot, pidns = machine
    return {"host": host, "boot": boot, "pidns": pidns, "pid": os.getpid(), "start": start}


def claim(trial: optuna.Trial) -> None:
    """Record this process as the trial's owner (the trial's number guards against copies:
    a retry or enqueued copy of a trial carries its user attributes along)."""
    owner = me()
    if owner is not None:
        records.write_owner(trial, {**owner, "trial": trial.number})


def own_trials_from_the_start(study: optuna.Study) -> None:
    """Make this process the owner of each trial it creates or takes from the queue from the storage
    call that does so, not only once the objective claims it: Optuna's ask makes several storage
    calls (and the sampler's work) before the objective runs, and a worker that loses the database
    there would leave a trial RUNNING that no one could tell was dead (no owner; the gRPC proxy has
    no heartbeats, and a database's heartbeat starts after ask). The owner's "trial" is None until
    claim() names the number (the storage call does not know it yet)."""
    owner = me()
    storage = optuna_adapter.storage_of(study)
    if owner is None or getattr(storage, "_owned_by", None) == owner["pid"]:
        return  # already done in this process
    owner = {**owner, "trial": None}
    create, set_state = storage.create_new_trial, storage.set_trial_state_values
    # A database storage takes a queued trial and names its owner in one write; the proxy, in two.
    take = getattr(optuna_adapter.backend_of(storage), "take_waiting_trial", None)

    def create_owned(study_id, template_trial=None):
        if template_trial is None:  # a trial that study.ask samples: one call creates it with its owner
            template_trial = FrozenTrial(
                number=-1,
                state=TrialState.RUNNING,
                value=None,
                datetime_start=datetime.datetime.now(),
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={records.OWNER: owner},
                system_attrs={},
                intermediate_values={},
                trial_id=-1,
            )
        return create(study_id, template_trial)

    def set_state_owned(trial_id, state, values=None):
        if state != TrialState.RUNNING or values is not None:
            return set_state(trial_id, state, values)
        if take is not None:  # taken from the queue with its owner
            return take(trial_id, records.OWNER, owner)
        taken = set_state(trial_id, state, values)
        if taken:  # taken from the queue: say whose at once
            storage.set_trial_user_attr(trial_id, records.OWNER, owner)
        return taken

    storage.create_new_trial, storage.set_trial_state_values = create_owned, set_state_owned
    storage._owned_by = owner["pid"]


def owner_is_dead(t: FrozenTrial) -> bool:
    """True only when the trial's owner certainly ran here and certainly no longer does."""
    owner = records.owner(t)
    machine = _machine()
    # A trial's own owner names its number (or None, recorded when it was created or taken from the
    # queue); a copy's carried-over owner names another trial's.
    if not isinstance(owner, dict) or machine is None or owner.get("trial") not in (t.number, None):
        return False
    if (owner.get("host"), owner.get("boot"), owner.get("pidns")) != machine:
        return False  # another machine, boot or container: its heartbeats tell
    try:
        pid, start = int(owner["pid"]), int(owner["start"])
    except (KeyError, TypeError, ValueError):
        return False
    return process_start(pid) != start


def without_constraints(system_attrs: dict) -> dict:
    """System attributes minus Optuna's constraint values: a retried trial sets its own (setting one twice
    makes Optuna warn and ignore the value)."""
    return {k: v for k, v in system_attrs.items() if not k.startswith("constraints:")}


class CleanRetry:
    """Optuna's RetryHeartbeatStaleTrialCallback, but the retry does not inherit the constraint values,
    nor its predecessor's owner and failure reason."""

    def __init__(self, max_retry: int | None = 1):
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        with optuna_adapter.experimental_quiet():
            self.inner = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trial = copy.deepcopy(trial)
        trial.system_attrs = without_constraints(trial.system_attrs)
        trial.user_attrs = records.retry_user_attrs(trial)
        self.inner(study, trial)


def retry_callback(storage):
    """The storage's heartbeat retry policy (see storage.open_storage), or the same one."""
    callback = (
        storage.get_heartbeat_stale_trial_callback() if hasattr(storage, "get_heartbeat_stale_trial_callback") else None
    )
    if callback is None:
        callback = CleanRetry(max_retry=1)
    return callback


def reap(study: optuna.Study, log=None) -> list[int]:
    """Fail the study's RUNNING trials whose worker died on this machine and enqueue their retries
    (the storage's heartbeat retry policy); returns the failed trials' numbers."""
    if _machine() is None:
        return []
    storage = optuna_adapter.storage_of(study)
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not owner_is_dead(t):
            continue
        owner = records.owner(t)
        reason = f"its worker (pid {owner['pid']} on {owner['host']}) died while it ran"
        try:
            records.write_failure_by_id(storage, optuna_adapter.trial_id(t), reason)
            if not storage.set_trial_state_values(optuna_adapter.trial_id(t), TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first, and retried it
        dead = copy.deepcopy(storage.get_trial(optuna_adapter.trial_id(t)))
        # The retry starts clean: no owner, no failure reason of its predecessor.
        dead.user_attrs = records.retry_user_attrs(dead)
        dead.system_attrs = without_constraints(dead.system_attrs)  # the retry sets them itself, once
        with optuna_adapter.experimental_quiet():
            retry_callback(storage)(study, dead)
        failed.append(t.number)
        if log:
            again = "" if dead.system_attrs.get("retry_history") else ", queued to run again"
            log(f"trial {t.number}: {reason}; failed it{again}")
    return failed
