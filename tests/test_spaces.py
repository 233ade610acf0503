import optuna
import pytest

import space
from mnistnet.model import trace
from search.objective import Budget
from search.api import enqueue_warm_starts
from search.study import StudySpec, open_study


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
    budget = Budget(20000, 2_000_000)
    fits = sum(max(budget.excess(trace(c).params, trace(c).macs)) <= 0
               for _, (c, _) in random_trials(space.get("arch"), 300))
    assert fits > 0.3 * 300


def test_recipe_space_turns_the_source_knobs_on_the_base_net():
    trial = optuna.trial.FixedTrial({"batch_size": 64, "lr": 0.05, "momentum": 0.8, "kernel": 5})
    sp = space.get("recipe", "seed001")
    config, recipe = sp.sample(trial)
    assert (recipe.batch_size, recipe.lr, recipe.momentum) == (64, 0.05, 0.8)
    assert config.layers[0].kernel == 5 and [l.kernel for l in config.layers[1:]] == \
        [l.kernel for l in sp.config.layers[1:]]
    assert trace(config).rows[-2][1] == trace(sp.config).rows[-2][1]  # padding keeps the map sizes


def test_recipe_space_on_the_cpu_base_keeps_every_kernel_within_the_cpu_budget():
    """`run --space recipe` on CPU must train, not skip: every kernel variant fits 20k params / 2M MACs."""
    from search.profiles import CPU
    sp = space.get("recipe", CPU.recipe_base)
    for kernel in space.recipe.KERNELS:
        config, _ = sp.sample(optuna.trial.FixedTrial({"batch_size": 128, "lr": 0.1, "momentum": 0.9,
                                                       "kernel": kernel}))
        shape = trace(config)
        assert shape.params <= 20000 and shape.macs <= CPU.max_macs, (kernel, shape.params, shape.macs)


def test_arch_space_priors_keep_dead_configs_rare():
    """Plain (no-BatchNorm) nets get the low learning rates they survive; SGD uses Nesterov; the
    sampled momentum is what the optimizer gets."""
    for trial, (config, recipe) in random_trials(space.get("arch"), 150, seed=3):
        bn = any(l.bn for l in config.layers)
        if recipe.optimizer == "sgd":
            assert recipe.nesterov and recipe.momentum == trial.params["momentum"]
            assert recipe.lr <= (0.5 if bn else 0.08)
        else:
            assert recipe.momentum == trial.params["beta1"] and "momentum" not in trial.params


def test_unknown_space_lists_the_choices():
    with pytest.raises(KeyError, match="arch, recipe"):
        space.get("nope")


def test_presets_in_budget_are_enqueued_once(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = StudySpec("w", url, "arch", "", "accuracy", 20000, None, 2, "hyperband", 0)
    study = open_study(spec)
    queued = enqueue_warm_starts(study, space.get("arch"), Budget(20000, None))
    # the known-good nets (one under 8k parameters), then seed001, the only source net under 20k
    assert queued == ["gap8k", "gap10k", "seed001"]
    assert trace(space.KNOWN[0].config).params < 8000
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs[space.PRESET_ATTR] for t in waiting] == queued
    assert enqueue_warm_starts(study, space.get("arch"), Budget(20000, None)) == []
    # an enqueued trial rebuilds its net's architecture with its own recipe knobs
    config, recipe = space.get("arch").sample(study.ask())
    assert trace(config).params == 7_820 and recipe.optimizer == "sgd" and recipe.lr == 0.1 and recipe.nesterov
    study.ask(), study.ask()
    # the CPU profile's MAC bound keeps gap8k and gap10k, not seed001 (4.1M MACs)
    assert enqueue_warm_starts(open_study(StudySpec("w2", url, "arch", "", "accuracy", 20000, 2_000_000, 2,
                                                    "hyperband", 0)),
                               space.get("arch"), Budget(20000, 2_000_000)) == ["gap8k", "gap10k"]
