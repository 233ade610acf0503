"""The study's engine: what a study is (its spec, sampler and pruner), what a trial computes (the
objective at a stage's fidelity, within the space's budget), and the run's decisions over the
trials: the finalists and the answer (selection), the finals' seeds (confirmation), the size bands,
the device profiles and the time budget's plan.

`selection`, `confirmation`, `bands`, `profiles`, `stages` and `time_plan` are namespaces (selection.find_answer,
profiles.for_device): their functions read best by that name. The engine shows nothing itself:
how progress is drawn and the study's tables belong to search.reports, which it never imports
(a final's epochs reach the caller through the objective's on_final_epoch callback).
"""

from . import _bands as bands
from . import _confirmation as confirmation
from . import _profiles as profiles
from . import _selection as selection
from . import _stages as stages
from . import _time_plan as time_plan
from ._objective import SIZE_REFERENCE, SIZE_WEIGHT, Budget, Fidelity, Objective, pareto_size, size_adjusted
from ._profiles import CPU, GPU, Profile, compile_pays_back, for_device
from ._sampling import STARTUP_TRAINED, make_sampler
from ._selection import find_answer, require_answer, spearman
from ._study import StudySpec, load_existing, make_pruner, open_study, pick_study
from ._time_plan import MIN_PROXY_TRIALS, Rates, Stages

__all__ = [
    "CPU",
    "GPU",
    "MIN_PROXY_TRIALS",
    "SIZE_REFERENCE",
    "SIZE_WEIGHT",
    "STARTUP_TRAINED",
    "Budget",
    "Fidelity",
    "Objective",
    "Profile",
    "Rates",
    "Stages",
    "StudySpec",
    "bands",
    "compile_pays_back",
    "confirmation",
    "find_answer",
    "for_device",
    "load_existing",
    "make_pruner",
    "make_sampler",
    "open_study",
    "pareto_size",
    "pick_study",
    "profiles",
    "require_answer",
    "selection",
    "size_adjusted",
    "spearman",
    "stages",
    "time_plan",
]
