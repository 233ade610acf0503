"""`mnist-search run | best | studies | spaces`."""
from __future__ import annotations

import os
import time

import optuna

import space as spaces

from . import fronts, profiles
from .errors import FAILED, NOT_FOUND, CliError
from .storage import artifact_dir, mask, open_storage
from .study import StudySpec, enqueue_warm_starts, load_existing, open_study, pick_study
from .workers import WorkerJob, run_worker, run_workers


class TrialBar:
    """A tqdm bar over this run's trials showing the best validation accuracy so far."""

    def __init__(self, study: optuna.Study, total: int, enabled: bool = True):
        from tqdm import tqdm
        self.study = study
        self.before = self._finished()
        self.bar = tqdm(total=total, desc="trials", unit="trial", disable=not enabled, dynamic_ncols=True)

    def _finished(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False) if t.state.is_finished())

    def refresh(self) -> None:
        self.bar.n = min(self.bar.total, max(0, self._finished() - self.before))
        best = fronts.best_trial(self.study)
        if best is not None:
            self.bar.set_postfix_str(f"best {fronts.accuracy(best):.2%} ({best.user_attrs['params']:,} params)")
        self.bar.refresh()

    def __call__(self, study, trial) -> None:  # an Optuna callback
        if trial.state == optuna.trial.TrialState.FAIL:
            reason = trial.user_attrs.get("fail_reason", "see the trial's attributes")
            self.bar.write(f"trial {trial.number} failed: {reason}")
        self.refresh()

    def close(self) -> None:
        self.bar.close()


def check_data(data_root) -> None:
    """Verify the MNIST files before any study is touched, so a data problem writes nothing."""
    from mnistnet import data as mdata
    mdata.ensure_files(mdata.resolve_root(data_root))


def default_study_name(space_name: str, objective: str) -> str:
    return space_name if objective == "accuracy" else f"{space_name}-{objective}"


def run_search(args) -> int:
    from mnistnet.train import resolve_device

    if args.space not in spaces.SPACES:
        raise CliError(f"unknown space {args.space!r}; choose one of: {', '.join(spaces.SPACES)}", NOT_FOUND)
    try:
        space = spaces.get(args.space, args.base)
    except KeyError as exc:
        raise CliError(exc.args[0], NOT_FOUND) from None
    device = resolve_device(args.device)
    check_data(args.data_root)
    profile = profiles.for_device(device.type, args.subset, args.epochs, args.max_macs)
    spec = StudySpec(name=args.study or default_study_name(args.space, args.objective), storage=args.storage,
                     space=args.space, base=args.base if args.space == "recipe" else "",
                     objective=args.objective, max_params=args.max_params or None,
                     max_macs=profile.max_macs, epochs=profile.epochs, pruner=args.pruner, seed=args.seed,
                     subset=profile.subset, val_size=args.val_size)
    storage = open_storage(spec.storage)
    study = open_study(spec, storage)
    from .objective import Budget
    queued = enqueue_warm_starts(study, space, Budget(spec.max_params, spec.max_macs))
    resumed = len(study.trials) - len(queued)
    print(f"study {spec.name!r} in {mask(spec.storage)}" + (f" (resumed: {resumed} trials so far)" if resumed else ""))
    print(f"space {args.space}; objective {'validation accuracy vs parameters (Pareto; no pruning)' if spec.pareto else 'validation accuracy'}; "
          f"max params {spec.max_params or 'none'}; pruner {spec.pruner if not spec.pareto else 'none'}; device {device}")
    print(f"{profile.describe()} ({profiles.OVERRIDE_HINT})")
    if queued:
        print(f"warm start: {', '.join(queued)} enqueued first")
    workers = args.workers
    threads = max(1, (os.cpu_count() or 1) // workers) if device.type == "cpu" else 1
    arts = str(artifact_dir(spec.storage, args.artifacts))
    job = WorkerJob(spec, args.device, args.data_root, arts, args.trials, args.timeout, threads)
    bar = TrialBar(study, args.trials, enabled=not args.no_progress)
    start = time.perf_counter()
    try:
        if workers == 1:
            run_worker(job, callbacks=[bar])
        else:
            codes = run_workers(job, workers, on_poll=bar.refresh)
            if any(codes):
                print(f"warning: {sum(1 for c in codes if c)} of {workers} workers exited with an error")
    finally:
        bar.close()
    wall = time.perf_counter() - start
    print(f"\n{args.trials} trials requested, {wall:.0f}s wall time")
    print(fronts.summary(study))
    return 0 if fronts.best_trial(study) is not None else FAILED


def run_join(args) -> int:
    """`mnist-search worker`: join a study created by `run` (possibly from another machine)."""
    import secrets

    from mnistnet.train import resolve_device

    resolve_device(args.device)
    check_data(args.data_root)
    storage = open_storage(args.storage, create=False)
    study = load_existing(args.storage, args.study, storage)
    spec = StudySpec.from_study(study, args.storage)
    print(f"joining study {spec.name!r} in {mask(args.storage)}: space {spec.space}, {spec.epochs} epochs, "
          f"{spec.subset or 'all'} training images per trial; {args.trials} trials from this worker")
    # A sampler seed of its own, so workers on several machines do not propose the same points.
    job = WorkerJob(spec, args.device, args.data_root, str(artifact_dir(args.storage, args.artifacts)),
                    args.trials, args.timeout, max(1, os.cpu_count() or 1), sampler_seed=secrets.randbelow(2**31))
    bar = TrialBar(study, args.trials, enabled=not args.no_progress)
    try:
        run_worker(job, callbacks=[bar])
    finally:
        bar.close()
    print(fronts.summary(study))
    return 0


def run_best(args) -> int:
    storage = open_storage(args.storage, create=False, heartbeat=False)
    study = pick_study(args.storage, args.study, storage)
    print(fronts.summary(study))
    return 0 if fronts.best_trial(study) is not None else FAILED


def run_studies(args) -> int:
    storage = open_storage(args.storage, create=False, heartbeat=False)
    names = optuna.get_all_study_names(storage)
    if not names:
        print(f"no studies in {mask(args.storage)}")
        return 0
    print(f"{'study':<24}{'space':<8}{'trials':>7}{'best val acc':>14}{'params':>9}")
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        b = fronts.best_trial(study)
        acc, params = (f"{fronts.accuracy(b):.2%}", f"{b.user_attrs['params']:,}") if b else ("-", "-")
        print(f"{name:<24}{study.user_attrs.get('space', '?'):<8}{len(study.trials):>7}{acc:>14}{params:>9}")
    return 0


def run_spaces(args) -> int:
    for name, description in spaces.SPACES.items():
        print(f"{name:<8}{'(default) ' if name == spaces.DEFAULT else ''}{description}")
    return 0
