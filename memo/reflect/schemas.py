"""The records the pipeline produces and the JSON schemas each generator call must fill."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from pydantic import BaseModel, Field

ABSTAIN = "I don't know."


@dataclass
class Pair:
    """One reflection. Provenance (doc_ids, chunk_ids, derived_from) never enters the training text."""

    question: str
    answer: str
    step: str
    doc_ids: list[str]
    chunk_ids: list[str]
    derived_from: list[str] = field(default_factory=list)
    paraphrases: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "r-" + hashlib.sha256(f"{self.question}\x1f{self.answer}".encode()).hexdigest()[:12]

    def record(self) -> dict:
        return {"id": self.id, **asdict(self)}


# -- generator output schemas (one per kind of call) ---------------------------------------------------------


class QA(BaseModel):
    question: str
    answer: str


class QAList(BaseModel):
    pairs: list[QA] = Field(default_factory=list)


class CombinedQA(QA):
    combined_from: list[int] = Field(default_factory=list, description="numbers of the pairs combined")


class CombinedList(BaseModel):
    pairs: list[CombinedQA] = Field(default_factory=list)


class CrossQA(QA):
    documents: list[int] = Field(default_factory=list, description="numbers of the documents used")


class CrossList(BaseModel):
    pairs: list[CrossQA] = Field(default_factory=list)


class Check(BaseModel):
    self_contained: bool
    problems: list[str] = Field(default_factory=list)


class NamedEntity(BaseModel):
    name: str
    type: str


class EntityList(BaseModel):
    entities: list[NamedEntity] = Field(default_factory=list)


class Question(BaseModel):
    question: str
