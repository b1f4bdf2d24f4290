"""Prompt files: `memo/prompts/<group>/<name>.md`, filled with `string.Template` `$field` placeholders (so JSON
examples inside them need no escaping)."""

from __future__ import annotations

import functools
from importlib import resources
from string import Template


@functools.lru_cache(maxsize=None)
def _template(name: str) -> Template:
    *folders, file = name.split("/")
    path = resources.files("memo").joinpath("prompts", *folders, f"{file}.md")
    return Template(path.read_text(encoding="utf-8").strip())


def render_prompt(name: str, /, **fields: object) -> str:
    """The prompt `name` ("executive/final", "reflect/full/direct") with its fields filled in.

    Raises KeyError when a placeholder has no value (a bug in the caller), FileNotFoundError for an unknown name.
    """
    return _template(name).substitute({k: str(v) for k, v in fields.items()}).strip()
