"""Memory build on real text: reflect + train on the supporting paragraphs of MuSiQue sample questions, timed, then
per-hop accuracy of the memory on the gold single-hop sub-questions.

The corpus is the supporting paragraphs of the first `--questions` questions of the shared MuSiQue sample (20:
57 paragraphs, 53 hops). Reflections are made once with the configured `[reflect]` settings (offline: the
embedded generator's profile) and every recipe variant trains on them. Each hop's gold sub-question is asked with
the gold answers of the earlier hops substituted for "#1", "#2", ...; an answer counts when it contains the gold
answer after normalisation (containment), and token F1 is reported too (SQuAD-style).

    flock /tmp/memo-bench.lock .venv/bin/python bench/memory_build.py --questions 20 --variants new-default

Results are appended to docs/BENCHMARKS.md under `## Memory training` (use --no-write to only print).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.memory import MemoryModel, TrainConfig, train  # noqa: E402
from memo.records import normalize_text  # noqa: E402

from _record import append_to_section  # noqa: E402

MUSIQUE = Path("/work/shared/data/musique/musique_hipporag_subset.json")

VARIANTS: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    "3-epochs": TrainConfig(max_epochs=3),
}


def subset(questions: list[dict]) -> list[dict]:
    """The questions with their supporting paragraphs only (the gold evidence: a 'perfect retrieval' corpus)."""
    return [{**q, "paragraphs": [p for p in q["paragraphs"] if p.get("is_supporting")]} for q in questions]


def hops(questions: list[dict]) -> list[tuple[str, str]]:
    """(sub-question with earlier gold answers substituted, gold answer) for every hop of every question."""
    out = []
    for q in questions:
        answers: list[str] = []
        for step in q["question_decomposition"]:
            text = step["question"]
            for k, a in enumerate(answers, 1):
                text = text.replace(f"#{k}", a)
            out.append((text, step["answer"]))
            answers.append(step["answer"])
    return out


def token_f1(predicted: str, gold: str) -> float:
    p, g = normalize_text(predicted).split(), normalize_text(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--variants", default="default", help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--reflections", type=Path, help="reuse this reflection directory instead of reflecting")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    if unknown := [n for n in names if n not in VARIANTS]:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")

    questions = json.loads(MUSIQUE.read_text(encoding="utf-8"))[: args.questions]
    gold = hops(questions)
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="memo-build-") as tmp:
        work = Path(tmp)
        reflect_s = None
        refl = args.reflections
        if refl is None:
            from memo.reflect import reflect

            corpus = work / "musique-support.json"
            corpus.write_text(json.dumps(subset(questions)), encoding="utf-8")
            t0 = time.perf_counter()
            reflect(corpus, work / "refl")
            reflect_s = time.perf_counter() - t0
            refl = work / "refl"
        count = sum(1 for line in (refl / "reflections.jsonl").open(encoding="utf-8") if line.strip())
        print(f"{count} reflections" + (f" in {reflect_s:.0f} s" if reflect_s else ""), flush=True)
        for name in names:
            t0 = time.perf_counter()
            result = train(refl, work / name, config=VARIANTS[name])
            train_s = time.perf_counter() - t0
            answers = MemoryModel.load(result.artifact).ask([q for q, _ in gold])
            contains = sum(normalize_text(g) in normalize_text(a.answer) for (_, g), a in zip(gold, answers))
            f1 = sum(token_f1(a.answer, g) for (_, g), a in zip(gold, answers)) / len(gold)
            t = result.manifest["training"]
            rows.append({"variant": name, "reflections": count, "epochs": t["epochs_run"], "steps": t["optimizer_steps"],
                         "train_s": train_s, "reflect_s": reflect_s, "contains": contains, "hops": len(gold), "f1": f1,
                         "gpu_h": t["build_cost"]["h100"]["gpu_hours"],
                         "by_epoch": " ".join(f"{m['recall']:.0%}/{(m.get('paraphrase_recall') or 0):.0%}@{m['seconds']:.0f}s"
                                              for m in result.manifest["metrics"])})
            print(rows[-1], flush=True)
    head = ("| variant | reflections | reflect s | train wall s | epochs | optimizer steps | hops answered (contains) "
            "| token F1 | H100-hours estimate | eval-sample recall / paraphrase recall @ s, per epoch |")
    lines = [head, "|---" * 10 + "|"]
    for r in rows:
        reflect_cell = f"{r['reflect_s']:.0f}" if r["reflect_s"] is not None else "reused"
        lines.append(f"| {r['variant']} | {r['reflections']} | {reflect_cell} | {r['train_s']:.0f} | {r['epochs']} | "
                     f"{r['steps']} | {r['contains']} of {r['hops']} ({r['contains'] / r['hops']:.0%}) | {r['f1']:.2f} | "
                     f"{r['gpu_h']:.2e} | {r['by_epoch']} |")
    out = "\n".join(lines)
    print(out)
    if args.no_write:
        return
    cmd = f"flock /tmp/memo-bench.lock .venv/bin/python bench/memory_build.py --questions {args.questions} " \
          f"--variants {args.variants}"
    append_to_section("## Memory training", (
        f"\n### {datetime.now(timezone.utc):%Y-%m-%d} `{cmd}`\n\nMachine: 2-core CPU, no GPU, fp32; shared (load "
        f"average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end). Supporting paragraphs of the "
        f"first {args.questions} MuSiQue sample questions, reflected with the configured `[reflect]` settings, "
        f"then trained per variant; {len(gold)} gold single-hop sub-questions asked with earlier gold answers "
        f"substituted.\n\n{out}\n"))


if __name__ == "__main__":
    main()
