"""A progress bar over a run's trials (tqdm.auto: a widget in notebooks, text in terminals)."""
from __future__ import annotations

import optuna

from . import records, selection


class TrialBar:
    """Counts the study's finished trials since the bar started; shows the best so far."""

    def __init__(self, study: optuna.Study, total: int, desc: str = "trials", enabled: bool = True):
        from tqdm.auto import tqdm
        self.study = study
        self.before = self._finished()
        self.bar = tqdm(total=total, desc=desc, unit="trial", disable=not enabled, dynamic_ncols=True)

    def _finished(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False) if t.state.is_finished())

    def refresh(self) -> None:
        self.bar.n = min(self.bar.total, max(0, self._finished() - self.before))
        best = selection.answer(self.study)
        if best is not None:
            self.bar.set_postfix_str(f"best {records.accuracy(best):.2%} ({records.params(best):,} params)")
        self.bar.refresh()

    def __call__(self, study, trial) -> None:  # an Optuna callback (a failed trial's line: search.failures)
        self.refresh()

    def close(self) -> None:
        self.bar.close()
