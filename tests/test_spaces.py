import optuna
import pytest

import space
from mnistnet.model import trace
from search.engine import Budget
from search.engine import stages
from search.engine import StudySpec, open_study


def random_trials(space_obj, n, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        yield trial, space_obj.sample(trial)
        study.tell(trial, 0.0)


def test_arch_space_samples_buildable_varied_nets():
    shapes = set()
    for _, (config, recipe) in random_trials(space.get("arch"), 200):
        trace(config)  # never an impossible net
        shapes.add((len(config.layers), config.head.pool))
        assert recipe.scheduler == "onecycle" and recipe.batch_size in space.arch.BATCH_SIZES
    assert len(shapes) > 8


def test_arch_space_has_a_healthy_share_of_nets_in_the_cpu_budget():
    budget = Budget(20000, 2_000_000, space.arch.MIN_RECEPTIVE_FIELD)
    fits = sum(max(budget.excess(trace(c))) <= 0 for _, (c, _) in random_trials(space.get("arch"), 300))
    assert fits > 0.3 * 300


def test_recipe_space_turns_the_source_knobs_on_the_base_net():
    trial = optuna.trial.FixedTrial({"batch_size": 64, "lr": 0.05, "momentum": 0.8, "kernel": 5})
    sp = space.get("recipe", "seed001")
    config, recipe = sp.sample(trial)
    assert (recipe.batch_size, recipe.lr, recipe.momentum) == (64, 0.05, 0.8)
    assert config.layers[0].kernel == 5 and [l.kernel for l in config.layers[1:]] == [
        l.kernel for l in sp.config.layers[1:]
    ]
    assert trace(config).rows[-2][1] == trace(sp.config).rows[-2][1]  # padding keeps the map sizes


def test_recipe_space_on_the_cpu_base_keeps_every_kernel_within_the_cpu_budget():
    """`run --space recipe` on CPU must train, not skip: every kernel variant fits 20k params / 2M MACs."""
    from search.engine import CPU

    sp = space.get("recipe", CPU.recipe_base)
    for kernel in space.recipe.KERNELS:
        config, _ = sp.sample(
            optuna.trial.FixedTrial({"batch_size": 128, "lr": 0.1, "momentum": 0.9, "kernel": kernel})
        )
        shape = trace(config)
        assert shape.params <= 20000 and shape.macs <= CPU.max_macs, (kernel, shape.params, shape.macs)


def test_arch_space_priors_keep_dead_configs_rare():
    """Every net has BatchNorm and gets the learning rates BatchNorm nets train at; SGD uses Nesterov;
    the sampled momentum is what the optimizer gets."""
    for trial, (config, recipe) in random_trials(space.get("arch"), 150, seed=3):
        assert all(l.bn for l in config.layers if l.relu)
        if recipe.optimizer == "sgd":
            assert recipe.nesterov and recipe.momentum == trial.params["momentum"]
            assert 0.02 <= recipe.lr <= 0.5
        else:
            assert recipe.momentum == trial.params["beta1"] and "momentum" not in trial.params


def test_arch_space_widths_vary_conv_by_conv():
    """Hand-tuned nets narrow and widen layer by layer: so do the sampled ones."""
    varied = 0
    for _, (config, _) in random_trials(space.get("arch"), 50, seed=5):
        widths = [l.channels for l in config.layers if l.kernel == 3]
        assert all(w % 2 == 0 for w in widths)
        varied += len(set(widths)) > 2
    assert varied > 25


@pytest.mark.parametrize("known", space.KNOWN, ids=lambda k: k.name)
def test_each_known_net_is_a_point_of_the_arch_space(known):
    """Enqueued with its full parameters, a known net samples back to the same NetConfig and recipe."""
    params = space.arch.point(known.config, known.recipe)
    config, recipe = space.get("arch").sample(optuna.trial.FixedTrial(params))
    assert config == known.config
    assert (recipe.optimizer, recipe.lr, recipe.momentum, recipe.nesterov, recipe.batch_size, recipe.weight_decay) == (
        known.recipe.optimizer,
        known.recipe.lr,
        known.recipe.momentum,
        known.recipe.nesterov,
        known.recipe.batch_size,
        known.recipe.weight_decay,
    )
    assert recipe.augment.rotate == known.recipe.augment.rotate


def test_a_net_outside_the_arch_space_is_refused_with_the_reason():
    from mnistnet import presets

    with pytest.raises(ValueError, match="outside the space|not one of|pooled blocks"):
        space.arch.net_params(presets.get("seed002").config)  # no BatchNorm, FC head with a hidden layer
    narrow = space.KNOWN[0].config
    odd = type(narrow)(
        [type(l)(**{**vars(l), "channels": 9 if i == 0 else l.channels}) for i, l in enumerate(narrow.layers)],
        narrow.head,
    )
    with pytest.raises(ValueError):
        space.arch.net_params(odd)  # an odd width is between the space's points


def test_unknown_space_lists_the_choices():
    with pytest.raises(KeyError, match="arch, recipe"):
        space.get("nope")


def test_known_nets_are_enqueued_once_as_points_of_the_space(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = StudySpec("w", url, "arch", "", "accuracy", 20000, None, 2, "hyperband", 0)
    study = open_study(spec)
    queued = stages.enqueue_warm_starts(study, space.get("arch"), Budget(20000, None))
    assert queued == ["gap8k", "gap10k"]
    assert trace(space.KNOWN[0].config).params < 8000
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs[space.PRESET_ATTR] for t in waiting] == queued
    assert stages.enqueue_warm_starts(study, space.get("arch"), Budget(20000, None)) == []
    # each enqueued trial builds its known net exactly, architecture and recipe alike (asked through a
    # plain storage: the run's own storage keeps a heartbeat, which Optuna means for Study.optimize only)
    plain = optuna.load_study(study_name="w", storage=url)
    for known in space.KNOWN:
        config, recipe = space.get("arch").sample(plain.ask())
        assert config == known.config and recipe.lr == known.recipe.lr and recipe.nesterov
    # a budget below gap10k keeps gap8k only
    assert stages.enqueue_warm_starts(
        open_study(StudySpec("w2", url, "arch", "", "accuracy", 9000, 2_000_000, 2, "hyperband", 0)),
        space.get("arch"),
        Budget(9000, 2_000_000),
    ) == ["gap8k"]
