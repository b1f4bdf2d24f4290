"""Reflections measured by what a memory trained on them answers: MuSiQue gold single-hop sub-questions.

The smallest bench for issue 12 (until `memo eval` offers the same methods): the supporting paragraphs of the
first N questions of the MuSiQue sample are reflected with a profile, a memory is trained on them with the default
recipe (epochs and frozen layers can be lowered to fit a time budget), and the memory is asked every gold
single-hop sub-question with the gold answers of earlier hops put in place of "#k". A relation-style
sub-question ("Erik Hort >> place of birth") is asked as "What is the place of birth of Erik Hort?". Next to it,
BM25 top-3 over the same paragraphs (bm25s) read by the embedded model with a plain short-answer prompt.
Scores per hop: containment (the normalised gold answer inside the normalised answer) and SQuAD-style token F1.

    flock /tmp/memo-bench.lock python bench/reflect_musique.py --work /tmp/mq --phase reflect
    flock /tmp/memo-bench.lock timeout 1150 python bench/reflect_musique.py --work /tmp/mq --phase train  # resumes
    flock /tmp/memo-bench.lock python bench/reflect_musique.py --work /tmp/mq --phase ask --record
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SAMPLE = Path("/work/shared/data/musique/musique_hipporag_subset.json")


def normalize(text: str) -> str:
    """SQuAD answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def token_f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def hops(questions: list[dict]) -> list[dict]:
    """Each gold sub-question with earlier hops' gold answers substituted, and its gold answer."""
    out = []
    for q in questions:
        answers: list[str] = []
        for n, h in enumerate(q["question_decomposition"], 1):
            text = h["question"]
            for k, a in enumerate(answers, 1):
                text = text.replace(f"#{k}", a.strip().rstrip("."))
            if ">>" in text:
                subject, relation = (s.strip() for s in text.split(">>", 1))
                text = f"What is the {relation} of {subject}?"
            text = " ".join(text.split())
            out.append({"question_id": q["id"], "hop": n, "question": text, "gold": h["answer"]})
            answers.append(h["answer"])
    return out


def corpus_rows(questions: list[dict]) -> list[dict]:
    seen, rows = set(), []
    for q in questions:
        for p in q["paragraphs"]:
            key = (p["title"], p["paragraph_text"])
            if p.get("is_supporting") and key not in seen:
                seen.add(key)
                rows.append({"title": p["title"], "text": p["paragraph_text"]})
    return rows


def score(answers: list[str], items: list[dict]) -> dict:
    contains = [normalize(i["gold"]) in normalize(a) for a, i in zip(answers, items)]
    f1 = [token_f1(a.split(". ")[0] if ". " in a else a, i["gold"]) for a, i in zip(answers, items)]
    return {"contains": sum(contains), "hops": len(items), "f1": round(sum(f1) / len(items), 3),
            "per_hop": [{"question": i["question"], "gold": i["gold"], "answer": a, "contains": c, "f1": round(f, 3)}
                        for a, i, c, f in zip(answers, items, contains, f1)]}


def bm25_reader(rows: list[dict], items: list[dict]) -> list[str]:
    import bm25s

    from memo.llm import GenParams, load_model

    texts = [f"{r['title']}: {r['text']}" for r in rows]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    found, _ = retriever.retrieve(bm25s.tokenize([i["question"] for i in items], stopwords="en", show_progress=False),
                                  k=3, show_progress=False)
    model = load_model("embedded")
    prompts = [f"Passages:\n" + "\n\n".join(texts[j] for j in idx) +
               f"\n\nAnswer the question with a short answer taken from the passages.\nQuestion: {i['question']}\nAnswer:"
               for idx, i in zip(found.tolist(), items)]
    return model.chat_batch(prompts, GenParams(temperature=0.0, max_tokens=32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="working directory (corpus, reflections, memory, results)")
    ap.add_argument("--phase", choices=["reflect", "train", "ask"], required=True)
    ap.add_argument("--questions", type=int, default=20, help="first N questions of the sample")
    ap.add_argument("--profile", default="rules")
    ap.add_argument("--epochs", type=int, default=None, help="most training epochs (default: the recipe's)")
    ap.add_argument("--freeze-layers", type=int, default=None)
    ap.add_argument("--record", action="store_true", help="append the table to docs/BENCHMARKS.md")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    questions = json.loads(SAMPLE.read_text(encoding="utf-8"))[: args.questions]
    rows = corpus_rows(questions)
    corpus = work / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if args.phase == "reflect":
        from memo.reflect import ReflectConfig, reflect

        m = reflect(corpus, work / "reflections", ReflectConfig(profile=args.profile))
        print(json.dumps({k: m[k] for k in ("profile", "profile_reason", "generator", "counts", "total",
                                            "wall_seconds")}, indent=1))
        return
    if args.phase == "train":
        from memo.config import load_config
        from memo.memory.train import train

        cfg = load_config().train_config()
        changes = {k: v for k, v in (("max_epochs", args.epochs), ("freeze_layers", args.freeze_layers)) if v is not None}
        cfg = type(cfg)(**{**cfg.as_dict(), **changes})
        t0 = time.perf_counter()
        result = train(work / "reflections", work / "memory", config=cfg)
        print(f"trained in {time.perf_counter() - t0:.0f} s (this call): {result}")
        return
    from memo.memory import MemoryModel

    items = hops(questions)
    memory = MemoryModel.load(work / "memory")
    t0 = time.perf_counter()
    mem = score([a.answer for a in memory.ask([i["question"] for i in items])], items)
    mem_s = time.perf_counter() - t0
    bm = score(bm25_reader(rows, items), items)
    manifest = json.loads((work / "reflections" / "manifest.json").read_text())
    (work / "results.json").write_text(json.dumps({"memory": mem, "bm25_reader": bm}, indent=1), encoding="utf-8")
    training = memory.manifest.get("training", {})
    lines = [f"| memory on `{args.profile}` reflections | {mem['contains']}/{mem['hops']} "
             f"({mem['contains'] / mem['hops']:.0%}) | {mem['f1']} |",
             f"| BM25 top-3 + embedded reader | {bm['contains']}/{bm['hops']} ({bm['contains'] / bm['hops']:.0%}) | {bm['f1']} |"]
    print("\n".join(lines))
    if args.record:
        from bench._record import append_to_section

        section = (f"\n### {dt.date.today()} `bench/reflect_musique.py --work {args.work} --profile {args.profile}"
                   f"{' --epochs ' + str(args.epochs) if args.epochs else ''}` (phases reflect, train, ask)\n\n"
                   f"Machine: 2-core CPU, no GPU ({platform.machine()}), fp32; shared with other engineers' work, "
                   f"locked runs. Corpus: supporting paragraphs of the first {args.questions} MuSiQue sample "
                   f"questions ({len(rows)} distinct paragraphs), {len(items)} gold hops. Reflections: profile "
                   f"{manifest['profile']}, {manifest['total']} pairs ({manifest['counts']}), "
                   f"{sum(len(r.get('paraphrases', [])) for r in map(json.loads, (work / 'reflections' / 'reflections.jsonl').read_text().splitlines()))} "
                   f"paraphrases. Training: {json.dumps({k: training.get(k) for k in ('epochs', 'best_epoch', 'optimizer_steps', 'train_seconds') if k in training})}. "
                   f"Memory answers: {mem_s:.0f} s for {len(items)} hops.\n\n"
                   "| answers from | hops whose answer contains the gold answer | token F1 (short answer) |\n|---|---|---|\n"
                   + "\n".join(lines) + "\n")
        append_to_section("## Reflections", section)


if __name__ == "__main__":
    main()
