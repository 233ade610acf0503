"""An exported model folder: what it holds, and loading it back safely (weights_only=True)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from ..errors import ModelFolderError, NotFound

CARD_JSON = "card.json"
REQUIRED = ("config.json", "weights.pt")


def check(folder) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"no model folder at {folder}: pass a folder written by `mnist-search export`")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(
            f"{folder} is not an mnist-search model folder (missing {', '.join(missing)}): "
            f"pass a folder written by `mnist-search export`"
        )
    return folder


def load(folder, device="cpu"):
    """(config, model in eval mode, card dict) of an exported model folder."""
    from mnistnet.model import ConfigError
    from mnistnet.rundir import load_run

    folder = check(folder)
    try:
        config, model = load_run(folder, device)
    except (
        ConfigError,
        json.JSONDecodeError,
        RuntimeError,
        KeyError,
        EOFError,
        ValueError,
        pickle.UnpicklingError,
    ) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFolderError(
            f"{folder} holds an unreadable or foreign model ({reason[:200]}): re-export it with `mnist-search export`"
        ) from None
    card = {}
    if (folder / CARD_JSON).is_file():
        card = json.loads((folder / CARD_JSON).read_text())
    return config, model, card
