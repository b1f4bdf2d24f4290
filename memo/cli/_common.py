"""What every command shares: the consoles, the global options, one-line errors, and the rich progress display."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichBars, TextColumn, TimeElapsedColumn
from rich.progress import TimeRemainingColumn

from ..config import Config, ConfigError, load_config
from ..llm import LLMError
from ..progress import Progress, Task

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


@dataclass
class GlobalOptions:
    """Set by the root callback (`memo --config F -v ...`) before any command runs."""

    config: str | None = None
    verbosity: int = 0  # -1 quiet (no progress bars), 0 normal, 1+ verbose (library logs, tracebacks)


OPTIONS = GlobalOptions()


def set_options(config: str | None, verbose: int, quiet: bool) -> None:
    OPTIONS.config = config
    if config:  # every memo.toml read of this process (the API's own `load_config()` calls too) reads this file
        os.environ["MEMO_CONFIG"] = config
    OPTIONS.verbosity = -1 if quiet else verbose
    if OPTIONS.verbosity > 0:
        logging.basicConfig(level=logging.DEBUG if OPTIONS.verbosity > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 1) -> None:
    """Print one red error line and exit with `code`."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False, markup=True)
    raise typer.Exit(code)


def run_cli(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the Python API and turn expected failures into one clear line instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except (LLMError, ConfigError, ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        if OPTIONS.verbosity > 0:
            err_console.print_exception()
        fail(str(exc).replace("[", "\\["))
        raise  # unreachable: fail() exits


def config() -> Config:
    """memo.toml (or the file given with `memo --config`), as a one-line error when it is invalid."""
    return run_cli(load_config, OPTIONS.config)


class _RichTask(Task):
    def __init__(self, bars: "RichProgress", task_id: int, fields: dict[str, Any]):
        self.bars, self.id, self.fields = bars, task_id, dict(fields)

    def advance(self, n: float = 1, **fields: Any) -> None:
        self.fields.update(fields)
        self.bars.bars.update(self.id, advance=n, shown=_shown(self.fields))

    def update(self, *, completed=None, total=None, description=None, **fields: Any) -> None:
        self.fields.update(fields)
        self.bars.bars.update(self.id, completed=completed, total=total, description=description,
                              shown=_shown(self.fields))

    def close(self) -> None:
        self.bars.close_task(self.id)


class RichProgress(Progress):
    """Library progress as rich bars on the terminal; `log` lines print above them. Silent with `memo -q`."""

    def __init__(self) -> None:
        self.bars = RichBars(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[shown]}"),
            console=console, transient=True, disable=OPTIONS.verbosity < 0,
        )
        self.open = 0

    def task(self, description: str, total: float | None = None, **fields: Any) -> Task:
        if self.open == 0:
            self.bars.start()
        self.open += 1
        return _RichTask(self, self.bars.add_task(description, total=total, shown=_shown(fields)), fields)

    def close_task(self, task_id: int) -> None:
        self.bars.remove_task(task_id)
        self.open -= 1
        if self.open == 0:
            self.bars.stop()

    def log(self, message: str) -> None:
        if OPTIONS.verbosity >= 0:
            console.print(message, highlight=False, markup=False)


def _shown(fields: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v}" for k, v in fields.items())
