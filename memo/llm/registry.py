"""Backends are found here, not in an if-chain: each is one module that exposes a `BACKEND` (docs/BACKENDS.md).

A `Backend` claims the spec strings it understands (`parse`) and builds a ChatModel for one (`load`). The
built-in ones are `memo.llm.local` (embedded, hf:, paths) and `memo.llm.remote` (OpenAI-compatible endpoints).
Another package adds its own through the `memo_llm.backends` entry-point group (the way Simon Willison's `llm`
finds plugins):

    [project.entry-points."memo_llm.backends"]
    mybackend = "my_package.memo_backend:BACKEND"

or, in a running process, with `register_backend(...)`. Backends are asked in order (registered, entry points,
built-ins); the first whose `parse` returns a ModelSpec wins.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Callable

from .base import ChatModel, LLMError
from .specs import ModelSpec

if TYPE_CHECKING:
    from ..config import Config

ENTRY_POINT_GROUP = "memo_llm.backends"
_BUILTIN = ("memo.llm.local", "memo.llm.remote")


@dataclass(frozen=True)
class Backend:
    """One kind of model. `forms`: the spec forms it takes, for help and errors; `parse(spec)`: a ModelSpec,
    or None when the spec is not this backend's (LLMError when it is but is malformed); `load(spec, config)`:
    a ready ChatModel (capabilities declared; memo.toml overrides are applied by `load_model`)."""

    name: str
    forms: tuple[str, ...]
    parse: Callable[[str], ModelSpec | None]
    load: Callable[[ModelSpec, "Config"], ChatModel]


_registered: list[Backend] = []
_discovered: list[Backend] | None = None


def register_backend(backend: Backend) -> None:
    """Add a backend in this process; it is asked before the entry points and the built-ins."""
    _registered[:] = [b for b in _registered if b.name != backend.name] + [backend]


def backends() -> list[Backend]:
    """Every backend, in the order specs are offered to them."""
    global _discovered
    if _discovered is None:
        found = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            backend = ep.load()
            if not isinstance(backend, Backend):
                raise LLMError(f"entry point {ep.name!r} of {ENTRY_POINT_GROUP} is not a memo.llm.registry.Backend")
            found.append(backend)
        found += [importlib.import_module(name).BACKEND for name in _BUILTIN]
        _discovered = found
    return [*_registered, *_discovered]


def spec_forms() -> str:
    return " | ".join(form for b in backends() for form in b.forms)


def find_backend(spec: str) -> tuple[Backend, ModelSpec]:
    """The backend that claims `spec` and its parsed form; LLMError listing the known forms otherwise."""
    spec = spec.strip()
    for backend in backends():
        parsed = backend.parse(spec)
        if parsed is not None:
            return backend, parsed
    raise LLMError(f"unknown model spec {spec!r}; expected one of: {spec_forms()}")


def parse_spec(spec: str) -> ModelSpec:
    """The parsed spec (its `kind` is the backend's name); LLMError for a spec no backend takes."""
    return find_backend(spec)[1]
