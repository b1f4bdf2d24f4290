"""Reflection throughput and quality on a 10-document invented corpus.

    HF_HUB_OFFLINE=1 flock /tmp/memo-bench.lock .venv/bin/python bench/reflect_throughput.py [--full-docs 2]
        [--long-document CHARS]

Variants, each on a cold response cache then re-run on the warm one:
  rules             spaCy's parse, no generator model (the default with the embedded generator)
  full (optional)   the paper-faithful prompts with the embedded generator, on the first --full-docs documents
  long (optional)   rules on one document of CHARS characters on a single line: the distinct paragraphs of the
                    MuSiQue sample joined (how the profile scales with a document's length)
Prints a markdown table: wall time (median of --repeats cold runs for rules-only variants), pairs, pairs/minute,
generator tokens per pair, schema-valid share, self-contained share, cache hit rate on re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

SAMPLE = Path("/work/shared/data/musique/musique_hipporag_subset.json")
DOCS = [
    "Marie Dubois founded the Lumen Bakery in Veldmark in 1998. She was born in Lyon in 1970. The Lumen Bakery won "
    "the Golden Whisk award in 2005. In 2010 Marie Dubois opened a second shop in Harlow.",
    "Tomas Kell was the mayor of Veldmark from 2001 to 2009. He gave the Golden Whisk award to the Lumen Bakery in "
    "2005. Tomas Kell later became a professor at Harlow University. He wrote a history of the Orla River.",
    "The Orla River flows through Veldmark and Harlow. The Orla Bridge in Veldmark was built in 1887 by the engineer "
    "Ada Ferrin. Ada Ferrin also designed the Harlow Lighthouse in 1892.",
    "Comet Xelos was discovered by the astronomer Priya Nand in 2016. Priya Nand works at the Karsa Observatory in "
    "Chile. Comet Xelos returns every 74 years.",
    "Mount Tirell is a volcano on the island of Quenda. Mount Tirell erupted in 1932. The Quenda Geological Society "
    "monitors Mount Tirell with twelve seismometers.",
    "The Karsa Observatory opened in 1979 on Cerro Karsa. Its largest telescope has a mirror of four metres. "
    "Priya Nand became director of the Karsa Observatory in 2019.",
    "Harlow University was founded in 1921 by Edith Marl. Edith Marl was a chemist from Veldmark. Harlow University "
    "has eleven colleges.",
    "The Golden Whisk award is given every year by the Guild of Northern Bakers. The Guild of Northern Bakers was "
    "founded in 1950 in Harlow. Its president in 2020 was Omar Sethi.",
    "Quenda is an island in the Sorrel Sea. Quenda has a population of nine thousand people. The capital of Quenda "
    "is Port Anselm.",
    "Omar Sethi trained as a baker at the Lumen Bakery in 1999. Omar Sethi opened the Sethi Bread Company in Harlow "
    "in 2008. The Sethi Bread Company employs forty bakers.",
]


def run_variant(corpus_dir: Path, cfg, repeats: int, out_root: Path) -> dict:
    from memo.llm import load_model
    from memo.reflect import reflect

    out_root.mkdir(parents=True)
    walls = []
    cold = None
    for k in range(repeats):
        os.environ["MEMO_CACHE"] = str(out_root / f"cache-{k}.sqlite")  # a cold cache for every timed run
        model = load_model("embedded")
        t0 = time.perf_counter()
        cold = reflect(corpus_dir, out_root / f"cold-{k}", cfg, model=model)
        walls.append(time.perf_counter() - t0)
    warm_model = load_model("embedded")  # same cache as the last cold run
    t0 = time.perf_counter()
    reflect(corpus_dir, out_root / "warm", cfg, model=warm_model)
    warm_wall = time.perf_counter() - t0
    same = (out_root / f"cold-{repeats - 1}" / "reflections.jsonl").read_bytes() == (out_root / "warm" / "reflections.jsonl").read_bytes()
    tok = cold["tokens"]
    requests = warm_model.usage.calls + warm_model.usage.cache_hits
    wall = statistics.median(walls)
    return {
        "wall": wall, "pairs": cold["total"], "per_min": cold["total"] / wall * 60,
        "tokens_per_pair": (tok["prompt"] + tok["completion"]) / max(1, cold["total"]),
        "calls": tok["calls"], "schema": cold["quality"]["schema_valid_share"],
        "self_contained": cold["quality"]["self_contained_share"],
        "hit_rate": warm_model.usage.cache_hits / requests if requests else None, "warm_calls": warm_model.usage.calls,
        "warm_wall": warm_wall, "identical": same, "counts": cold["counts"], "coverage": cold["coverage"],
        "notes": cold["dropped"].get("direct", {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="cold runs of the rules-only variant (median reported)")
    ap.add_argument("--full-docs", type=int, default=0, help="also run the full profile on this many documents")
    ap.add_argument("--long-document", type=int, default=0, metavar="CHARS",
                    help="also run the rules profile on one single-line document of this many characters")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="reflect-bench-") as tmp:
        bench(Path(tmp), args)


def bench(work: Path, args: argparse.Namespace) -> None:
    from memo.reflect import ReflectConfig

    (work / "all").mkdir()
    for i, text in enumerate(DOCS):
        (work / "all" / f"doc{i:02d}.txt").write_text(text, encoding="utf-8")
    variants = [("rules", work / "all", ReflectConfig(profile="rules"), args.repeats)]
    if args.full_docs:
        (work / "few").mkdir()
        for i, text in enumerate(DOCS[: args.full_docs]):
            (work / "few" / f"doc{i:02d}.txt").write_text(text, encoding="utf-8")
        variants.append((f"full (135M, {args.full_docs} docs)", work / "few", ReflectConfig(profile="full"), 1))
    if args.long_document:
        sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
        paragraphs = dict.fromkeys(p["paragraph_text"] for q in sample for p in q["paragraphs"])
        (work / "long").mkdir()
        (work / "long" / "long.txt").write_text(" ".join(paragraphs)[: args.long_document], encoding="utf-8")
        variants.append((f"rules, one {args.long_document:,}-character line", work / "long",
                         ReflectConfig(profile="rules"), 1))
    print("| variant | docs | wall s (cold) | pairs | pairs/min | gen. calls | tokens/pair | schema-valid | "
          "self-contained | re-run: calls, cache hit rate, wall s, identical |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, (name, corpus_dir, cfg, repeats) in enumerate(variants):
        r = run_variant(corpus_dir, cfg, repeats, work / f"run-{k}")
        fmt = lambda x: "n/a" if x is None else f"{x:.0%}"  # noqa: E731
        docs = len(list(corpus_dir.iterdir()))
        print(f"| {name} | {docs} | {r['wall']:.1f} | {r['pairs']} | {r['per_min']:.0f} | {r['calls']} | "
              f"{r['tokens_per_pair']:.0f} | {fmt(r['schema'])} | {fmt(r['self_contained'])} | "
              f"{r['warm_calls']}, {fmt(r['hit_rate'])}, {r['warm_wall']:.1f}, {r['identical']} |")
        print(f"<!-- {name}: counts {r['counts']}; coverage chunks {r['coverage']['chunk_share']:.0%}, entities "
              f"{r['coverage']['entity_share']:.0%}; direct sentences dropped {r['notes']} -->")


if __name__ == "__main__":
    main()
