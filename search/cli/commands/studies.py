"""`mnist-search studies`: the studies in a storage with their answers."""

from __future__ import annotations

import optuna

from ... import records
from ...engine import selection
from ...storage import mask, open_storage


def main(args) -> int:
    storage = open_storage(args.storage, create=False, heartbeat=False)
    names = optuna.get_all_study_names(storage)
    if not names:
        print(f"no studies in {mask(args.storage)}")
        return 0
    print(f"{'study':<24}{'space':<8}{'trials':>7}{'answer val acc':>16}{'params':>9}  stage")
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        a = selection.find_answer(study)
        acc, params, stage = (
            (f"{records.accuracy(a):.2%}", f"{records.params(a):,}", records.stage(a)) if a else ("-", "-", "")
        )
        print(f"{name:<24}{study.user_attrs.get('space', '?'):<8}{len(study.trials):>7}{acc:>16}{params:>9}  {stage}")
    return 0
