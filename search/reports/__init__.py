"""What a run shows: its progress (a bar over the trials, or a line per finished trial where stderr
is no terminal, and a line per epoch of a final), the study as text (the summary `run`, `best` and
`worker` print, and its tables) and the study's HTML report.

Only the command line, the API and the worker processes draw progress: the engine never imports this.
"""

from ._html import write_report
from ._progress import TrialBar, final_epoch_line, line_mode, say
from ._tables import answer_line, describe_counts, front_chart, nets_table, summary, table

__all__ = [
    "TrialBar",
    "answer_line",
    "describe_counts",
    "final_epoch_line",
    "front_chart",
    "line_mode",
    "nets_table",
    "say",
    "summary",
    "table",
    "write_report",
]
