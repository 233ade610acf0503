"""`mnist-search export`: a trial's model (default: the study's answer) as files that run anywhere."""
from __future__ import annotations

from .. import api


def main(args) -> int:
    api.export(args.study, args.out, trial=args.trial, storage=args.storage, formats=args.format.split(","),
               retrain=args.retrain, seeds=args.seeds, epochs=args.epochs, subset=args.subset,
               artifacts=args.artifacts, device=args.device, data_root=args.data_root, seed_check=args.seed_check,
               precision=args.precision, profile=args.profile)
    return 0
