"""`memo ask MEMORY "question"`: a thin shell over `memo.executive.ask`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..executive import DEFAULT_PROTOCOL, PROTOCOLS, AskResult, ask as ask_memory, render_tree
from ..llm import model_for
from ._common import config, console, run_cli


def ask(
    memory: Annotated[str, typer.Argument(help="A memory directory (store or version), or http://HOST:PORT/v1#MODEL.")],
    question: Annotated[str, typer.Argument(help="The question.")],
    executive: Annotated[Optional[str], typer.Option(
        "--executive", "-e", help="Executive model spec (default: the config's executive role).")] = None,
    protocol: Annotated[str, typer.Option(help=" | ".join(PROTOCOLS))] = DEFAULT_PROTOCOL,
    trace: Annotated[Optional[Path], typer.Option("--trace", help="Save the full trace here as JSON.")] = None,
    show_trace: Annotated[bool, typer.Option("--show-trace/--no-show-trace", help="Print the trace tree.")] = True,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the result (answer, degraded, citations, trace) as JSON, and nothing else.")] = False,
    entity_turns: Annotated[Optional[int], typer.Option(help="Stage-2 turn budget (default 7).")] = None,
    answer_turns: Annotated[Optional[int], typer.Option(help="Stage-3 turn budget (default 8).")] = None,
    multi_turns: Annotated[Optional[int], typer.Option(help="Turn budget of the multi ablation (default 15).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampling seed (part of the cache key).")] = None,
) -> None:
    """Answer a question by letting the executive question a memory; prints the answer and its trace."""
    cfg = config()
    settings = run_cli(cfg.executive_settings, entity_turns=entity_turns, answer_turns=answer_turns,
                       multi_turns=multi_turns, seed=seed)
    model = run_cli(model_for, "executive", cfg, executive)
    if as_json:  # stdout carries the JSON alone
        result = run_cli(ask_memory, memory, question, model, protocol, settings)
    else:
        with console.status("asking the memory…") as status:
            result = run_cli(ask_memory, memory, question, model, protocol, settings,
                             on_step=lambda step: status.update(f"{step.stage} {step.turn or ''}…"))
    if trace is not None:
        result.save(trace)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    if show_trace:
        console.print(render_tree(result))
    if trace is not None:
        console.print(f"[dim]trace saved to {trace}[/]")
    console.print(answer_line(result), highlight=False)


def answer_line(result: AskResult) -> str:
    """'Answer: ...' in green, or in yellow followed by every reason when the answer is degraded."""
    if not result.degraded:
        return f"[bold green]Answer:[/] {escape(result.answer)}"
    reasons = "; ".join(result.degraded)
    return f"[bold yellow]Answer (degraded):[/] {escape(result.answer)}\n[yellow]degraded: {escape(reasons)}[/]"
