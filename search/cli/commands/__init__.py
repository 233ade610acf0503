"""One module per `mnist-search` command, each with main(args); search.cli builds the parser and
imports a command's module only when that command runs (so `--help` loads none of their imports).

Its public names are these modules (`from search.cli.commands import train`).
"""

__all__ = [
    "bench",
    "best",
    "dashboard",
    "evaluate",
    "export",
    "predict",
    "presets",
    "report",
    "run",
    "spaces",
    "storage_server",
    "studies",
    "train",
    "worker",
]
