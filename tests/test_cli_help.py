"""`mnist-search COMMAND --help` says what every argument does: none is a bare flag a user must guess at."""

import argparse

from search.cli import build_parser


def test_every_argument_of_every_command_has_a_help_line():
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    bare = [
        f"{name} {'/'.join(a.option_strings) or a.dest}"
        for name, command in commands.choices.items()
        for a in command._actions
        if not a.help and not isinstance(a, argparse._HelpAction)
    ]
    assert len(commands.choices) >= 10 and not bare, bare
