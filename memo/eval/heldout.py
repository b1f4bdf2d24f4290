"""Own-corpus mode: a held-out question set written from the user's documents, none of it in the memory's training.

Questions are written with another prompt (`memo/prompts/eval/questions.md`) and another seed than the
reflections (`EvalConfig.question_seed`, by default the reflection seed + 1), then every question whose
normalised text equals a training question or paraphrase, or whose embedding is within `near_duplicate` cosine
of one, is dropped, so the memory is only asked what it was never trained on in that form.

Who writes them follows the reflection profile: a capable generator (the `full` profile) gets the prompt; with
the embedded 135M generator (the rule-based `rules` profile) questions are made by rule instead, because that
model cannot write usable questions. Two rules, candidates drawn in a seeded order:

1. one element of a corpus sentence (a year, a number, a name; never the sentence's first words) is replaced in
   place by a wh-phrase and is the answer: "Corin Varnet died in what in 1934?" -> Pellmar;
2. the same, with the sentence's subject described by another sentence of the document about it instead of
   named: "The person who designed the lifeboat Gull's Promise died in what in 1934?" -> Pellmar.

The `rules` reflections ask rule-1 questions about the same sentences, so most rule-1 candidates are training
questions and are dropped; rule 2 composes two facts the memory learnt separately and is never a training
question in that form. The set tests recall of the corpus's facts under new wording and simple composition, not
open reasoning; a capable generator writes a harder one.

The set is written to `heldout_questions.jsonl` (generic eval rows) and read back as it is on later runs, so the
user may edit it; the training-question filter applies to what is read back too.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Annotated, Sequence

from pydantic import BaseModel, Field, StringConstraints

from ..config import Config
from ..corpus import Corpus, split_sentences
from ..llm import ChatModel, GenParams, StructuredOutputError, model_for
from ..paths import atomic_write_jsonl, read_jsonl
from ..progress import Progress
from ..records import normalize_text
from ..settings import EvalConfig
from ..templates import render_prompt
from .datasets import Example


class HeldOutQA(BaseModel):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=200)]
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class HeldOutList(BaseModel):
    pairs: list[HeldOutQA] = Field(max_length=8)


_YEAR = re.compile(r"\b((?i:in|since|until|by|from) )?(1\d{3}|20\d{2})\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def _spans(body: str, names: list[str], after: int) -> list[tuple[int, int, str, str]]:
    """(start, end, wh-phrase, answer) for each askable element of `body` that starts at or after `after`."""
    spans: list[tuple[int, int, str, str]] = []

    def free(at: int) -> bool:
        return at >= after and not any(s <= at < e for s, e, _, _ in spans)

    for m in _YEAR.finditer(body):
        if free(m.start()):
            start = m.start(2) if not m.group(1) else m.start()
            spans.append((start, m.end(), f"{m.group(1) or ''}which year".strip(), m.group(2)))
    for m in _NUMBER.finditer(body):
        if free(m.start()) and not _YEAR.fullmatch(m.group(0)):
            spans.append((m.start(), m.end(), "how many", m.group(0)))
    for name in names:
        m = re.search(rf"(\b[Tt]he\s+)?\b{re.escape(name)}\b", body)
        if m and free(m.start()):
            spans.append((m.start(), m.end(), "what", name))
    return spans


#: How a subject is described by its spaCy entity label (OntoNotes labels; anything else "The one that").
_DESCRIBED = {"PERSON": "The person who", "ORG": "The organisation that", "NORP": "The group that",
              "GPE": "The place that", "LOC": "The place that", "FAC": "The place that"}


def rule_questions(corpus: Corpus, per_document: int, seed: int) -> list[Example]:
    """Questions by the two rules in the module docstring, about `per_document` * 3 candidates per document in a
    seeded order (the training filter drops many)."""
    from ..reflect.checks import self_containment_problems
    from ..reflect.nlp import named_entities

    out: list[Example] = []
    for doc in corpus.documents:
        rng = random.Random(f"{seed}:{doc.id}")
        candidates: list[tuple[str, str]] = []
        sentences = []  # (body, subject phrase, its predicate, names, the subject's entity label)
        bodies = [s.strip().rstrip(".!?;:").strip() for s in split_sentences(doc.text)]
        for body, ents in zip(bodies, named_entities(bodies)):
            names = [n for n, _ in ents]
            lead = next((m for n in names[:1] if (m := re.match(rf"(The\s+)?{re.escape(n)}\b", body))), None)
            sentences.append((body, lead.group(0) if lead else "", body[lead.end():].strip(" ,") if lead else "", names,
                              ents[0][1] if lead else ""))
        for i, (body, subject, _, names, label) in enumerate(sentences):
            # 1. one element of the sentence asked in place (never its first words: they are its topic)
            for start, end, wh, answer in _spans(body, names, after=1):
                candidates.append((body[:start] + wh + body[end:], answer))
            # 2. the same, with the subject described by another sentence about it instead of named
            others = [s for j, s in enumerate(sentences) if j != i and subject and s[1] == subject and s[2]]
            for start, end, wh, answer in (_spans(body, names, after=len(subject) + 1) if others else []):
                clue = rng.choice(others)[2]
                if answer.lower() not in clue.lower():
                    described = f"{_DESCRIBED.get(label, 'The one that')} {clue}"
                    candidates.append((described + (body[:start] + wh + body[end:])[len(subject):], answer))
        candidates = [(" ".join(q.split()) + "?", a) for q, a in candidates]
        candidates = [(q[0].upper() + q[1:], a) for q, a in candidates if not self_containment_problems(q, a)]
        rng.shuffle(candidates)
        out += [Example(id="", question=q, answers=[a], evidence_ids=[doc.id]) for q, a in candidates[: per_document * 3]]
    return out


def generator_questions(corpus: Corpus, model: ChatModel, per_document: int, seed: int, temperature: float,
                        ) -> list[Example]:
    """Questions the generator writes from each chunk with the eval prompt (about `per_document` per document)."""
    prompts, docs = [], []
    for doc in corpus.documents:
        chunks = corpus.chunks_of(doc.id)
        for chunk in chunks:
            count = max(1, math.ceil(per_document / len(chunks)))
            prompts.append(render_prompt("eval/questions", count=count, title=doc.title or "(none)", text=chunk.text))
            docs.append(doc.id)
    params = GenParams(temperature=temperature, top_p=0.95, max_tokens=768, seed=seed)
    out: list[Example] = []
    for doc_id, res in zip(docs, model.structured_batch(prompts, HeldOutList, params)):
        if isinstance(res, StructuredOutputError):
            continue
        out += [Example(id="", question=p.question, answers=[p.answer], evidence_ids=[doc_id]) for p in res.pairs]
    return out


def drop_training_questions(examples: Sequence[Example], training: Sequence[str], threshold: float,
                            embedder: str) -> tuple[list[Example], int]:
    """`examples` without any question that equals a training question after normalisation or is within
    `threshold` cosine of one (and without repeats among themselves); returns (kept, dropped count)."""
    from ..embed import embed

    seen = {normalize_text(q) for q in training}
    kept: list[Example] = []
    for e in examples:
        key = normalize_text(e.question)
        if key and key not in seen:
            seen.add(key)
            kept.append(e)
    if kept and training:
        train_vecs = embed(list(training), name=embedder)
        sims = (embed([e.question for e in kept], name=embedder) @ train_vecs.T).max(axis=1)
        kept = [e for e, s in zip(kept, sims) if float(s) < threshold]
    return kept, len(examples) - len(kept)


def heldout_examples(file: Path, corpus: Corpus, training: Sequence[str], settings: Config, cfg: EvalConfig,
                     progress: Progress) -> list[Example]:
    """The held-out set: `file` as the user left it, else written now (and saved to `file`); training questions
    are dropped either way."""
    reflect_cfg = settings.reflect_config()
    seed = cfg.question_seed if cfg.question_seed is not None else reflect_cfg.seed + 1
    if seed == reflect_cfg.seed:
        raise ValueError("the held-out questions need another seed than the reflections (eval.question_seed)")
    if file.exists():
        written = [Example(id=str(r.get("id", f"h{i}")), question=r["question"], answers=list(r["answers"]),
                           evidence_ids=list(r.get("evidence_ids", []))) for i, r in enumerate(read_jsonl(file))]
        kept, dropped = drop_training_questions(written, training, cfg.near_duplicate, cfg.embedder)
        if dropped:
            progress.log(f"held-out questions: {dropped} of {file} dropped as training questions or near-duplicates")
    else:
        from ..reflect.pipeline import choose_profile

        spec = reflect_cfg.generator or settings.spec_for("generator")
        model = model_for("generator", settings, spec) if spec != "embedded" else None
        if choose_profile(reflect_cfg.profile, model, spec)[0] == "full":
            source = "generator"
            written = generator_questions(corpus, model or model_for("generator", settings, spec),
                                          cfg.questions_per_document, seed, cfg.question_temperature)
        else:
            source = "rules"
            written = rule_questions(corpus, cfg.questions_per_document, seed)
        kept, dropped = drop_training_questions(written, training, cfg.near_duplicate, cfg.embedder)
        per_doc: dict[str, int] = {}
        final = []
        for e in kept:
            if per_doc.get(e.evidence_ids[0], 0) < cfg.questions_per_document:
                per_doc[e.evidence_ids[0]] = per_doc.get(e.evidence_ids[0], 0) + 1
                e.id = f"h{len(final) + 1:04d}"
                final.append(e)
        kept = final
        atomic_write_jsonl(file, [{"id": e.id, "question": e.question, "answers": e.answers,
                                   "evidence_ids": e.evidence_ids, "written_by": source} for e in kept])
        progress.log(f"held-out questions: {len(kept)} written by {source} to {file} "
                     f"({dropped} dropped as training questions or near-duplicates of them)")
    return kept
