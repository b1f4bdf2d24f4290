"""Stage 1: turn a corpus into reflections, the self-contained question/answer pairs a memory learns from.

    from memo.reflect import reflect, ReflectConfig
    manifest = reflect("docs/", "refl/", ReflectConfig(profile="compact"))

Output format and steps: docs/REFLECTIONS.md.
"""

from .config import PROFILES, STEPS, ReflectConfig
from .pipeline import FORMAT, coverage, dedup, estimate, read_reflections, reflect
from .schemas import ABSTAIN, Pair

__all__ = ["ABSTAIN", "FORMAT", "PROFILES", "STEPS", "Pair", "ReflectConfig", "coverage", "dedup", "estimate",
           "read_reflections", "reflect"]
