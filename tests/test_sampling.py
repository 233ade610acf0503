"""The search's sampler starts TPE after ten trained nets, however many over-budget draws that takes."""

import optuna
import pytest

from search import records, selection
from search.sampling import STARTUP_TRAINED, make_sampler

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


def size_accuracy_trade_off(mark_plausibility: bool):
    """A front with no knee: each size step buys accuracy, so every trained net is on it."""

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        params, accuracy = int(1_000 + 19_000 * x), 0.95 + 0.04 * x
        for key, value in ((records.PARAMS, params), (records.CONFIG, {}), (records.VAL_ACC_CURVE, [accuracy])):
            trial.set_user_attr(key, value)
        if mark_plausibility:  # what the pareto objective does at the end of a proxy trial
            records.write_plausibility(trial, selection.plausibility_shortfall(trial.study, accuracy))
        return accuracy, params

    return objective


def plausible_share_of_tpe_draws(mark_plausibility: bool) -> float:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(seed=5))
    study.optimize(size_accuracy_trade_off(mark_plausibility), n_trials=60)
    best = max(records.accuracy(t) for t in study.trials)
    tpe = study.trials[STARTUP_TRAINED:]
    return sum(records.accuracy(t) >= best - selection.FINALIST_MARGIN for t in tpe) / len(tpe)


def test_tpe_models_the_front_the_finals_draw_from_not_its_weak_small_end():
    # Without the mark, TPE's good set is the whole front, down to the smallest, weakest nets, and its
    # draws land among the plausible nets about as often as random ones would (a quarter of the range).
    unmarked, marked = plausible_share_of_tpe_draws(False), plausible_share_of_tpe_draws(True)
    assert marked > 2 * unmarked and marked > 0.4, (marked, unmarked)


def test_a_weak_proxy_is_marked_implausible_yet_stays_a_trained_net():
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.optimize(size_accuracy_trade_off(True), n_trials=1)  # x drawn at random
    weak = optuna.trial.create_trial(
        values=[0.90, 1_000.0],
        user_attrs={records.PARAMS: 1_000, records.CONFIG: {}, records.VAL_ACC_CURVE: [0.90]},
        system_attrs={"constraints:plausible": selection.plausibility_shortfall(study, 0.90)},
    )
    study.add_trial(weak)
    weak = study.trials[-1]
    assert weak.constraints[records.PLAUSIBLE] > 0  # Optuna reads it as infeasible ...
    assert records.is_feasible(weak) and records.is_trained(weak)  # ... the project as a trained net
    assert selection.plausibility_shortfall(study, records.accuracy(study.trials[0])) <= 0
