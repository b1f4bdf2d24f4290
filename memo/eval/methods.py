"""The compared methods. Every answer comes from the same model (the executive role, which reads for the retrieval
baselines) and, outside the MeMo protocols, through the same reading prompt (`memo/prompts/eval/read.md`).

    closed_book     the question alone
    bm25, dense     the top-k passages of BM25 / dense retrieval (the MeMo paper's evaluation: top-9 documents)
    oracle          the gold evidence documents (perfect retrieval)
    memo:PROTOCOL   the executive questions the memory with PROTOCOL (any key of memo.executive.PROTOCOLS);
                    `memo` alone is memo:DEFAULT_PROTOCOL, `memo:*` every protocol
    memo_gold       the gold single-hop steps asked of the memory in order (memo.eval.chains): the memory alone;
                    each memory answer counts as its short fact (`memo.executive.answers.short_answer`, what the
                    chain protocol substitutes), the whole answer is kept in the hop record
    bm25_gold,      the same chain, each step answered by the reader from BM25 / dense retrieval
    dense_gold
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Sequence

from pydantic import BaseModel, StringConstraints

from ..executive import DEFAULT_PROTOCOL, PROTOCOLS, MemoryClient, ask
from ..executive.answers import short_answer
from ..llm import ChatModel, GenParams, StructuredOutputError
from ..records import ABSTAIN
from ..settings import EvalConfig, ExecutiveSettings
from ..templates import render_prompt
from .chains import HopResult, run_chains
from .datasets import Example
from .retrieval import Hit, Passage, Retriever

RETRIEVERS = ("bm25", "dense")
BASE_METHODS = ("closed_book", "bm25", "dense", "oracle", "memo_gold", "bm25_gold", "dense_gold")


class ReaderAnswer(BaseModel):
    answer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=160)]


def expand_methods(names: Sequence[str]) -> list[str]:
    """Method names with `memo` -> `memo:DEFAULT_PROTOCOL` and `memo:*` -> every protocol; ValueError for unknown
    ones."""
    out: list[str] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name == "memo":
            name = f"memo:{DEFAULT_PROTOCOL}"
        expanded = [f"memo:{p}" for p in PROTOCOLS] if name == "memo:*" else [name]
        for m in expanded:
            if m not in BASE_METHODS and not (m.startswith("memo:") and m[5:] in PROTOCOLS):
                raise ValueError(f"unknown method {m!r}; methods are {', '.join(BASE_METHODS)}, memo, memo:* and "
                                 + ", ".join(f"memo:{p}" for p in PROTOCOLS))
            if m not in out:
                out.append(m)
    if not out:
        raise ValueError("no method to evaluate")
    return out


def needs(method: str) -> set[str]:
    """What a method uses besides the reader: "memory" and/or a retriever name."""
    if method.startswith("memo"):
        return {"memory"}
    return {method.removesuffix("_gold")} if method.removesuffix("_gold") in RETRIEVERS else set()


@dataclass
class Outcome:
    """One method's answer to one example, what it was based on, and its trace (written next to the results)."""

    answer: str
    detail: dict[str, Any] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What the methods of one condition and run share."""

    reader: ChatModel
    settings: ExecutiveSettings
    cfg: EvalConfig
    seed: int
    passages: list[Passage]
    retriever: Callable[[str], Retriever]  # built on first use
    memory: MemoryClient | None
    count_tokens: Callable[[str], int]

    # -- reading ------------------------------------------------------------------------------------------------

    def context_of(self, hits: Sequence[Passage]) -> tuple[str, list[Passage]]:
        """The passages as the reader sees them, best first, until `cfg.context_tokens` (at least one)."""
        used: list[Passage] = []
        total = 0
        for p in hits:
            n = self.count_tokens(p.indexed_text())
            if used and total + n > self.cfg.context_tokens:
                break
            used.append(p)
            total += n
        text = "\n\n".join(f"[{i}] {p.indexed_text()}" for i, p in enumerate(used, 1)) or "(none)"
        return text, used

    def read(self, questions: Sequence[str], contexts: Sequence[Sequence[Passage]]) -> list[tuple[str, dict]]:
        """The reader's short answer to each question from its passages (none: closed book), in one batch."""
        prompts, used = [], []
        for q, hits in zip(questions, contexts):
            text, kept = self.context_of(hits)
            prompts.append(render_prompt("eval/read", documents=text, question=q))
            used.append(kept)
        params = GenParams(temperature=self.cfg.reader_temperature, top_p=self.settings.top_p,
                           max_tokens=self.cfg.reader_max_tokens, seed=self.seed)
        out = []
        for prompt, kept, res in zip(prompts, used, self.reader.structured_batch(prompts, ReaderAnswer, params)):
            answer = ABSTAIN if isinstance(res, StructuredOutputError) or not res.answer else res.answer
            out.append((answer, {"passages": [p.id for p in kept], "documents": _unique(p.doc_id for p in kept),
                                 "prompt": prompt, "malformed": isinstance(res, StructuredOutputError)}))
        return out

    def retrieve(self, name: str, questions: Sequence[str]) -> list[list[Hit]]:
        return self.retriever(name).search(questions, self.cfg.top_k)

    def ask_memory(self, questions: list[str]) -> list[str]:
        replies = self.memory.ask(questions, temperature=0.0, max_tokens=self.settings.memory_max_tokens,
                                  seed=self.seed)
        return [r.answer or ABSTAIN for r in replies]


def run_method(method: str, examples: Sequence[Example], ctx: Context) -> list[Outcome]:
    """`method`'s outcome for each example (examples a gold-chain method cannot run, those without a gold
    decomposition, must be filtered out by the caller)."""
    if method == "closed_book":
        return _reader_outcomes(examples, ctx, [[] for _ in examples])
    if method == "oracle":
        contexts = [[p for p in ctx.passages if p.doc_id in set(e.evidence_ids)] for e in examples]
        return _reader_outcomes(examples, ctx, contexts)
    if method in RETRIEVERS:
        hits = ctx.retrieve(method, [e.question for e in examples])
        return _reader_outcomes(examples, ctx, [[p for p, _ in h] for h in hits], hits)
    if method.endswith("_gold"):
        base = method.removesuffix("_gold")
        read_from: dict[str, list[str]] = {}  # question -> the documents its passages came from
        said: dict[str, str] = {}  # question -> the memory's whole answer
        if base == "memo":
            def answerer(questions: list[str]) -> list[str]:
                answers = ctx.ask_memory(questions)
                said.update(zip(questions, answers))
                return [short_answer(q, a) or a for q, a in zip(questions, answers)]
        else:
            def answerer(questions: list[str]) -> list[str]:
                hits = ctx.retrieve(base, questions)
                answers = ctx.read(questions, [[p for p, _ in h] for h in hits])
                read_from.update({q: info["documents"] for q, (_, info) in zip(questions, answers)})
                return [a for a, _ in answers]
        chains = run_chains([e.decomposition for e in examples], answerer)
        return [_chain_outcome(hops, read_from, said) for hops in chains]
    if method.startswith("memo:"):
        return _protocol_outcomes(method[5:], examples, ctx)
    raise ValueError(f"unknown method {method!r}")


def _reader_outcomes(examples: Sequence[Example], ctx: Context, contexts: Sequence[Sequence[Passage]],
                     hits: Sequence[Sequence[Hit]] | None = None) -> list[Outcome]:
    out = []
    for i, (answer, info) in enumerate(ctx.read([e.question for e in examples], contexts)):
        detail = {"documents": info["documents"], "malformed": info["malformed"]}
        trace = {"prompt": info["prompt"], "answer": answer}
        if hits is not None:
            trace["retrieved"] = [{"passage": p.id, "document": p.doc_id, "score": round(s, 4)} for p, s in hits[i]]
        out.append(Outcome(answer, detail, trace))
    return out


def _chain_outcome(hops: list[HopResult], read_from: dict[str, list[str]], said: dict[str, str]) -> Outcome:
    answer = hops[-1].answer if hops else ABSTAIN
    records = [{"question": h.question, "answer": h.answer, "gold_question": h.gold_question,
                "gold_substituted_answer": h.gold_substituted_answer, "gold": h.gold} for h in hops]
    for r in records:
        if read_from:
            r["documents"] = read_from.get(r["question"], [])
        if said:
            r["memory_answer"], r["gold_memory_answer"] = said[r["question"]], said[r["gold_question"]]
    return Outcome(answer, {"hops": records}, {"hops": records})


def _protocol_outcomes(protocol: str, examples: Sequence[Example], ctx: Context) -> list[Outcome]:
    settings = ctx.settings.model_copy(update={"seed": ctx.seed})

    def one(example: Example) -> Outcome:
        result = ask(ctx.memory, example.question, executive=ctx.reader, protocol=protocol, settings=settings)
        detail = {"memory_questions": len(result.trace.exchanges), "entity": result.entity,
                  "documents": _unique(c.doc_id for c in result.citations if c.doc_id), "degraded": result.degraded}
        return Outcome(result.answer, detail, result.model_dump(mode="json"))

    if len(examples) == 1:
        return [one(examples[0])]
    with ThreadPoolExecutor(max_workers=len(examples), thread_name_prefix="memo-eval") as pool:
        return list(pool.map(one, examples))


def _unique(items) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
