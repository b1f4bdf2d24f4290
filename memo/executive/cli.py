"""`memo ask MEMORY "question"`: a thin shell over `memo.executive.ask`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        memory: str = typer.Argument(..., help="A memory directory (store or version), or http://HOST:PORT/v1#MODEL."),
        question: str = typer.Argument(..., help="The question."),
        executive: Optional[str] = typer.Option(None, "--executive", "-e",
                                                help="Executive model spec (default: the config's executive role)."),
        protocol: str = typer.Option("structured", help="structured | single | multi"),
        trace: Optional[Path] = typer.Option(None, "--trace", help="Save the full trace here as JSON."),
        show_trace: bool = typer.Option(True, "--show-trace/--no-show-trace", help="Print the trace tree."),
        entity_turns: Optional[int] = typer.Option(None, help="Stage-2 turn budget (default 7)."),
        answer_turns: Optional[int] = typer.Option(None, help="Stage-3 turn budget (default 8)."),
        multi_turns: Optional[int] = typer.Option(None, help="Turn budget of the multi baseline (default 15)."),
        seed: Optional[int] = typer.Option(None, help="Sampling seed (part of the cache key)."),
        config: Optional[str] = typer.Option(None, help="Path to memo.toml."),
    ) -> None:
        """Answer a question by letting the executive question a memory; prints the answer and its trace."""
        from ..cli import console, run_cli
        from ..config import load_config
        from ..llm import model_for
        from . import ask as ask_memory
        from .settings import settings_from_config
        from .trace import render_tree

        cfg = run_cli(load_config, config)
        settings = run_cli(settings_from_config, cfg, entity_turns=entity_turns, answer_turns=answer_turns,
                           multi_turns=multi_turns, seed=seed)
        model = run_cli(model_for, "executive", cfg, executive)
        with console.status("asking the memory…") as status:
            result = run_cli(
                ask_memory, memory, question, model, protocol, settings,
                on_step=lambda step: status.update(f"{step.stage} {step.turn or ''}…"),
            )
        if show_trace:
            console.print(render_tree(result))
        if trace is not None:
            result.save(trace)
            console.print(f"[dim]trace saved to {trace}[/]")
        console.print(f"[bold green]Answer:[/] {result.answer}", highlight=False)

    @app.command()
    def demo(
        workdir: Path = typer.Option(Path("memo-demo"), help="Where the reflections, memory, traces and report go."),
        executive: Optional[str] = typer.Option(None, "--executive", "-e",
                                                help="Executive model spec (default: the config's executive role)."),
        fresh: bool = typer.Option(False, help="Delete the work directory first and rebuild everything."),
        show_traces: bool = typer.Option(True, "--show-traces/--no-show-traces", help="Print each question's trace."),
    ) -> None:
        """Bundled invented corpus -> reflections -> memory -> questions through the executive, offline."""
        from ..cli import console, run_cli
        from ..demo import run_demo

        run_cli(run_demo, workdir, executive, fresh=fresh, show_traces=show_traces, console=console)
