"""Progress of a run: a bar over its trials (tqdm.auto: a widget in notebooks, text in terminals), and
a line per epoch of each final.

Where stderr is not a terminal (a log file, CI, a pipe), a bar redrawn in place would write a new
copy of itself at every refresh: there the trials' progress is one line per finished trial instead.
"""

from __future__ import annotations

import sys
import time

import optuna

from .. import records
from ..engine import selection
from ..settings import clock


def line_mode() -> bool:
    """Whether progress goes out as plain lines: stderr is not a terminal, and this is no notebook
    (where tqdm.auto draws a widget, whatever stderr is)."""
    from tqdm.auto import tqdm

    if any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__):
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return True


def say(line: str) -> None:
    """A line on stderr, above this process's progress bar if it has one."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


class TrialBar:
    """Counts the study's finished trials since the bar started; shows the best so far. Where stderr
    is not a terminal (line_mode), it writes one line per finished trial instead of a bar."""

    def __init__(
        self, study: optuna.Study, total: int, desc: str = "trials", enabled: bool = True, ends: float | None = None
    ):
        from tqdm.auto import tqdm

        self.study, self.total, self.desc = study, total, desc
        self.ends = ends  # under a time budget: when the stage is planned to end (time.monotonic)
        self.before = self._finished()
        self.lines = enabled and line_mode()
        self.shown, self.start = 0, time.monotonic()
        self.bar = tqdm(total=total, desc=desc, unit="trial", disable=not enabled or self.lines, dynamic_ncols=True)

    def _finished(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False) if t.state.is_finished())

    def _eta(self) -> str:
        return "" if self.ends is None else f"planned to end in {clock(self.ends - time.monotonic())}"

    def _best(self) -> str:
        net = selection.answer_net(self.study)
        if net is not None:  # after the finals: the answer's net, by its mean over seeds
            seeds = f", {net.count} seeds" if net.count > 1 else ""
            return f"best {net.mean:.2%} ({net.params:,} params{seeds})"
        best = selection.find_answer(self.study)
        return "" if best is None else f"best {records.accuracy(best):.2%} ({records.params(best):,} params)"

    def refresh(self) -> None:
        n = min(self.total, max(0, self._finished() - self.before))
        if self.lines:
            if n > self.shown:
                self.shown = n
                extra = "; ".join(filter(None, [self._best(), self._eta()]))
                say(
                    f"{self.desc}: {n}/{self.total} finished, {clock(time.monotonic() - self.start)} elapsed"
                    + (f"; {extra}" if extra else "")
                )
            return
        self.bar.n = n
        extra = ", ".join(filter(None, [self._best(), self._eta()]))
        if extra:
            self.bar.set_postfix_str(extra)
        self.bar.refresh()

    def __call__(self, study, trial) -> None:  # an Optuna callback (a failed trial's line: search.running)
        self.refresh()

    def close(self) -> None:
        self.bar.close()


def final_epoch_line(
    trial: int, final_of: int | None, epoch: int, epochs: int, val_acc: float, elapsed: float, seed: int | None = None
) -> str:
    """One epoch of a final (minutes each on a CPU): its validation accuracy and the time left at this pace."""
    of = (
        f" (retrains trial {final_of}" + (f", seed {seed})" if seed is not None else ")")
        if final_of is not None
        else ""
    )
    left = elapsed / epoch * (epochs - epoch)
    return (
        f"final trial {trial}{of}: epoch {epoch}/{epochs}, validation {val_acc:.2%}, "
        f"{clock(elapsed)} elapsed, about {clock(left)} left"
    )
