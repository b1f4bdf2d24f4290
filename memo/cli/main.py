"""The `memo` application: the root callback with the global options, and every command registered on it."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from . import core, demo, eval, executive, memory, merge, reflect
from ._common import set_options

# Library progress bars (weight loading, GGUF conversion) would drown the CLI's own output.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

app = typer.Typer(
    help="MeMo, Memory as a Model: distil a corpus into a small memory model that any LLM can question.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    config: Annotated[Optional[str], typer.Option(
        "--config", "-c", help="Path to memo.toml (default: MEMO_CONFIG, else ./memo.toml).")] = None,
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, help="Show library logs (-vv: debug) and tracebacks of errors.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or progress lines.")] = False,
) -> None:
    """MeMo, Memory as a Model: distil a corpus into a small memory model that any LLM can question."""
    set_options(config, verbose, quiet)


app.command()(core.doctor)
app.command()(core.chat)
app.add_typer(core.cache_app, name="cache")
app.command()(reflect.reflect)
app.command()(memory.train)
app.command()(memory.recall)
app.command()(executive.ask)
app.command()(demo.demo)
app.command()(merge.merge)
app.command()(merge.add)
app.command()(merge.versions)
app.command()(merge.rollback)
app.command("eval")(eval.eval_command)
