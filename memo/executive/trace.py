"""The record of one `ask`: every executive step, every memory exchange, candidates, decisions, timings, tokens.

Saved as JSON (format "memo-trace/1", `AskResult.save`) and shown in the terminal as a rich Tree
(`render_tree`). The result on top carries the answer, its justification, the citations the memory returned
for the answers the final synthesis used, and `degraded`: what fell back and why (empty when every step
worked as designed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.markup import escape
from rich.tree import Tree

from ..formats import TRACE_FORMAT
from ..paths import atomic_write_text
from .memory import SourceCitation


class Exchange(BaseModel):
    """One sub-question sent to the memory and its answer; `n` numbers exchanges across the whole run."""

    n: int
    stage: str
    turn: int
    question: str
    answer: str
    abstained: bool
    citations: list[SourceCitation] = []


class Step(BaseModel):
    """One executive step: its validated output (None when it stayed malformed), what it led to, and its cost."""

    stage: str
    turn: int
    output: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    asked: list[int] = []
    candidates: list[str] = []
    decision: str = ""
    notes: list[str] = []
    seconds: float = 0.0
    executive_tokens: int = 0


class Trace(BaseModel):
    steps: list[Step] = []
    exchanges: list[Exchange] = []
    seconds: float = 0.0
    executive_usage: dict[str, int] = {}
    memory_usage: dict[str, int] = {}


class AskResult(BaseModel):
    format: str = TRACE_FORMAT
    question: str
    protocol: str
    executive: str
    memory: str
    settings: dict[str, Any]
    started: str
    answer: str
    justification: str
    entity: str | None = None
    entity_confirmed: bool = False
    citations: list[SourceCitation] = []
    #: What fell back and why, one line each (a malformed executive step, an abstention the memory's answers
    #: overrule, ...); empty when the answer came about as designed.
    degraded: list[str] = []
    trace: Trace

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "AskResult":
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def render_tree(result: AskResult) -> Tree:
    """A readable tree: steps in order, each with its decision, candidates and memory exchanges."""
    t = result.trace
    ex_usage, mem_usage = t.executive_usage, t.memory_usage
    root = Tree(
        f"[bold]{escape(result.question)}[/]  [dim]{result.protocol} protocol · {t.seconds:.1f}s · "
        f"executive {ex_usage.get('calls', 0)} calls / {ex_usage.get('tokens', 0)} tokens · "
        f"memory {mem_usage.get('questions', 0)} questions[/]"
    )
    by_n = {e.n: e for e in t.exchanges}
    for step in t.steps:
        head = f"[cyan]{step.stage}[/] turn {step.turn}" if step.turn else f"[cyan]{step.stage}[/]"
        if step.decision:
            head += f" → [bold]{escape(step.decision)}[/]"
        head += f"  [dim]{step.seconds:.1f}s · {step.executive_tokens} tok[/]"
        node = root.add(head)
        if step.error:
            node.add(f"[red]malformed after {step.attempts} attempts:[/] {escape(step.error[:160])}")
        if step.candidates:
            node.add("candidates: " + escape(", ".join(step.candidates)))
        for note in step.notes:
            node.add(f"[yellow]{escape(note)}[/]")
        for n in step.asked:
            e = by_n[n]
            style = "dim" if e.abstained else "green"
            node.add(f"[{n}] {escape(e.question)}\n    [{style}]{escape(e.answer)}[/]")
    final = root.add(f"[bold {'yellow' if result.degraded else 'green'}]answer:[/] {escape(result.answer)}"
                     + (" [yellow](degraded)[/]" if result.degraded else ""))
    for reason in result.degraded:
        final.add(f"[yellow]degraded: {escape(reason)}[/]")
    if result.entity:
        final.add(f"entity: {escape(result.entity)} ({'confirmed' if result.entity_confirmed else 'unconfirmed'})")
    final.add(f"justification: {escape(result.justification)}")
    for c in result.citations:
        final.add(f"[dim]source {escape(c.doc_id or '(no document id)')} {escape(','.join(c.chunk_ids))} ({c.score:.2f}): "
                  f"{escape(c.question)}[/]")
    return root
