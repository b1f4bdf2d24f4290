"""Any OpenAI-compatible chat endpoint: vLLM, Ollama, llama.cpp server, OpenAI, Gemini.

Bounded concurrency, per-request timeouts, exponential backoff on 429 / 5xx / connection errors, and JSON
schema `response_format` where the server takes it (otherwise the base class's prompt + validate + repair).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import openai
from pydantic import BaseModel

from .base import ChatModel, Conversation, GenParams, LLMError

_RETRYABLE = (openai.RateLimitError, openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError)


class OpenAIChatModel(ChatModel):
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        spec: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 0.5,
    ):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.spec = spec or f"{self.base_url}#{model}"
        self.batch_size = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="memo-http")
        self.supports_json_schema: bool | None = None  # learnt on the first structured call

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url}#{self.model}"

    def _request(self, conv: Conversation, params: GenParams, response_format: dict | None = None) -> str:
        kwargs = dict(
            model=self.model,
            messages=conv,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
        )
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if response_format is not None:
            kwargs["response_format"] = response_format
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                resp = self.client.chat.completions.create(**kwargs)
                if resp.usage is not None:
                    self.usage.add(
                        calls=1, prompt_tokens=resp.usage.prompt_tokens, completion_tokens=resp.usage.completion_tokens
                    )
                else:
                    self.usage.add(calls=1)
                return resp.choices[0].message.content or ""
            except _RETRYABLE as exc:
                last = exc
                if attempt < self.max_retries:
                    time.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))
            except openai.AuthenticationError as exc:
                raise LLMError(f"endpoint {self.base_url} rejected the API key: {exc}") from exc
            except openai.BadRequestError as exc:
                if response_format is not None:
                    raise  # the caller falls back to prompting for JSON
                raise LLMError(f"endpoint {self.base_url} refused the request: {exc}") from exc
            except openai.NotFoundError as exc:
                raise LLMError(f"endpoint {self.base_url} does not serve model {self.model!r}: {exc}") from exc
            except openai.APIStatusError as exc:
                raise LLMError(f"endpoint {self.base_url} answered HTTP {exc.status_code}: {exc}") from exc
        raise LLMError(
            f"endpoint {self.base_url} (model {self.model!r}) failed after {self.max_retries + 1} attempts: "
            f"{type(last).__name__}: {last}"
        )

    def _map(self, conversations: Sequence[Conversation], fn) -> list[str]:
        return list(self._pool.map(fn, conversations))

    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[str]:
        return self._map(conversations, lambda c: self._request(c, params))

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[str]:
        if self.supports_json_schema is False:
            return super()._generate_structured(conversations, schema, params)
        fmt = {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema(), "strict": False},
        }
        try:
            first = self._request(conversations[0], params, fmt)
        except openai.BadRequestError:
            # The server does not take response_format: fall back to prompt + validate + repair for good.
            self.supports_json_schema = False
            return super()._generate_structured(conversations, schema, params)
        self.supports_json_schema = True
        rest = self._map(conversations[1:], lambda c: self._request(c, params, fmt))
        return [first, *rest]

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self.client.close()
