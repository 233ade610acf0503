"""`mnist-search report`: one self-contained HTML page about a study."""

from __future__ import annotations

from pathlib import Path

from ... import api
from ...settings import STUDIES_DIR
from ...reports import write_report


def main(args) -> int:
    study = api.load(args.study, args.storage)
    path = write_report(study, Path(args.out or Path(STUDIES_DIR) / "reports"))
    print(f"report written to {path}")
    return 0
