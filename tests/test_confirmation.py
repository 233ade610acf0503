"""The confirmed answer on hand-made trials: a net counts by its mean over seeds, the run asks for
seeds of the smallest nets near the target first, and stops once the answer is known. No training."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search import records
from search import reports
from search.engine import confirmation, selection
from space.known import gap_net

TARGET = 0.994


def final(study, net, acc, params, seed=0, state=TrialState.COMPLETE):
    """A final of proxy trial `net` trained with `seed` (its recipe's, as the objective writes it)."""
    attrs = {
        records.PARAMS: params,
        records.MACS: 1000,
        records.CONFIG: gap_net([8, 10, 14], [10, 14], 8).to_dict(),
        records.STAGE: records.FINAL,
        records.FINAL_OF: net,
        records.RECIPE: {"seed": seed},
    }
    if state == TrialState.COMPLETE:
        attrs[records.VAL_ACC_CURVE] = [acc]
    study.add_trial(
        create_trial(
            state=state,
            value=acc if state == TrialState.COMPLETE else None,
            params={"x": float(net)},
            distributions={"x": FloatDistribution(0, 1000)},
            user_attrs=attrs,
            system_attrs={"constraints:params": -1.0},
        )
    )


@pytest.fixture
def study():
    s = optuna.create_study(direction="maximize")
    s.set_user_attr(records.TARGET_ACC, TARGET)
    s.set_user_attr(records.CONFIRM_SEEDS, 3)
    return s


def test_a_lucky_seed_is_not_an_answer_until_its_mean_over_three_seeds_reaches_the_target(study):
    final(study, 1, 0.9950, 4000)  # one lucky seed of a small net
    final(study, 2, 0.9944, 9000, seed=0)
    final(study, 2, 0.9941, 9000, seed=1)
    final(study, 2, 0.9946, 9000, seed=2)
    assert records.params(selection.find_answer(study)) == 9000  # 4,000 has one seed of three
    final(study, 1, 0.9925, 4000, seed=1)
    final(study, 1, 0.9930, 4000, seed=2)
    assert confirmation.nets(study)[0].mean == pytest.approx((0.9950 + 0.9925 + 0.9930) / 3)
    assert records.params(selection.find_answer(study)) == 9000  # its mean, 99.35 %, is below the target
    final(study, 3, 0.9939, 6000, seed=0)
    final(study, 3, 0.9942, 6000, seed=1)
    final(study, 3, 0.9941, 6000, seed=2)
    a = selection.find_answer(study)  # 6,000: a mean of 99.407 %, though no seed of it is the best
    assert records.params(a) == 6000 and records.accuracy(a) == 0.9942  # its best seed stands for it


def test_without_a_confirmed_net_at_the_target_the_answer_is_the_best_mean(study):
    final(study, 1, 0.9950, 4000)
    final(study, 1, 0.9910, 4000, seed=1)
    final(study, 2, 0.9938, 9000)
    final(study, 2, 0.9936, 9000, seed=1)
    assert records.params(selection.find_answer(study)) == 9000  # 99.37 % beats 99.30 % on the mean


def test_a_study_from_before_confirmation_believes_one_seed(study):
    study.set_user_attr(records.CONFIRM_SEEDS, None)
    old = optuna.create_study(direction="maximize")
    old.set_user_attr(records.TARGET_ACC, TARGET)
    final(old, 1, 0.9941, 7000)
    final(old, 2, 0.9960, 12000)
    assert records.confirm_seeds(old) == 1 and records.params(selection.find_answer(old)) == 7000
    assert confirmation.wanted(old, records.confirm_seeds(old), TARGET, fill=2) == []


def test_seeds_go_to_the_smallest_net_near_the_target_first_a_round_the_size_of_the_workers(study):
    final(study, 1, 0.9900, 3000)  # far below the target: no more seeds
    final(study, 2, 0.9935, 5000)  # within the margin
    final(study, 3, 0.9948, 8000)
    final(study, 4, 0.9960, 15000)
    got = confirmation.wanted(study, 3, TARGET, fill=2)
    assert [(records.final_of(t), s) for t, s in got] == [(2, 1), (2, 2)]
    # four workers: the next net near the target takes the other two
    got = confirmation.wanted(study, 3, TARGET, fill=4)
    assert [(records.final_of(t), s) for t, s in got] == [(2, 1), (2, 2), (3, 1), (3, 2)]


def proxy(study, *sizes):
    """Proxy trials picked for the finals (no final yet), of the given sizes, numbered from 0."""
    for params in sizes:
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE,
                value=0.98,
                params={"x": 0.5},
                distributions={"x": FloatDistribution(0, 1000)},
                user_attrs={records.PARAMS: params, records.STAGE: records.PROXY},
            )
        )
    return study.get_trials()


def test_the_finals_train_the_smallest_candidates_first_and_stop_once_one_is_confirmed(study):
    small, middle, large = proxy(study, 5000, 7000, 9000)
    # a first final each for the two smallest candidates (the run's seed), as many as there are workers
    got = confirmation.wanted(study, 3, TARGET, fill=2, candidates=[large, small, middle], one_net=True)
    assert [(confirmation.net_number(t), s) for t, s in got] == [(0, None), (1, None)]
    final(study, 0, 0.9940, 5000, seed=7)
    final(study, 1, 0.9960, 7000, seed=7)
    got = confirmation.wanted(study, 3, TARGET, fill=2, candidates=[large, small, middle], one_net=True)
    assert [(confirmation.net_number(t), s) for t, s in got] == [(0, 0), (0, 1)]  # 5,000 is near: its seeds
    final(study, 0, 0.9942, 5000, seed=0)
    final(study, 0, 0.9944, 5000, seed=1)
    assert confirmation.wanted(study, 3, TARGET, fill=2, candidates=[large, small, middle], one_net=True) == []
    assert records.params(selection.find_answer(study)) == 5000  # 9,000 was never trained


def test_a_lone_deciding_seed_gets_the_round_to_itself_on_a_cpu(study):
    small, large = proxy(study, 5000, 9000)
    final(study, 0, 0.9940, 5000, seed=7)
    final(study, 0, 0.9939, 5000, seed=0)
    got = confirmation.wanted(study, 3, TARGET, fill=2, candidates=[small, large], one_net=True)
    assert [(confirmation.net_number(t), s) for t, s in got] == [(0, 1)]
    # more workers than it needs, not on a CPU: the next candidate's first final beside it
    got = confirmation.wanted(study, 3, TARGET, fill=2, candidates=[small, large])
    assert [(confirmation.net_number(t), s) for t, s in got] == [(0, 1), (1, None)]


def test_a_candidate_far_below_after_one_seed_gets_no_more_and_the_next_takes_its_place(study):
    small, middle, large = proxy(study, 5000, 7000, 9000)
    final(study, 0, 0.9921, 5000, seed=7)  # far below the target
    final(study, 1, 0.9925, 7000, seed=7)
    got = confirmation.wanted(study, 3, TARGET, fill=2, candidates=[small, middle, large], one_net=True)
    assert [(confirmation.net_number(t), s) for t, s in got] == [(2, None)]


def test_confirming_stops_at_the_smallest_net_confirmed_at_the_target(study):
    final(study, 2, 0.9941, 5000)
    final(study, 3, 0.9950, 8000)
    final(study, 2, 0.9943, 5000, seed=1)
    final(study, 2, 0.9940, 5000, seed=2)
    assert confirmation.wanted(study, 3, TARGET, fill=2) == []  # 5,000 is the answer: 8,000 cannot be
    assert records.params(selection.find_answer(study)) == 5000


def test_a_net_confirmed_below_the_target_hands_the_next_round_to_the_next_net(study):
    final(study, 2, 0.9941, 5000)
    final(study, 2, 0.9921, 5000, seed=1)
    final(study, 2, 0.9930, 5000, seed=2)
    final(study, 3, 0.9950, 8000)
    got = confirmation.wanted(study, 3, TARGET, fill=2)
    assert [(records.final_of(t), s) for t, s in got] == [(3, 1), (3, 2)]


def test_new_seeds_skip_those_queued_running_or_failed_and_a_failing_net_is_given_up(study):
    final(study, 2, 0.9941, 5000, seed=0)
    final(study, 2, None, 5000, seed=1, state=TrialState.FAIL)
    got = confirmation.wanted(study, 3, TARGET, fill=2)
    assert [s for _, s in got] == [2, 3]  # seed 1 failed once: new seeds
    final(study, 2, None, 5000, seed=2, state=TrialState.FAIL)
    final(study, 2, None, 5000, seed=3, state=TrialState.FAIL)
    final(study, 2, None, 5000, seed=4, state=TrialState.FAIL)
    assert confirmation.wanted(study, 3, TARGET, fill=2) == []  # 5 tries for 3 seeds: given up


def test_the_summary_shows_each_seed_and_the_mean(study):
    final(study, 2, 0.9941, 5000, seed=0)
    final(study, 2, 0.9943, 5000, seed=1)
    final(study, 2, 0.9942, 5000, seed=2)
    text = reports.summary(study)
    assert "validation accuracy 99.42% ± 0.01% over 3 seeds (99.41, 99.43, 99.42 %)" in text
    assert "99.41% (seed 0), 99.43% (seed 1), 99.42% (seed 2); confirmed" in text
    assert "reaches the target 99.40%" in text
