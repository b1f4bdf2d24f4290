"""Prompt files under memo/prompts/reflect/<profile>/, filled with string.Template ($name) placeholders so the
JSON examples in them need no escaping."""

from __future__ import annotations

import functools
from importlib import resources
from string import Template


@functools.lru_cache(maxsize=None)
def _template(profile: str, name: str) -> Template:
    path = resources.files("memo").joinpath("prompts", "reflect", profile, f"{name}.md")
    return Template(path.read_text(encoding="utf-8").strip())


def render(profile: str, name: str, /, **values: object) -> str:
    """The prompt text; a missing placeholder value is a bug and raises KeyError."""
    return _template(profile, name).substitute({k: str(v) for k, v in values.items()})
