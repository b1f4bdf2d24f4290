"""Query cost against corpus size: BM25 and dense RAG (retrieve top-k, read them) against a MeMo memory.

    flock /tmp/memo-bench.lock .venv/bin/python bench/scaling.py --sizes 10,100,1000

Synthetic corpora of N invented people (one short biography each, two facts and filler); the same --queries
questions, about people present in every corpus, are asked at each size. Per query, at batch 1, greedy, no
response cache:

- RAG: retrieval time over the N documents (memo.eval.retrieval), the reading prompt (memo/prompts/eval/read.md
  with the top-k documents) in tokens of the embedded model, and the embedded reader's answer time;
- MeMo: a memory fine-tuned (memo.memory.train) on the corpus's facts, asked the question alone in its prompt
  format: prompt tokens and answer time. The paper (section 1) claims this cost does not grow with the corpus.

The memories train --epochs epochs (default 1: enough to measure cost; the recall they reach is listed too).
Results go under `## Evaluation` in docs/BENCHMARKS.md with a plot in docs/benchmarks/ (--no-write: print only).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.corpus import Chunk, Corpus, Document  # noqa: E402
from memo.eval.methods import ReaderAnswer  # noqa: E402
from memo.eval.metrics import containment  # noqa: E402
from memo.eval.retrieval import BM25Retriever, DenseRetriever, passages_of  # noqa: E402
from memo.llm import GenParams, load_model  # noqa: E402
from memo.memory import MemoryModel, TrainConfig, train  # noqa: E402
from memo.memory.prompt import format_prompt  # noqa: E402
from memo.paths import atomic_write_jsonl  # noqa: E402
from memo.templates import render_prompt  # noqa: E402

from _record import BENCHMARKS_MD, append_to_section  # noqa: E402

SYLLABLES = ("bra", "dor", "fen", "gal", "hix", "jor", "kel", "lum", "mor", "nax", "pel", "quor", "rin", "sav",
             "tor", "ulm", "vex", "wen", "yal", "zed")
CRAFTS = ("clockmaker", "glassblower", "cartographer", "luthier", "bookbinder", "weaver", "engraver", "potter")
FILLER = ("The town kept a small museum about the family.", "Records from that period are incomplete.",
          "Several letters from those years survive in a private collection.",
          "Neighbours remembered the workshop for its long opening hours.")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic(n: int, seed: int = 0) -> tuple[Corpus, list[dict]]:
    """N biographies (the first ones identical across sizes) and their facts as question/answer pairs."""
    rng = random.Random(seed)
    docs, pairs, names = [], [], set()
    while len(docs) < n:
        person, town = f"{_word(rng)} {_word(rng)}", _word(rng)
        if person in names:
            continue
        names.add(person)
        craft, year = rng.choice(CRAFTS), rng.randint(1800, 1990)
        text = (f"{person} was born in {town} in {year}. {person} worked as a {craft} for most of a long life. "
                + " ".join(rng.sample(FILLER, 2)))
        doc = Document(f"d-{len(docs):05d}", text, person)
        docs.append(doc)
        pairs += [{"question": f"Where was {person} born?", "answer": town, "doc_ids": [doc.id]},
                  {"question": f"What did {person} work as?", "answer": f"a {craft}", "doc_ids": [doc.id]}]
    chunks = [Chunk(f"c-{d.id[2:]}", d.id, 0, d.text) for d in docs]
    return Corpus(docs, chunks), pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--queries", type=int, default=20, help="questions asked at every size")
    parser.add_argument("--top-k", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=1, help="training epochs of each memory")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    reader = load_model("embedded", cache=False)
    params = GenParams(temperature=0.0, max_tokens=64)  # the eval reader's budget (EvalConfig.reader_max_tokens)
    rows = []
    with tempfile.TemporaryDirectory(prefix="memo-scaling-") as tmp:
        for n in sizes:
            corpus, pairs = synthetic(n)
            queries = pairs[: min(args.queries, len(pairs))]
            t0 = time.perf_counter()
            retrievers = {"bm25": BM25Retriever(passages_of(corpus))}
            index_bm25 = time.perf_counter() - t0
            t0 = time.perf_counter()
            retrievers["dense"] = DenseRetriever(passages_of(corpus))
            index_dense = time.perf_counter() - t0
            for name, retriever in retrievers.items():
                stats = {"search": [], "read": [], "tokens": [], "hit": []}
                for q in queries:
                    t0 = time.perf_counter()
                    hits = retriever.search([q["question"]], args.top_k)[0]
                    stats["search"].append(time.perf_counter() - t0)
                    text = "\n\n".join(f"[{i}] {p.indexed_text()}" for i, (p, _) in enumerate(hits, 1))
                    prompt = render_prompt("eval/read", documents=text, question=q["question"])
                    stats["tokens"].append(reader.count_tokens(prompt))
                    t0 = time.perf_counter()
                    res = reader.structured_batch([prompt], ReaderAnswer, params)[0]
                    answer = getattr(res, "answer", "")  # a malformed reply counts as a wrong answer
                    stats["read"].append(time.perf_counter() - t0)
                    stats["hit"].append(containment(answer, [q["answer"]]))
                rows.append({"size": n, "method": name, "index_s": index_bm25 if name == "bm25" else index_dense,
                             **{k: statistics.median(v) for k, v in stats.items() if k != "hit"},
                             "correct": sum(stats["hit"]) / len(queries)})
            data = Path(tmp) / f"facts-{n}.jsonl"
            atomic_write_jsonl(data, pairs)
            t0 = time.perf_counter()
            result = train(data, Path(tmp) / f"mem-{n}", base="embedded",
                           config=TrainConfig(max_epochs=args.epochs, eval_size=16, abstention_ratio=0.0))
            train_s = time.perf_counter() - t0
            memory = MemoryModel.load(result.artifact)
            times, tokens, hit = [], [], []
            for q in queries:
                tokens.append(len(memory.tokenizer(format_prompt(memory.tokenizer, q["question"]),
                                                   add_special_tokens=False)["input_ids"]))
                t0 = time.perf_counter()
                answer = memory.ask([q["question"]], max_new_tokens=params.max_tokens)[0].answer
                times.append(time.perf_counter() - t0)
                hit.append(containment(answer, [q["answer"]]))
            rows.append({"size": n, "method": "memo", "index_s": train_s, "search": 0.0,
                         "read": statistics.median(times), "tokens": statistics.median(tokens),
                         "correct": sum(hit) / len(queries)})
            print(rows[-3:], flush=True)
    section, plot = render(rows, args)
    print(section)
    if not args.no_write:
        plot_file = BENCHMARKS_MD.parent / "benchmarks" / "scaling.png"
        plot(plot_file)
        append_to_section("## Evaluation", section.replace("PLOT", str(plot_file.relative_to(BENCHMARKS_MD.parent))))


def render(rows: list[dict], args) -> tuple[str, object]:
    lines = ["", f"### Query cost against corpus size ({date.today().isoformat()}, 2-core CPU, no GPU)", "",
             f"Command: `flock /tmp/memo-bench.lock .venv/bin/python bench/scaling.py --sizes {args.sizes} "
             f"--queries {args.queries} --top-k {args.top_k} --epochs {args.epochs}`. Embedded SmolLM2-135M as "
             "reader and memory base, batch 1, greedy, at most 64 answer tokens, no response cache; medians over "
             f"the {args.queries} questions. RAG reads the top-{args.top_k} documents; the memory is asked the "
             f"question alone. Index / train s: BM25 or dense indexing, or training the memory ({args.epochs} "
             "epoch(s)). Correct: the answer contains the fact (a cost benchmark: the memories are barely trained).",
             "", "| documents | method | index / train s | retrieval ms/query | prompt tokens/query | answer s/query "
             "| total s/query | correct |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['method']} | {r['index_s']:.2f} | {1000 * r['search']:.2f} | "
                     f"{r['tokens']:.0f} | {r['read']:.2f} | {r['search'] + r['read']:.2f} | {r['correct']:.0%} |")
    lines += ["", "![query cost against corpus size](PLOT)", ""]

    def plot(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path.parent.mkdir(parents=True, exist_ok=True)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for method in ("bm25", "dense", "memo"):
            mr = [r for r in rows if r["method"] == method]
            ax1.plot([r["size"] for r in mr], [r["search"] + r["read"] for r in mr], marker="o", label=method)
            ax2.plot([r["size"] for r in mr], [r["tokens"] for r in mr], marker="o", label=method)
        for ax, label in ((ax1, "seconds per query"), (ax2, "prompt tokens per query")):
            ax.set_xscale("log")
            ax.set_xlabel("documents in the corpus")
            ax.set_ylabel(label)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return "\n".join(lines), plot


if __name__ == "__main__":
    main()
