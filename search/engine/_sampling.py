"""The search's sampler: Optuna's TPE, whose random start counts trained nets, not trials.

TPE samples at random until the study holds `n_startup_trials` finished trials, then models the good
and the bad ones. About two in three random points of the `arch` space are over budget, and those
are "finished" at once without training. So TPE's own count could leave it modelling from very few
trained nets: in one run without warm starts, 8 of the first 10 trials were over budget, the 2 that
trained had flattening heads, and TPE completed no global-average-pooling net in 100 trials
(bench/RESULTS.md). Here the random start lasts until `startup` nets have trained within budget:
the over-budget draws cost nothing but a trial number, and TPE starts from as many trained nets as
it was meant to. Enqueued trials (warm starts) count like any other.
"""

from __future__ import annotations

import optuna
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from .. import optuna_adapter, records

STARTUP_TRAINED = 10  # trained nets before TPE models: Optuna's default count of startup trials


def trained_within_budget(t: FrozenTrial) -> bool:
    """Finished after training (complete, or stopped by the pruner), not rejected as over budget."""
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) and records.is_feasible(t)


class TrainedStartupSampler(BaseSampler):
    """Random until `startup` trained nets are in the study, TPE after (module doc)."""

    def __init__(self, tpe: TPESampler, seed: int | None, startup: int = STARTUP_TRAINED):
        self.tpe, self.random, self.startup = tpe, RandomSampler(seed=seed), startup
        self._random_trials: set[int] = set()  # trial ids sampled at random (decided in before_trial)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trained = sum(trained_within_budget(t) for t in study.get_trials(deepcopy=False))
        if trained < self.startup:
            self._random_trials.add(optuna_adapter.trial_id(trial))
        self.tpe.before_trial(study, trial)

    def _at_random(self, trial: FrozenTrial) -> bool:
        return optuna_adapter.trial_id(trial) in self._random_trials

    def infer_relative_search_space(self, study, trial):
        return {} if self._at_random(trial) else self.tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return {} if self._at_random(trial) else self.tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        chosen = self.random if self._at_random(trial) else self.tpe
        return chosen.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._random_trials.discard(optuna_adapter.trial_id(trial))
        self.tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.tpe.reseed_rng()
        self.random.reseed_rng()


def make_sampler(seed: int | None) -> BaseSampler:
    with optuna_adapter.experimental_quiet():
        # constant_liar keeps parallel workers from sampling the same point; group handles the
        # conditional parameters of the arch space. The objective's trial.set_constraint values
        # (Optuna 5's replacement of constraints_func) steer the sampler away from over-budget nets.
        tpe = TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=0)
    return TrainedStartupSampler(tpe, seed=seed)
