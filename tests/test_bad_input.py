"""Every command, fed bad input: one clear line on stderr, a non-zero documented exit code, no traceback,
nothing half-written."""

import gzip

import optuna
import pytest

from search.cli import main


@pytest.fixture(scope="module")
def corrupt_root(tmp_path_factory):
    from mnistnet import data as mdata

    root = tmp_path_factory.mktemp("corrupt")
    raw = mdata.ensure_files(root)
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"garbage")
    return root


def cases(tmp, url, corrupt):
    missing_db = f"sqlite:///{tmp / 'absent.db'}"
    return [
        # (argv, exit code, words the message must contain)
        (["run", "--trials", "-1"], 2, "positive whole number"),
        (["run", "--trials", "abc"], 2, "positive whole number"),
        (["run", "--timeout", "0"], 2, "positive number"),
        (["run", "--workers", "0"], 2, "positive whole number"),
        (["run", "--space", "nope", "--storage", url], 5, "unknown space"),
        (["run", "--space", "recipe", "--base", "nope", "--storage", url], 5, "unknown base net"),
        (["run", "--pruner", "magic"], 2, "invalid choice"),
        (["run", "--storage", "not a url"], 4, "malformed storage URL"),
        (["run", "--storage", "sqlite:////proc/forbidden/x.db"], 4, "cannot open or create"),
        (["run", "--storage", "postgresql://u:secretpw@127.0.0.1:1/db"], 4, "cannot use storage"),
        (["run", "--storage", url, "--data-root", str(corrupt), "--trials", "1"], 3, "corrupt"),
        (["run", "--storage", url, "--objective", "size", "--study", "s"], 2, "created with objective"),
        (["train", "--preset", "nope"], 5, "unknown base net"),
        (["train", "--epochs", "0"], 2, "positive whole number"),
        (["train", "--data-root", str(corrupt)], 3, "corrupt"),
        (["best", "--storage", missing_db], 4, "no study database"),
        (["best", "--storage", url, "--study", "nope"], 5, "no study named 'nope'"),
        (["studies", "--storage", "mysql+nodriver://x/y"], 4, "storage"),
        (["report", "--storage", url, "--study", "nope"], 5, "no study named"),
        (["export", "--storage", url, "--study", "nope", "--out", str(tmp / "e1")], 5, "no study named"),
        (["export", "--storage", url, "--study", "s", "--trial", "999", "--out", str(tmp / "e2")], 5, "no trial 999"),
        (["export", "--storage", url, "--study", "s", "--trial", "x", "--out", str(tmp / "e3")], 2, "trial number"),
        (
            ["export", "--storage", url, "--study", "s", "--format", "gif", "--out", str(tmp / "e4")],
            2,
            "unknown format",
        ),
        (["export", "--storage", url], 2, "required: --out"),
        (["evaluate", str(tmp / "no-model")], 5, "no model folder"),
        (["evaluate", str(tmp)], 2, "not an mnist-search model folder"),
        (["predict", str(tmp / "no-model"), "x.png"], 5, "no model folder"),
        (["predict"], 2, "required"),
        (["dashboard", "--port", "99999"], 2, "port number"),
        (["dashboard", "--storage", missing_db], 4, "no study database"),
        (["worker", "--storage", url, "--study", "nope"], 5, "no study named"),
        (["worker", "--storage", url], 2, "required: --study"),
        (["frobnicate"], 2, "invalid choice"),
        (["run", "--storage", url, "--study", "s", "--target-acc", "1.5"], 2, "accuracy in (0, 1]"),
        (["run", "--storage", url, "--study", "s", "--target-acc", "0"], 2, "accuracy in (0, 1]"),
        (["run", "--storage", url, "--study", "s", "--finals", "-1"], 2, "whole number >= 0"),
        (["run", "--precision", "fp16"], 2, "invalid choice: 'fp16'"),
        (["train", "--precision", "half"], 2, "invalid choice: 'half'"),
        (["run", "--workers", "many"], 2, "positive whole number"),
        (["run", "--compile", "yes"], 2, "invalid choice: 'yes'"),
        (["bench", "--sections", "nope"], 2, "unknown bench section nope"),
        (["bench", "--sections", "precision", "--epoch-images", "100"], 2, "give at least 256"),
        (["run", "--time", "10 minutes"], 2, "a duration such as 600 (seconds), 90s, 10m or 1h30m"),
        # measured here (a second of training steps), refused before the study exists
        (["run", "--storage", url, "--study", "t", "--time", "5s", "--no-progress"], 2, "too short for an answer"),
    ]


@pytest.fixture(scope="module")
def env(tmp_path_factory, corrupt_root):
    tmp = tmp_path_factory.mktemp("bad")
    url = f"sqlite:///{tmp / 'mnist.db'}"
    # A study with one trial that trains nothing (its net is over a 1-parameter budget, so the run ends
    # with ImpossibleBudget, a usage error): the quick suite trains no study here.
    assert (
        main(
            [
                "run",
                "--study",
                "s",
                "--workers",
                "1",
                "--trials",
                "1",
                "--storage",
                url,
                "--subset",
                "200",
                "--epochs",
                "1",
                "--val-size",
                "200",
                "--no-progress",
                "--finals",
                "0",
                "--max-params",
                "1",
            ]
        )
        == 2
    )
    study = optuna.load_study(study_name="s", storage=url)
    assert len(study.trials) == 1 and "infeasible" in study.trials[0].user_attrs  # never trained
    return tmp, url, corrupt_root


@pytest.mark.parametrize("index", range(44))
def test_bad_input_gives_one_line_and_a_documented_exit_code(index, env, capsys):
    tmp, url, corrupt = env
    argv, code, words = cases(tmp, url, corrupt)[index]
    trials_before = len(optuna.load_study(study_name="s", storage=url).trials)
    before = sorted(p.name for p in tmp.iterdir() if "-wal" not in p.name and "-shm" not in p.name)
    try:
        got = main(argv)
    except SystemExit as exc:
        got = exc.code
    err = capsys.readouterr().err.strip()
    assert got == code, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert words in err
    assert "secretpw" not in err
    assert sorted(p.name for p in tmp.iterdir() if "-wal" not in p.name and "-shm" not in p.name) == before
    assert len(optuna.load_study(study_name="s", storage=url).trials) == trials_before  # study untouched


def test_the_table_covers_every_case(env):
    tmp, url, corrupt = env
    assert len(cases(tmp, url, corrupt)) == 44


def test_exit_codes_match_the_docs():
    """docs/failures.md's table lists exactly the codes search.errors defines."""
    from pathlib import Path

    from search import errors

    table = Path(__file__).parent.parent / "docs" / "failures.md"
    documented = {int(line.split("|")[1]) for line in table.read_text().splitlines() if line[:3].strip("| ").isdigit()}
    kinds = ("OK", "FAILED", "USAGE", "DATA", "STORAGE", "NOT_FOUND", "WRITE", "INTERRUPTED")
    assert documented == {getattr(errors, kind) for kind in kinds}
    assert {code for _, code in errors.EXIT_CODES} <= documented
