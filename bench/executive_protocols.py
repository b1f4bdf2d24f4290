"""Executive protocols side by side: accuracy, wall time, executive calls and tokens, memory questions per question.

    flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py

Trains an embedded-model memory on the sample corpus's facts (memo.demo.SAMPLE_PAIRS) unless told otherwise, then
asks the demo's single- and two-hop questions with each protocol, and with `verbatim`: the memory alone, asked the
question as written (no executive), the baseline every protocol has to beat. Model calls bypass the response cache,
so every number is real work. Budgets: --budget demo (the demo's 2 / 2 turns, multi 5) or paper (7 / 8, multi 15).

Other memories and questions:
    --memory PATH             a trained memory
    --pairs FILE              train one on a JSONL of {"question", "answer"} pairs
    --corpus DIR              reflect a corpus (the config's [reflect]) and train on its reflections
    --questions FILE          JSONL of {"question", "expected", "hops"} (default: the demo's four)

Results are appended to docs/BENCHMARKS.md under `## Executive` (use --no-write to only print).

    flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py --demo [--protocol chain]

times `memo demo` instead (fresh work directory, fresh response cache) and records its phases and answers.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.demo import DEMO_SETTINGS, QUESTIONS, SAMPLE_PAIRS, DemoQuestion  # noqa: E402
from memo.executive import DEFAULT_PROTOCOL, PROTOCOLS, ExecutiveSettings, LocalMemory, ask  # noqa: E402
from memo.llm import load_model  # noqa: E402
from memo.paths import atomic_write_jsonl, read_jsonl  # noqa: E402
from memo.records import normalize_text  # noqa: E402

from _record import append_to_section  # noqa: E402

BUDGETS = {
    "demo": DEMO_SETTINGS.model_copy(update={"multi_turns": 5}),
    "paper": ExecutiveSettings(),
}
VERBATIM = "verbatim"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--memory", help="a trained memory")
    source.add_argument("--pairs", help="train a memory on this JSONL of question/answer pairs")
    source.add_argument("--corpus", help="reflect this corpus directory and train a memory on it")
    parser.add_argument("--questions", help="JSONL of {question, expected, hops} (default: the demo's)")
    parser.add_argument("--executive", default="embedded", help="executive model spec")
    parser.add_argument("--protocols", default=",".join([VERBATIM, *PROTOCOLS]))
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="demo")
    parser.add_argument("--demo", action="store_true", help="time `memo demo` from scratch instead")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL, help="the demo's protocol (with --demo)")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not append to docs/BENCHMARKS.md")
    args = parser.parse_args()
    command = "flock /tmp/memo-bench.lock .venv/bin/python bench/executive_protocols.py " + shlex.join(sys.argv[1:])
    if args.demo:
        section = time_demo(args.protocol, command)
        print(section)
        if not args.no_write:
            append_to_section("## Executive", section)
        return
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    unknown = [p for p in protocols if p != VERBATIM and p not in PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(unknown)}")
    settings = BUDGETS[args.budget]
    questions = [DemoQuestion.model_validate(r) for r in read_jsonl(args.questions)] if args.questions else QUESTIONS

    with tempfile.TemporaryDirectory(prefix="memo-exec-bench-") as tmp:
        memory_path, memory_note = build_memory(args, Path(tmp))
        memory = LocalMemory(memory_path)
        executive = load_model(args.executive, cache=False, role="executive")
        rows = []
        for protocol in protocols:
            for q in questions:
                rows.append(run_one(memory, executive, protocol, q, settings))
                r = rows[-1]
                print(f"{protocol:10s} {r['seconds']:6.1f}s {'+' if r['match'] else '-'} {q.question} -> {r['answer']}",
                      flush=True)

    section = render(rows, protocols, args, settings, memory_note, command, len(questions))
    print(section)
    if not args.no_write:
        append_to_section("## Executive", section)


def build_memory(args, tmp: Path) -> tuple[Path, str]:
    """The memory to question, and how it was made (for the report)."""
    from memo.memory import train

    if args.memory:
        return Path(args.memory), f"`{args.memory}`"
    t0 = time.perf_counter()
    if args.corpus:
        from memo.config import load_config
        from memo.reflect import reflect

        manifest = reflect(args.corpus, tmp / "reflections", load_config().reflect_config())
        result = train(tmp / "reflections", tmp / "memory")
        what = f"the config's reflections of `{args.corpus}` ({manifest['total']} pairs)"
    else:
        pairs = list(read_jsonl(args.pairs)) if args.pairs else SAMPLE_PAIRS
        atomic_write_jsonl(tmp / "pairs.jsonl", pairs)
        result = train(tmp / "pairs.jsonl", tmp / "memory")
        what = f"`{args.pairs}` ({len(pairs)} pairs)" if args.pairs else f"the {len(pairs)} sample facts"
    recall = result.manifest["metrics"][-1].get("recall")
    return tmp / "memory", (f"embedded {result.manifest['training']['method']} fine-tune on {what}, trained in "
                            f"{time.perf_counter() - t0:.0f} s (reflection included), eval-sample recall "
                            f"{recall:.0%} at its last epoch")


def run_one(memory: LocalMemory, executive, protocol: str, q: DemoQuestion, settings: ExecutiveSettings) -> dict:
    row = {"protocol": protocol, "hops": q.hops, "question": q.question, "expected": q.expected, "degraded": False}
    if protocol == VERBATIM:
        t0 = time.perf_counter()
        reply = memory.ask([q.question], max_tokens=settings.memory_max_tokens)[0]
        row.update(answer=reply.answer, seconds=time.perf_counter() - t0, executive_calls=0, tokens=0,
                   memory_questions=1)
    else:
        result = ask(memory, q.question, executive, protocol, settings)
        usage = result.trace.executive_usage
        row.update(answer=result.answer, seconds=result.trace.seconds, executive_calls=usage["calls"],
                   tokens=usage["tokens"], memory_questions=result.trace.memory_usage["questions"],
                   degraded=bool(result.degraded))
    row["match"] = normalize_text(q.expected) in normalize_text(row["answer"])
    return row


def time_demo(protocol: str, command: str) -> str:
    """Run the whole demo from scratch (its own work dir and response cache) and report its phases and answers."""
    import os

    from memo.demo import run_demo
    from memo.memory import MemoryModel

    with tempfile.TemporaryDirectory(prefix="memo-demo-bench-") as tmp:
        os.environ["MEMO_CACHE"] = str(Path(tmp) / "cache.sqlite")
        t0 = time.perf_counter()
        report = run_demo(Path(tmp) / "demo", protocol=protocol)
        wall = time.perf_counter() - t0
        training = MemoryModel.load(Path(tmp) / "demo" / "memory").manifest["training"]
    t = report.seconds
    matched = sum(a.matches for a in report.answers)
    lines = [
        "",
        f"### `memo demo` from scratch, {report.protocol} protocol ({_date()}, 2-core CPU, no GPU; other work may "
        "have shared the CPU)",
        "",
        f"Command: `{command}` (embedded model in every role, fresh work directory and response cache). Goal: at "
        f"least 3 of 4 answers, one of them two-hop, in <= 600 s. Wall time of `run_demo`: {wall:.0f} s.",
        "",
        f"| reflect s | train s | training epochs (steps) | recall s | ask s ({len(report.answers)} questions) | total s | reflections | memory exact recall | answers matching |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {t['reflect']:.0f} | {t['train']:.0f} | {training['epochs_run']} ({training['optimizer_steps']}) | "
        f"{t['recall']:.0f} | {t['ask']:.0f} | {t['total']:.0f} | "
        f"{report.reflections} | {report.recall['exact']:.0%} | {matched}/{len(report.answers)} |",
        "",
        f"| hops | question | expected | answer ({report.protocol}, executive {report.executive}) | match | degraded | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in report.answers:
        lines.append(f"| {a.hops} | {a.question} | {a.expected} | {a.answer[:70]} | {'yes' if a.matches else 'no'} | "
                     f"{'; '.join(a.degraded)[:120] or '-'} | {a.seconds:.0f} |")
    return "\n".join(lines) + "\n"


def _date() -> str:
    return subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True).stdout.strip()


def render(rows, protocols, args, settings, memory_note, command, n_questions) -> str:
    lines = [
        "",
        f"### Protocols, {n_questions} questions{' from `' + args.questions + '`' if args.questions else ' of the demo'} "
        f"({_date()}, 2-core CPU, no GPU; other work may have shared the CPU)",
        "",
        f"Command: `{command}`. Executive `{args.executive}`; memory: {memory_note}; budgets: entity "
        f"{settings.entity_turns} / answer {settings.answer_turns} / multi {settings.multi_turns} turns, chain "
        f"{settings.chain_steps} steps / {settings.chain_rephrasings} rephrasing; no response cache. `verbatim` = the "
        "memory asked the question as written, no executive.",
        "",
        "| protocol | hops | question | expected | answer | matches | degraded | wall s | executive calls | executive tokens | memory questions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['protocol']} | {r['hops']} | {r['question']} | {r['expected']} | {r['answer'][:60]} | "
                     f"{'yes' if r['match'] else 'no'} | {'yes' if r['degraded'] else '-'} | {r['seconds']:.1f} | "
                     f"{r['executive_calls']} | {r['tokens']} | {r['memory_questions']} |")
    base = "structured" if "structured" in protocols else None
    lines += ["", "Per protocol: answers matching (one-hop / multi-hop), medians per question"
              + (" (ratio to `structured`)" if base else "") + ":", "",
              "| protocol | matching | one-hop | multi-hop | degraded | wall s | executive calls | executive tokens | memory questions |",
              "|---|---|---|---|---|---|---|---|---|"]
    keys = ("seconds", "executive_calls", "tokens", "memory_questions")
    med = {p: {k: statistics.median(r[k] for r in rows if r["protocol"] == p) for k in keys} for p in protocols}
    for p in protocols:
        mine = [r for r in rows if r["protocol"] == p]
        cells = []
        for k in keys:
            ratio = f" ({med[p][k] / med[base][k]:.2f}x)" if base and med[base][k] else ""
            cells.append((f"{med[p][k]:.1f}" if k == "seconds" else f"{med[p][k]:g}") + ratio)
        one = [r for r in mine if r["hops"] == 1]
        multi = [r for r in mine if r["hops"] > 1]
        lines.append(f"| {p} | {sum(r['match'] for r in mine)}/{len(mine)} | {sum(r['match'] for r in one)}/{len(one)} | "
                     f"{sum(r['match'] for r in multi)}/{len(multi)} | {sum(r['degraded'] for r in mine)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
