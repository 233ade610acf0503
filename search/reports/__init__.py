"""What a run shows: its progress (a bar over the trials, or a line per finished trial where stderr
is no terminal, and a line per epoch of a final), the study as text (the summary `run`, `best` and
`worker` print, and its tables) and the study's HTML report.

Only the command line, the API and the worker processes draw progress: the engine never imports this.
"""

from ._html import write_report
from ._progress import TrialBar, final_epoch_line, line_mode, say
from ._tables import summary

__all__ = ["TrialBar", "final_epoch_line", "line_mode", "say", "summary", "write_report"]
