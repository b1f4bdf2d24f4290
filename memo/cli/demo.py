"""`memo demo`: the whole pipeline on the bundled invented corpus, offline (`memo.demo.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..demo import DemoReport, run_demo
from ..executive import render_tree
from ._common import RichProgress, config, console, run_cli


def demo(
    workdir: Annotated[Path, typer.Option(help="Where the reflections, memory, traces and report go.")] = Path("memo-demo"),
    executive: Annotated[Optional[str], typer.Option(
        "--executive", "-e", help="Executive model spec (default: the config's executive role).")] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the work directory first and rebuild everything.")] = False,
    show_traces: Annotated[bool, typer.Option("--show-traces/--no-show-traces", help="Print each question's trace.")] = True,
) -> None:
    """Bundled invented corpus -> reflections -> memory -> questions through the executive, offline."""
    on_result = (lambda q, result: console.print(render_tree(result))) if show_traces else None
    report = run_cli(run_demo, workdir, executive, fresh=fresh, config=config(), progress=RichProgress(),
                     on_result=on_result)
    console.print(summary(report))


def summary(report: DemoReport) -> Table:
    """The demo's result table: each question's answer and whether it matches, with timings and recall."""
    table = Table(title=f"memo demo · executive {report.executive} · {report.seconds['total']:.0f}s "
                        f"(reflect {report.seconds['reflect']:.0f}s, train {report.seconds['train']:.0f}s, "
                        f"recall {report.seconds['recall']:.0f}s, ask {report.seconds['ask']:.0f}s) · "
                        f"memory recall {report.recall['exact']:.0%}")
    for col in ("hops", "question", "expected", "answer", "match", "seconds"):
        table.add_column(col)
    for a in report.answers:
        table.add_row(str(a.hops), a.question, a.expected, a.answer, "[green]yes[/]" if a.matches else "[red]no[/]",
                      f"{a.seconds:.0f}")
    return table
