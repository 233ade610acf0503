"""The selection rules on hand-made trials: finalists are distinct, the answer is the smallest final
reaching the target, Spearman's rank correlation matches hand-computed values. No training."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search import records
from search.engine import selection
from space.known import gap_net


def add(
    study,
    value,
    params,
    stage="proxy",
    final_of=None,
    widths=(8, 10, 14),
    state=TrialState.COMPLETE,
    infeasible=False,
    rung_of=None,
):
    cfg = gap_net(list(widths), [10, 14], 8).to_dict()
    attrs = {records.PARAMS: params, records.MACS: 1000, records.CONFIG: cfg, records.STAGE: stage}
    if final_of is not None:
        attrs[records.FINAL_OF] = final_of
    if rung_of is not None:
        attrs[records.RUNG_OF] = rung_of
    system = {"constraints:params": 1.0 if infeasible else -1.0}
    if infeasible:
        attrs[records.INFEASIBLE] = "over budget"
    t = create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params={"x": value or 0.0},
        distributions={"x": FloatDistribution(0, 1)},
        user_attrs=attrs,
        system_attrs=system,
    )
    study.add_trial(t)
    return study.trials[-1]


@pytest.fixture
def study():
    s = optuna.create_study(direction="maximize")
    s.set_user_attr("target_acc", 0.994)
    return s


def test_answer_is_the_smallest_final_reaching_the_target(study):
    add(study, 0.980, 9000)
    add(study, 0.9945, 12000, "final", 1)
    add(study, 0.9941, 7000, "final", 2)
    add(study, 0.9960, 19000, "final", 3)
    add(study, 0.9930, 5000, "final", 4)  # smaller, but below the target
    assert records.params(selection.find_answer(study)) == 7000


def test_answer_falls_back_to_the_most_accurate_final_then_the_best_proxy(study):
    add(study, 0.985, 9000)
    add(study, 0.970, 4000)
    assert records.params(selection.find_answer(study)) == 9000  # no finals yet: best proxy
    add(study, 0.990, 9000, "final", 0)
    add(study, 0.992, 15000, "final", 1)
    assert records.params(selection.find_answer(study)) == 15000
    assert records.params(selection.find_answer(study, target_acc=0.99)) == 9000


def test_infeasible_and_unfinished_trials_are_never_selected(study):
    add(study, None, 30000, state=TrialState.PRUNED, infeasible=True)
    add(study, 0.0, 30000, infeasible=True)  # how schema 1 stored an over-budget net
    assert selection.find_answer(study) is None
    add(study, 0.95, 9000)
    assert selection.find_answer(study).number == 2


def test_finalists_skip_near_copies(study):
    add(study, 0.990, 8000, widths=(8, 10, 14))
    add(study, 0.989, 8400, widths=(8, 10, 15))  # same layout, 5 % more parameters: a near-copy
    add(study, 0.985, 16000, widths=(8, 10, 14))  # same layout, twice the size: distinct
    add(study, 0.984, 8100, widths=(8, 10))  # another layout: distinct
    chosen = selection.finalists(study, 3)
    assert [records.params(t) for t in chosen] == [8000, 16000, 8100]


def test_finalists_spread_over_the_sizes_of_the_plausible_proxy_trials(study):
    add(study, 0.950, 3000, widths=(4, 6))  # far below the best: not plausible
    add(study, 0.975, 4500, widths=(6, 8))  # 1.5 pp below the best: not plausible
    add(study, 0.982, 6000, widths=(8, 8))
    add(study, 0.985, 9000, widths=(8, 12))
    add(study, 0.988, 15000, widths=(12, 16))
    add(study, 0.990, 19000, widths=(16, 16))
    # log-spaced bands over 6k..19k: the best of each, smallest first (accuracy alone: 19k, 15k, 9k)
    assert [records.params(t) for t in selection.finalists(study, 3)] == [6000, 9000, 19000]
    # more finals than bands with candidates: the rest go to the best remaining distinct nets
    assert [records.params(t) for t in selection.finalists(study, 5)] == [6000, 9000, 15000, 19000, 4500]


def test_of_two_near_copies_in_neighbouring_bands_the_more_accurate_is_a_finalist(study):
    add(study, 0.9788, 5760, widths=(8, 10, 14))  # the best of the smallest band, and a near-copy of ...
    add(study, 0.9816, 6890, widths=(8, 12, 16))  # ... the next band's best, which scored more
    add(study, 0.9774, 4618, widths=(6, 8, 12))
    add(study, 0.9802, 7820, widths=(8, 12, 18))
    add(study, 0.9816, 10414, widths=(10, 14, 20))
    add(study, 0.9818, 17900, widths=(16, 20, 24))
    # the smallest band takes its next best distinct net, 4,618, instead of keeping 6,890 out
    assert [records.params(t) for t in selection.finalists(study, 4)] == [4618, 6890, 10414, 17900]


def test_a_rung_retrains_each_bands_best_and_its_scores_choose_the_finalists(study):
    nets = {p: add(study, acc, p) for p, acc in [(3000, 0.975), (4000, 0.978), (9000, 0.980), (12000, 0.982)]}
    # two size bands, [3000, 6000] and [6000, 12000]: the two best of each, by proxy accuracy
    assert [records.params(t) for t in selection.rung_candidates(study, 2, 2)] == [4000, 3000, 12000, 9000]
    assert [records.params(t) for t in selection.rung_candidates(study, 2, 1)] == [4000, 12000]
    assert [records.params(t) for t in selection.finalists(study, 2)] == [4000, 12000]
    for p, acc in [(3000, 0.990), (4000, 0.987), (9000, 0.991), (12000, 0.989)]:
        add(study, acc, p, "rung", rung_of=nets[p].number)
    # the rung reorders each band; its trials are neither proxies nor finals
    assert [records.params(t) for t in selection.finalists(study, 2)] == [3000, 9000]
    assert len(selection.trained(study, records.PROXY)) == 4 and not selection.trained(study, records.FINAL)
    assert records.params(selection.find_answer(study)) == 12000  # no finals yet: still the best proxy


def test_near_copies_in_neighbouring_bands_both_go_to_the_rung_but_never_two_of_one_band(study):
    add(study, 0.978, 3000)
    add(study, 0.975, 5600)  # the lower band's second net, a near-copy of ...
    add(study, 0.981, 6400)  # ... the upper band's net that scored a little more: the rung decides
    add(study, 0.974, 5400)  # a near-copy of 5600 in its own band
    add(study, 0.982, 12000)
    # bands [3000, 6000] and [6000, 12000]
    assert [records.params(t) for t in selection.rung_candidates(study, 2, 2)] == [3000, 5600, 12000, 6400]
    assert [records.params(t) for t in selection.rung_candidates(study, 2, 3)] == [3000, 5600, 12000, 6400]


def test_a_net_the_rung_retrained_outranks_one_it_did_not(study):
    nets = {p: add(study, acc, p) for p, acc in [(3000, 0.975), (4000, 0.978)]}
    add(study, 0.970, 3000, "rung", rung_of=nets[3000].number)  # retrained, and scored below 4000's proxy
    assert [records.params(t) for t in selection.finalists(study, 1)] == [3000]


def test_after_a_rung_the_finals_are_its_front_and_a_net_a_smaller_one_beats_there_gets_none(study):
    # the proxy and rung scores of the --rung 2 default run in bench/RESULTS.md
    runs = [(6406, 0.9756, 0.9894), (6634, 0.9760, 0.9844), (8574, 0.9756, 0.9878), (10414, 0.9816, 0.9900)]
    runs += [(11260, 0.9748, 0.9870), (11738, 0.9764, 0.9884), (13628, 0.9762, 0.9896)]
    for p, proxy, _ in runs:
        add(study, proxy, p)
    for p, _, at_rung in runs:
        add(study, at_rung, p, "rung", rung_of=next(t.number for t in study.trials if records.params(t) == p))
    # 6,406 beats 6,634 and 8,574 at the rung; gap10k beats every larger net: two finals, not four
    assert [records.params(t) for t in selection.finalists(study, 4)] == [6406, 10414]


def test_a_rung_front_longer_than_k_keeps_the_best_of_each_size_band(study):
    for p, at_rung in [(3000, 0.985), (3400, 0.986), (5000, 0.988), (9000, 0.989), (11000, 0.990)]:
        proxy = add(study, 0.975, p)
        add(study, at_rung, p, "rung", rung_of=proxy.number)
    # all five are on the front; the bands [3000, 5745] and [5745, 11000] keep their best there
    assert [records.params(t) for t in selection.finalists(study, 2)] == [5000, 11000]
    assert [records.params(t) for t in selection.finalists(study, 5)] == [3000, 3400, 5000, 9000, 11000]


def test_the_smallest_band_gets_a_second_final_when_the_rung_put_another_net_there_close_behind(study):
    # the smallest of k log bands over 5,000-20,000 ends at 7,071 (k=4) or 7,937 (k=3)
    runs = [(5000, 0.9890), (6500, 0.9872), (9000, 0.9850), (12000, 0.9896), (20000, 0.9905)]
    for p, at_rung in runs:
        proxy = add(study, 0.975, p, widths=(8, 10, 14) if p != 6500 else (8, 12, 14))
        add(study, at_rung, p, "rung", rung_of=proxy.number)
    # the front: 5000, 12000, 20000; 6,500 is 0.18 pp behind 5,000 at the rung (9,000: 0.4 pp, too far)
    assert [records.params(t) for t in selection.finalists(study, 4)] == [5000, 6500, 12000, 20000]
    # with k finals already, it takes the place of the pick scored lowest outside the band (not the best)
    assert [records.params(t) for t in selection.finalists(study, 3)] == [5000, 6500, 20000]


def test_spearman_matches_hand_computed_values():
    assert selection.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert selection.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks x = 1..5, y = (2, 1, 4, 3, 5): d^2 = 1+1+1+1+0 = 4, rho = 1 - 6*4/(5*24) = 0.8
    assert selection.spearman([0.1, 0.2, 0.3, 0.4, 0.5], [0.97, 0.96, 0.99, 0.98, 0.995]) == pytest.approx(0.8)
    # ties get average ranks: x ranks (1.5, 1.5, 3), y ranks (1, 2, 3) -> Pearson of the ranks
    assert selection.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.8660254)
    assert selection.spearman([1, 2], [1, 2]) is None


def test_an_untrained_study_has_no_answer_for_the_api_nor_for_export(study):
    """search.answer and export's default trial both raise NoResult from one place (search.engine.selection,
    which both import: search.exporting no longer imports search.api)."""
    import search
    from search.exporting import pick_trial

    add(study, None, 9000, state=TrialState.FAIL)
    assert selection.find_answer(study) is None
    for call in (lambda: search.answer(study), lambda: pick_trial(study, "answer")):
        with pytest.raises(search.NoResult, match="no trained model"):
            call()


def test_the_target_and_a_retry_s_attributes_are_read_through_records(study):
    assert records.target_acc(study) == 0.994
    study.set_user_attr(records.TARGET_ACC, 0.99)
    assert records.target_acc(study) == 0.99
    bare = optuna.create_study()  # a study that never stored a target
    assert records.target_acc(bare) == records.DEFAULT_TARGET_ACC and records.target_acc(bare, default=None) is None
    from search.optuna_adapter import storage_of, trial_id

    study.ask().set_user_attr(records.PARAMS, 9000)  # a running trial, as a dead worker leaves it
    records.write_failure_by_id(storage_of(study), trial_id(study.trials[-1]), "x" * 500)
    t = study.trials[-1]
    assert records.fail_reason(t) == "x" * 400
    assert records.FAIL_REASON not in records.retry_user_attrs(t) and records.PARAMS in records.retry_user_attrs(t)


def test_the_finals_line_names_each_finalist_and_counts_them_in_plain_words(study):
    from types import SimpleNamespace

    from search.engine import _stages as stages

    spec = SimpleNamespace(final_subset=None, val_size=5000, final_epochs=20, confirm_seeds=3, target_acc=0.994)
    plan = SimpleNamespace(spec=spec)
    lines = []
    add(study, 0.975, 6000)
    assert [records.params(t) for t in stages.choose_finalists(study, plan, 0, lines.append, 2)] == [6000]
    assert lines[-1].startswith("finals: up to 1 net, smallest first (trial 0: 6,000 params), each on 55,000")
    add(study, 0.980, 12000, widths=(10, 14, 20))
    stages.choose_finalists(study, plan, 0, lines.append, 2)
    assert lines[-1].startswith("finals: up to 2 nets, smallest first (trial 0: 6,000 params, trial 1: 12,000 params)")
