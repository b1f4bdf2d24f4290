"""`memo demo`: the whole pipeline on the bundled invented corpus, offline (`memo.demo.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..demo import DemoReport, run_demo
from ..executive import DEFAULT_PROTOCOL, PROTOCOLS, render_tree
from ._common import RichProgress, config, console, run_cli
from .core import print_local_servers


def demo(
    workdir: Annotated[Path, typer.Option(help="Where the reflections, memory, traces and report go.")] = Path("memo-demo"),
    executive: Annotated[Optional[str], typer.Option(
        "--executive", "-e", help="Executive model spec (default: the config's executive role).")] = None,
    protocol: Annotated[str, typer.Option(help=" | ".join(PROTOCOLS))] = DEFAULT_PROTOCOL,
    fresh: Annotated[bool, typer.Option(help="Delete the work directory first and rebuild everything.")] = False,
    show_traces: Annotated[bool, typer.Option("--show-traces/--no-show-traces", help="Print each question's trace.")] = True,
) -> None:
    """Bundled invented corpus -> reflections -> memory -> questions through the executive, offline."""
    on_result = (lambda q, result: console.print(render_tree(result))) if show_traces else None
    report = run_cli(run_demo, workdir, executive, protocol, fresh=fresh, config=config(), progress=RichProgress(),
                     on_result=on_result)
    console.print(summary(report))
    print_local_servers()


def summary(report: DemoReport) -> Table:
    """The demo's result table: each question's answer and whether it matches, with timings, recall, protocol and
    executive."""
    t = report.seconds
    matched = sum(a.matches for a in report.answers)
    table = Table(title=f"memo demo · {matched}/{len(report.answers)} answers match · memory recall "
                        f"{report.recall['exact']:.0%} of {report.reflections} reflections · {report.protocol} protocol · "
                        f"executive {report.executive} · {t['total']:.0f}s (reflect {t['reflect']:.0f}s, "
                        f"train {t['train']:.0f}s, recall {t['recall']:.0f}s, ask {t['ask']:.0f}s)")
    for col in ("hops", "question", "expected", "answer", "match", "seconds"):
        table.add_column(col)
    for a in report.answers:
        answer = escape(a.answer) + (f"\n[yellow]degraded: {escape('; '.join(a.degraded))}[/]" if a.degraded else "")
        table.add_row(str(a.hops), escape(a.question), escape(a.expected), answer,
                      "[green]yes[/]" if a.matches else "[red]no[/]", f"{a.seconds:.0f}")
    return table
