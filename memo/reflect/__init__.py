"""Stage 1: turn a corpus into reflections, the self-contained question/answer pairs a memory learns from.

    from memo.reflect import reflect, ReflectConfig
    manifest = reflect("docs/", "refl/", ReflectConfig(profile="rules"))

Two profiles share the pipeline (pipeline.py), the run context (context.py) and the checks (checks.py):
`full` (llm_steps.py: the paper's prompts, for a capable generator) and `rules` (rule_steps.py: spaCy's parse,
no generator model). Output format and steps: docs/REFLECTIONS.md.
"""

from ..records import ABSTAIN, Pair
from ..settings import PROFILES, STEPS, ReflectConfig
from .pipeline import coverage, dedup, estimate, read_reflections, reflect

__all__ = ["ABSTAIN", "PROFILES", "STEPS", "Pair", "ReflectConfig", "coverage", "dedup", "estimate",
           "read_reflections", "reflect"]
