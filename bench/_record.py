"""Append a measured section under a stage's heading in docs/BENCHMARKS.md (atomically)."""

from __future__ import annotations

from pathlib import Path

from memo.paths import atomic_write_text

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def append_to_section(heading: str, section: str) -> None:
    """Add `section` at the end of the `heading` part (created at the end of the file if missing)."""
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if heading + "\n" not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n"
    start = text.index(heading + "\n") + len(heading)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt == -1 else nxt
    atomic_write_text(BENCHMARKS_MD, text[:end].rstrip("\n") + "\n" + section + text[end:])
