"""The five synthesis steps (plus abstention), each in a `full` (paper prompts) and a `compact` variant.

Every step takes the run context and the pairs so far and returns new pairs; the pipeline decides which steps
run. Compact variants give the 135M embedded generator one small task (write a question for one sentence) and
do by rule what rules do well: extractive answers, pronoun and relative-date resolution, reverse-lookup and
cross-document questions built from sentences.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence


from ..corpus import Corpus, split_sentences
from ..llm import ChatModel, GenParams, StructuredOutputError
from ..settings import ReflectConfig
from ..templates import render_prompt
from ..progress import SILENT, Progress
from ..records import ABSTAIN, Pair, normalize_text
from .schemas import Check, CombinedList, CrossList, EntityList, QA, QAList, Question
from .text import (WH, absolute_time, entities, entity_type, resolve_leading_pronoun,
                   self_containment_problems, starts_with_pronoun, subject_of)

NO_ANCHOR_STEPS = {"entity", "cross_document", "abstention"}  # questions that describe rather than name


@dataclass
class Fact:
    """One corpus sentence, made standalone by rule (leading pronoun resolved, relative years made absolute)."""

    sentence: str
    doc_id: str
    chunk_id: str
    subject: str | None
    names: list[str]


@dataclass
class StepStats:
    calls: int = 0
    schema_valid: int = 0
    produced: int = 0
    dropped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)


@dataclass
class RunContext:
    corpus: Corpus
    cfg: ReflectConfig
    profile: str
    model_factory: Callable[[], ChatModel]
    progress: Progress = SILENT
    stats: dict[str, StepStats] = field(default_factory=lambda: defaultdict(StepStats))
    groups: list[list[str]] = field(default_factory=list)
    _model: ChatModel | None = None
    _facts: list[Fact] | None = None

    @property
    def model(self) -> ChatModel:
        if self._model is None:
            self._model = self.model_factory()
        return self._model

    @property
    def facts(self) -> list[Fact]:
        if self._facts is None:
            self._facts = corpus_facts(self.corpus)
        return self._facts

    def ask(self, step: str, prompts: Sequence[str], schema, params: GenParams) -> list:
        """Structured answers in prompt order; schema failures become None and are counted, never raised."""
        stats = self.stats[step]
        out: list = []
        if not prompts:
            return out
        size = max(1, self.model.batch_size) * 2
        with self.progress.task(step, total=len(prompts)) as task:
            for start in range(0, len(prompts), size):
                convs = [[{"role": "user", "content": p}] for p in prompts[start : start + size]]
                for r in self.model.structured_batch(convs, schema, params):
                    stats.calls += 1
                    if isinstance(r, StructuredOutputError):
                        stats.dropped["schema invalid" if r.reason == "invalid" else f"generator call {r.reason}"] += 1
                        out.append(None)
                    else:
                        stats.schema_valid += 1
                        out.append(r)
                task.advance(len(convs))
        return out


# -- shared helpers -------------------------------------------------------------------------------------------


def corpus_facts(corpus: Corpus) -> list[Fact]:
    """Each document's sentences once (chunk overlap repeats them), attributed to the first chunk holding them."""
    facts: list[Fact] = []
    for doc in corpus.documents:
        seen: set[str] = set()
        focus: str | None = None  # the last person or organisation a sentence was about: "he", "she", "they"
        focus_it: str | None = None  # the last subject of any kind: "it", "its"
        full_names = {n.split()[-1]: n for n in entities(doc.text) if len(n.split()) >= 2}
        for chunk in corpus.chunks_of(doc.id):
            for sent in split_sentences(chunk.text):
                if sent in seen or len(sent.split()) < 4:
                    continue
                seen.add(sent)
                if starts_with_pronoun(sent):
                    first = sent.split(" ", 1)[0].lower()
                    sent = resolve_leading_pronoun(sent, focus_it if first in {"it", "its"} else focus)
                resolved = absolute_time(sent, doc.date)
                subject = subject_of(resolved)
                if subject in full_names and resolved.startswith(subject + " "):  # "Kell later..." -> "Tomas Kell later..."
                    resolved = full_names[subject] + resolved[len(subject):]
                    subject = full_names[subject]
                if subject:
                    named = f"The {subject}" if resolved.startswith(f"The {subject}") else subject
                    focus_it = named
                    if entity_type(subject, doc.text) in {"person", "organisation"}:
                        focus = named
                facts.append(Fact(resolved, doc.id, chunk.id, subject, entities(resolved)))
    return facts


def _strip_end(sentence: str) -> str:
    return sentence.strip().rstrip(".!?;:").strip()


def _predicate(fact: Fact) -> str | None:
    """The sentence after its subject: "Marie Dubois founded X." -> "founded X"."""
    if not fact.subject:
        return None
    s = re.sub(r"^(The|A|An)\s+", "", fact.sentence.strip())
    rest = s[len(fact.subject) :].strip().lstrip(",").strip()
    return _strip_end(rest) if len(rest.split()) >= 2 else None


def _the(name: str, text: str) -> str:
    """"Orla River" -> "the Orla River" when the text itself says so."""
    return f"the {name}" if re.search(rf"\b[Tt]he {re.escape(name)}\b", text) else name


def _wh(name: str, start: bool, context: str = "") -> str:
    kind = entity_type(name, context)
    wh = "who" if kind == "person" and start else WH[kind]
    return wh[0].upper() + wh[1:] if start else wh


def reverse_question(sentence: str, name: str) -> str | None:
    """The sentence as a question whose answer is `name`, the name replaced in place by a wh-phrase:
    "Marie Dubois founded the Lumen Bakery." -> "Who founded the Lumen Bakery?" / "Marie Dubois founded which
    organisation?"."""
    m = re.search(rf"(\b(the|The)\s+)?{re.escape(name)}\b", sentence)
    if not m:
        return None
    start = m.start() == 0
    q = sentence[: m.start()] + _wh(name, start, sentence) + sentence[m.end() :]
    q = _strip_end(q) + "?"
    if name.lower() in q.lower() or len(q.split()) < 4:
        return None
    return q


def _clue(fact: Fact, exclude: set[str]) -> str | None:
    """Something in the sentence to anchor a question on besides its subject: another name, else a year."""
    for n in fact.names:
        if n not in exclude and not any(n in e or e in n for e in exclude):
            return n
    year = re.search(r"\b(1\d{3}|20\d{2})\b", fact.sentence)
    return year.group(1) if year else None


_COPULA = re.compile(r"^(is|was|are|were)\b", re.I)
_NUMBER = re.compile(r"\b(in|since|until|by|from|to)?\s*\b(1\d{3}|20\d{2})\b|\b(\d[\d,.]*|two|three|four|five|six|seven|"
                     r"eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred)\b", re.I)


def rule_questions(fact: Fact) -> list[str]:
    """Questions whose answer is the whole sentence, by rule, best first.

    Each replaces one element of the sentence in place ("Marie Dubois founded the Lumen Bakery in which year?"),
    which keeps the sentence's own words and so cannot misstate the fact; the last element (usually the new
    information) comes first. Sentences with nothing to replace get "Who/What was X?" or "What is known about X?".
    """
    body = _strip_end(fact.sentence)
    out: list[str] = []
    spans = []
    for m in _NUMBER.finditer(body):
        if m.group(2) and m.group(1):
            spans.append((m.start(), m.end(), f"{m.group(1)} which year"))
        elif m.group(2):
            spans.append((m.start(2), m.end(2), "which year"))
        else:
            spans.append((m.start(3), m.end(3), "how many"))
    for name in fact.names:
        if name == fact.subject:
            continue
        m = re.search(rf"(\bthe\s+)?{re.escape(name)}\b", body)
        if m and m.start() > 0:
            spans.append((m.start(), m.end(), WH[entity_type(name, body)]))
    for start, end, wh in sorted(spans, key=lambda x: -x[0]):
        q = " ".join((body[:start] + wh + body[end:]).split()) + "?"
        q = q[0].upper() + q[1:]
        if len(q.split()) >= 4 and q not in out:
            out.append(q)
    main = fact.subject or (fact.names[0] if fact.names else None)
    if main:
        main = _the(main, fact.sentence)
        pred = _predicate(fact) if fact.subject else None
        if pred and _COPULA.match(pred):
            verb = _COPULA.match(pred).group(1).lower()
            out.append(f"{'Who' if entity_type(fact.subject) == 'person' else 'What'} {verb} {main}?")
        out.append(f"What is known about {main}?")
    return out


def clean_question(text: str, fact: Fact) -> str | None:
    """The generator's question if it is usable: one question, not a copy of the sentence, no invented names."""
    text = text.strip().strip('"')
    if "Question:" in text:
        text = text.rsplit("Question:", 1)[1]
    m = re.search(r"[^?]*\?", text)
    if not m:
        return None
    q = " ".join(m.group(0).split()).lstrip("0123456789.:- ")
    if len(q.split()) < 4 or len(q.split()) > 30 or normalize_text(q) == normalize_text(fact.sentence):
        return None
    if q.lower().startswith(("what is the answer", "is the", "does the", "do the")):
        return None
    names_in_sentence = " ".join(fact.names + [fact.subject or ""])
    qnames = [n for n in entities(q[0].lower() + q[1:]) if n not in names_in_sentence]
    if qnames or not (set(entities(q)) & set(fact.names) or re.search(r"\d", q)):
        return None  # invents a name, or names nothing the sentence names
    if self_containment_problems(q, fact.sentence):
        return None
    return q


def _pair(question: str, answer: str, step: str, facts: Sequence[Fact], derived: Sequence[Pair] = ()) -> Pair:
    return Pair(question, answer, step, sorted({f.doc_id for f in facts}), sorted({f.chunk_id for f in facts}),
                [p.id for p in derived])


# -- step 1: fact extraction ---------------------------------------------------------------------------------


def extract(ctx: RunContext, kind: str) -> list[Pair]:
    """Step 1, `kind` "direct" or "indirect": facts per chunk."""
    return (_extract_full if ctx.profile == "full" else _extract_compact)(ctx, kind)


def _extract_full(ctx: RunContext, kind: str) -> list[Pair]:
    prompts, chunks = [], []
    for chunk in ctx.corpus.chunks:
        doc = ctx.corpus.doc(chunk.doc_id)
        for k in range(ctx.cfg.samples):
            prompts.append(render_prompt(f"reflect/full/{kind}", title=doc.title or "(none)", date=doc.date or "(unknown)", text=chunk.text))
            chunks.append((chunk, k))
    pairs: list[Pair] = []
    # One seed per sample index: the cache key differs per sample, so samples differ and re-runs repeat.
    for k in range(ctx.cfg.samples):
        idx = [i for i, (_, s) in enumerate(chunks) if s == k]
        params = GenParams(temperature=ctx.cfg.temperature, top_p=ctx.cfg.top_p, max_tokens=1024, seed=ctx.cfg.seed + k)
        for i, res in zip(idx, ctx.ask(kind, [prompts[i] for i in idx], QAList, params)):
            if res is None:
                continue
            chunk = chunks[i][0]
            for qa in res.pairs:
                if qa.question.strip() and qa.answer.strip():
                    pairs.append(Pair(qa.question.strip(), qa.answer.strip(), kind, [chunk.doc_id], [chunk.id]))
    ctx.stats[kind].produced = len(pairs)
    return pairs


def _extract_compact(ctx: RunContext, kind: str) -> list[Pair]:
    stats = ctx.stats[kind]
    if kind == "direct":
        facts = ctx.facts
        proposed: list = [None] * len(facts)
        if ctx.cfg.generator_questions:
            proposed = ctx.ask("direct", [render_prompt("reflect/compact/question", sentence=f.sentence) for f in facts], Question,
                               GenParams(temperature=0.0, max_tokens=48, seed=ctx.cfg.seed))
        pairs = []
        for fact, res in zip(facts, proposed):
            questions = rule_questions(fact)
            q = clean_question(res.question, fact) if res is not None else None
            if q is not None:
                stats.notes["generator question accepted"] += 1
                questions.insert(0, q)
            elif ctx.cfg.generator_questions:
                stats.notes["generator question unusable"] += 1
            if not questions:
                stats.dropped["nothing to ask about"] += 1
                continue
            pairs.append(Pair(questions[0], fact.sentence, "direct", [fact.doc_id], [fact.chunk_id],
                              paraphrases=questions[1:3]))
        stats.produced = len(pairs)
        return pairs
    # indirect: two consecutive facts about the same subject (often linked by a resolved pronoun) asked together
    pairs = []
    facts = ctx.facts
    for a, b in zip(facts, facts[1:]):
        if a.doc_id != b.doc_id or not a.subject or a.subject != b.subject:
            continue
        c1, c2 = _clue(a, {a.subject}), _clue(b, {a.subject})
        if not c1 or not c2 or c1 == c2:
            continue
        both = f"{a.sentence} {b.sentence}"
        pairs.append(_pair(f"What links {_the(a.subject, both)} to {_the(c1, both)} and to {_the(c2, both)}?", both,
                           "indirect",
                           [a, b]))
    stats.produced = len(pairs)
    return pairs


# -- step 2: consolidation -----------------------------------------------------------------------------------


def consolidate(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 2: combined questions over 2+ pairs of one document (documents with fewer than 3 pairs skipped)."""
    by_doc: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        if len(p.doc_ids) == 1:
            by_doc[p.doc_ids[0]].append(p)
    docs = {d: ps for d, ps in by_doc.items() if len(ps) >= 3}
    ctx.stats["consolidate"].notes["documents skipped (< 3 pairs)"] += len(by_doc) - len(docs)
    out = (_consolidate_full if ctx.profile == "full" else _consolidate_compact)(ctx, docs)
    ctx.stats["consolidate"].produced = len(out)
    return out


def _consolidate_full(ctx: RunContext, docs: dict[str, list[Pair]]) -> list[Pair]:
    items = [(d, ps[:40]) for d, ps in docs.items()]
    prompts = [render_prompt("reflect/full/consolidate", pairs="\n".join(f"{i}. Q: {p.question} A: {p.answer}"
                                                             for i, p in enumerate(ps, 1))) for _, ps in items]
    params = GenParams(temperature=0.7, top_p=0.95, max_tokens=1024, seed=ctx.cfg.seed)
    out = []
    for (doc_id, ps), res in zip(items, ctx.ask("consolidate", prompts, CombinedList, params)):
        for qa in res.pairs if res is not None else []:
            used = [ps[n - 1] for n in dict.fromkeys(qa.combined_from) if 1 <= n <= len(ps)]
            if len(used) < 2:
                ctx.stats["consolidate"].dropped["combines fewer than 2 pairs"] += 1
                continue
            out.append(Pair(qa.question.strip(), qa.answer.strip(), "consolidated", [doc_id],
                            sorted({c for p in used for c in p.chunk_ids}), [p.id for p in used]))
    return out


def _join_answers(answers: Sequence[str], limit_words: int = 150) -> str:
    out: list[str] = []
    for a in answers:
        if len(" ".join(out + [a]).split()) > limit_words:
            break
        out.append(a)
    return " ".join(out)


def _consolidate_compact(ctx: RunContext, docs: dict[str, list[Pair]]) -> list[Pair]:
    """Threads by rule: all pairs about one subject (entity thread), and the same in date order (sequence)."""
    out = []
    for doc_id, ps in docs.items():
        threads: dict[str, list[Pair]] = defaultdict(list)
        for p in ps:
            if p.step == "direct":
                subj = subject_of(p.answer)
                if subj:
                    threads[subj].append(p)
        for subj, members in threads.items():
            members = members[:6]
            if len(members) < 2:
                continue
            answer = _join_answers([m.answer for m in members])
            used = [m for m in members if m.answer in answer]
            if len(used) < 2:
                continue
            out.append(Pair(f"What are the main facts about {_the(subj, answer)}?", answer, "consolidated", [doc_id],
                            sorted({c for m in used for c in m.chunk_ids}), [m.id for m in used]))
            dated = sorted(((int(y.group(1)), m) for m in used
                            if (y := re.search(r"\b(1\d{3}|20\d{2})\b", m.answer))), key=lambda ym: ym[0])
            years = sorted({y for y, _ in dated})
            if len(years) >= 2:
                seq = [m for _, m in dated]
                out.append(Pair(f"What happened involving {_the(subj, answer)} between {years[0]} and {years[-1]}, in order?",
                                _join_answers([m.answer for m in seq]), "consolidated", [doc_id],
                                sorted({c for m in seq for c in m.chunk_ids}), [m.id for m in seq]))
    return out


# -- step 3: self-containment check and fix ------------------------------------------------------------------


def _rule_fix(pair: Pair, ctx: RunContext) -> Pair:
    """Resolve what rules can: pronouns to the document's main subject, relative years via the document date."""
    doc = ctx.corpus.doc(pair.doc_ids[0]) if pair.doc_ids else None
    focus = None
    if doc is not None and doc.title and doc.title in entities(doc.text):
        focus = doc.title  # an encyclopedia paragraph is about its title
    elif doc is not None:
        subjects = Counter(f.subject for f in ctx.facts if f.doc_id == doc.id and f.subject
                           and entity_type(f.subject) == "person")
        focus = subjects.most_common(1)[0][0] if subjects else None
    q, a = pair.question, pair.answer
    if focus:
        q = re.sub(r"\b(he|she|they)\b", focus, q, flags=re.I)
        q = re.sub(r"\b(his|her|their)\b", f"{focus}'s", q, flags=re.I)
        a = resolve_leading_pronoun(a, focus)
    if doc is not None:
        q, a = absolute_time(q, doc.date), absolute_time(a, doc.date)
    q = re.sub(r"\b(according to|in) (the|this) (text|document|passage|article),?\s*", "", q, flags=re.I)
    q = q[:1].upper() + q[1:]
    return Pair(q, a, pair.step, pair.doc_ids, pair.chunk_ids, pair.derived_from, pair.paraphrases)


def _generator_problem(check: Check) -> str:
    """One countable reason ("failed generator check") with the generator's own words after the colon."""
    return "failed generator check: " + ("; ".join(check.problems) or "not self-contained")[:200]


def verify(ctx: RunContext, pairs: list[Pair]) -> tuple[list[Pair], list[dict]]:
    """Step 3: keep pairs that stand alone; fix the others (at most `max_fix_attempts` tries) or drop them.

    Rules run first on every pair; the full profile then asks the generator to check rule-clean pairs and to
    rewrite failing ones from their source chunk. Returns (kept pairs, dropped records with reasons).
    """
    stats = ctx.stats["verify"]
    pending: list[tuple[Pair, Pair, list[str]]] = []  # (original, current, problems)
    kept: dict[int, Pair] = {}
    for p in pairs:
        pending.append((p, p, self_containment_problems(p.question, p.answer, p.step not in NO_ANCHOR_STEPS)))
    first_pass_clean = sum(1 for _, _, probs in pending if not probs)
    if ctx.profile == "full":
        clean = [i for i, (_, _, probs) in enumerate(pending) if not probs]
        checks = ctx.ask("verify", [render_prompt("reflect/full/check", question=pending[i][1].question, answer=pending[i][1].answer)
                                    for i in clean], Check, GenParams(temperature=0.0, max_tokens=128))
        for i, chk in zip(clean, checks):
            if chk is not None and not chk.self_contained:
                pending[i] = (pending[i][0], pending[i][1], [_generator_problem(chk)])
        first_pass_clean = sum(1 for _, _, probs in pending if not probs)
    stats.notes["self-contained on first check"] = first_pass_clean
    stats.notes["checked"] = len(pairs)
    todo = []
    for i, (orig, cur, probs) in enumerate(pending):
        if probs:
            todo.append(i)
        else:
            kept[i] = cur
    for attempt in range(ctx.cfg.max_fix_attempts):
        if not todo:
            break
        if ctx.profile == "full":
            chunk_text = {c.id: c.text for c in ctx.corpus.chunks}
            prompts = [render_prompt("reflect/full/fix", problems="; ".join(pending[i][2]), question=pending[i][1].question,
                              answer=pending[i][1].answer,
                              text="\n".join(chunk_text[c] for c in pending[i][1].chunk_ids[:3])) for i in todo]
            fixes = ctx.ask("verify", prompts, QA, GenParams(temperature=0.3 if attempt else 0.0, max_tokens=256,
                                                               seed=ctx.cfg.seed + attempt))
            fixed = [Pair(f.question.strip(), f.answer.strip(), pending[i][1].step, pending[i][1].doc_ids,
                          pending[i][1].chunk_ids, pending[i][1].derived_from) if f is not None else pending[i][1]
                     for i, f in zip(todo, fixes)]
        else:
            fixed = [_rule_fix(pending[i][1], ctx) for i in todo]
        still = []
        recheck = []
        for i, new in zip(todo, fixed):
            probs = self_containment_problems(new.question, new.answer, new.step not in NO_ANCHOR_STEPS)
            pending[i] = (pending[i][0], new, probs)
            (still if probs else recheck).append(i)
        if ctx.profile == "full" and recheck:
            checks = ctx.ask("verify", [render_prompt("reflect/full/check", question=pending[i][1].question,
                                               answer=pending[i][1].answer) for i in recheck],
                             Check, GenParams(temperature=0.0, max_tokens=128))
            for i, chk in zip(recheck, checks):
                if chk is not None and not chk.self_contained:
                    pending[i] = (pending[i][0], pending[i][1], [_generator_problem(chk)])
                    still.append(i)
                else:
                    kept[i] = pending[i][1]
                    stats.notes["fixed"] += 1
        else:
            for i in recheck:
                kept[i] = pending[i][1]
                stats.notes["fixed"] += 1
        if ctx.profile != "full":
            break  # the rule fixer is deterministic: a second pass over its own output changes nothing
        todo = still
    dropped = []
    for i, (orig, cur, probs) in enumerate(pending):
        if i not in kept:
            stats.dropped[probs[0].split(":")[0] if probs else "missing context"] += 1
            dropped.append({**orig.record(), "problems": probs})
    out = [kept[i] for i in sorted(kept)]
    stats.produced = len(out)
    return out, dropped


# -- step 4: entity surfacing --------------------------------------------------------------------------------


def surface_entities(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 4: reverse-lookup questions that describe an entity without naming it; the answer leads with it."""
    out = (_entities_full if ctx.profile == "full" else _entities_compact)(ctx, pairs)
    ctx.stats["entity"].produced = len(out)
    return out


def _entities_full(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    docs = ctx.corpus.documents
    lists = ctx.ask("entity", [render_prompt("reflect/full/entity_list", text=d.text[:6000]) for d in docs], EntityList,
                    GenParams(temperature=0.0, max_tokens=512))
    jobs = []
    for doc, res in zip(docs, lists):
        names = [(e.name.strip(), e.type) for e in res.entities] if res is not None else \
            [(n, entity_type(n)) for n in entities(doc.text)]
        doc_pairs = [p for p in pairs if doc.id in p.doc_ids]
        for name, kind in dict(names).items():
            if not name:
                continue
            facts = [p for p in doc_pairs if name.lower() in (p.question + " " + p.answer).lower()][:12]
            if facts:
                jobs.append((doc, name, kind, facts))
    prompts = [render_prompt("reflect/full/entity_questions", name=name, type=kind,
                      facts="\n".join(f"- {p.answer}" for p in facts)) for _, name, kind, facts in jobs]
    results = ctx.ask("entity", prompts, QAList, GenParams(temperature=0.7, top_p=0.95, max_tokens=1024, seed=ctx.cfg.seed))
    out = []
    for (doc, name, _, facts), res in zip(jobs, results):
        for qa in res.pairs if res is not None else []:
            q, a = qa.question.strip(), qa.answer.strip()
            if name.lower() in q.lower():
                ctx.stats["entity"].dropped["question names the entity"] += 1
                continue
            if not a.lower().startswith(name.lower()):
                a = f"{name}. {a}"
            out.append(Pair(q, a, "entity", [doc.id], sorted({c for p in facts for c in p.chunk_ids}),
                            [p.id for p in facts]))
    return out


def _entities_compact(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    out = []
    by_doc: dict[str, list[Fact]] = defaultdict(list)
    for f in ctx.facts:
        by_doc[f.doc_id].append(f)
    for doc in ctx.corpus.documents:
        facts = by_doc[doc.id]
        names = entities(doc.text)
        for name in names:
            if any(name != other and re.search(rf"\b{re.escape(name)}\b", other) for other in names):
                continue  # "Kell" inside "Tomas Kell": asked about under the full name
            about = [f for f in facts if name in f.sentence]
            if not about:
                continue
            for f in about[:3]:  # single-fact (and relationship traversal when the sentence names another entity)
                q = reverse_question(f.sentence, name)
                if q:
                    out.append(_pair(q, f"{name}. {f.sentence}", "entity", [f]))
            as_subject = [(f, _predicate(f)) for f in about if f.subject == name]
            as_subject = [(f, p) for f, p in as_subject if p and name.lower() not in p.lower()]
            wh = _wh(name, True, doc.text)
            if len(as_subject) >= 2:  # two-fact
                (f1, p1), (f2, p2) = as_subject[:2]
                out.append(_pair(f"{wh} {p1} and {p2}?", f"{name}. {f1.sentence} {f2.sentence}", "entity", [f1, f2]))
            if len(as_subject) >= 3:  # multi-fact
                chosen = as_subject[:4]
                preds = [p for _, p in chosen]
                out.append(_pair(f"{wh} {', '.join(preds[:-1])} and {preds[-1]}?",
                                 f"{name}. " + " ".join(f.sentence for f, _ in chosen), "entity", [f for f, _ in chosen]))
    return out


# -- step 5: cross-document synthesis ------------------------------------------------------------------------


def cross_document(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 5: converging clues and parallel properties over groups of related documents; >= 2 documents each."""
    out = (_cross_full if ctx.profile == "full" else _cross_compact)(ctx, pairs)
    stats = ctx.stats["cross_document"]
    kept = [p for p in out if len(set(p.doc_ids)) >= 2]
    if len(out) > len(kept):
        stats.dropped["draws on one document"] += len(out) - len(kept)
    stats.produced = len(kept)
    return kept


def _cross_full(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    jobs = []
    for group in ctx.groups:
        per_doc = [(d, [p for p in pairs if p.doc_ids == [d]][:10]) for d in group]
        per_doc = [(d, ps) for d, ps in per_doc if ps]
        if len(per_doc) >= 2:
            jobs.append(per_doc)
    prompts = [render_prompt("reflect/full/cross_document", documents="\n\n".join(
        f"Document {i}:\n" + "\n".join(f"- {p.answer}" for p in ps) for i, (_, ps) in enumerate(job, 1)))
        for job in jobs]
    results = ctx.ask("cross_document", prompts, CrossList,
                      GenParams(temperature=0.7, top_p=0.95, max_tokens=1024, seed=ctx.cfg.seed))
    out = []
    for job, res in zip(jobs, results):
        for qa in res.pairs if res is not None else []:
            used = [job[n - 1] for n in dict.fromkeys(qa.documents) if 1 <= n <= len(job)]
            out.append(Pair(qa.question.strip(), qa.answer.strip(), "cross_document", sorted(d for d, _ in used),
                            sorted({c for _, ps in used for p in ps for c in p.chunk_ids}),
                            [p.id for _, ps in used for p in ps]))
    return out


def _cross_compact(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    out = []
    for group in ctx.groups:
        facts = [f for f in ctx.facts if f.doc_id in group]
        # converging clues: one entity, one fact about it from each of two documents
        by_name: dict[str, dict[str, list[Fact]]] = defaultdict(lambda: defaultdict(list))
        for f in facts:
            for n in f.names:
                by_name[n][f.doc_id].append(f)
        for name, per_doc in by_name.items():
            docs = sorted(per_doc)
            if len(docs) < 2:
                continue
            f1, f2 = per_doc[docs[0]][0], per_doc[docs[1]][0]
            p1, p2 = _predicate(f1) if f1.subject == name else None, _predicate(f2) if f2.subject == name else None
            if p1 and p2 and name.lower() not in (p1 + p2).lower():
                q = f"{_wh(name, True, f1.sentence + ' ' + f2.sentence)} {p1} and {p2}?"
            else:
                c1, c2 = _clue(f1, {name}), _clue(f2, {name})
                if not c1 or not c2 or c1 == c2:
                    continue
                q = f"{_wh(name, True, f1.sentence + ' ' + f2.sentence)} is linked to both {c1} and {c2}?"
            out.append(_pair(q, f"{name}. {f1.sentence} {f2.sentence}", "cross_document", [f1, f2]))
        # parallel properties: different entities of one kind, in different documents, sharing a name or a year
        shared: dict[tuple[str, str], dict[str, Fact]] = defaultdict(dict)
        for f in facts:
            if not f.subject:
                continue
            for key in [n for n in f.names if n != f.subject] + re.findall(r"\b(?:1\d{3}|20\d{2})\b", f.sentence):
                shared[(entity_type(f.subject, f.sentence), key)].setdefault(f.subject, f)
        for (kind, key), members in shared.items():
            chosen = list(members.items())[:4]
            if len(chosen) < 2 or len({f.doc_id for _, f in chosen}) < 2 or any(key in n for n, _ in chosen):
                continue
            plural = {"person": "people", "organisation": "organisations", "place": "places"}.get(kind, "things")
            link = f"in {key}" if key.isdigit() else f"to {key}"
            names = [n for n, _ in chosen]
            out.append(_pair(f"Which {plural} are connected {link}?",
                             f"{', '.join(names[:-1])} and {names[-1]}. " + " ".join(f.sentence for _, f in chosen),
                             "cross_document", [f for _, f in chosen]))
    return out


# -- abstention ----------------------------------------------------------------------------------------------


def abstentions(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Questions shaped like real ones but about people or organisations the corpus never mentions.

    Invented names recombine the corpus's own name parts ("Marie Dubois" + "Tomas Kell" -> "Marie Kell"), so
    they look plausible; any that occur in the corpus text are discarded.
    """
    stats = ctx.stats["abstention"]
    want = round(len(pairs) * ctx.cfg.abstention_ratio)
    text = " ".join(d.text for d in ctx.corpus.documents).lower()
    names = sorted({n for d in ctx.corpus.documents for n in entities(d.text) if len(n.split()) >= 2})
    rng = random.Random(ctx.cfg.seed)
    out: list[Pair] = []
    seen: set[str] = set()
    candidates = [p for p in pairs if p.step in {"direct", "indirect", "entity"}]
    rng.shuffle(candidates)
    for p in candidates:
        if len(out) >= want:
            break
        present = [n for n in names if n in p.question]
        if not present:
            continue
        real = present[0]
        kind = entity_type(real)
        if kind not in {"person", "organisation"}:
            continue
        others = [n for n in names if n != real and entity_type(n) == kind]
        if not others:
            continue
        donor = rng.choice(others)
        fake = " ".join(real.split()[:-1] + donor.split()[-1:])
        if fake.lower() in text or fake == real:
            fake = " ".join(donor.split()[:1] + real.split()[1:])
        if fake.lower() in text or fake == real:
            continue
        q = p.question.replace(real, fake)
        if normalize_text(q) in seen:
            continue
        seen.add(normalize_text(q))
        out.append(Pair(q, ABSTAIN, "abstention", [], [], [p.id]))
    stats.notes["wanted"] = want
    stats.produced = len(out)
    return out
