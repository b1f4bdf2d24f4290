"""What the executive must return at each step: one small pydantic schema per step.

Local executives decode under these schemas (xgrammar), endpoints get them as `response_format`. Lengths are
bounded so that even a weak model always finishes a valid object within the token budget.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=160)]


class Clue(BaseModel):
    clue: Text
    kind: Literal["entity", "answer"]
    power: Literal["HIGH", "LOW"]
    questions: list[Question] = Field(min_length=1, max_length=3)


class Grounding(BaseModel):
    """Stage 1: atomic clues, each with open candidate-seeking sub-questions, plus combination questions."""

    clues: list[Clue] = Field(min_length=1, max_length=5)
    combined: list[Question] = Field(max_length=2)


class AnswerLabel(BaseModel):
    n: int
    label: Literal["confirms", "new_candidate", "eliminates", "no_signal"]
    candidate: Name


class EntityTurn(BaseModel):
    """Stage 2: label the new memory answers, re-rank candidates, then confirm, exhaust or ask."""

    labels: list[AnswerLabel] = Field(max_length=6)
    candidates: list[Name] = Field(max_length=6)
    decision: Literal["confirm", "exhaust", "ask"]
    entity: Name
    questions: list[Question] = Field(max_length=3)


class Rating(BaseModel):
    n: int
    label: Literal["relevant", "contradiction", "non_responsive"]


class AnswerTurn(BaseModel):
    """Stage 3: the entity's role, ratings of the new answers, what is known and missing, and the next move."""

    role: Literal["subject", "object", "intermediate"]
    target: Name
    ratings: list[Rating] = Field(max_length=6)
    facts: list[Text] = Field(max_length=4)
    unknowns: list[Text] = Field(max_length=3)
    decision: Literal["answer", "ask", "pivot"]
    answer: Name
    pivot_to: Name
    questions: list[Question] = Field(max_length=3)


class CandidateAnswer(BaseModel):
    answer: Name
    satisfies: list[int] = Field(max_length=8)


class FinalSynthesis(BaseModel):
    """Stage 4: candidate answers checked against the numbered constraints; the best-covered one wins."""

    candidates: list[CandidateAnswer] = Field(max_length=4)
    final_answer: Name
    justification: Text


class Decomposition(BaseModel):
    """`single` baseline: the question split once into sub-questions."""

    questions: list[Question] = Field(min_length=1, max_length=5)


class MultiTurn(BaseModel):
    """`multi` baseline: one free turn, either the next sub-question or the answer."""

    decision: Literal["ask", "answer"]
    question: Name
    final_answer: Name
    justification: Name


class Response(BaseModel):
    """Baselines' answer step."""

    final_answer: Name
    justification: Text


#: A reference to an earlier chain step's answer: "#1", "#2", ... (MuSiQue's decomposition format).
STEP_REFERENCE = re.compile(r"#(\d+)")


class Chain(BaseModel):
    """`chain` protocol: the question as single-hop questions; `#N` in a step stands for step N's answer.

    A one-hop question is a chain of one. A step may only refer to earlier steps (checked here, so a chain that
    refers forward or to itself is malformed and resampled like any other invalid output).
    """

    steps: list[Question] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _references_point_back(self) -> "Chain":
        for i, step in enumerate(self.steps, 1):
            bad = [int(n) for n in STEP_REFERENCE.findall(step) if not 1 <= int(n) < i]
            if bad:
                raise ValueError(f"step {i} refers to #{bad[0]}: a step may only use the answers of earlier steps")
        return self


class Rephrasing(BaseModel):
    """`chain` protocol: a chain step the memory did not know, asked in other words."""

    question: Question


class ChainCheck(BaseModel):
    """`chain` protocol: the final answer, the chain's proposed answer checked against the question."""

    final_answer: Name
