"""`mnist-search worker`: join a study created by `run` (possibly from another machine) and run trials."""

from __future__ import annotations

import os
import secrets
import socket

from ... import api, reports
from ...reports import TrialBar
from ...storage import NO_HEARTBEATS, check, is_proxy, location, mask, open_storage
from ...engine import StudySpec, load_existing, stages
from ...running import Stage, WorkerJob, run_trials_in_process


def main(args) -> int:
    dev = api.resolve_device(args.device)
    print(api.describe_precision(args.precision, dev))
    api.check_data(args.data_root)
    artifacts = location(args.storage, args.artifacts)
    check(artifacts)
    storage = open_storage(args.storage, create=False)
    study = load_existing(args.storage, args.study, storage)
    spec = StudySpec.from_study(study, args.storage)
    if is_proxy(args.storage):
        print(NO_HEARTBEATS)
    print(
        f"joining study {spec.name!r} in {mask(args.storage)}: space {spec.space}, {spec.epochs} epochs, "
        f"{spec.subset or 'all'} training images per trial; {args.trials} trials from this worker"
    )
    # A sampler seed of its own, so workers on several machines do not propose the same points.
    job = WorkerJob(
        spec,
        args.device,
        args.data_root,
        artifacts,
        own_trials=args.trials,
        sampler_seed=secrets.randbelow(2**31),
        precision=args.precision,
        compile_finals=api.finals_compiled("auto", spec, api.choose_profile(args.profile, dev.type)),
        log_name=f"worker-{socket.gethostname()}-{os.getpid()}",
        progress=not args.no_progress,
    )
    stage = Stage(until=stages.counted(study) + args.trials, timeout=args.timeout, threads=max(1, os.cpu_count() or 1))
    bar = TrialBar(study, args.trials, enabled=not args.no_progress)
    try:
        run_trials_in_process(job, stage, callbacks=[bar])
    finally:
        bar.close()
    print(reports.summary(study))
    return 0
