"""The presets' measured accuracy with their source projects' own recipes (bench/preset_claims.py writes
it; `mnist-search presets --results` and the report's front read it): one row a preset, or none where
a preset has not been measured."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS_FILE = Path(__file__).resolve().parent / "preset_results.json"


def load() -> list[dict]:
    """The measured rows (preset, params, macs, claim, seeds, val/test mean and std, test-selected mean,
    minutes, threads, cpu); [] before any measurement."""
    if not RESULTS_FILE.exists():
        return []
    return json.loads(RESULTS_FILE.read_text())
