"""A run's time budget: durations, the plan's arithmetic on given speeds, the re-plan from measured
trials (no training), and a tiny real run that ends on its budget's plan with a confirmed answer."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import search
from search import records
from search.engine import selection, time_plan
from search.errors import BadArgument, ImpossibleBudget
from search.engine import Rates, Stages

STAGES = Stages(
    proxy_images=8000,
    proxy_epochs=4,
    rung_images=20000,
    rung_epochs=8,
    final_images=55000,
    final_epochs=30,
    val_images=5000,
    finals=4,
    rung=2,
    confirm_seeds=3,
)
RATES = Rates(train=1e-4, val=2e-5)  # a final: 30 x (5.5 + 0.1) = 168 s; a rung trial 16.8 s; a proxy 3.6 s


@pytest.mark.parametrize(
    "given, seconds", [(600, 600.0), ("600", 600.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("1h30m", 5400.0)]
)
def test_durations(given, seconds):
    assert time_plan.parse_duration(given) == seconds


@pytest.mark.parametrize("given", ["10 m", "m", "", "-5", 0, "ten minutes", True])
def test_a_bad_duration_says_how_to_write_one(given):
    with pytest.raises(BadArgument, match="time must be"):
        time_plan.parse_duration(given)


def test_a_roomy_budget_keeps_every_stage_and_gives_the_proxy_stage_the_rest():
    p = time_plan.plan(1800, 2, STAGES, RATES)
    assert (p.finals, p.rung, p.confirm) == (4, 2, 2)
    assert p.finals_seconds == pytest.approx(2 * 168) and p.confirm_seconds == pytest.approx(168)
    assert p.rung_seconds == pytest.approx(4 * 16.8)  # 8 rung trials, 2 at a time
    assert p.proxy_seconds == pytest.approx(1800 - 4 * 16.8 - 3 * 168)
    assert "4 finals" in p.describe() and "confirmation of 2 more seeds" in p.describe()


def test_a_tight_budget_drops_the_rungs_second_nets_then_finals_a_round_at_a_time_never_the_confirmation():
    roomy = time_plan.plan(1800, 2, STAGES, RATES)
    tight = time_plan.plan(600, 2, STAGES, RATES)
    assert tight.confirm == 2 and tight.finals < roomy.finals
    assert tight.proxy_seconds >= time_plan.MIN_PROXY_TRIALS * tight.proxy_cost / 2
    assert tight.rung_seconds + tight.finals_seconds + tight.confirm_seconds + tight.proxy_seconds <= 600


def test_a_budget_too_short_for_one_confirmed_final_is_refused_with_the_time_it_needs():
    with pytest.raises(ImpossibleBudget, match=r"--time 5:00 is too short .* need about 6:08: give --time 7m or more"):
        time_plan.plan(290, 2, STAGES, RATES, total=300)


def add_trained(study, value: float, attrs: dict) -> None:
    """A finished trial with these user attributes (no training)."""
    study.add_trial(
        create_trial(
            state=TrialState.COMPLETE,
            value=value,
            params={"x": 0.5},
            distributions={"x": FloatDistribution(0, 1)},
            user_attrs=attrs,
        )
    )


def test_the_rest_is_planned_again_at_the_speed_the_proxy_trials_showed():
    study = optuna.create_study()
    for seconds in (7.0, 7.4, 7.2):  # twice the calibrated 3.6 s
        add_trained(
            study,
            0.9,
            {
                records.STAGE: records.PROXY,
                records.TRAIN_IMAGES: 8000,
                records.EPOCHS_TRAINED: 4,
                records.SECONDS: seconds,
            },
        )
    budget = time_plan.TimeBudget(time_plan.Deadline(1800), STAGES, RATES, workers=2)
    p = budget.replan(study, records.PROXY, since=0)
    assert budget.rates.train == pytest.approx(2 * RATES.train)
    assert p.final_cost == pytest.approx(2 * 168) and p.proxy_seconds == 0


def test_a_confirmation_round_is_judged_by_its_seeds_side_by_side_not_by_a_final_alone():
    study = optuna.create_study()
    alone = {records.STAGE: records.FINAL, records.CONFIG: {}, records.SECONDS: 242.0, records.THREADS: 2}
    add_trained(study, 0.99, alone)  # a final alone on both cores
    budget = time_plan.TimeBudget(time_plan.Deadline(1800), STAGES, RATES, workers=2)
    budget.deadline = time_plan.Deadline(300)  # 5 minutes left
    assert budget.final_seconds(study, 0) == pytest.approx(242.0)
    assert budget.final_seconds(study, 0, threads=2) == pytest.approx(242.0)
    side_by_side = budget.final_seconds(study, 0, threads=1)  # two seeds, one core each
    assert 320 < side_by_side < 340  # as measured: 328 and 332 s
    assert budget.round_fits(study, 0, threads=2) and not budget.round_fits(study, 0, threads=1)


@pytest.mark.slow
def test_a_run_on_a_time_budget_plans_its_stages_and_ends_with_a_confirmed_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(time_plan, "MIN_PROXY_TRIALS", 2)  # a short test: the mechanism, not the floor
    lines = []
    study = search.run(
        time="30s",
        trials=10_000,  # the budget, not the count, ends the proxy stage
        storage=f"sqlite:///{tmp_path / 't.db'}",
        workers=1,
        subset=800,
        epochs=2,
        val_size=1000,
        rung=0,
        finals=1,
        final_epochs=1,
        final_subset=3000,
        target_acc=0.3,
        progress=False,
        log=lines.append,
    )
    assert any(line.startswith("time plan for 0:") for line in lines)
    assert any(line.startswith("after the proxy stage, time plan for") for line in lines)
    assert lines[-1].startswith("\ntime budget 0:30: used ")
    proxies = [t for t in study.trials if records.stage(t) == records.PROXY]
    assert 0 < len(proxies) < 10_000
    # each trained trial records its torch threads: what a confirmation round is judged by
    assert all((records.threads(t) or 0) >= 1 for t in study.trials if records.is_trained(t))
    net = selection.answer_net(study)
    assert net is not None and net.mean >= 0.3  # a final learned
    # confirmed, or the run said the budget allowed no round (at this size fixed costs dominate the plan)
    assert (net.confirmed(3) and len(set(net.seeds)) == 3) or any(
        "no time left in the budget" in line for line in lines
    )
