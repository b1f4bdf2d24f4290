"""Executive protocols side by side: wall time, executive calls, tokens and memory questions per question.

    flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py

Trains an embedded-model memory on the sample corpus's facts (memo.demo.SAMPLE_PAIRS) unless --memory is given,
then asks the demo's single- and two-hop questions with each protocol. Model calls bypass the response cache, so
every number is real work. Budgets: --budget demo (the demo's 2 / 2 turns, multi 5) or paper (7 / 8, multi 15).
Results are appended to docs/BENCHMARKS.md under `## Executive` (use --no-write to only print).

    flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py --demo

times `memo demo` instead (fresh work directory, fresh response cache) and records its phases.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.demo import DEMO_SETTINGS, QUESTIONS, SAMPLE_PAIRS  # noqa: E402
from memo.executive import ExecutiveSettings, LocalMemory, ask  # noqa: E402
from memo.llm import load_model  # noqa: E402
from memo.records import normalize_text  # noqa: E402
from memo.paths import atomic_write_jsonl  # noqa: E402

from _record import append_to_section  # noqa: E402

BUDGETS = {
    "demo": DEMO_SETTINGS.model_copy(update={"multi_turns": 5}),
    "paper": ExecutiveSettings(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", help="a trained memory (default: train one on the sample facts)")
    parser.add_argument("--executive", default="embedded", help="executive model spec")
    parser.add_argument("--protocols", default="structured,single,multi")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="demo")
    parser.add_argument("--demo", action="store_true", help="time `memo demo` from scratch instead")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not append to docs/BENCHMARKS.md")
    args = parser.parse_args()
    if args.demo:
        section = time_demo()
        print(section)
        if not args.no_write:
            append_to_section("## Executive", section)
        return
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    settings = BUDGETS[args.budget]

    with tempfile.TemporaryDirectory(prefix="memo-exec-bench-") as tmp:
        memory_path, train_seconds = args.memory, None
        if memory_path is None:
            from memo.memory import train

            atomic_write_jsonl(Path(tmp) / "pairs.jsonl", SAMPLE_PAIRS)
            t0 = time.perf_counter()
            train(Path(tmp) / "pairs.jsonl", Path(tmp) / "memory")
            train_seconds = time.perf_counter() - t0
            memory_path = Path(tmp) / "memory"
        memory = LocalMemory(memory_path)
        executive = load_model(args.executive, cache=False)
        rows = []
        for protocol in protocols:
            for q in QUESTIONS:
                result = ask(memory, q.question, executive, protocol, settings)
                usage = result.trace.executive_usage
                rows.append({
                    "protocol": protocol, "hops": q.hops, "question": q.question, "answer": result.answer,
                    "match": normalize_text(q.expected) in normalize_text(result.answer),
                    "seconds": result.trace.seconds, "executive_calls": usage["calls"], "tokens": usage["tokens"],
                    "memory_questions": result.trace.memory_usage["questions"],
                })
                print(f"{protocol:10s} {result.trace.seconds:6.1f}s {q.question} -> {result.answer}", flush=True)

    section = render(rows, protocols, args, settings, train_seconds)
    print(section)
    if not args.no_write:
        append_to_section("## Executive", section)


def time_demo() -> str:
    """Run the whole demo from scratch (its own work dir and response cache) and report its phases."""
    import os

    from memo.demo import run_demo

    with tempfile.TemporaryDirectory(prefix="memo-demo-bench-") as tmp:
        os.environ["MEMO_CACHE"] = str(Path(tmp) / "cache.sqlite")
        report = run_demo(Path(tmp) / "demo", show_traces=False)
    t = report.seconds
    matched = sum(a.matches for a in report.answers)
    return "\n".join([
        "",
        f"### `memo demo` from scratch ({_date()}, 2-core CPU, no GPU; other work may have shared the CPU)",
        "",
        "Command: `flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py --demo` "
        "(embedded model in every role, fresh response cache). Goal: <= 600 s in total.",
        "",
        f"| reflect s | train s | recall s | ask s ({len(report.answers)} questions) | total s | reflections | memory exact recall | answers matching |",
        "|---|---|---|---|---|---|---|---|",
        f"| {t['reflect']:.0f} | {t['train']:.0f} | {t['recall']:.0f} | {t['ask']:.0f} | {t['total']:.0f} | "
        f"{report.reflections} | {report.recall['exact']:.0%} | {matched}/{len(report.answers)} |",
    ]) + "\n"


def _date() -> str:
    return subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True).stdout.strip()


def render(rows, protocols, args, settings, train_seconds) -> str:
    lines = [
        "",
        f"### Protocols on the demo questions ({_date()}, 2-core CPU, no GPU; other work may have shared the CPU)",
        "",
        f"Command: `flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py"
        f"{' --budget ' + args.budget if args.budget != 'demo' else ''}`. Executive `{args.executive}`, "
        f"memory: {'`' + args.memory + '`' if args.memory else f'embedded full fine-tune on the {len(SAMPLE_PAIRS)} sample facts (trained in {train_seconds:.0f} s)'}; "
        f"budgets: entity {settings.entity_turns} / answer {settings.answer_turns} / multi {settings.multi_turns} turns; "
        "no response cache.",
        "",
        "| protocol | hops | question | answer | matches | wall s | executive calls | executive tokens | memory questions |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['protocol']} | {r['hops']} | {r['question']} | {r['answer'][:60]} | "
                     f"{'yes' if r['match'] else 'no'} | {r['seconds']:.1f} | {r['executive_calls']} | {r['tokens']} | "
                     f"{r['memory_questions']} |")
    lines += ["", "Medians per question (ratio to `single`):", "",
              "| protocol | wall s | executive calls | executive tokens | memory questions | matches |",
              "|---|---|---|---|---|---|"]
    med = {p: {k: statistics.median(r[k] for r in rows if r["protocol"] == p)
               for k in ("seconds", "executive_calls", "tokens", "memory_questions")} for p in protocols}
    base = med.get("single")
    for p in protocols:
        cells = []
        for k in ("seconds", "executive_calls", "tokens", "memory_questions"):
            ratio = f" ({med[p][k] / base[k]:.1f}x)" if base and base[k] else ""
            cells.append(f"{med[p][k]:.1f}{ratio}" if k == "seconds" else f"{med[p][k]:g}{ratio}")
        matched = sum(r["match"] for r in rows if r["protocol"] == p)
        lines.append(f"| {p} | " + " | ".join(cells) + f" | {matched}/{sum(r['protocol'] == p for r in rows)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
