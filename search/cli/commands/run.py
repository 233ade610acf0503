"""`mnist-search run`: run (or resume) a study, proxy stage then finals, and print its answer."""

from __future__ import annotations

from dataclasses import fields

from ... import api, reports
from ...engine import selection
from ...errors import TrainingFailed
from ...settings import RunSettings, settings_file_text


def main(args) -> int:
    from ...storage import NO_HEARTBEATS, is_proxy

    settings = {f.name: getattr(args, f.name) for f in fields(RunSettings)}  # the flags are its fields
    if args.print_config:
        RunSettings(**settings)  # the settings' checks: a saved file is one that runs
        print(settings_file_text(settings))
        return 0
    if is_proxy(args.storage):
        print(NO_HEARTBEATS)
    study = api.run(**settings)
    print(reports.summary(study))
    if selection.find_answer(study) is None:
        raise TrainingFailed(
            f"no trial of study {study.study_name!r} trained to the end within budget; "
            f"see the failures above, then run more trials"
        )
    return 0
