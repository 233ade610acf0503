"""`mnist-search best`: a study's answer, its finals and the proxy stage's Pareto front."""

from __future__ import annotations

from ... import api, reports
from ...engine import selection
from ...errors import TrainingFailed


def main(args) -> int:
    study = api.load(args.study, args.storage)
    print(reports.summary(study))
    if selection.find_answer(study) is None:
        raise TrainingFailed(f"study {study.study_name!r} has no trained model within budget yet: run more trials")
    return 0
