"""`memo reflect`: the command-line shell over `memo.reflect.reflect` and `estimate`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..reflect import PROFILES, STEPS, estimate, reflect as run_reflect
from ._common import RichProgress, config, console, fail, run_cli


def reflect(
    corpus: Annotated[str, typer.Argument(help="A directory of documents (.txt, .md, .html, .pdf, .docx, .jsonl; "
                                               "docs/CORPUS.md), a JSONL file, or a MuSiQue JSON.")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Dataset directory to write.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only estimate calls, tokens (and cost) per step.")] = False,
    steps: Annotated[Optional[str], typer.Option(
        help=f"Comma-separated steps to run (default all): {','.join(STEPS)}.")] = None,
    profile: Annotated[Optional[str], typer.Option(help=f"Prompt profile: {' | '.join(PROFILES)} (default auto).")] = None,
    generator: Annotated[Optional[str], typer.Option("--generator", "-g", help="Generator model spec.")] = None,
    chunk_tokens: Annotated[Optional[int], typer.Option(help="Chunk size in tokens (default 256).")] = None,
    overlap_tokens: Annotated[Optional[int], typer.Option(help="Chunk overlap in tokens (default 32).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampling seed (part of the cache key).")] = None,
    grouping: Annotated[Optional[str], typer.Option(
        help="JSON file: list of lists of related document ids/titles.")] = None,
    no_abstention: Annotated[bool, typer.Option("--no-abstention", help="Make no \"I don't know.\" pairs.")] = False,
) -> None:
    """Synthesise reflections (self-contained Q/A pairs) from a corpus: the memory's training data."""
    chosen = tuple(s.strip() for s in steps.split(",") if s.strip()) if steps else None
    if no_abstention:
        chosen = tuple(s for s in (chosen or STEPS) if s != "abstention")
    cfg = run_cli(config().reflect_config, profile=profile, generator=generator, steps=chosen,
                  chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens, seed=seed, grouping_file=grouping)
    if dry_run:
        est = run_cli(estimate, corpus, cfg)
        table = Table(title=f"estimate: {est['documents']} documents, {est['chunks']} chunks, "
                            f"profile {est['profile']} ({est['profile_reason']}), "
                            + (f"generator {est['generator']}" if est["generator_used"] else "no generator model"))
        for col in ("step", "calls", "prompt tokens", "completion tokens"):
            table.add_column(col)
        for step, s in est["steps"].items():
            table.add_row(step, str(s["calls"]), str(s["prompt_tokens"]), str(s["completion_tokens"]))
        t = est["total"]
        table.add_row("total", str(t["calls"]), str(t["prompt_tokens"]), str(t["completion_tokens"]))
        console.print(table)
        if "cost" in est:
            console.print(f"estimated cost: {est['cost']}")
        for s in est["skipped"]:
            console.print(f"[yellow]skipped[/] {s['source']}: {s['reason']}", highlight=False)
        return
    if not output:
        fail("give an output directory with -o/--output (or use --dry-run)")
    m = run_cli(run_reflect, corpus, output, cfg, progress=RichProgress())
    counts = ", ".join(f"{k} {v}" for k, v in m["counts"].items())
    console.print(f"[green]wrote[/] {output}: {m['total']} reflections ({counts}) in {m['wall_seconds']} s")
    console.print(f"profile {m['profile']} ({m['profile_reason']}); "
                  + (f"generator {m['generator']['spec']}" if m["generator"]["used"] else m["generator"]["note"]),
                  highlight=False)
    cov = m["coverage"]
    console.print(f"coverage: chunks {cov['chunks_covered']}/{cov['chunks']} ({cov['chunk_share']:.0%}), "
                  f"named entities {cov['entities_covered']}/{cov['entities']} ({cov['entity_share']:.0%})")
    q = m["quality"]
    if q["generator_calls"]:
        console.print(f"generator: {q['generator_calls']} results, schema-valid {q['schema_valid_share']:.0%}; "
                      f"tokens in/out {m['tokens']['prompt']}/{m['tokens']['completion']}, "
                      f"cache hits {m['tokens']['cache_hits']}")
    if q["self_contained_share"] is not None:
        console.print(f"self-contained on first check: {q['self_contained_share']:.0%}")
    for step, used in m["fallbacks"].items():
        console.print(f"[yellow]fallbacks in {step}[/]: " + ", ".join(f"{r} {n}" for r, n in used.items()), highlight=False)
    for step, reasons in m["dropped"].items():
        if reasons:
            console.print(f"dropped in {step}: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
    for s in m["corpus"]["skipped"]:
        console.print(f"[yellow]skipped[/] {s['source']}: {s['reason']}", highlight=False)
    for w in m["corpus"]["warnings"]:
        console.print(f"[yellow]warning[/] {escape(w['source'])}: {w['warning']}", highlight=False)
    for d in m["corpus"]["without_reflections"]:
        console.print(f"[yellow]no reflections[/] from {escape(d['source'] or d['title'] or d['id'])} "
                      f"({d['chunks']} chunk(s))", highlight=False)
    if not m["total"]:
        hint = " (the rules profile asks about English sentences that state facts)" if m["profile"] == "rules" else ""
        fail(f"no reflections: {output} holds an empty dataset, nothing a memory can be trained on{hint}")
