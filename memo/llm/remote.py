"""Any OpenAI-compatible chat endpoint: vLLM, Ollama, llama.cpp server, OpenAI, Gemini.

The `openai` backend takes the specs `openai:MODEL`, `gemini:MODEL`, `ollama:MODEL` and
`http(s)://host:port/v1#MODEL`. Requests go through the official `openai` client, which retries 408, 409, 429,
5xx, timeouts and connection errors with exponential backoff and honours `Retry-After` (`[http] max_retries`);
its final error becomes an EndpointError that names the endpoint. A request the endpoint refuses (HTTP 400, 413,
422) or that yields no usable text fails alone as a CompletionError; the rest of the batch goes on.

Capabilities are declared: JSON-schema `response_format` for structured output, streaming, the HTTP concurrency
as batch size, and `max_completion_tokens` for OpenAI's reasoning models (o1, o3, o4, gpt-5 families). memo.toml
`[models."SPEC"]` overrides any of them. Two declarations are corrected from the endpoint's own answer, each only
on an error that names the field: a 400 about `response_format` switches the model to prompting for JSON, and a
400 that names `max_tokens` (or another sampling field, e.g. `temperature`) as unsupported renames or drops it.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterator, Sequence
from urllib.parse import urlparse

import openai
from pydantic import BaseModel

from .base import (Capabilities, ChatModel, Completion, CompletionError, Conversation, EndpointError, GenParams,
                   LLMError, Result, _as_conversation, schema_of)
from .registry import Backend
from .specs import ModelSpec

if TYPE_CHECKING:
    from ..config import Config

#: OpenAI model families that take `max_completion_tokens` instead of `max_tokens` (reasoning models).
_REASONING_MODELS = re.compile(r"^(?:openai/)?(?:o\d|gpt-5)", re.I)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
_SAMPLING_FIELDS = ("temperature", "top_p", "seed", "stop")


#: How the `openai` client's final errors read (the first matching class wins; timeouts are connection errors).
_ENDPOINT_FAILURES = (
    (openai.AuthenticationError, "rejected the API key: {message}"),
    (openai.PermissionDeniedError, "denied access (HTTP 403): {message}"),
    (openai.NotFoundError, "does not serve this model (HTTP 404): {message}"),
    (openai.RateLimitError, "still rate-limited (HTTP 429) {tries}: {message}"),
    (openai.APITimeoutError, "timed out {tries} (Timeout)"),
    (openai.APIConnectionError, "unreachable {tries} (Connection error: {cause})"),
)


class _FormatRefused(Exception):
    """The endpoint refused `response_format` (internal: the structured call falls back to prompting)."""


def default_capabilities(model: str, concurrency: int) -> Capabilities:
    return Capabilities(
        structured="json_schema", streaming=True, batch_size=concurrency,
        max_tokens_param="max_completion_tokens" if _REASONING_MODELS.match(model) else "max_tokens",
    )


class OpenAIChatModel(ChatModel):
    structured_modes = ("json_schema", "prompt")

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        spec: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 5,
        capabilities: Capabilities | None = None,
    ):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.spec = spec or f"{self.base_url}#{model}"
        self.max_retries = max_retries
        self.capabilities = capabilities or default_capabilities(model, concurrency)
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="memo-http")
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url}#{self.model}"

    # -- one request ------------------------------------------------------------------------------------

    def _kwargs(self, conv: Conversation, params: GenParams, response_format: dict | None) -> dict:
        caps = self.capabilities
        kwargs: dict = {"model": self.model, "messages": conv, caps.max_tokens_param: params.max_tokens,
                        "temperature": params.temperature, "top_p": params.top_p, "seed": params.seed}
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if response_format is not None:
            kwargs["response_format"] = response_format
        return {k: v for k, v in kwargs.items() if k not in caps.omit_params}

    def _where(self) -> str:
        return f"endpoint {self.base_url} (model {self.model!r})"

    def _adapt(self, exc: openai.BadRequestError, sent: dict) -> bool:
        """Learn from a 400 that names a field we sent as unsupported; True when the request is worth resending."""
        param = (getattr(exc, "param", None) or "").strip()
        message = str(getattr(exc, "message", "") or exc).lower()
        with self._lock:
            caps = self.capabilities
            if "max_tokens" in sent and (param == "max_tokens" or "max_completion_tokens" in message):
                self.capabilities = caps.with_(max_tokens_param="max_completion_tokens")
                return True
            if "max_completion_tokens" in sent and param == "max_completion_tokens":
                self.capabilities = caps.with_(max_tokens_param="max_tokens")
                return True
            unsupported = getattr(exc, "code", None) in ("unsupported_parameter", "unsupported_value")
            if unsupported and param in _SAMPLING_FIELDS and param in sent:
                self.capabilities = caps.with_(omit_params=caps.omit_params | {param})
                return True
        return False

    def _request(self, conv: Conversation, params: GenParams, response_format: dict | None = None) -> Result:
        """One chat completion: a Completion, or a CompletionError for this request alone. Raises EndpointError
        when the endpoint fails as a whole, _FormatRefused when it refuses `response_format`."""
        for _ in range(1 + len(_SAMPLING_FIELDS) + 1):  # at most one resend per field learnt from a 400
            kwargs = self._kwargs(conv, params, response_format)
            try:
                resp = self.client.chat.completions.create(**kwargs)
            except openai.BadRequestError as exc:
                if response_format is not None and _about_response_format(exc):
                    raise _FormatRefused() from exc
                if self._adapt(exc, kwargs):
                    continue
                return CompletionError(f"{self._where()} refused this request (HTTP 400): {_message(exc)}",
                                       reason="rejected")
            except openai.UnprocessableEntityError as exc:
                return CompletionError(f"{self._where()} refused this request (HTTP {exc.status_code}): "
                                       f"{_message(exc)}", reason="rejected")
            except openai.APIStatusError as exc:
                if exc.status_code == 413:
                    return CompletionError(f"{self._where()} refused this request as too large (HTTP 413)",
                                           reason="rejected")
                raise self._endpoint_error(exc) from exc
            except openai.APIError as exc:  # connection errors and timeouts, after the client's retries
                raise self._endpoint_error(exc) from exc
            return self._completion(resp, params)
        return CompletionError(f"{self._where()} kept refusing the request's parameters", reason="rejected")

    def _completion(self, resp, params: GenParams) -> Result:
        usage = getattr(resp, "usage", None)
        self.usage.add(calls=1, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                       completion_tokens=getattr(usage, "completion_tokens", 0) or 0)
        if not resp.choices:
            return CompletionError(f"{self._where()} returned no answer (no choices: a content filter?)",
                                   reason="filtered")
        choice = resp.choices[0]
        message = choice.message
        text = (message.content if message is not None else None) or ""
        refusal = getattr(message, "refusal", None) if message is not None else None
        if choice.finish_reason == "content_filter" or refusal:
            return CompletionError(f"{self._where()} withheld the answer ({refusal or 'content filter'})",
                                   reason="filtered", partial=text)
        if not text.strip() and choice.finish_reason == "length":
            return CompletionError(
                f"{self._where()} returned no text within max_tokens={params.max_tokens} (finish_reason 'length': "
                "a reasoning model may have spent the budget thinking): raise max_tokens", reason="empty")
        return Completion(text, "length" if choice.finish_reason == "length" else "stop")

    def _endpoint_error(self, exc: openai.APIError) -> EndpointError:
        status = getattr(exc, "status_code", None)
        what = next((text for kind, text in _ENDPOINT_FAILURES if isinstance(exc, kind)),
                    "answered HTTP {status} {tries}: {message}" if status is not None else "failed: {kind}: {message}")
        what = what.format(status=status, tries=f"after {self.max_retries + 1} attempts", message=_message(exc),
                           kind=type(exc).__name__, cause=exc.__cause__ or exc)
        return EndpointError(f"{self._where()} {what}", endpoint=self.base_url, model=self.model, status=status)

    # -- batches ----------------------------------------------------------------------------------------

    def _map(self, conversations: Sequence[Conversation], fn) -> list:
        return list(self._pool.map(fn, conversations))

    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[Result]:
        return self._map(conversations, lambda c: self._request(c, params))

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[Result]:
        if self.capabilities.structured != "json_schema":
            return super()._generate_structured(conversations, schema, params)
        fmt = {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": schema_of(schema),
                                                      "strict": False}}

        def one(conv: Conversation) -> Result | None:
            try:
                return self._request(conv, params, fmt)
            except _FormatRefused:
                return None

        results = self._map(conversations, one)
        refused = [i for i, r in enumerate(results) if r is None]
        if refused:  # the endpoint does not take response_format: prompt for JSON from now on
            with self._lock:
                self.capabilities = self.capabilities.with_(structured="prompt")
            again = super()._generate_structured([conversations[i] for i in refused], schema, params)
            for i, r in zip(refused, again):
                results[i] = r
        return results

    def stream(self, messages: Conversation | str, params: GenParams | None = None) -> Iterator[str]:
        params = params or GenParams()
        kwargs = self._kwargs(_as_conversation(messages), params, None)
        try:
            events = self.client.chat.completions.create(**kwargs, stream=True)
            got = False
            for event in events:
                delta = event.choices[0].delta.content if event.choices and event.choices[0].delta else None
                if delta:
                    got = True
                    yield delta
        except openai.BadRequestError as exc:
            raise CompletionError(f"{self._where()} refused this request (HTTP 400): {_message(exc)}",
                                  reason="rejected") from exc
        except openai.APIError as exc:
            raise self._endpoint_error(exc) from exc
        self.usage.add(calls=1)
        if not got:
            raise CompletionError(f"{self._where()} streamed no text", reason="empty")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self.client.close()


def _message(exc: openai.APIError) -> str:
    return str(getattr(exc, "message", None) or exc)


def _about_response_format(exc: openai.BadRequestError) -> bool:
    """Whether a 400 is about `response_format` itself (not, say, an over-long prompt)."""
    text = f"{getattr(exc, 'param', '') or ''} {_message(exc)}".lower()
    return "response_format" in text or "json_schema" in text


# -- the backend -------------------------------------------------------------------------------------------


def parse_endpoint(spec: str) -> ModelSpec | None:
    """openai:, gemini:, ollama: and http(s):// specs; None for anything else."""
    if spec.startswith("openai:"):
        return ModelSpec("openai", spec, base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                         model=spec[7:], key_env=("OPENAI_API_KEY",), key_required=True)
    if spec.startswith("gemini:"):
        return ModelSpec("openai", spec, base_url="https://generativelanguage.googleapis.com/v1beta/openai",
                         model=spec[7:], key_env=("GEMINI_API_KEY",), key_required=True)
    if spec.startswith("ollama:"):
        return ModelSpec("openai", spec, base_url=os.environ.get("OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1"),
                         model=spec[7:], key_env=("OLLAMA_API_KEY",))
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        if not model:
            raise LLMError(f"model spec {spec!r} names no model: write it as {url}#MODEL_NAME")
        host = urlparse(url).hostname or ""
        return ModelSpec("openai", spec, base_url=url, model=model, key_env=("MEMO_API_KEY", "OPENAI_API_KEY"),
                         key_required=host not in _LOOPBACK)
    return None


def _load(spec: ModelSpec, config: "Config") -> ChatModel:
    return OpenAIChatModel(spec.base_url or "", spec.model or "", spec.api_key(), spec=spec.spec,
                           concurrency=config.http.concurrency, timeout=config.http.timeout,
                           max_retries=config.http.max_retries)


BACKEND = Backend("openai", ("openai:MODEL", "gemini:MODEL", "ollama:MODEL", "http(s)://host:port/v1#MODEL"),
                  parse_endpoint, _load)
