"""Answer scores: exact match and token F1 with the SQuAD / MRQA answer normalisation, answer containment.

Every score is the maximum over the reference answer and its aliases, as in the SQuAD v1.1 evaluation script
(Rajpurkar et al., 2016) and the MRQA shared task (Fisch et al., 2019), which MuSiQue's own evaluation reuses.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, punctuation removed, articles (a, an, the) removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised reference answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def _f1(prediction: str, answer: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((Counter(pred) & Counter(gold)).values())
    if not pred or not gold:
        return float(pred == gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Token-level F1 between the normalised prediction and the best-matching reference answer (0.0 to 1.0)."""
    return max((_f1(prediction, a) for a in answers), default=0.0)


def containment(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when any normalised reference answer appears, on word boundaries, inside the normalised prediction."""
    pred = f" {normalize_answer(prediction)} "
    return float(any(normalize_answer(a) and f" {normalize_answer(a)} " in pred for a in answers))


def score(prediction: str, answers: Sequence[str]) -> dict[str, float]:
    """{"em", "f1", "contains"} of one prediction against a reference answer and its aliases."""
    return {"em": exact_match(prediction, answers), "f1": round(token_f1(prediction, answers), 4),
            "contains": containment(prediction, answers)}
