"""How long-running library calls report progress without printing: they talk to a `Progress`.

Library functions take `progress: Progress | None`; None (or the base class) ignores every event. The CLI passes
a reporter that draws rich progress bars (`memo.cli`); a notebook or a service can pass its own.

    with progress.task("train epoch 1", total=28) as task:
        for step in ...:
            task.advance(1, loss="0.41")
    progress.log("epoch 1: recall 0.84")
"""

from __future__ import annotations

from typing import Any


class Task:
    """One bar: `advance` by units, `update` any field; closing removes it (a no-op here)."""

    def advance(self, n: float = 1, **fields: Any) -> None:
        """`n` more units done; `fields` are named values shown next to the bar (loss, tokens/s...)."""

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None, **fields: Any) -> None:
        """Set the position, size, label or shown values directly."""

    def close(self) -> None:
        """The task is over."""

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Progress:
    """Receives progress events from library calls; this base class ignores them (the silent default)."""

    def task(self, description: str, total: float | None = None, **fields: Any) -> Task:
        """Start a task of `total` units (None: unknown); `fields` as in `Task.advance`."""
        return Task()

    def log(self, message: str) -> None:
        """A line worth showing once (an epoch's metrics, a skipped file)."""


SILENT = Progress()


def or_silent(progress: Progress | None) -> Progress:
    """`progress`, or the silent reporter when None."""
    return progress if progress is not None else SILENT
