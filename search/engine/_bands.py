"""Size bands: comparing a net only with nets of similar size.

At proxy fidelity larger nets learn faster (on the 2-core CPU, gap8k scored 97.88 % and a 16.5k net
98.70 % after 8,000 images x 4 epochs, against 99.36 % and 99.50 % at full fidelity), so judging a
small net against all others prunes and discards exactly the nets the search is for. Two uses:
- stopping a multi-objective proxy trial (Optuna cannot prune those) whose accuracy at an epoch is
  below the median of earlier trials of similar size at that epoch, as Optuna's MedianPruner does
  for one objective;
- spreading the finals over log-spaced size bands (search.engine.selection.finalists).
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.trial import TrialState

from .. import records

BAND_RATIO = 1.5  # nets within this factor of each other's parameters are of similar size
MIN_PEERS = 4  # fewer earlier trials of similar size than this: never stop a trial


def similar(a: int, b: int) -> bool:
    return max(a, b) <= BAND_RATIO * max(1, min(a, b))


def below_band_median(study: optuna.Study, number: int, params: int, epoch: int, accuracy: float) -> bool:
    """Whether a proxy trial's accuracy at `epoch` is below the median of the earlier proxy trials of
    similar size at that epoch (at least MIN_PEERS of them, finished or stopped)."""
    peers = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        curve = records.curve(t)
        if (
            t.number != number
            and records.stage(t) == records.PROXY
            and len(curve) >= epoch
            and records.PARAMS in t.user_attrs
            and similar(params, records.params(t))
        ):
            peers.append(curve[epoch - 1])
    return len(peers) >= MIN_PEERS and accuracy < statistics.median(peers)


def log_bands(low: int, high: int, k: int) -> list[tuple[float, float]]:
    """k bands of equal width on a log scale covering [low, high] (one band when low == high)."""
    if k <= 1 or high <= low:
        return [(low, high)]
    step = (math.log(high) - math.log(low)) / k
    edges = [math.exp(math.log(low) + i * step) for i in range(k + 1)]
    edges[0], edges[-1] = low, high  # exact ends: rounding must not leave the extremes out
    return list(zip(edges[:-1], edges[1:]))
