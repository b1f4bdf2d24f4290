"""Stage 1: turn a corpus into reflections, the self-contained question/answer pairs a memory learns from.

    from memo.reflect import reflect, ReflectConfig
    manifest = reflect("docs/", "refl/", ReflectConfig(profile="compact"))

Output format and steps: docs/REFLECTIONS.md.
"""

from ..settings import PROFILES, STEPS, ReflectConfig
from .pipeline import coverage, dedup, estimate, read_reflections, reflect
from ..records import ABSTAIN, Pair

__all__ = ["ABSTAIN", "PROFILES", "STEPS", "Pair", "ReflectConfig", "coverage", "dedup", "estimate",
           "read_reflections", "reflect"]
