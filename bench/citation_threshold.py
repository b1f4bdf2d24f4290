"""Calibrate the similarity below which a memory's citation is not shown as a source (`memo.memory.model`).

Held-out data: the MuSiQue sample in shared/data/musique (50 questions, each with its single-hop steps, their
answers and the paragraph that supports each). The questions are split in two halves by a seeded shuffle. For
each half, `memo reflect` (default settings: the rules profile, embedded generator) turns the half's supporting
paragraphs into reflections: the citation index a memory trained on them would carry. Each single-hop step is
then a query "question answer", as `MemoryModel.ask` embeds it:

- known: a step of this half with its gold answer; its citation is right when the top reflection comes from the
  step's supporting paragraph;
- wrong answer: a step of this half with the answer of another step (a hallucinated answer to a known question);
- unknown: a step of the other half whose paragraph is not in this index (the memory never saw the fact).

Only a right citation of a known step should be shown. The threshold is fitted on half A's index and queries (the
best F1 of "shown" against "right") and measured on half B's, which it never saw; precision, recall and the share
of wrong-answer and unknown queries that still get a source are reported with and without it.

    flock /tmp/memo-bench.lock .venv/bin/python bench/citation_threshold.py --work /tmp/citation-bench
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from memo.embed import embed  # noqa: E402
from memo.memory.artifact import reflection_text  # noqa: E402
from memo.paths import read_jsonl  # noqa: E402
from memo.reflect import reflect  # noqa: E402

from _record import append_to_section  # noqa: E402

MUSIQUE = Path("/work/shared/data/musique/musique_hipporag_subset.json")


def halves(questions: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(questions)))
    random.Random(seed).shuffle(order)
    mid = len(order) // 2
    return [questions[i] for i in order[:mid]], [questions[i] for i in order[mid:]]


def steps_of(questions: list[dict]) -> list[dict]:
    """Single-hop steps with a plain answer and their supporting paragraph's text."""
    out = []
    for q in questions:
        paragraphs = {p["idx"]: p for p in q["paragraphs"]}
        for step in q["question_decomposition"]:
            para = paragraphs.get(step["paragraph_support_idx"])
            if para is None or "#" in step["question"]:  # "#1" refers to an earlier step's answer: not standalone
                continue
            out.append({"question": step["question"], "answer": step["answer"],
                        "paragraph": para["paragraph_text"].strip()})
    return out


def build_index(questions: list[dict], work: Path) -> tuple[list[dict], np.ndarray, dict[str, str]]:
    """Reflections of the half's supporting paragraphs (reflect is cached on disk), their embeddings, and the
    document id -> paragraph text map."""
    out = work / ("reflections-" + hashlib.sha256(" ".join(q["id"] for q in questions).encode()).hexdigest()[:8])
    if not (out / "reflections.jsonl").exists():
        corpus = work / f"{out.name}.jsonl"
        seen, rows = set(), []
        for q in questions:
            for p in q["paragraphs"]:
                if p["is_supporting"] and p["paragraph_text"].strip() not in seen:
                    seen.add(p["paragraph_text"].strip())
                    rows.append({"title": p["title"], "text": p["paragraph_text"]})
        corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        reflect(corpus, out)
    rows = [r for r in read_jsonl(out / "reflections.jsonl") if r["step"] != "abstention"]
    docs = {r["id"]: r["text"].strip() for r in read_jsonl(out / "corpus.jsonl") if r["type"] == "document"}
    return rows, embed([reflection_text(r) for r in rows]), docs


def score(index, steps: list[dict], other_steps: list[dict], seed: int) -> list[tuple[float, bool, str]]:
    """(top-1 similarity, citation right?, kind) per query."""
    rows, matrix, docs = index
    indexed = set(docs.values())
    known = [s for s in steps if s["paragraph"] in indexed]
    rng = random.Random(seed)
    wrong = []
    for s in known:
        other = rng.choice([t for t in known if t["answer"].lower() != s["answer"].lower()])
        wrong.append({**s, "answer": other["answer"]})
    unknown = [s for s in other_steps if s["paragraph"] not in indexed]
    queries = [(s, "known") for s in known] + [(s, "wrong answer") for s in wrong] + [(s, "unknown") for s in unknown]
    sims = embed([f"{s['question']} {s['answer']}" for s, _ in queries]) @ matrix.T
    out = []
    for (s, kind), row in zip(queries, sims):
        j = int(np.argmax(row))
        right = kind == "known" and any(docs.get(d) == s["paragraph"] for d in rows[j].get("doc_ids", []))
        out.append((float(row[j]), right, kind))
    return out


def metrics(scored, threshold: float) -> dict:
    shown = [(right, kind) for s, right, kind in scored if s >= threshold]
    right_total = sum(1 for _, right, _ in scored if right)
    tp = sum(1 for right, _ in shown if right)
    out = {"precision": tp / len(shown) if shown else 1.0, "recall": tp / right_total if right_total else 0.0}
    out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"] or 1)
    for kind in ("known", "wrong answer", "unknown"):
        n = sum(1 for *_, k in scored if k == kind)
        out[f"shown for {kind}"] = f"{sum(1 for _, k in shown if k == kind)}/{n}"
    return out


def fit(scored) -> float:
    """The threshold with the best F1 (ties: the lower one, which shows more right citations)."""
    candidates = sorted({round(s, 3) for s, _, _ in scored})
    return max(candidates, key=lambda t: (round(metrics(scored, t)["f1"], 6), -t))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/citation-bench", help="reflections are kept here between runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to docs/BENCHMARKS.md")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    a, b = halves(json.loads(MUSIQUE.read_text(encoding="utf-8")), args.seed)
    steps_a, steps_b = steps_of(a), steps_of(b)
    fit_scores = score(build_index(a, work), steps_a, steps_b, args.seed)
    test_scores = score(build_index(b, work), steps_b, steps_a, args.seed)
    threshold = fit(fit_scores)
    rows = [("fit (half A)", "none", metrics(fit_scores, -1.0)), ("fit (half A)", f"{threshold:.3f}", metrics(fit_scores, threshold)),
            ("held out (half B)", "none", metrics(test_scores, -1.0)),
            ("held out (half B)", f"{threshold:.3f}", metrics(test_scores, threshold))]
    cols = ["precision", "recall", "f1", "shown for known", "shown for wrong answer", "shown for unknown"]
    table = "| queries | threshold | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 2) + "\n"
    for name, t, m in rows:
        table += f"| {name} | {t} | " + " | ".join(f"{m[c]:.2f}" if isinstance(m[c], float) else m[c] for c in cols) + " |\n"
    wall = time.perf_counter() - t0
    date = datetime.now(timezone.utc).date().isoformat()
    section = (
        f"\n### Citation threshold ({date}, 2-core CPU, no GPU; shared machine)\n\n"
        f"Command: `flock /tmp/memo-bench.lock .venv/bin/python bench/citation_threshold.py --work {args.work}` "
        f"(seed {args.seed}, {wall:.0f} s). Held-out data: the MuSiQue sample's single-hop steps, split in two "
        f"halves of 25 questions; each half's supporting paragraphs reflected with the default settings "
        f"(rules profile, embedded generator); embedder `minilm`; query = \"question answer\", as "
        f"`MemoryModel.ask` embeds it; a citation is right when the top reflection comes from the step's "
        f"supporting paragraph. Fitted on half A (best F1), measured on half B.\n\n{table}\n"
        f"`CITATION_MIN_SIMILARITY` in memo/memory/model.py is set to the fitted {threshold:.3f}.\n"
    )
    print(section)
    if not args.no_record:
        append_to_section("## Citations", section)


if __name__ == "__main__":
    main()
