"""Training pairs from any of the three accepted inputs, with line-numbered errors for bad lines.

    refl/                       a reflection dataset from `memo reflect` (its reflections.jsonl)
    pairs.jsonl                 {"question": ..., "answer": ...} per line (extra fields kept: paraphrases, doc_ids...)
    messages.jsonl              TRL conversational format: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..formats import REFLECTIONS_FILE
from ..records import Pair, answer_lead, restates


@dataclass
class Dataset:
    pairs: list[Pair]
    source: str
    hash: str  # sha256 of the file the pairs came from


def dataset_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        if not (p / REFLECTIONS_FILE).is_file():
            raise FileNotFoundError(f"{p} is a directory without {REFLECTIONS_FILE}; expected a `memo reflect` output")
        return p / REFLECTIONS_FILE
    if not p.is_file():
        raise FileNotFoundError(f"no training data at {p}: give a reflection directory or a JSONL file")
    return p


def load_dataset(path: str | Path) -> Dataset:
    """Every pair in a reflection directory or JSONL file; ValueError naming file and line for bad input."""
    file = dataset_file(path)
    raw = file.read_bytes()
    pairs: list[Pair] = []
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file}:{lineno}: not valid JSON ({exc.msg})") from exc
        pairs.append(_pair(row, f"{file}:{lineno}"))
    if not pairs:
        raise ValueError(f"{file}: no question/answer pairs (the file is empty)")
    return Dataset(pairs=pairs, source=str(file), hash=hashlib.sha256(raw).hexdigest())


def _pair(row: object, where: str) -> Pair:
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if "messages" in row:
        msgs = row["messages"]
        users = [m.get("content") for m in msgs if isinstance(m, dict) and m.get("role") == "user"] if isinstance(msgs, list) else []
        bots = [m.get("content") for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"] if isinstance(msgs, list) else []
        if len(users) != 1 or len(bots) != 1:
            raise ValueError(f"{where}: `messages` must hold exactly one user and one assistant message")
        question, answer = users[0], bots[0]
    else:
        question, answer = row.get("question"), row.get("answer")
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: missing or empty {name!r} (each line needs a question and an answer)")
    listy = {}
    for name in ("doc_ids", "chunk_ids", "derived_from", "paraphrases"):
        value = row.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: {name!r} must be a list of strings")
        listy[name] = value
    return Pair(question=question.strip(), answer=answer.strip(), id=str(row.get("id") or ""),
                step=str(row.get("step") or "qa"), **listy)


def _short_fact(answer: str) -> str | None:
    """The short fact of an answer-first answer: a short first sentence (`memo.records.answer_lead`) that the rest
    of the answer restates ("Marrowby. Mira Castell was born in Marrowby."). None otherwise: "Dr. Ilse Varga
    founded it." (an abbreviation, not a sentence) and "It opened in 1902. Its engineer was Tomas Reeve." (two
    facts) stay whole."""
    lead = answer_lead(answer)
    return lead if lead is not None and restates(answer[len(lead):], lead) else None


def answer_leads(pairs: list[Pair]) -> list[Pair]:
    """The pairs as a memory trained with `TrainConfig.answer_context` off learns them: each answer-first answer
    cut to its short fact (`_short_fact`), other pairs as they are."""
    return [replace(p, answer=lead) if (lead := _short_fact(p.answer)) else p for p in pairs]
