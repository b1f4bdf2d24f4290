"""The `full` profile: the paper's five steps as generator calls (prompts in memo/prompts/reflect/full/, one JSON
schema per call in schemas.py), for capable generators (7B+ local, or an API). Method: the MeMo paper's reflection
synthesis (arXiv 2605.15156: fact extraction, consolidation, verification, entity surfacing, cross-document
synthesis), as docs/REFLECTIONS.md describes it step by step.

Every step takes the run context and the pairs so far and returns new pairs. A generator result that fails its
schema is counted; where the step can go on without it, what replaced it is counted under the step's
`fallbacks` (manifest `fallbacks`, shown by the CLI).
"""

from __future__ import annotations

from collections import defaultdict

from ..llm import GenParams
from ..records import Pair
from ..templates import render_prompt
from .checks import self_containment_problems
from .context import RunContext
from .nlp import named_entities
from .schemas import Check, CombinedList, CrossList, EntityList, QA, QAList

NO_ANCHOR_STEPS = {"entity", "cross_document", "abstention"}  # questions that describe rather than name
CHECK_FAILED = "generator check failed"  # the check call itself returned nothing usable: a failure, not a pass


def extract(ctx: RunContext, kind: str) -> list[Pair]:
    """Step 1, `kind` "direct" or "indirect": facts per chunk, `cfg.samples` samples each with its own seed."""
    prompts, chunks = [], []
    for chunk in ctx.corpus.chunks:
        doc = ctx.corpus.doc(chunk.doc_id)
        for k in range(ctx.cfg.samples):
            prompts.append(render_prompt(f"reflect/full/{kind}", title=doc.title or "(none)",
                                         date=doc.date or "(unknown)", text=chunk.text))
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


def consolidate(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 2: combined questions over 2+ pairs of one document (documents with fewer than 3 pairs skipped)."""
    by_doc: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        if len(p.doc_ids) == 1:
            by_doc[p.doc_ids[0]].append(p)
    items = [(d, ps[:40]) for d, ps in by_doc.items() if len(ps) >= 3]
    stats = ctx.stats["consolidate"]
    stats.notes["documents skipped (< 3 pairs)"] += len(by_doc) - len(items)
    prompts = [render_prompt("reflect/full/consolidate", pairs="\n".join(f"{i}. Q: {p.question} A: {p.answer}"
                                                                         for i, p in enumerate(ps, 1)))
               for _, ps in items]
    params = GenParams(temperature=0.7, top_p=0.95, max_tokens=1024, seed=ctx.cfg.seed)
    out = []
    for (doc_id, ps), res in zip(items, ctx.ask("consolidate", prompts, CombinedList, params)):
        for qa in res.pairs if res is not None else []:
            used = [ps[n - 1] for n in dict.fromkeys(qa.combined_from) if 1 <= n <= len(ps)]
            if len(used) < 2:
                stats.dropped["combines fewer than 2 pairs"] += 1
                continue
            out.append(Pair(qa.question.strip(), qa.answer.strip(), "consolidated", [doc_id],
                            sorted({c for p in used for c in p.chunk_ids}), [p.id for p in used]))
    stats.produced = len(out)
    return out


def _generator_problem(check: Check) -> str:
    """One countable reason ("failed generator check") with the generator's own words after the colon."""
    return "failed generator check: " + ("; ".join(check.problems) or "not self-contained")[:200]


def _check(ctx: RunContext, pairs: list[Pair]) -> list[list[str]]:
    """The generator's self-containment check of each pair: [] when it passed, else its problems. A check call
    that returned nothing usable is a failure (CHECK_FAILED), never a pass."""
    checks = ctx.ask("verify", [render_prompt("reflect/full/check", question=p.question, answer=p.answer)
                                for p in pairs], Check, GenParams(temperature=0.0, max_tokens=128), failed=CHECK_FAILED)
    return [[CHECK_FAILED] if chk is None else ([] if chk.self_contained else [_generator_problem(chk)])
            for chk in checks]


def verify(ctx: RunContext, pairs: list[Pair]) -> tuple[list[Pair], list[dict]]:
    """Step 3: rules on every pair, then the generator's check (T=0) of rule-clean ones; failing pairs are
    rewritten from their source chunk and checked again (rules, then generator), at most `max_fix_attempts`
    times, else dropped. Returns (kept pairs, dropped records with their problems)."""
    stats = ctx.stats["verify"]
    current = list(pairs)
    problems = [self_containment_problems(p.question, p.answer, p.step not in NO_ANCHOR_STEPS) for p in pairs]
    clean = [i for i, probs in enumerate(problems) if not probs]
    for i, probs in zip(clean, _check(ctx, [current[i] for i in clean])):
        problems[i] = probs
    stats.notes["checked"] = len(pairs)
    stats.notes["self-contained on first check"] = sum(1 for probs in problems if not probs)
    kept = {i: p for i, p in enumerate(current) if not problems[i]}
    todo = [i for i in range(len(pairs)) if problems[i]]
    chunk_text = {c.id: c.text for c in ctx.corpus.chunks}
    for attempt in range(ctx.cfg.max_fix_attempts):
        if not todo:
            break
        prompts = [render_prompt("reflect/full/fix", problems="; ".join(problems[i]), question=current[i].question,
                                 answer=current[i].answer,
                                 text="\n".join(chunk_text[c] for c in current[i].chunk_ids[:3])) for i in todo]
        fixes = ctx.ask("verify", prompts, QA, GenParams(temperature=0.3 if attempt else 0.0, max_tokens=256,
                                                         seed=ctx.cfg.seed + attempt), failed="fix call failed")
        recheck = []
        for i, f in zip(todo, fixes):
            if f is None:
                problems[i] = ["fix call failed"]
                continue
            p = current[i]
            current[i] = Pair(f.question.strip(), f.answer.strip(), p.step, p.doc_ids, p.chunk_ids, p.derived_from)
            problems[i] = self_containment_problems(current[i].question, current[i].answer,
                                                    current[i].step not in NO_ANCHOR_STEPS)
            if not problems[i]:
                recheck.append(i)
        for i, probs in zip(recheck, _check(ctx, [current[i] for i in recheck])):
            problems[i] = probs
            if not probs:
                kept[i] = current[i]
                stats.notes["fixed"] += 1
        todo = [i for i in todo if i not in kept]
    dropped = []
    for i, p in enumerate(pairs):
        if i not in kept:
            stats.dropped[problems[i][0].split(":")[0] if problems[i] else "missing context"] += 1
            dropped.append({**p.record(), "problems": problems[i]})
    out = [kept[i] for i in sorted(kept)]
    stats.produced = len(out)
    return out, dropped


def surface_entities(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 4: per document the generator lists its entities; per entity, reverse-lookup questions from its
    verified facts (a question naming the entity is dropped; the answer is made to lead with the name). When the
    entity list fails, spaCy's named entities of the document are used instead and counted as a fallback."""
    stats = ctx.stats["entity"]
    docs = ctx.corpus.documents
    lists = ctx.ask("entity", [render_prompt("reflect/full/entity_list", text=d.text[:6000]) for d in docs],
                    EntityList, GenParams(temperature=0.0, max_tokens=512))
    failed = [d.text for d, res in zip(docs, lists) if res is None]
    parsed = iter(named_entities(failed))
    jobs = []
    for doc, res in zip(docs, lists):
        if res is None:
            names = [(n, label) for n, label in next(parsed)]
            stats.fallbacks["entity list failed: spaCy named entities used"] += 1
        else:
            names = [(e.name.strip(), e.type) for e in res.entities]
        doc_pairs = [p for p in pairs if doc.id in p.doc_ids]
        for name, kind in dict(names).items():
            if not name:
                continue
            facts = [p for p in doc_pairs if name.lower() in (p.question + " " + p.answer).lower()][:12]
            if facts:
                jobs.append((doc, name, kind, facts))
    prompts = [render_prompt("reflect/full/entity_questions", name=name, type=kind,
                             facts="\n".join(f"- {p.answer}" for p in facts)) for _, name, kind, facts in jobs]
    results = ctx.ask("entity", prompts, QAList, GenParams(temperature=0.7, top_p=0.95, max_tokens=1024,
                                                           seed=ctx.cfg.seed))
    out = []
    for (doc, name, _, facts), res in zip(jobs, results):
        for qa in res.pairs if res is not None else []:
            q, a = qa.question.strip(), qa.answer.strip()
            if name.lower() in q.lower():
                stats.dropped["question names the entity"] += 1
                continue
            if not a.lower().startswith(name.lower()):
                a = f"{name}. {a}"
            out.append(Pair(q, a, "entity", [doc.id], sorted({c for p in facts for c in p.chunk_ids}),
                            [p.id for p in facts]))
    stats.produced = len(out)
    return out


def cross_document(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Step 5: converging clues and parallel properties over groups of related documents; >= 2 documents each."""
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
    stats = ctx.stats["cross_document"]
    kept = [p for p in out if len(set(p.doc_ids)) >= 2]
    if len(out) > len(kept):
        stats.dropped["draws on one document"] += len(out) - len(kept)
    stats.produced = len(kept)
    return kept
