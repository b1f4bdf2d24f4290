"""Own-corpus mode: a held-out question set written from the user's documents, none of it in the memory's training.

Questions are written with another prompt (`memo/prompts/eval/questions.md`) and another seed than the
reflections (`EvalConfig.question_seed`, by default the reflection seed + 1), then every question whose
normalised text equals a training question or paraphrase, or whose embedding is within `near_duplicate` cosine
of one, is dropped, so the memory is only asked what it was never trained on in that form.

Who writes them follows the reflection profile: a capable generator (the `full` profile) gets the prompt; with
the embedded 135M generator (the rule-based `rules` profile) questions are made by rule instead, because that
model cannot write usable questions. The rule path replaces one element of a corpus sentence (a year, a number,
a name that is not the sentence's first word) by a wh-phrase in place, the element being the answer; its spans
are drawn in a seeded order. The reflection rules ask about the same sentences, so many of these questions are
duplicates of training questions and are dropped; what remains asks for elements the training questions do not
ask for in that form. It tests recall of the corpus's facts under new questions, not reasoning.

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


_YEAR = re.compile(r"\b(in |since |until |by |from )?(1\d{3}|20\d{2})\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def rule_questions(corpus: Corpus, per_document: int, seed: int) -> list[Example]:
    """Up to `per_document` questions per document by the rule in the module docstring, spans in seeded order."""
    from ..reflect.checks import self_containment_problems
    from ..reflect.nlp import entity_names as entities

    out: list[Example] = []
    for doc in corpus.documents:
        rng = random.Random(f"{seed}:{doc.id}")
        candidates: list[tuple[str, str]] = []
        for sentence in split_sentences(doc.text):
            body = sentence.strip().rstrip(".!?;:").strip()
            spans: list[tuple[int, int, str, str]] = []
            for m in _YEAR.finditer(body):
                start = m.start(2) if not m.group(1) else m.start()
                spans.append((start, m.end(), f"{m.group(1) or ''}which year".strip(), m.group(2)))
            for m in _NUMBER.finditer(body):
                if not _YEAR.fullmatch(m.group(0)) and not any(s <= m.start() < e for s, e, _, _ in spans):
                    spans.append((m.start(), m.end(), "how many", m.group(0)))
            for name in entities(body):
                m = re.search(rf"(\bthe\s+)?\b{re.escape(name)}\b", body)
                if m and m.start() > 0 and not any(s <= m.start() < e for s, e, _, _ in spans):
                    spans.append((m.start(), m.end(), "what", name))
            for start, end, wh, answer in spans:
                q = " ".join((body[:start] + wh + body[end:]).split()) + "?"
                q = q[0].upper() + q[1:]
                if not self_containment_problems(q, answer):
                    candidates.append((q, answer))
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
