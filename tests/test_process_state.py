"""The library leaves its caller's process as it found it: torch's thread count, Optuna's log
verbosity and torch's loggers are set for a worker's trials or a compiled training only.
Quick: one proxy trial (gap8k, the first warm start) of 300 images x 1 epoch, and one training on 300 images."""

import logging

import optuna
import torch

import search
from mnistnet import train
from space.known import base_net


def test_an_in_process_run_leaves_threads_and_optuna_verbosity_as_it_found_them(tmp_path):
    torch.set_num_threads(1)  # the worker sets cores/workers threads (2 on the CI machine) for its trials
    optuna.logging.set_verbosity(optuna.logging.DEBUG)  # the worker silences Optuna below ERROR for its trials
    try:
        study = search.run(
            trials=1,
            workers=1,
            device="cpu",
            profile="cpu",
            subset=300,
            epochs=1,
            finals=0,
            seed=0,
            storage=f"sqlite:///{tmp_path / 't.db'}",
            study="state",
            progress=False,
            log=lambda *_: None,
        )  # its one trial is the first warm start (gap8k): within budget
        assert [t.state for t in study.trials if t.state != optuna.trial.TrialState.WAITING] == [
            optuna.trial.TrialState.COMPLETE
        ]
        assert torch.get_num_threads() == 1
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)


def test_a_compiled_fit_quiets_the_toolchain_probe_for_its_duration_only(mnist, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: model)  # what fit asks, without compiling
    probe = logging.getLogger("torch.utils.cpp_extension")
    probe.setLevel(logging.INFO)
    during = []
    try:
        config, recipe = base_net("gap8k")
        train.fit(
            config,
            recipe.replace(epochs=1),
            mnist.subset(300),
            device="cpu",
            compile=True,
            on_epoch=lambda m: during.append(probe.level),
            log=lambda *_: None,
        )
        assert during == [logging.ERROR] and probe.level == logging.INFO
    finally:
        probe.setLevel(logging.NOTSET)
