"""The JSON schemas each generator call must fill (one per kind of call). The pairs themselves are
`memo.records.Pair`."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
