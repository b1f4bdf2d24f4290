"""`evaluate()`: every method on every question, scored, costed and written to a resumable run directory.

    report/
      eval.json                        manifest: dataset, methods, models, settings (format "memo-eval/1")
      results.jsonl                    one row per condition x run x method x question, appended as each finishes
      summary.json, summary.md         the aggregate (memo.eval.report), rewritten at the end of every run
      *.png                            plots
      traces/<condition>/run<N>/<method>/<question>.json
      conditions/distractors-<R>/      corpus.jsonl, and the memory built for it: reflections/, memory/, build.json
      heldout_questions.jsonl          own-corpus mode: the written questions (edit freely, they are read back)

Resuming is running the same command again: finished rows are read back and skipped, and every model call of an
unfinished question is answered from the response cache (memory answers included, memo.eval.memory).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..config import Config, load_config
from ..corpus import load_corpus
from ..executive import MemoryClient, open_memory
from ..formats import (EVAL_FORMAT, EVAL_MANIFEST, EVAL_RESULTS_FILE, HELDOUT_FILE, REFLECTIONS_FILE,
                       REFLECTIONS_MANIFEST)
from ..llm import ChatModel, ResponseCache, model_for
from ..paths import atomic_write_json, atomic_write_jsonl, atomic_write_text, read_jsonl
from ..progress import Progress, or_silent
from ..settings import EvalConfig
from .datasets import EvalSet, Example, load_eval_set
from .heldout import heldout_examples
from .judge import judge_answers
from .memory import CachedMemory
from .methods import Context, expand_methods, needs, run_method
from .metrics import score
from .report import write_report
from .retrieval import BM25Retriever, DenseRetriever, Retriever, passages_of


class EvalError(ValueError):
    """An evaluation that cannot run as asked (an output directory holding another evaluation, no distractors)."""


def evaluate(
    dataset: str | EvalSet,
    output: str | Path,
    methods: Sequence[str] = ("closed_book", "bm25", "dense", "oracle", "memo_gold", "bm25_gold", "memo"),
    *,
    corpus: str | Path | None = None,
    memory: str | Path | MemoryClient | None = None,
    limit: int | None = None,
    config: EvalConfig | None = None,
    executive: str | ChatModel | None = None,
    judge: str | ChatModel | None = None,
    settings: Config | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Answer a dataset's questions with MeMo and its baselines, score every answer, and write a run directory.

    Method: the MeMo paper's evaluation protocol (arXiv 2605.15156; docs/EVALUATION.md): the same reader answers
    with no context, with the top-k BM25 (bm25s) or dense (`memo.embed`) retrieved passages, or with the gold
    evidence, against MeMo's executive questioning the memory; scored by exact match, token F1 and answer
    containment (SQuAD-style normalisation) and a binary LLM judge.

    Parameters:
        dataset: `KIND:PATH`: `musique:FILE`, `narrativeqa:FILE`, `jsonl:FILE` (needs `corpus`) from
            `memo.eval.datasets`, or `corpus:DIR` (held-out questions written from the documents of DIR, kept
            out of the memory's training questions, in `heldout_questions.jsonl`); or a loaded `EvalSet`.
        output: the run directory (module docstring for its layout). A directory holding the same evaluation
            is resumed: finished rows are skipped, and `methods` adds to those already recorded.
        methods: names from `BASE_METHODS` ("closed_book", "bm25", "dense", "oracle", "memo_gold", "bm25_gold",
            "dense_gold") and "memo" (= "memo:" + memo.executive.DEFAULT_PROTOCOL), "memo:PROTOCOL" or "memo:*"
            (`memo.eval.methods`).
        corpus: the documents a `jsonl:` dataset's evidence ids name.
        memory: a memory path, a served memory (`http://host:port/v1#MODEL`) or a `MemoryClient`, used in every
            condition; None builds one per condition from its corpus (`build_memory`: `memo.reflect.reflect`
            with memo.toml's `[reflect]`, `memo.memory.train` with its `[train]` and `memory_base` role),
            recording the build cost.
        limit: evaluate only the first `limit` questions (all when None); at least 1.
        config: the `[eval]` settings (`EvalConfig`: top_k passages, context_tokens, runs, distractors per
            evidence document, concurrency, judge on/off, ...); default memo.toml's.
        executive: the model (spec or ChatModel) that drives the MeMo protocols and reads for every baseline;
            default the `executive` role.
        judge: the judge model (spec or ChatModel); default the `judge` role; not loaded when `config.judge` is
            off.
        settings: the whole configuration (`memo.config.Config`) for roles, cache and `[executive]`; default
            `load_config()`.
        progress: gets one task per condition, run and method, and the memory build's progress.

    Returns the summary, also written as `summary.json` and `summary.md` (`memo.eval.report`): `format`,
    `dataset`, `executive`, `judge` (`model`, and a `note` when it is a local model under 1B parameters), `lead_metric`
    ("judge" or "f1"), `memory`, `settings`, `conditions` (condition "distractors-R" -> method -> `questions`,
    `runs`, `em` / `f1` / `contains` / `judge` as {mean, std, runs} over runs (shares in [0, 1]), `by_hops`,
    `hop_accuracy` for the *_gold chains, `cost_per_question` (executive calls and tokens, memory questions,
    seconds)), `build` (per-condition memory build record), `plots` (PNG file names), and with distractors
    `distractor_change` (noisy minus clean mean, per method and metric).

    Raises DatasetError (a ValueError) for a bad dataset spec or file, CorpusError for a `corpus:` directory with
    no usable document, EvalError (a ValueError) for an output directory holding a different evaluation or
    something else, distractors in own-corpus mode, too few non-evidence documents for the distractors asked,
    or no held-out question written, EvalError for a `limit` below 1 (before anything is read or written),
    ValueError for unknown methods, ConfigError for a bad memo.toml, and
    LLMError when a model cannot be loaded or its endpoint fails as a whole; plus what `build_memory` raises
    (`reflect`, `train`) when it builds the memory.
    """
    if limit is not None and limit < 1:
        raise EvalError(f"limit must be at least 1 question (got {limit}); leave it out to evaluate them all")
    settings = settings or load_config()
    cfg = config or settings.eval_config()
    progress = or_silent(progress)
    methods = expand_methods(methods)
    out = Path(output)
    own_corpus = isinstance(dataset, str) and dataset.startswith("corpus:")
    if own_corpus:
        if cfg.distractors:
            raise EvalError("own-corpus mode asks about every document: there are no distractors to add")
        docs = load_corpus(dataset.removeprefix("corpus:")).documents
        eval_set = EvalSet("corpus", [], {d.id: d for d in docs}, dataset.removeprefix("corpus:"))
    else:
        eval_set = dataset if isinstance(dataset, EvalSet) else load_eval_set(dataset, corpus)
        eval_set = eval_set.limit(limit)
    reader = executive if isinstance(executive, ChatModel) else model_for("executive", settings, executive)
    judge_model = None
    if cfg.judge:
        judge_model = judge if isinstance(judge, ChatModel) else model_for("judge", settings, judge)
    cache_path = settings.cache_path()
    cache = ResponseCache(cache_path) if cache_path is not None else None
    name = _dataset_id(dataset) if isinstance(dataset, str) else f"{eval_set.name}:{eval_set.source}"
    manifest = _manifest(name, cfg, reader, judge_model, memory, limit)
    _claim(out, manifest, methods)
    results = ResultsFile(out / EVAL_RESULTS_FILE)
    conditions = [0] + ([cfg.distractors] if cfg.distractors else [])
    builds: dict[str, dict] = {}
    for r in conditions:
        cond = f"distractors-{r}"
        cond_dir = out / "conditions" / cond
        if own_corpus:
            docs_r = list(eval_set.documents.values())
        else:
            docs_r = condition_documents(eval_set, r, cfg.seed)
        corpus_file = cond_dir / "corpus.jsonl"
        if not corpus_file.exists():
            atomic_write_jsonl(corpus_file, [{"id": d.id, "title": d.title, "text": d.text} for d in docs_r])
        chunked = load_corpus(corpus_file)
        client: MemoryClient | None = None
        memory_methods = any("memory" in needs(m) for m in methods)
        if memory is None and (memory_methods or own_corpus):
            memory_path, builds[cond] = build_memory(corpus_file, cond_dir, settings, progress, train_it=memory_methods)
            client = open_memory(memory_path) if memory_path is not None else None
        elif memory is not None:
            client = open_memory(memory)
        if client is not None:
            client = CachedMemory(client, cache)
        if own_corpus and r == 0:
            written = heldout_examples(out / HELDOUT_FILE, chunked, _training_questions(client, cond_dir), settings,
                                       cfg, progress)
            eval_set = EvalSet("corpus", written, eval_set.documents, eval_set.source).limit(limit)
            if not eval_set.examples:
                raise EvalError(f"no held-out question to ask: none could be written from {eval_set.source}, or "
                                f"{out / HELDOUT_FILE} holds none (delete it to write the set again)")
        passages = passages_of(chunked)
        indexes = _index_builder(passages, cfg.embedder)  # built once per condition, shared by its runs
        for run in range(1, cfg.runs + 1):
            ctx = Context(reader=reader, settings=settings.executive, cfg=cfg, seed=cfg.seed + run - 1,
                          passages=passages, retriever=indexes, memory=client,
                          count_tokens=getattr(reader, "count_tokens", None) or (lambda t: max(1, len(t) // 4)))
            for method in methods:
                _run_method(method, eval_set.examples, ctx, cond, r, run, out, results, judge_model, progress)
    summary = write_report(out, results.rows, manifest, builds, judge_model)
    return summary


def _index_builder(passages: list, embedder: str):
    """name -> its retriever over `passages`, each built on first use and kept."""
    built: dict[str, Retriever] = {}

    def get(name: str) -> Retriever:
        if name not in built:
            built[name] = BM25Retriever(passages) if name == "bm25" else DenseRetriever(passages, embedder)
        return built[name]

    return get


def condition_documents(eval_set: EvalSet, distractors: int, seed: int) -> list:
    """The corpus of one condition: the evidence of the set's examples plus `distractors` non-evidence documents
    per evidence document, drawn (seeded) from each example's own distractors first, then from the rest of the
    set's documents. Raises EvalError when there are not enough non-evidence documents."""
    evidence = list(dict.fromkeys(e for ex in eval_set.examples for e in ex.evidence_ids))
    chosen = list(evidence)
    taken = set(chosen)
    if distractors:
        rest = [d for d in eval_set.documents if d not in taken]
        for ex in eval_set.examples:
            rng = random.Random(f"{seed}:{ex.id}")
            own = [d for d in ex.distractor_ids if d not in taken]
            rng.shuffle(own)
            pool = own + [d for d in rng.sample(rest, len(rest)) if d not in own]
            want = distractors * len(ex.evidence_ids)
            picked = [d for d in pool if d not in taken][:want]
            if len(picked) < want:
                raise EvalError(f"only {len(picked)} non-evidence documents for question {ex.id}, {want} wanted")
            chosen += picked
            taken.update(picked)
    return [eval_set.documents[d] for d in chosen]


def build_memory(corpus_file: Path, cond_dir: Path, settings: Config, progress: Progress,
                 train_it: bool = True) -> tuple[Path | None, dict]:
    """Reflections and (with `train_it`) a memory for `corpus_file` under `cond_dir`, with the configured generator
    and recipe; a finished step is reused. Returns the memory path (None without `train_it`) and the build record
    (wall seconds, pairs, generator tokens)."""
    from ..memory import MemoryStore, train
    from ..reflect import reflect

    record_file = cond_dir / "build.json"
    record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
    refl_dir, mem_dir = cond_dir / "reflections", cond_dir / "memory"
    if not (refl_dir / REFLECTIONS_MANIFEST).exists():
        progress.log(f"{cond_dir.name}: writing reflections")
        t0 = time.perf_counter()
        m = reflect(corpus_file, refl_dir, settings.reflect_config(), progress=progress)
        record["reflect"] = {"wall_seconds": round(time.perf_counter() - t0, 1), "pairs": m["total"],
                             "profile": m["profile"], "generator": m["generator"]["spec"], "tokens": m["tokens"]}
        atomic_write_json(record_file, record)
    if not train_it:
        return None, record
    if not MemoryStore(mem_dir).exists():
        progress.log(f"{cond_dir.name}: training the memory")
        t0 = time.perf_counter()
        result = train(refl_dir, mem_dir, settings.spec_for("memory_base"), settings.train_config(), progress=progress)
        training = result.manifest["training"]
        record["train"] = {"wall_seconds": round(time.perf_counter() - t0, 1), "base": settings.spec_for("memory_base"),
                           "epochs": training.get("epochs_run"), "best_epoch": training.get("best_epoch"),
                           "pairs": result.manifest["reflections"]["count"]}
        atomic_write_json(record_file, record)
    return mem_dir, record


def _training_questions(client: MemoryClient | None, cond_dir: Path) -> list[str]:
    """The questions (and paraphrases) a memory was trained on: its artifact's reflections, else the condition's."""
    from ..memory import resolve_artifact

    inner = getattr(client, "inner", client)
    path = getattr(getattr(inner, "memory", None), "path", None)
    if path is not None:
        rows = read_jsonl(resolve_artifact(path) / REFLECTIONS_FILE)
    elif (cond_dir / "reflections" / REFLECTIONS_FILE).exists():
        rows = read_jsonl(cond_dir / "reflections" / REFLECTIONS_FILE)
    else:
        raise EvalError("own-corpus mode needs the memory's training reflections to keep its questions out of the "
                        "held-out set: give a local memory (with its reflections.jsonl) or let memo eval build one")
    return [q for r in rows for q in [r["question"], *r.get("paraphrases", [])]]


def _run_method(method: str, examples: list[Example], ctx: Context, cond: str, r: int, run: int, out: Path,
                results: "ResultsFile", judge_model: ChatModel | None, progress: Progress) -> None:
    todo = [e for e in examples if not results.done(cond, run, method, e.id)]
    if method.endswith("_gold"):
        if not any(e.decomposition for e in examples):
            progress.log(f"{method}: no question has a gold decomposition; skipped")
        todo = [e for e in todo if e.decomposition]
    if not todo:
        return
    if "memory" in needs(method) and ctx.memory is None:
        raise EvalError(f"method {method} needs a memory")
    label = f"{cond} run {run} {method}"
    step = ctx.cfg.concurrency
    with progress.task(label, total=len(todo)) as task:
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            usage0 = ctx.reader.usage.as_dict()
            memory0 = ctx.memory.usage() if ctx.memory is not None else {}
            t0 = time.perf_counter()
            outcomes = run_method(method, batch, ctx)
            seconds = time.perf_counter() - t0
            usage1 = ctx.reader.usage.as_dict()
            memory1 = ctx.memory.usage() if ctx.memory is not None else {}
            cost = {f"executive_{k}": usage1[k] - usage0.get(k, 0) for k in usage1}
            if "memory" in needs(method):
                cost.update({f"memory_{k}": v - memory0.get(k, 0) for k, v in memory1.items()})
            verdicts = (judge_answers(judge_model, [(e.question, e.answers, o.answer) for e, o in zip(batch, outcomes)],
                                      seed=ctx.seed) if judge_model is not None else [None] * len(batch))
            for e, o, verdict in zip(batch, outcomes, verdicts):
                scores = score(o.answer, e.answers)
                if verdict is not None:
                    scores["judge"] = None if verdict["correct"] is None else float(verdict["correct"])
                if "hops" in o.detail:
                    for h in o.detail["hops"]:
                        h["scores"] = score(h["gold_substituted_answer"], [h["gold"]])
                trace_path = Path("traces") / cond / f"run{run}" / method.replace(":", "-") / f"{_safe(e.id)}.json"
                atomic_write_json(out / trace_path, {"question": e.question, "answers": e.answers, **o.trace})
                results.append({
                    "condition": cond, "distractors": r, "run": run, "method": method, "example": e.id,
                    "question": e.question, "answers": e.answers, "hops": e.hops, "answer": o.answer,
                    "scores": scores, "judge": verdict, "detail": o.detail,
                    "cost": {**{k: round(v / len(batch), 2) for k, v in cost.items()},
                             "seconds": round(seconds / len(batch), 3), "shared_by": len(batch)},
                    "trace": str(trace_path)})
            task.advance(len(batch))


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)[:120]


def _dataset_id(spec: str) -> str:
    """A `KIND:PATH` spec with its path made absolute, so a run resumed from another directory is recognised."""
    kind, sep, path = spec.partition(":")
    return f"{kind}:{Path(path).resolve()}" if sep and path else spec


def _manifest(dataset: str, cfg: EvalConfig, reader: ChatModel, judge: ChatModel | None,
              memory: str | Path | MemoryClient | None, limit: int | None) -> dict[str, Any]:
    settings = {k: v for k, v in vars(cfg).items() if k not in {"concurrency", "runs"}}
    return {"format": EVAL_FORMAT, "dataset": dataset, "limit": limit, "settings": settings,
            "executive": reader.identity, "judge": judge.identity if judge is not None else None,
            "memory": None if memory is None else getattr(memory, "description", str(memory))}


def _claim(out: Path, manifest: dict[str, Any], methods: list[str]) -> None:
    """Write the manifest, or check that an existing run directory holds the same evaluation."""
    file = out / EVAL_MANIFEST
    if file.exists():
        old = json.loads(file.read_text(encoding="utf-8"))
        diff = [k for k in ("dataset", "settings", "executive", "judge", "memory") if old.get(k) != manifest[k]]
        if diff:
            raise EvalError(f"{out} holds another evaluation (different {', '.join(diff)}); choose a new -o "
                            "directory or delete it")
        methods = list(dict.fromkeys([*old.get("methods", []), *methods]))
        manifest["created"] = old.get("created")
    elif out.exists() and any(out.iterdir()):
        raise EvalError(f"{out} exists and is not an evaluation directory; choose a new -o directory")
    manifest["methods"] = methods
    manifest.setdefault("created", None)
    manifest["created"] = manifest["created"] or datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(file, manifest)


class ResultsFile:
    """results.jsonl: read back at start (a torn last line from a kill is dropped), one line appended per row
    with a single write followed by fsync."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            good = []
            for line in lines:
                try:
                    if line.endswith("\n"):
                        self.rows.append(json.loads(line))
                        good.append(line)
                except json.JSONDecodeError:
                    pass
            if len(good) != len(lines):
                atomic_write_text(path, "".join(good))
        self._done = {self._key(r["condition"], r["run"], r["method"], r["example"]) for r in self.rows}

    @staticmethod
    def _key(cond: str, run: int, method: str, example: str) -> tuple:
        return cond, run, method, example

    def done(self, cond: str, run: int, method: str, example: str) -> bool:
        return self._key(cond, run, method, example) in self._done

    def append(self, row: dict) -> None:
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.rows.append(row)
        self._done.add(self._key(row["condition"], row["run"], row["method"], row["example"]))
