"""Recall: how many known question/answer pairs a memory answers exactly (after case/punctuation folding).

Works on any memory and any pairs: a reflection directory, a {question, answer} or TRL messages JSONL file, or
a list of dicts / Pairs. Paraphrases attached to the pairs are asked too and scored separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..records import Pair, normalize_text
from .artifact import memory_recipe
from .data import answer_leads, load_dataset


def score_answers(predicted: Sequence[str], expected: Sequence[str]) -> dict[str, float]:
    """Share of exact matches, and of answers that contain the expected answer, after normalisation."""
    if not expected:
        return {"exact": 0.0, "contains": 0.0}
    pairs = [(normalize_text(p), normalize_text(e)) for p, e in zip(predicted, expected)]
    return {"exact": sum(p == e for p, e in pairs) / len(pairs), "contains": sum(e in p for p, e in pairs) / len(pairs)}


@dataclass
class RecallItem:
    question: str
    expected: str
    answer: str
    exact: bool
    paraphrase: bool


@dataclass
class RecallReport:
    exact: float
    contains: float
    paraphrase_exact: float | None
    count: int
    items: list[RecallItem] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"exact": self.exact, "contains": self.contains, "paraphrase_exact": self.paraphrase_exact,
                "count": self.count}


def _pairs(data) -> list[Pair]:
    if isinstance(data, (str, Path)):
        return load_dataset(data).pairs
    return [p if isinstance(p, Pair) else Pair(question=p["question"], answer=p["answer"],
                                                 paraphrases=list(p.get("paraphrases", []))) for p in data]


def evaluate_recall(memory, data, *, batch_size: int = 16, max_new_tokens: int = 128) -> RecallReport:
    """Ask `memory` (a MemoryModel or a path to one) every question of `data` and score the answers.

    Each answer is scored against what the memory was trained to answer: for a memory whose recipe has
    `answer_context` off (`memory_recipe` of its manifest), an answer-first answer's short fact
    (`memo.memory.data.answer_leads`), since that memory never learned the context sentence.
    """
    from .model import MemoryModel

    if not isinstance(memory, MemoryModel):
        memory = MemoryModel.load(memory)
    pairs = _pairs(data)
    if not (memory_recipe(memory.manifest) or {}).get("answer_context", True):
        pairs = answer_leads(pairs)
    asked = [(p.question, p.answer, False) for p in pairs] + [(q, p.answer, True) for p in pairs for q in p.paraphrases]
    answers = memory.ask([q for q, _, _ in asked], batch_size=batch_size, max_new_tokens=max_new_tokens)
    items = [RecallItem(q, e, a.answer, normalize_text(a.answer) == normalize_text(e), para)
             for (q, e, para), a in zip(asked, answers)]
    direct = [i for i in items if not i.paraphrase]
    para = [i for i in items if i.paraphrase]
    scores = score_answers([i.answer for i in direct], [i.expected for i in direct])
    return RecallReport(
        exact=scores["exact"], contains=scores["contains"],
        paraphrase_exact=sum(i.exact for i in para) / len(para) if para else None, count=len(direct), items=items,
    )
