"""Continual updates: merge memories, add documents to a memory, list versions, roll back.

    from memo.merge import merge, add, list_versions, rollback
    merge(["memA/", "memB/"], "merged/", method="ties", density=0.3)   # new version of merged/
    add("mem/", "new_docs/")                   # reflect + train + merge + replay -> mem/versions/v000N + retention.json
    list_versions("mem/"); rollback("mem/", "v0001")

Formats and the measured choice of default: docs/MERGING.md.
"""

from .math import METHODS, lora_delta, merge_task_vectors
from .merging import merge, merge_weights
from .update import UpdatePlan, add, retention_report
from .versions import list_versions, rollback
from .weights import IncompatibleMemoriesError

__all__ = [
    "METHODS", "IncompatibleMemoriesError", "UpdatePlan", "add", "list_versions", "lora_delta", "merge",
    "merge_task_vectors", "merge_weights", "retention_report", "rollback",
]
