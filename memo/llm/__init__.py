"""Chat backends behind one interface, chosen by a short model spec (docs/BACKENDS.md; the spec forms:
`memo.llm.specs`).

`load_model(spec)` returns a ChatModel wrapped in the response cache; `model_for(role)` reads the role's spec
from the config. Backends are found through `memo.llm.registry` (a new backend is one module).
"""

from __future__ import annotations

from dataclasses import replace

from ..config import Config, load_config
from .base import (Capabilities, ChatModel, Completion, CompletionError, Conversation, EndpointError, GenParams,
                   LLMError, Message, StructuredOutputError, Usage)
from .cache import CachedChatModel, CorruptCacheError, ResponseCache
from .local import resolve_local_model
from .registry import Backend, backends, find_backend, parse_spec, register_backend
from .specs import ModelSpec, weights_fingerprint

__all__ = [
    "Backend", "Capabilities", "ChatModel", "Completion", "CompletionError", "Conversation", "EndpointError",
    "GenParams", "LLMError", "Message", "StructuredOutputError", "Usage", "CachedChatModel", "CorruptCacheError",
    "ResponseCache", "ModelSpec", "backends", "parse_spec", "load_model", "model_for", "register_backend",
    "resolve_local_model", "weights_fingerprint",
]


def load_model(spec: str, config: Config | None = None, cache: bool = True, role: str | None = None) -> ChatModel:
    """A ready ChatModel for `spec`, behind the response cache unless `cache=False` or the config disables it.

    The backend that claims the spec builds the model with its declared capabilities; a memo.toml
    `[models."SPEC"]` table overrides them. `role` tells the backend what the model is for: with
    `role="executive"` the spec "embedded" is the embedded model with its executive adapter merged in
    (docs/EXECUTIVE.md). Raises LLMError for an unknown or malformed spec, a missing API key, model directory or
    executive adapter, or a capability the backend cannot have; CorruptCacheError for a damaged cache file.
    """
    config = config or load_config()
    backend, parsed = find_backend(spec)
    model = backend.load(replace(parsed, role=role), config)
    declared = config.models.get(spec.strip())
    if declared is not None:
        model.declare(**declared.model_dump(exclude_none=True))
    path = config.cache_path()
    if cache and path is not None:
        model = CachedChatModel(model, ResponseCache(path))
    return model


def model_for(role: str, config: Config | None = None, override: str | None = None) -> ChatModel:
    """The model of `role` ("generator", "executive", "memory_base", "judge"), or of the `override` spec."""
    config = config or load_config()
    return load_model(override or config.spec_for(role), config, role=role)
