"""Build the memory of the issue-12 measurement: MuSiQue supporting paragraphs -> reflections -> memory.

The supporting paragraphs of the first N questions of the MuSiQue sample are reflected with a profile and a memory
is trained on them with the default recipe (`--epochs` / `--freeze-layers` lower it to fit a time budget; a killed
`train` phase resumes from its last checkpoint). The memory is then scored by `memo eval` (per-hop accuracy of the
gold single-hop steps, `memo_gold`, next to `bm25_gold` read by the embedded model):

    python bench/reflect_musique.py --work /tmp/mq --phase reflect
    python bench/reflect_musique.py --work /tmp/mq --phase coverage   # gold answers present in the reflections
    flock /tmp/memo-bench.lock timeout 1150 python bench/reflect_musique.py --work /tmp/mq --phase train
    flock /tmp/memo-bench.lock memo eval --dataset musique:/work/shared/data/musique/musique_hipporag_subset.json \
        --limit 20 --methods memo_gold,bm25_gold --top-k 3 --no-judge --memory /tmp/mq/memory -o /tmp/mq/eval
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SAMPLE = Path("/work/shared/data/musique/musique_hipporag_subset.json")


def corpus_rows(questions: list[dict]) -> list[dict]:
    seen, rows = set(), []
    for q in questions:
        for p in q["paragraphs"]:
            key = (p["title"], p["paragraph_text"])
            if p.get("is_supporting") and key not in seen:
                seen.add(key)
                rows.append({"title": p["title"], "text": p["paragraph_text"]})
    return rows


def coverage(questions: list[dict], reflections: Path) -> None:
    """How many gold hops the reflections could teach: the hop's gold answer (memo.eval's word-boundary
    containment after SQuAD normalisation) inside some reflection's answer, and inside its short fact (the
    answer's first sentence). An upper bound on what a memory trained on them can answer, not a memory score."""
    from memo.eval.metrics import containment
    from memo.paths import read_jsonl

    rows = [r for r in read_jsonl(reflections / "reflections.jsonl") if r["step"] != "abstention"]
    golds = [h["answer"] for q in questions for h in q["question_decomposition"]]
    anywhere = sum(any(containment(r["answer"], [g]) for r in rows) for g in golds)
    short = sum(any(containment(r["answer"].split(". ", 1)[0], [g]) for r in rows) for g in golds)
    print(f"{len(golds)} gold hops; gold answer in some reflection's answer: {anywhere} ({anywhere / len(golds):.0%}); "
          f"in its short fact: {short} ({short / len(golds):.0%}); {len(rows)} non-abstention reflections, "
          f"{sum(len(r.get('paraphrases', [])) for r in rows)} paraphrases")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="working directory (corpus, reflections, memory)")
    ap.add_argument("--phase", choices=["reflect", "coverage", "train"], required=True)
    ap.add_argument("--questions", type=int, default=20, help="first N questions of the sample")
    ap.add_argument("--profile", default="rules")
    ap.add_argument("--epochs", type=int, default=None, help="most training epochs (default: the recipe's)")
    ap.add_argument("--freeze-layers", type=int, default=None)
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
    if args.phase == "coverage":
        coverage(questions, work / "reflections")
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


if __name__ == "__main__":
    main()
