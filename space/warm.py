"""A source preset expressed as a trial of a space, to be enqueued before the sampler starts."""

from __future__ import annotations

from dataclasses import dataclass

from mnistnet.model import NetConfig

PRESET_ATTR = "preset"  # user attribute naming the preset an enqueued trial reproduces


@dataclass
class WarmStart:
    preset: str
    params: dict  # the space's parameter values for the preset
    config: NetConfig  # what the trial will build (checked against the budget before enqueueing)
