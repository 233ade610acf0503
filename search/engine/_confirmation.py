"""Confirming the answer: a net's finals are trainings of one net with distinct seeds, judged by their mean.

A small net's full-fidelity validation accuracy moves about +-0.1 pp between seeds (99.24-99.40 % over
four trainings of one 4,822-param net), which is the whole margin to the 99.4 % target. So one final
is one draw: believed alone, it favours lucky nets and drops unlucky ones. The finals therefore train
the candidate nets smallest first, with seeds, a round at a time, until the smallest net whose mean
over `confirm_seeds` seeds reaches the target is known (search.engine.stages.final_rounds):

- a net counts toward the answer once it has `confirm_seeds` finished finals (its seeds), by their mean;
- only a net whose mean so far is within CONFIRM_MARGIN of the target is worth more seeds: one further
  below would need its other seeds to beat its first by more than two seed deviations;
- once a net is confirmed at the target, no larger net can be the answer, and the rounds stop: a larger
  candidate is trained only when the smaller ones fall short.

Nets here are keyed by the proxy trial their finals retrain (records.FINAL_OF).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import records

# A net whose mean so far is below the target by more than this gets no more seeds (about 1.5 seed
# deviations of a small net's final, 0.07 pp: its chance of a mean at the target is then under 10 %).
CONFIRM_MARGIN = 0.001
EXTRA_ATTEMPTS = 2  # failed or diverged seeds tolerated per net before it is given up


@dataclass(frozen=True)
class Net:
    """One net's finished finals (one per seed), and what they say together."""

    key: int  # the proxy trial the finals retrain (a final without one: its own number, negated)
    finals: tuple[FrozenTrial, ...]  # by trial number

    @property
    def params(self) -> int:
        return records.params(self.finals[0])

    @property
    def accs(self) -> list[float]:
        return [records.accuracy(t) for t in self.finals]

    @property
    def seeds(self) -> list[int | None]:
        return [records.train_seed(t) for t in self.finals]

    @property
    def count(self) -> int:
        return len(self.finals)

    @property
    def mean(self) -> float:
        return statistics.mean(self.accs)

    @property
    def std(self) -> float:
        """Sample standard deviation over the seeds (0 for one seed)."""
        return statistics.stdev(self.accs) if self.count > 1 else 0.0

    @property
    def best(self) -> FrozenTrial:
        """The seed whose weights stand for the net (exported): the highest validation accuracy."""
        return max(self.finals, key=lambda t: (records.accuracy(t), -t.number))

    def confirmed(self, needed: int) -> bool:
        return self.count >= needed

    def describe(self) -> str:
        """Its mean over seeds, e.g. "99.45% ± 0.03% over 3 seeds (99.41, 99.47, 99.46 %)"."""
        if self.count == 1:
            return f"{self.mean:.2%} (1 seed)"
        each = ", ".join(f"{a * 100:.2f}" for a in self.accs)
        return f"{self.mean:.2%} ± {self.std:.2%} over {self.count} seeds ({each} %)"


def net_key(t: FrozenTrial) -> int:
    of = records.final_of(t)
    return of if of is not None else -1 - t.number


def finals_by_net(trials) -> dict[int, list[FrozenTrial]]:
    out: dict[int, list[FrozenTrial]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if records.is_final(t):
            out.setdefault(net_key(t), []).append(t)
    return out


def nets(study: optuna.Study) -> list[Net]:
    """The nets with at least one finished final, smallest first."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if records.is_trained(t)]
    found = [Net(key, tuple(finals)) for key, finals in finals_by_net(done).items()]
    return sorted(found, key=lambda n: (n.params, n.key))


def net_of(study: optuna.Study, t: FrozenTrial) -> Net | None:
    """The net a final belongs to (None for a trial that is not a finished final)."""
    return next((n for n in nets(study) if any(f.number == t.number for f in n.finals)), None)


def decided(found: list[Net], needed: int, target: float) -> Net | None:
    """The smallest net confirmed at the target, if any."""
    return next((n for n in found if n.confirmed(needed) and n.mean >= target), None)


def wanted(
    study: optuna.Study, needed: int, target: float, fill: int, candidates=(), one_net: bool = False
) -> list[tuple[FrozenTrial, int | None]]:
    """The trainings to run next, as (a trial of the net, its seed), smallest undecided net first, up to
    `fill` (the workers there are). A net is one with finished finals near the target (it gets the seeds
    it still needs), or one of the `candidates` (proxy trials picked for the finals) not yet trained at
    full fidelity (it gets one first final, as (the proxy trial, None): the run's own seed; a small net
    far from the target after one seed is not worth two more). None for a net larger than one already
    confirmed at the target; empty when the answer is known or no net can be it. With one_net, no
    larger net's training follows a net's seeds in a round: on a CPU a lone training gets every core,
    so the seed that decides the answer ends sooner than beside one needed only if that net fails."""
    every = finals_by_net(study.get_trials(deepcopy=False))
    finished = nets(study)
    known = {n.key for n in finished}
    units: list[tuple[int, int, Net | None, FrozenTrial]] = [(n.params, n.key, n, n.finals[0]) for n in finished]
    units += [(records.params(c), c.number, None, c) for c in candidates if c.number not in known]
    out: list[tuple[FrozenTrial, int | None]] = []
    for _, key, net, source in sorted(units, key=lambda u: (u[0], u[1])):
        if net is not None:
            if net.confirmed(needed):
                if net.mean >= target:
                    break  # the answer: nothing larger can be it
                continue
            if net.mean < target - CONFIRM_MARGIN:
                continue
        tries = every.get(key, [])
        pending = [t for t in tries if t.state in (TrialState.WAITING, TrialState.RUNNING)]
        if len(tries) >= needed + EXTRA_ATTEMPTS and not pending:
            continue  # its seeds keep failing: give it up rather than loop
        if net is None and pending:
            continue  # its first final is under way: what it scores decides whether it gets more
        if net is None and not tries:
            out.append((source, None))  # one first final (the run's seed); more only if it comes near
            if len(out) >= fill:
                break
            continue
        used = {records.train_seed(t) for t in tries}
        missing = needed - (net.count if net else 0) - len(pending)
        seed = 0
        for _ in range(min(max(0, missing), fill - len(out))):  # never more than the workers take at once
            while seed in used:
                seed += 1
            used.add(seed)
            out.append((source, seed))
        if len(out) >= fill or (one_net and out):
            break
    return out


def net_number(t: FrozenTrial) -> int:
    """The proxy trial whose net `t` trains: a final's FINAL_OF, else its own number (a candidate)."""
    of = records.final_of(t)
    return of if of is not None and records.is_final(t) else t.number
