"""Budgets and temperatures of the executive, with the research code's defaults (MEMO_METHOD.md section 4).

Override them in memo.toml under `[executive]`, or pass an `ExecutiveSettings` to `ask()`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..config import Config, ConfigError, load_config


class ExecutiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Budgets.
    entity_turns: int = Field(7, ge=0, description="stage 2 (entity identification) turns")
    answer_turns: int = Field(8, ge=0, description="stage 3 (answer seeking) turns")
    multi_turns: int = Field(15, ge=1, description="turns of the unstructured `multi` baseline")
    dead_end_idks: int = Field(3, ge=1, description="IDKs after which a sub-question is a dead end")
    demote_idks: int = Field(2, ge=1, description="targeted IDKs in a row that demote a candidate")
    eliminate_idks: int = Field(3, ge=1, description="targeted IDKs in a row that eliminate a candidate")
    questions_per_turn: int = Field(3, ge=1, description="sub-questions one stage-2/3 turn may send")
    grounding_questions: int = Field(12, ge=1, description="cap on stage-1 sub-questions")
    # Executive temperatures: grounding / entity / answer / final (the research code's 0.4 / 0.4 / 1.0 / 0.3).
    grounding_temperature: float = Field(0.4, ge=0)
    entity_temperature: float = Field(0.4, ge=0)
    answer_temperature: float = Field(1.0, ge=0)
    final_temperature: float = Field(0.3, ge=0)
    # Memory temperatures per stage (0.1 / 0.1 / 0.3).
    memory_grounding_temperature: float = Field(0.1, ge=0)
    memory_entity_temperature: float = Field(0.1, ge=0)
    memory_answer_temperature: float = Field(0.3, ge=0)
    # Executive calls.
    retries: int = Field(2, ge=0, description="new samples after a malformed executive output, before degrading")
    max_tokens: int = Field(512, ge=16, description="output budget of one executive step")
    memory_max_tokens: int = Field(128, ge=8, description="output budget of one memory answer")
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0


def settings_from_config(config: Config | None = None, **overrides) -> ExecutiveSettings:
    """The `[executive]` section of memo.toml (if any) with `overrides` on top."""
    config = config or load_config()
    section = dict((config.model_extra or {}).get("executive", {}))
    section.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ExecutiveSettings.model_validate(section)
    except ValueError as exc:
        raise ConfigError(f"[executive] settings: {exc}") from exc
