"""The measurements behind `mnist-search bench`, one module a question; the command prints and saves them.

Its public names are these modules (benchmarks.precision.interleaved_speed, benchmarks.storage.layout).
"""

from . import compiled, parallel, pipeline, precision, storage

__all__ = ["compiled", "parallel", "pipeline", "precision", "storage"]
