import optuna
import pytest

import space
from mnistnet.model import trace
from search.objective import Budget
from search.study import StudySpec, enqueue_warm_starts, open_study


def random_trials(space_obj, n, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        yield trial, space_obj.sample(trial)
        study.tell(trial, 0.0)


def test_arch_space_samples_buildable_varied_nets():
    shapes = set()
    for _, (config, recipe) in random_trials(space.get("arch"), 200):
        t = trace(config)  # never an impossible net
        shapes.add((len(config.layers), config.head.pool))
        assert recipe.scheduler == "onecycle" and recipe.batch_size in space.arch.BATCH_SIZES
    assert len(shapes) > 8


def test_arch_space_has_a_healthy_share_of_nets_in_the_cpu_budget():
    budget = Budget(20000, 1_500_000)
    fits = sum(max(budget.excess(trace(c).params, trace(c).macs)) <= 0
               for _, (c, _) in random_trials(space.get("arch"), 300))
    assert fits > 0.3 * 300


def test_recipe_space_turns_the_source_knobs_on_the_base_net():
    trial = optuna.trial.FixedTrial({"batch_size": 64, "lr": 0.05, "momentum": 0.8, "kernel": 5})
    config, recipe = space.get("recipe", "seed001").sample(trial)
    assert (recipe.batch_size, recipe.lr, recipe.momentum) == (64, 0.05, 0.8)
    assert {l.kernel for l in config.layers} == {5, 1}
    base = trace(space.get("recipe", "seed001").base.config)
    assert trace(config).rows[-2][1] == base.rows[-2][1]  # padding keeps the map sizes


def test_unknown_space_lists_the_choices():
    with pytest.raises(KeyError, match="arch, recipe"):
        space.get("nope")


def test_presets_in_budget_are_enqueued_once(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = StudySpec("w", url, "arch", "", "accuracy", 20000, None, 2, "hyperband", 0)
    study = open_study(spec)
    queued = enqueue_warm_starts(study, space.get("arch"), Budget(20000, None))
    assert queued == ["seed001"]  # the only source net under 20k parameters
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert waiting[0].user_attrs[space.PRESET_ATTR] == "seed001"
    assert enqueue_warm_starts(study, space.get("arch"), Budget(20000, None)) == []
    # the enqueued trial rebuilds the preset's architecture with its own recipe knobs
    trial = study.ask()
    config, recipe = space.get("arch").sample(trial)
    assert trace(config).params == 16_478 and recipe.optimizer == "sgd" and recipe.lr == 0.01
