"""`memo eval`: a thin shell over `memo.eval.evaluate`, with the summary as a rich table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..eval import BASE_METHODS, evaluate
from ..executive import DEFAULT_PROTOCOL
from ..eval.report import percent
from ._common import RichProgress, config, console, run_cli


def eval_command(
    dataset: Annotated[str, typer.Option(
        "--dataset", "-d", help="musique:FILE | narrativeqa:PATH | jsonl:FILE (with --corpus) | corpus:DIR.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Run directory (re-run the command to resume).")],
    methods: Annotated[str, typer.Option(
        help=f"Comma-separated: {', '.join(BASE_METHODS)}, memo (= memo:{DEFAULT_PROTOCOL}), memo:PROTOCOL, memo:*.")
    ] = "closed_book,bm25,dense,oracle,memo_gold,bm25_gold,memo",
    limit: Annotated[Optional[int], typer.Option(help="Evaluate the first N questions only.")] = None,
    corpus: Annotated[Optional[str], typer.Option(help="The corpus a jsonl: dataset's evidence ids name.")] = None,
    memory: Annotated[Optional[str], typer.Option(
        help="Evaluate this memory (path or http://HOST:PORT/v1#MODEL) instead of building one.")] = None,
    executive: Annotated[Optional[str], typer.Option(
        "--executive", "-e", help="Executive and reader model spec (default: the executive role).")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Judge model spec (default: the judge role).")] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Score with EM / F1 / containment only.")] = False,
    runs: Annotated[Optional[int], typer.Option(help="Repetitions, each with its own seed (default 1).")] = None,
    distractors: Annotated[Optional[int], typer.Option(
        help="Also run with R non-evidence documents per evidence document and report the change.")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Passages the retrieval baselines read (default 9).")] = None,
    concurrency: Annotated[Optional[int], typer.Option(
        help="Questions in flight per method (default 4): one reader batch or parallel executive sessions.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the first run.")] = None,
) -> None:
    """Compare MeMo with closed-book, BM25, dense and perfect retrieval on a QA dataset; writes a report."""
    cfg = config()
    eval_cfg = run_cli(cfg.eval_config, runs=runs, distractors=distractors, top_k=top_k, concurrency=concurrency,
                       seed=seed, judge=False if no_judge else None)
    summary = run_cli(evaluate, dataset, output, methods.split(","), corpus=corpus, memory=memory, limit=limit,
                      config=eval_cfg, executive=executive, judge=judge, settings=cfg, progress=RichProgress())
    lead = summary["lead_metric"]
    order = ["judge", "em", "f1", "contains"] if lead == "judge" else ["em", "f1", "contains", "judge"]
    for cond, rows in summary["conditions"].items():
        table = Table(title=f"{summary['dataset']} · {cond}")
        for col in ("method", "n", *[m.upper() if m in ("em", "f1") else m for m in order], "per-hop F1",
                    "exec tok/q", "memory q/q", "s/q"):
            table.add_column(col, justify="left" if col == "method" else "right")
        for method, e in rows.items():
            c = e["cost_per_question"]
            tokens = (c.get("executive_prompt_tokens") or 0) + (c.get("executive_completion_tokens") or 0)
            table.add_row(method, str(e["questions"]), *[percent(e[m]) for m in order],
                          percent(e.get("hop_accuracy", {}).get("f1")), f"{tokens:,.0f}",
                          "-" if c.get("memory_questions") is None else f"{c['memory_questions']:.1f}",
                          f"{c.get('seconds', 0):.1f}")
        console.print(table)
    if summary["judge"]["note"]:
        console.print(f"[yellow]note:[/] {summary['judge']['note']}", highlight=False)
    for method, change in summary.get("distractor_change", {}).items():
        console.print(f"{method}: {lead} {100 * change.get(lead, 0):+.1f} points with distractors", highlight=False)
    console.print(f"[green]report[/] {output / 'summary.md'} (results.jsonl, summary.json, "
                  f"{', '.join(summary['plots'])})", highlight=False)
