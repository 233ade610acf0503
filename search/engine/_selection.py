"""Choosing among trials: the proxy ranking, the finalists and the study's answer (search.reports shows them as text).

The flow is proxy -> finals -> answer:
- proxy trials are ranked by validation accuracy (fewer parameters break ties);
- the finalists are K *distinct* proxy trials spread over sizes: among the plausible ones (proxy
  accuracy within FINALIST_MARGIN of the best), the best of each of K log-spaced size bands, so a
  run ends with a full-fidelity accuracy-parameters front rather than K near-ceiling nets (the
  proxy favours large nets, search.bands); a near-copy of one already chosen (same layer layout,
  parameter count within 25 %) is skipped, the more accurate of two staying, and bands left empty
  go to the best remaining nets;
- with a rung (a longer training of each band's best few before the finals, which ranks small nets
  far better than the proxy), the finalists are instead the rung's front: the retrained nets no
  smaller retrained net beats at the rung, at most K;
- the answer is the smallest net whose finals' mean validation accuracy, over the seeds the study
  asks for (search.confirmation), reaches the target, else the net with the best mean (or, with no
  finals, the best proxy trial); its seed with the best validation accuracy stands for it. Test
  accuracy never takes part.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import records
from . import _bands as bands, _confirmation as confirmation
from ..errors import NoResult

NEAR_COPY_RATIO = 1.25  # parameter counts within this factor, with one layout, count as one net
# Proxy accuracy below the best by more than this: not a finalist. At 8,000 images x 4 epochs gap8k
# scored 0.8 pp below the best proxy of its run and still reached 99.36 % at full fidelity.
FINALIST_MARGIN = 0.01


def trained(study: optuna.Study, stage: str | None = None) -> list[FrozenTrial]:
    """Completed, within-budget trials (of one stage, if given)."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if records.is_trained(t) and (stage is None or records.stage(t) == stage)
    ]


def rank_key(t: FrozenTrial):
    return (-records.accuracy(t), records.params(t))


def ranked(trials) -> list[FrozenTrial]:
    """Best first: highest validation accuracy, then fewer parameters."""
    return sorted(trials, key=rank_key)


def pareto_front(trials, score=records.accuracy, size=records.params) -> list:
    """Trials (or nets) no other beats on both `score` (higher; validation accuracy by default) and
    `size` (fewer parameters), by size."""
    front, best = [], -1.0
    for t in sorted(trials, key=lambda t: (size(t), -score(t))):
        if score(t) > best:
            front.append(t)
            best = score(t)
    return front


def layout(t: FrozenTrial) -> tuple:
    """A net's shape without its widths: kernels, BatchNorm, pools, head."""
    cfg = t.user_attrs[records.CONFIG]
    convs = tuple((layer["kernel"], layer["bn"], layer["pool"]) for layer in cfg["layers"])
    return convs, tuple(sorted(cfg["head"].items()))


def near_copies(a: FrozenTrial, b: FrozenTrial) -> bool:
    ratio = max(records.params(a), records.params(b)) / max(1, min(records.params(a), records.params(b)))
    return layout(a) == layout(b) and ratio <= NEAR_COPY_RATIO


def rung_scores(study: optuna.Study) -> dict[int, float]:
    """Proxy trial number -> the validation accuracy its finished rung trial reached."""
    scores: dict[int, float] = {}
    for t in trained(study, records.RUNG):
        if records.rung_of(t) is not None:
            scores[records.rung_of(t)] = max(scores.get(records.rung_of(t), 0.0), records.accuracy(t))
    return scores


def distinct(t: FrozenTrial, others) -> bool:
    return not any(near_copies(t, c) for c in others)


def size_bands(proxies: list[FrozenTrial], k: int) -> list[list[FrozenTrial]]:
    """The plausible proxy trials (within FINALIST_MARGIN of the best), in k log-spaced size bands,
    each band in the order of `proxies`."""
    best = records.accuracy(ranked(proxies)[0])
    plausible = [t for t in proxies if records.accuracy(t) >= best - FINALIST_MARGIN]
    sizes = [records.params(t) for t in plausible]
    return [
        [t for t in plausible if low <= records.params(t) <= high]
        for low, high in bands.log_bands(min(sizes), max(sizes), k)
    ]


def rung_candidates(study: optuna.Study, k: int, per_band: int) -> list[FrozenTrial]:
    """The proxy trials a rung retrains: the `per_band` best plausible nets of each of the finals' k size
    bands, by proxy accuracy, smallest band first; two of one band are never near-copies. A near-copy
    in another band is retrained too, and the rung's front then decides between them: at the proxy
    the two often differ by less than a seed moves one (in one default run a sampled 6,676-param
    near-copy of gap8k scored 97.92 % against its 98.02 %, and excluding it left gap8k's band to itself)."""
    proxies = ranked(trained(study, records.PROXY))
    if not proxies or k <= 0 or per_band <= 0:
        return []
    picked: list[FrozenTrial] = []
    for band in size_bands(proxies, k):
        mine: list[FrozenTrial] = []
        for t in band:
            if len(mine) < per_band and distinct(t, mine) and t not in picked:  # a net on an edge: lower band
                mine.append(t)
        picked += mine
    return picked


def finalists(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """K distinct proxy trials spread over the sizes of the plausible ones (module doc); where a rung has
    run, its front instead (rung_front)."""
    if k <= 0:
        return []
    scores = rung_scores(study)
    if scores:
        return rung_front(study, k, scores)
    proxies = ranked(trained(study, records.PROXY))
    if not proxies:
        return []
    chosen: dict[int, FrozenTrial] = {}  # band -> its pick

    # The best of each size band. Bands choose in the order of their best nets' accuracy, so where the
    # picks of two bands are near-copies, the more accurate one stays and the other band takes its
    # next best (choosing smallest band first once gave a band's best, 98.16 % at proxy fidelity, up
    # for a 97.88 % near-copy in the band below).
    by_band = size_bands(proxies, k)
    while len(chosen) < k:
        picks = [
            (b, next((t for t in band if distinct(t, chosen.values())), None))
            for b, band in enumerate(by_band)
            if b not in chosen
        ]
        picks = [(b, t) for b, t in picks if t is not None]
        if not picks:
            break
        b, t = min(picks, key=lambda bt: rank_key(bt[1]))
        chosen[b] = t
    finals = [chosen[b] for b in sorted(chosen)]  # smallest band first
    # Bands left empty go to the best remaining distinct nets.
    for t in proxies:
        if len(finals) < k and distinct(t, finals):
            finals.append(t)
    return finals


def rung_front(study: optuna.Study, k: int, scores: dict[int, float]) -> list[FrozenTrial]:
    """The finalists after a rung: the retrained nets that no smaller retrained net beats there, smallest
    first; of more than k, the best there of each of k log-spaced size bands of them. A net the rung saw
    beaten by a smaller one gets no final: it would hardly be on the full-fidelity front, and the
    larger finals are the run's longest (in one default run the rung put 8,574 below 6,406 and 13,628
    below gap10k, and their finals then scored below those nets' too)."""
    retrained = [t for t in trained(study, records.PROXY) if t.number in scores]
    front = pareto_front(retrained, score=lambda t: scores[t.number])
    if len(front) <= k:
        picks = list(front)
    else:
        by_score = sorted(front, key=lambda t: -scores[t.number])
        sizes = [records.params(t) for t in front]
        picks = []
        for low, high in bands.log_bands(min(sizes), max(sizes), k):
            band = [t for t in by_score if low <= records.params(t) <= high and t not in picks]
            if band:
                picks.append(band[0])
        picks += [t for t in by_score if t not in picks][: k - len(picks)]  # bands left empty
    picks = second_chance(retrained, picks, k, scores)
    return sorted(picks, key=lambda t: (records.params(t), t.number))


# A net the rung scored this close below the smallest band's best still gets a final there: one rung
# training is one seed, and the band holding the smallest answers should not hang on one final.
SECOND_CHANCE_MARGIN = 0.003


def second_chance(retrained, picks, k: int, scores: dict[int, float]) -> list:
    """The smallest of the k size bands of the retrained nets gets a second final when the rung's front
    left it one and another distinct net there scored within SECOND_CHANCE_MARGIN of it at the rung.
    With k finals already, it takes the place of the pick the rung scored lowest outside that band
    (never the rung's best). In 2 of 7 default runs logged in bench/results, one net under 8,000
    parameters reached the finals, and when it missed the target no small net had another try.
    Never the rung's best, because that pick is the run's fallback: giving the smallest band both finals
    in its place would have turned 1 of 5 default runs into a smaller confirmed answer and 1 into none
    at all (bench/RESULTS.md, "two small finals instead of one")."""
    if k < 2 or not retrained:
        return picks
    sizes = [records.params(t) for t in retrained]
    _, high = bands.log_bands(min(sizes), max(sizes), k)[0]
    mine = [t for t in picks if records.params(t) <= high]
    if len(mine) != 1:
        return picks
    best = scores[mine[0].number]
    extra = next(
        (
            t
            for t in sorted(retrained, key=lambda t: -scores[t.number])
            if records.params(t) <= high
            and t not in picks
            and not near_copies(t, mine[0])
            and scores[t.number] >= best - SECOND_CHANCE_MARGIN
        ),
        None,
    )
    if extra is None:
        return picks
    if len(picks) >= k:
        others = [t for t in picks if t not in mine and scores[t.number] < max(scores[p.number] for p in picks)]
        if not others:
            return picks
        picks = [t for t in picks if t is not min(others, key=lambda t: scores[t.number])]
    return picks + [extra]


def finals_of(study: optuna.Study) -> dict[int, list[FrozenTrial]]:
    """Proxy trial number -> its final trials in any state (waiting, running, finished)."""
    out: dict[int, list[FrozenTrial]] = {}
    for t in study.get_trials(deepcopy=False):
        if records.is_final(t) and records.final_of(t) is not None:
            out.setdefault(records.final_of(t), []).append(t)
    return out


def find_answer(study: optuna.Study, target_acc: float | None = None) -> FrozenTrial | None:
    """The study's answer: of the smallest net confirmed at the target validation accuracy (its mean over
    the study's confirm_seeds seeds reaches it), else of the net with the best mean, the seed with the
    best validation accuracy; with no finished final, the best proxy trial."""
    net = answer_net(study, target_acc)
    if net is not None:
        return net.best
    proxies = ranked(trained(study, records.PROXY))
    return proxies[0] if proxies else None


def answer_net(study: optuna.Study, target_acc: float | None = None) -> confirmation.Net | None:
    """The net behind the answer (None before any final has finished)."""
    target = target_acc if target_acc is not None else records.target_acc(study)
    found = confirmation.nets(study)
    if not found:
        return None
    net = confirmation.decided(found, records.confirm_seeds(study), target)
    return net if net is not None else max(found, key=lambda n: (n.mean, -n.params))


def require_answer(study: optuna.Study, target_acc: float | None = None) -> FrozenTrial:
    """find_answer(), or NoResult when nothing has trained yet (search.answer, export's default trial)."""
    a = find_answer(study, target_acc)
    if a is None:
        raise NoResult(f"study {study.study_name!r} has no trained model within budget yet: run more trials")
    return a


def spearman(xs, ys) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None for fewer than 3 pairs."""
    if len(xs) < 3:
        return None

    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        r = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for m in range(i, j + 1):
                r[order[m]] = (i + j) / 2 + 1
            i = j + 1
        return r

    rx, ry = ranks(list(xs)), ranks(list(ys))
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / var if var else None


def proxy_vs_final(study: optuna.Study) -> list[tuple[FrozenTrial, confirmation.Net]]:
    """(proxy trial, its net's finished finals) pairs."""
    proxies = {t.number: t for t in trained(study, records.PROXY)}
    return [(proxies[n.key], n) for n in confirmation.nets(study) if n.key in proxies]


def ranking_quality(study: optuna.Study) -> float | None:
    """Spearman's rank correlation between proxy score and full-fidelity validation accuracy (a net's
    mean over its seeds)."""
    pairs = proxy_vs_final(study)
    return spearman([records.accuracy(p) for p, _ in pairs], [n.mean for _, n in pairs])
