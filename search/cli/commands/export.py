"""`mnist-search export`: a trial's model (default: the study's answer) as files that run anywhere."""

from __future__ import annotations

from dataclasses import fields

from ... import api
from ...settings import ExportSettings


def main(args) -> int:
    api.export(**{f.name: getattr(args, f.name) for f in fields(ExportSettings)})  # the flags are its fields
    return 0
