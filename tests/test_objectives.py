"""What the proxy stage optimizes: the size-adjusted value, the size-band stop of multi-objective
trials, and runs without warm starts. Hand-made trials, except one tiny real run."""

import random

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.samplers import TPESampler
from optuna.trial import TrialState, create_trial

import search
from search import records
from search.engine import bands
from search.engine import SIZE_REFERENCE, SIZE_WEIGHT, pareto_size, size_adjusted
from search.settings import PARETO_MIN_PARAMS


def test_size_adjusted_accuracy_trades_a_fixed_share_per_doubling():
    assert size_adjusted(0.99, SIZE_REFERENCE) == pytest.approx(0.99)
    assert size_adjusted(0.99, 2 * SIZE_REFERENCE) == pytest.approx(0.99 - SIZE_WEIGHT)
    # half the size at a little less accuracy wins; at much less accuracy it does not
    assert size_adjusted(0.99 - SIZE_WEIGHT / 2, 5000) > size_adjusted(0.99, 10000)
    assert size_adjusted(0.99 - 2 * SIZE_WEIGHT, 5000) < size_adjusted(0.99, 10000)


def test_under_the_floor_a_smaller_net_is_no_gain_to_the_pareto_sampler():
    assert pareto_size(2_500) == pareto_size(PARETO_MIN_PARAMS) == PARETO_MIN_PARAMS
    assert pareto_size(7_820) == 7_820
    # A front like a default run's: a weak tiny end (1.0-3.8k parameters at 80-97 %), on the front only
    # for its size, and the 4-12k nets the finals draw from. Multi-objective TPE draws from both; with
    # sizes counted from the floor it draws mostly where the finals look.
    rng = random.Random(0)
    nets = [(w, 0.80 + 0.012 * (w - 5)) for w in range(5, 20)]
    nets += [(w, 0.965 + 0.0004 * (w - 20) + rng.uniform(-0.004, 0.004)) for w in range(20, 60, 3)]

    def share_from_floor(size) -> float:
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=TPESampler(seed=0, n_startup_trials=0))
        for w, acc in nets:
            dist = {"w": IntDistribution(4, 60)}
            study.add_trial(create_trial(values=[acc, size(200 * w)], params={"w": w}, distributions=dist))
        drawn = [200 * study.ask().suggest_int("w", 4, 60) for _ in range(100)]
        return sum(p >= PARETO_MIN_PARAMS for p in drawn) / len(drawn)

    raw, floored = share_from_floor(float), share_from_floor(pareto_size)
    assert floored > 0.6 and floored > 1.5 * raw, (raw, floored)


def add(study, params, curve, state=TrialState.COMPLETE, stage=records.PROXY):
    attrs = {records.PARAMS: params, records.VAL_ACC_CURVE: curve, records.STAGE: stage}
    study.add_trial(
        create_trial(
            state=state,
            values=[curve[-1], params] if state == TrialState.COMPLETE else None,
            params={"x": 0.5},
            distributions={"x": FloatDistribution(0, 1)},
            user_attrs=attrs,
        )
    )


@pytest.fixture
def study():
    return optuna.create_study(directions=["maximize", "minimize"])


def test_a_multi_objective_trial_is_stopped_only_below_its_size_bands_median(study):
    for acc in (0.95, 0.96, 0.97):
        add(study, 5000, [0.90, acc, acc + 0.01])
    add(study, 5500, [0.90, 0.965], TrialState.PRUNED)  # stopped trials count too, up to their last epoch
    for acc in (0.98, 0.985, 0.99, 0.99):
        add(study, 18000, [0.95, acc, acc])  # larger nets learn faster: another band
    # peers of a 5.2k net at epoch 2: 0.95, 0.96, 0.965, 0.97 -> median 0.9625
    assert bands.below_band_median(study, 99, 5200, 2, 0.955)
    assert not bands.below_band_median(study, 99, 5200, 2, 0.964)  # below every 18k net, but not its band
    assert not bands.below_band_median(study, 99, 11000, 2, 0.5)  # no net within 1.5x: never stopped
    add(study, 5000, [0.9, 0.9], stage=records.FINAL)  # finals are no peers of proxy trials
    assert not bands.below_band_median(study, 99, 5200, 2, 0.964)


def test_too_few_peers_never_stop_a_trial(study):
    for acc in (0.95, 0.96, 0.97):
        add(study, 5000, [0.9, acc])
    assert not bands.below_band_median(study, 99, 5000, 2, 0.5)


def test_log_bands_cover_the_range_in_equal_log_steps():
    edges = bands.log_bands(1000, 8000, 3)
    assert edges[0][0] == 1000 and edges[-1][1] == 8000
    assert [round(h) for _, h in edges] == [2000, 4000, 8000]
    assert bands.log_bands(5000, 5000, 4) == [(5000, 5000)]


@pytest.mark.slow
def test_a_run_without_warm_start_samples_every_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = search.run(
        trials=4,
        storage=url,
        workers=1,
        subset=300,
        epochs=1,
        finals=0,
        warm_start=False,
        objective="size",
        progress=False,
        log=lambda *_: None,
    )
    assert len(study.trials) == 4 and not any(records.preset(t) for t in study.trials)
    assert study.metric_names == ["size-adjusted validation accuracy"]
    for t in study.trials:  # the study's value is size-adjusted; selection reads the plain accuracy
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(size_adjusted(records.accuracy(t), records.params(t)))


@pytest.mark.parametrize("stop_early", [True, False])
def test_pruner_none_lets_every_pareto_proxy_train_to_its_last_epoch(study, monkeypatch, stop_early):
    """`--pruner none` means no trial is stopped early, under the pareto objective too (whose stop is the
    size band's median, not an Optuna pruner). Training is faked: a net at 50 % among peers at 98 %."""
    from types import SimpleNamespace

    import torch

    import space as spaces
    from mnistnet.train import EpochMetrics, FitResult
    from search.engine import _objective as objective_module  # where the objective looks up fit
    from search.engine import Budget, Fidelity, Objective

    def fit(config, recipe, data, device, on_epoch, **_):
        history = []
        for epoch in range(1, recipe.epochs + 1):
            history.append(EpochMetrics(epoch, 1.0, 0.5, 1.0, 0.5, 0.1, 1.0))
            if on_epoch(history[-1]):
                return FitResult(model=None, history=history, status="stopped")
        return FitResult(model=None, history=history)

    monkeypatch.setattr(objective_module, "fit", fit)
    for params in (5_000, 7_000, 10_000, 14_000, 20_000, 28_000, 40_000):  # a band for any kernel size
        for _ in range(4):
            add(study, params, [0.90, 0.98, 0.99, 0.99])
    objective = Objective(
        spaces.get("recipe", "gap8k"),
        Fidelity(SimpleNamespace(train=range(100)), epochs=4),
        Budget(None, None),
        torch.device("cpu"),
        objective="pareto",
        warmup_epochs=2,
        stop_early=stop_early,
    )
    study.optimize(objective, n_trials=1)
    trial = study.trials[-1]
    if stop_early:
        assert trial.state == TrialState.PRUNED and trial.user_attrs[records.EPOCHS_TRAINED] == 2
    else:
        assert trial.state == TrialState.COMPLETE and trial.user_attrs[records.EPOCHS_TRAINED] == 4


def test_the_run_banner_names_what_stops_proxy_trials():
    from types import SimpleNamespace

    from search.api import pruner_line

    def line(pruner, pareto):
        return pruner_line(SimpleNamespace(pruner=pruner, pareto=pareto, warmup_epochs=2))

    assert line("hyperband", True) == line("median", True) == "size-band median (from epoch 2)"
    assert line("hyperband", False) == "hyperband (from epoch 2)"
    assert line("none", True) == line("none", False) == "none (every proxy trial trains to its last epoch)"
