"""`mnist-search spaces`: the named search spaces."""

from __future__ import annotations

import space as spaces


def main(args) -> int:
    for name, description in spaces.SPACES.items():
        print(f"{name:<8}{'(default) ' if name == spaces.DEFAULT else ''}{description}")
    return 0
