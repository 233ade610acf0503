"""The proxy stage's objectives by name (what each computes: search.engine), without imports, so
the command line can offer them without loading Optuna or torch."""

OBJECTIVES = ("accuracy", "size", "pareto")
# The default: on the 2-core CPU, 100 pareto proxy trials trained 2.6x faster than the size-adjusted
# objective's and found more and better nets under 8k parameters (bench/RESULTS.md, proxy designs).
DEFAULT_OBJECTIVE = "pareto"

# "pareto" objective: below this many parameters a smaller net is no gain to the sampler, so only
# accuracy tells those nets apart. Every net on the front counts as good to multi-objective TPE,
# and the smallest nets are on it whatever they score: in the default run of 4b1389a, 9 of the 28
# completed proxies had 2.3-3.5k parameters at 81.6-96.2 %, far below what the finals take
# (bench/RESULTS.md). The smallest net in this project's finals to reach 99.4 % validation had
# 4,020 parameters; the smallest published net near the target has 4,838.
PARETO_MIN_PARAMS = 4_000

# What each objective's values are called: the study's metric names (the dashboard's and report's
# axes), and the run's opening line that names its objective (search.api).
SIZE_RULE = "accuracy minus a share per doubling of parameters"
METRIC_NAMES = {
    "accuracy": ["validation accuracy"],
    "size": ["size-adjusted validation accuracy"],
    "pareto": ["validation accuracy", f"parameters (at least {PARETO_MIN_PARAMS:,})"],
}
OBJECTIVE_LINES = {
    "accuracy": "validation accuracy",
    "size": f"size-adjusted validation accuracy ({SIZE_RULE})",
    "pareto": "validation accuracy vs parameters (Pareto)",
}
