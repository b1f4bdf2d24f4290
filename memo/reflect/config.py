"""Settings of one reflection run. Defaults suit the embedded generator; memo.toml's [reflect] table overrides
them, CLI flags override that."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: The pipeline's steps in run order. "abstention" adds "I don't know." pairs (on by default).
STEPS = ("direct", "indirect", "consolidate", "verify", "entity", "cross_document", "abstention")
PROFILES = ("auto", "full", "compact")


@dataclass
class ReflectConfig:
    profile: str = "auto"  # full (paper prompts, capable generators) | compact (135M-friendly) | auto
    generator: str | None = None  # model spec; None -> the config's generator role
    steps: tuple[str, ...] = STEPS  # steps left out are skipped ("verify" left out passes pairs through unchecked)
    chunk_tokens: int = 256
    overlap_tokens: int = 32
    seed: int = 0
    temperature: float = 1.1  # extraction sampling in the full profile (paper: 1.1, top_p 0.95)
    top_p: float = 0.95
    samples: int = 1  # extraction samples per chunk and pass (full profile), each with its own seed
    generator_questions: bool = False  # compact: let the generator propose each sentence's question (rules back it up)
    max_fix_attempts: int = 5
    embedder: str = "minilm"
    group_size: int = 4  # largest cross-document group
    group_similarity: float = 0.55  # cosine of document embeddings that links two documents
    grouping_file: str | None = None  # JSON list of lists of document ids / titles / sources
    near_duplicate: float = 0.95  # cosine of question+answer embeddings above which a pair is a duplicate
    abstention_ratio: float = 0.1  # abstention pairs per kept pair
    price_in_per_mtok: float | None = None  # price per million prompt tokens, for --dry-run cost estimates
    price_out_per_mtok: float | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        self.steps = tuple(self.steps)
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEPS)}")
        if self.max_fix_attempts < 1 or self.group_size < 2 or self.samples < 1:
            raise ValueError("max_fix_attempts >= 1, group_size >= 2 and samples >= 1 are required")

    @classmethod
    def from_table(cls, table: dict[str, Any] | None, **overrides: Any) -> "ReflectConfig":
        """From memo.toml's [reflect] table plus explicit (non-None) overrides."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in (table or {}).items() if k in names}
        unknown = set(table or {}) - names
        if unknown:
            raise ValueError(f"[reflect] has unknown key(s): {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
