"""A run's settings saved to a file and read back: `mnist-search run ... --print-config > run.json`
writes them, `mnist-search run --config run.json` starts the same run again (flags given beside it win).

The file is one JSON object of the run's settings by their Python names, the fields of
search.settings.RunSettings (as `search.run` takes them, e.g. "max_params", "warm_start"). A text
value is read as its flag would read it ("subset": "all"); every value gets the flag's checks.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from ..errors import BadArgument

SAVE_HINT = "write one with `mnist-search run [FLAGS] --print-config > run.json`"


def read(path: str, settings) -> dict:
    """The settings in the JSON file at `path`, by field name; BadArgument for anything else."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BadArgument(f"cannot read the config file {path} ({reason}): {SAVE_HINT}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadArgument(
            f"the config file {path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): {SAVE_HINT}"
        ) from None
    if not isinstance(values, dict):
        raise BadArgument(f'the config file {path} must hold one JSON object of settings, e.g. {{"trials": 100}}')
    known = [f.name for f in fields(settings)]
    for key in values:
        if key not in known:
            raise BadArgument(
                f"the config file {path} names an unknown setting {key!r}; the settings are: {', '.join(known)}"
            )
    return values


def dumps(values: dict) -> str:
    return json.dumps(values, indent=2)
