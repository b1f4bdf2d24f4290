"""`reflect()`: corpus in, reflection dataset directory out (format "memo-reflections/1", see docs/REFLECTIONS.md).

Resume is a re-run: every generator call goes through the persistent response cache, so a run killed at any
point repeats none of the calls it completed, and the output is written atomically only at the end.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..config import load_config
from ..corpus import Corpus, load_corpus
from ..llm import ChatModel, model_for
from ..progress import Progress, or_silent
from ..paths import atomic_dir, atomic_write_json, atomic_write_jsonl, check_writable_dir, read_jsonl
from ..settings import ReflectConfig
from .grouping import group_documents, load_grouping_file
from ..formats import REFLECTIONS_FILE, REFLECTIONS_FORMAT, REFLECTIONS_MANIFEST
from ..records import Pair, normalize_text
from . import llm_steps, rule_steps
from .abstention import abstentions
from .checks import self_containment_problems
from .context import RunContext
from .nlp import named_entities

PROFILE_STEPS = {"full": llm_steps, "rules": rule_steps}  # one module per profile, same step functions
NO_GENERATOR = ("no generator model was used: the rules profile builds every question and answer from spaCy's "
                "parse of the text")


def choose_profile(profile: str, model: ChatModel | None, spec: str) -> tuple[str, str]:
    """(profile, why). `auto`: rules for the embedded model and local models under 1B parameters, whose
    extraction the rules beat (docs/BENCHMARKS.md); full otherwise."""
    if profile != "auto":
        return profile, "set explicitly, not auto"
    if spec == "embedded":
        return "rules", "auto: the embedded generator is under 1B parameters"
    hf = getattr(model, "model", None)
    if hf is not None and hasattr(hf, "num_parameters"):
        n = hf.num_parameters()
        if n < 1_000_000_000:
            return "rules", f"auto: the generator has {n / 1e6:.0f}M parameters (under 1B)"
        return "full", f"auto: the generator has {n / 1e9:.1f}B parameters"
    return "full", "auto: a remote or unsized generator is taken to be capable"


def dedup(pairs: list[Pair], threshold: float, embedder: str) -> tuple[list[Pair], Counter]:
    """Exact duplicates (normalised question) then near duplicates: question cosine >= threshold and cosine of the
    answers' first sentences >= threshold (`memo.embed` vectors); the first pair in step order wins. Both must be close:
    "When was X born?" and "Where was X born?" embed almost alike but ask different facts, and a reverse-lookup
    pair shares its answer with a direct pair on purpose. Returns (kept, dropped count per step)."""
    dropped: Counter = Counter()
    seen: set[str] = set()
    exact: list[Pair] = []
    for p in pairs:
        key = normalize_text(p.question)
        if key in seen:
            dropped[p.step] += 1
        else:
            seen.add(key)
            exact.append(p)
    if not exact or threshold >= 1:
        return exact, dropped
    from ..embed import embed

    qv = embed([p.question for p in exact], name=embedder)
    av = embed([p.answer.split(". ", 1)[0] for p in exact], name=embedder)  # the short fact, not its context
    keep: list[int] = []
    for i in range(len(exact)):
        if keep and bool(np.any((qv[keep] @ qv[i] >= threshold) & (av[keep] @ av[i] >= threshold))):
            dropped[exact[i].step] += 1
        else:
            keep.append(i)
    return [exact[i] for i in keep], dropped


def coverage(corpus: Corpus, pairs: list[Pair]) -> dict[str, Any]:
    """Share of chunks that at least one pair comes from, and of named entities that at least one pair names."""
    chunk_ids = {c for p in pairs for c in p.chunk_ids}
    names = sorted({n for ents in named_entities(d.text for d in corpus.documents) for n, _ in ents})
    text = " ".join(f"{p.question} {p.answer}" for p in pairs).lower()
    covered = [n for n in names if n.lower() in text]
    return {
        "chunks": len(corpus.chunks), "chunks_covered": sum(1 for c in corpus.chunks if c.id in chunk_ids),
        "chunk_share": round(sum(1 for c in corpus.chunks if c.id in chunk_ids) / max(1, len(corpus.chunks)), 4),
        "entities": len(names), "entities_covered": len(covered),
        "entity_share": round(len(covered) / max(1, len(names)), 4),
        "entities_missed": [n for n in names if n.lower() not in text][:50],
    }


def _load(corpus_path: str | Path | Corpus, cfg: ReflectConfig) -> Corpus:
    if isinstance(corpus_path, Corpus):
        return corpus_path
    return load_corpus(corpus_path, cfg.chunk_tokens, cfg.overlap_tokens)


def _spec(cfg: ReflectConfig) -> str:
    return cfg.generator or load_config().spec_for("generator")


def estimate(corpus_path: str | Path | Corpus, cfg: ReflectConfig | None = None) -> dict[str, Any]:
    """Calls and tokens per step before running (upper-bound style; later steps depend on earlier output)."""
    cfg = cfg or load_config().reflect_config()
    corpus = _load(corpus_path, cfg)
    spec = _spec(cfg)
    model = model_for("generator", override=spec) if cfg.profile == "auto" and spec != "embedded" else None
    profile, why = choose_profile(cfg.profile, model, spec)
    count = getattr(model, "count_tokens", None) or (lambda t: max(1, len(t) // 4))
    steps: dict[str, dict[str, int]] = {}
    pairs_per_chunk = max(1, cfg.chunk_tokens // 30)  # about one fact per 30 tokens of prose
    est_pairs = len(corpus.chunks) * pairs_per_chunk * cfg.samples * 2
    schema_overhead = 120  # the JSON schema instruction added to every structured prompt
    if profile == "full":
        chunk_tokens = sum(count(c.text) for c in corpus.chunks)
        for kind in ("direct", "indirect"):
            if kind in cfg.steps:
                n = len(corpus.chunks) * cfg.samples
                steps[kind] = {"calls": n, "prompt_tokens": chunk_tokens * cfg.samples + n * (300 + schema_overhead),
                               "completion_tokens": n * 600}
        docs = len(corpus.documents)
        if "consolidate" in cfg.steps:
            steps["consolidate"] = {"calls": docs, "prompt_tokens": est_pairs * 60 + docs * 300,
                                    "completion_tokens": docs * 600}
        if "verify" in cfg.steps:
            steps["verify"] = {"calls": est_pairs, "prompt_tokens": est_pairs * 250, "completion_tokens": est_pairs * 30}
        if "entity" in cfg.steps:
            ents = sum(len(e) for e in named_entities(d.text for d in corpus.documents))
            steps["entity"] = {"calls": docs + ents, "prompt_tokens": chunk_tokens + ents * 500,
                               "completion_tokens": docs * 200 + ents * 400}
        if "cross_document" in cfg.steps:
            groups = max(1, docs // cfg.group_size)
            steps["cross_document"] = {"calls": groups, "prompt_tokens": groups * 1500, "completion_tokens": groups * 600}
    total = {k: sum(s[k] for s in steps.values()) for k in ("calls", "prompt_tokens", "completion_tokens")}
    out: dict[str, Any] = {"profile": profile, "profile_reason": why, "generator": spec,
                           "generator_used": profile == "full", "documents": len(corpus.documents),
                           "chunks": len(corpus.chunks), "skipped": corpus.skipped, "steps": steps, "total": total}
    if cfg.price_in_per_mtok is not None or cfg.price_out_per_mtok is not None:
        out["cost"] = round(total["prompt_tokens"] / 1e6 * (cfg.price_in_per_mtok or 0)
                            + total["completion_tokens"] / 1e6 * (cfg.price_out_per_mtok or 0), 4)
    return out


def reflect(corpus_path: str | Path | Corpus, output_dir: str | Path, cfg: ReflectConfig | None = None,
            model: ChatModel | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Turn a corpus into reflections and write the dataset directory `output_dir`; returns its manifest.

    Method: the MeMo paper's five-step reflection synthesis (arXiv 2605.15156; fact extraction in a direct and an
    indirect pass, per-document consolidation, self-containment verification, entity surfacing with
    reverse-lookup questions, cross-document synthesis), then deduplication and this project's abstention pairs;
    what each step does in each profile: docs/REFLECTIONS.md.

    Parameters:
        corpus_path: a path `memo.corpus.load_corpus` reads (chunked with `cfg.chunk_tokens` /
            `cfg.overlap_tokens`), or a loaded `Corpus` (used as it is).
        output_dir: the dataset directory; written atomically (`memo.paths.atomic_dir`) only at the end. An
            earlier dataset there (holding a `manifest.json` of format "memo-reflections/1") is replaced; a file
            or a folder of other files is refused before any work (`FileExistsError`,
            `memo.paths.check_writable_dir`).
        cfg: the `[reflect]` settings (`ReflectConfig`); default memo.toml's, `load_config().reflect_config()`.
            `cfg.profile` picks the step implementations: "full" (generator calls, llm_steps.py), "rules"
            (spaCy's parse, no generator, rule_steps.py) or "auto" (`choose_profile`: rules for the embedded
            model and local models under 1B parameters, full otherwise).
        model: the generator to use instead of `cfg.generator` or the config's generator role (tests pass
            scripted backends). Otherwise the generator is loaded (`memo.llm.model_for`) only when a step of
            the chosen profile calls it, or when "auto" must size a non-embedded generator.
        progress: gets a "reflect" task advanced once per step, and a task for each step's generator calls
            (library code never prints; the CLI renders it).

    Returns the manifest, also written as `manifest.json` (format "memo-reflections/1"): `corpus` (source, hash,
    documents, chunks, chunk sizes, `skipped`, `warnings`, `without_reflections`), `generator` (`spec`,
    `identity`, `used`), `profile` and `profile_reason`, `steps`, `config`, `counts` (final pairs per step),
    `total`, `produced` / `dropped` / `notes` / `fallbacks` per step, `quality` (generator calls, schema-valid
    share, self-contained share), `groups` (cross-document groups of document ids), `tokens` (generator prompt /
    completion tokens, calls and cache hits, per step and in total), `coverage` (share of chunks and named
    entities the pairs reach) and `wall_seconds`. Beside it: `reflections.jsonl` (one `memo.records.Pair`
    record per line: id, question, answer, step, doc_ids, chunk_ids, derived_from, paraphrases),
    `messages.jsonl` (the same pairs in TRL's conversational format), `corpus.jsonl` (`Corpus.records()`) and
    `steps/<step>.jsonl` (each step's output before deduplication).

    Raises FileExistsError / PermissionError for an output path that may not be written (see `output_dir`),
    CorpusError / ValueError for an unusable corpus or chunk sizes (`load_corpus`), ConfigError for a bad
    memo.toml (read when `cfg` is None or names no generator), ValueError for an unreadable `cfg.grouping_file`,
    NLPUnavailable (a RuntimeError) when spaCy or its English model is missing (the rules profile, entity
    coverage and abstention pairs parse the text with it), and LLMError when the generator cannot be loaded or its
    endpoint fails as a whole (EndpointError; CorruptCacheError for a damaged response cache). A single generator
    call without a usable answer is not raised: it is counted under the step's `dropped` or `fallbacks`.
    Every generator call goes through the response cache, so a re-run after a failure repeats none it completed.
    """
    cfg = cfg or load_config().reflect_config()
    check_writable_dir(output_dir, REFLECTIONS_MANIFEST, REFLECTIONS_FORMAT)  # before any work, not after it
    started = time.perf_counter()
    corpus = _load(corpus_path, cfg)
    spec = model.spec if model is not None else _spec(cfg)
    holder: dict[str, ChatModel] = {}
    usage_at_load: dict[str, int] = {}

    def get_model() -> ChatModel:
        if "m" not in holder:
            holder["m"] = model or model_for("generator", override=spec)
            usage_at_load.update(holder["m"].usage.as_dict())  # a passed-in model may have been used before
        return holder["m"]

    probe = model if model is not None else (get_model() if cfg.profile == "auto" and spec != "embedded" else None)
    profile, why = choose_profile(cfg.profile, probe, spec)
    impl = PROFILE_STEPS[profile]
    progress = or_silent(progress)
    ctx = RunContext(corpus, cfg, profile, get_model, progress)
    steps = set(cfg.steps)
    usage_by_step: dict[str, dict[str, int]] = {}
    intermediate: dict[str, list[dict]] = {}

    overall = progress.task("reflect", total=len(steps))

    def run(step: str, fn, *args):
        overall.update(description=f"reflect: {step}")
        before = holder["m"].usage.as_dict() if "m" in holder else None
        t0 = time.perf_counter()
        result = fn(*args)
        after = holder["m"].usage.as_dict() if "m" in holder else None
        if after is not None:
            base = before or usage_at_load
            usage_by_step[step] = {k: after[k] - base.get(k, 0) for k in after}
        ctx.stats[step].notes["seconds"] = round(time.perf_counter() - t0, 1)
        overall.advance()
        return result

    with overall:
        pairs: list[Pair] = []
        for kind in ("direct", "indirect"):
            if kind in steps:
                got = run(kind, impl.extract, ctx, kind)
                intermediate[kind] = [p.record() for p in got]
                pairs += got
        if "consolidate" in steps:
            got = run("consolidate", impl.consolidate, ctx, pairs)
            intermediate["consolidate"] = [p.record() for p in got]
            pairs += got
        if "verify" in steps:
            pairs, intermediate["verify_dropped"] = run("verify", impl.verify, ctx, pairs)
            intermediate["verify"] = [p.record() for p in pairs]
        if "cross_document" in steps:
            if cfg.grouping_file:
                ctx.groups = load_grouping_file(cfg.grouping_file, corpus)
            else:
                ctx.groups = group_documents(corpus, cfg.group_size, cfg.group_similarity, cfg.embedder)
        extra: list[Pair] = []
        if "entity" in steps:
            got = run("entity", impl.surface_entities, ctx, pairs)
            intermediate["entity"] = [p.record() for p in got]
            extra += got
        if "cross_document" in steps:
            got = run("cross_document", impl.cross_document, ctx, pairs)
            intermediate["cross_document"] = [p.record() for p in got]
            extra += got
        # Later steps' pairs get the rule check too (the generator may still slip a pronoun in).
        late_ok: list[Pair] = []
        for p in extra:
            probs = self_containment_problems(p.question, p.answer, need_anchor=False)
            if probs and "verify" in steps:
                ctx.stats[p.step].dropped[probs[0]] += 1
            else:
                late_ok.append(p)
        pairs, dup_dropped = dedup(pairs + late_ok, cfg.near_duplicate, cfg.embedder)
        if "abstention" in steps:
            got = run("abstention", abstentions, ctx, pairs)
            intermediate["abstention"] = [p.record() for p in got]
            pairs += got
    wall = time.perf_counter() - started
    final_counts = Counter(p.step for p in pairs)
    cov = coverage(corpus, [p for p in pairs if p.step != "abstention"])
    llm_calls = sum(s.calls for s in ctx.stats.values())
    valid_calls = sum(s.schema_valid for s in ctx.stats.values())
    vstats = ctx.stats.get("verify")
    manifest: dict[str, Any] = {
        "format": REFLECTIONS_FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "corpus": {"source": str(corpus_path) if not isinstance(corpus_path, Corpus) else None, "hash": corpus.hash,
                   "documents": len(corpus.documents), "chunks": len(corpus.chunks),
                   "chunk_tokens": cfg.chunk_tokens, "overlap_tokens": cfg.overlap_tokens,
                   "skipped": corpus.skipped, "warnings": corpus.warnings,
                   # Documents that yield no reflection at all (abstentions do not count), reported per document.
                   "without_reflections": corpus.documents_without(
                       d for p in pairs if p.step != "abstention" for d in p.doc_ids)},
        "generator": {"spec": spec, "identity": holder["m"].identity if "m" in holder else None,
                      "used": "m" in holder, **({} if "m" in holder else {"note": NO_GENERATOR})},
        "profile": profile,
        "profile_reason": why,
        "steps": [s for s in cfg.steps],
        "config": {k: v for k, v in vars(cfg).items() if k != "steps"},
        "counts": {step: final_counts.get(step, 0) for step in
                   ("direct", "indirect", "consolidated", "entity", "cross_document", "abstention")},
        "total": len(pairs),
        "produced": {step: s.produced for step, s in ctx.stats.items()},
        "dropped": {**{step: {r: n for r, n in s.dropped.items() if n} for step, s in ctx.stats.items()
                       if any(s.dropped.values())},
                    "duplicates": dict(dup_dropped)},
        "notes": {step: dict(s.notes) for step, s in ctx.stats.items() if s.notes},
        "fallbacks": {step: dict(s.fallbacks) for step, s in ctx.stats.items() if s.fallbacks},
        "quality": {
            "generator_calls": llm_calls,
            "schema_valid_share": round(valid_calls / llm_calls, 4) if llm_calls else None,
            "self_contained_share": (round(vstats.notes["self-contained on first check"] / vstats.notes["checked"], 4)
                                     if vstats and vstats.notes.get("checked") else None),
        },
        "groups": ctx.groups,
        "tokens": {"by_step": usage_by_step,
                   "prompt": sum(u["prompt_tokens"] for u in usage_by_step.values()),
                   "completion": sum(u["completion_tokens"] for u in usage_by_step.values()),
                   "calls": sum(u["calls"] for u in usage_by_step.values()),
                   "cache_hits": sum(u["cache_hits"] for u in usage_by_step.values())},
        "coverage": cov,
        "wall_seconds": round(wall, 2),
    }
    with atomic_dir(output_dir, REFLECTIONS_MANIFEST, REFLECTIONS_FORMAT) as tmp:
        atomic_write_jsonl(tmp / REFLECTIONS_FILE, [p.record() for p in pairs])
        atomic_write_jsonl(tmp / "messages.jsonl", [{"messages": [{"role": "user", "content": p.question},
                                                                  {"role": "assistant", "content": p.answer}]}
                                                    for p in pairs])
        atomic_write_jsonl(tmp / "corpus.jsonl", corpus.records())
        for step, rows in intermediate.items():
            atomic_write_jsonl(tmp / "steps" / f"{step}.jsonl", rows)
        atomic_write_json(tmp / REFLECTIONS_MANIFEST, manifest)
    return manifest


def read_reflections(output_dir: str | Path) -> list[dict]:
    """The `reflections.jsonl` rows of a dataset directory."""
    path = Path(output_dir) / REFLECTIONS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{output_dir} is not a reflection dataset (no {REFLECTIONS_FILE})")
    return read_jsonl(path)
