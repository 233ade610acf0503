"""`mnist-search run`: run (or resume) a study, proxy stage then finals, and print its answer."""
from __future__ import annotations

from .. import api, selection
from ..errors import TrainingFailed


def main(args) -> int:
    from ..storage_proxy import NO_HEARTBEATS, is_proxy
    if is_proxy(args.storage):
        print(NO_HEARTBEATS)
    study = api.run(trials=args.trials, space=args.space, storage=args.storage, study=args.study, base=args.base,
                    epochs=args.epochs, subset=args.subset, pruner=args.pruner, max_params=args.max_params,
                    max_macs=args.max_macs, val_size=args.val_size, objective=args.objective, seed=args.seed,
                    workers=args.workers, timeout=args.timeout, artifacts=args.artifacts, finals=args.finals,
                    final_epochs=args.final_epochs, final_subset=args.final_subset,
                    target_acc=args.target_acc, device=args.device, precision=args.precision, compile=args.compile,
                    data_root=args.data_root, progress=not args.no_progress,
                    warm_start=not args.no_warm_start, profile=args.profile)
    print(selection.summary(study))
    if selection.answer(study) is None:
        raise TrainingFailed(f"no trial of study {study.study_name!r} trained to the end within budget; "
                             f"see the failures above, then run more trials")
    return 0
