"""The proxy stage's objectives by name (what each computes: search.objective), without imports, so
the command line can offer them without loading Optuna or torch."""

OBJECTIVES = ("accuracy", "size", "pareto")
# The default: on the 2-core CPU, 100 pareto proxy trials trained 2.6x faster than the size-adjusted
# objective's and found more and better nets under 8k parameters (bench/RESULTS.md, proxy designs).
DEFAULT_OBJECTIVE = "pareto"
