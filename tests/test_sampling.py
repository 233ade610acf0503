"""The search's sampler starts TPE after ten trained nets, however many over-budget draws that takes."""

import optuna
import pytest

from search import records
from search.engine import STARTUP_TRAINED, make_sampler

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def over_budget_unless_small(trial):
    """Two in three draws are rejected untrained, as in the arch space."""
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_categorical("head", ["conv_gap", "gap_fc", "flatten_fc"])
    if x > 1 / 3:
        records.write_infeasible(trial, "over budget")
        raise optuna.TrialPruned("over budget")
    return x


def params_of(sampler, n):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=sampler)
    study.optimize(over_budget_unless_small, n_trials=n)
    return study.trials


def test_the_random_start_lasts_until_ten_nets_trained_not_ten_trials():
    searched = params_of(make_sampler(seed=3), 60)
    at_random = params_of(optuna.samplers.RandomSampler(seed=3), 60)
    trained = [t.number for t in searched if records.infeasible_reason(t) is None]
    tenth = trained[STARTUP_TRAINED - 1]
    assert tenth > STARTUP_TRAINED  # over-budget draws came between: Optuna's own count would stop earlier
    # Up to the tenth trained net every point is the random sampler's; after it TPE samples others.
    assert [t.params for t in searched[: tenth + 1]] == [t.params for t in at_random[: tenth + 1]]
    assert [t.params for t in searched[tenth + 1 :]] != [t.params for t in at_random[tenth + 1 :]]
    # TPE learnt the budget: fewer of its draws are rejected than of the random ones.
    rejected_after = sum(records.infeasible_reason(t) is not None for t in searched[tenth + 1 :])
    assert rejected_after / len(searched[tenth + 1 :]) < 0.5
