"""Memory clients: how the executive questions a memory, local or remote, through one interface.

The executive only ever sends natural-language sub-questions and reads short answers back; a stage's
sub-questions go to the memory as one batch (batched generation locally, concurrent requests remotely).

    LocalMemory(path)       a memory artifact (store or version dir) answered in this process, with citations
    RemoteMemory(spec)      a memory served behind an OpenAI-compatible endpoint: `memo serve` (versioned, cached
                            per version) or vLLM serving the artifact dir (its saved chat template formats the
                            prompt exactly as in training)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import httpx
from pydantic import BaseModel

from ..llm import ChatModel, GenParams, LLMError, load_model, parse_spec
from ..memory.prompt import prompt_messages
from ..records import is_abstention

if TYPE_CHECKING:
    from ..memory import MemoryModel


class SourceCitation(BaseModel):
    """Where a memory answer comes from: a training reflection near it and that reflection's sources."""

    doc_id: str | None
    chunk_ids: list[str] = []
    question: str = ""
    answer: str = ""
    score: float = 0.0


class MemoryReply(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[SourceCitation] = []


class MemoryClient(ABC):
    """Sub-questions in, answers out (batched). `questions_asked` counts every question sent."""

    description: str

    def __init__(self) -> None:
        self.questions_asked = 0

    def ask(self, questions: Sequence[str], temperature: float = 0.0, max_tokens: int = 128,
            seed: int = 0) -> list[MemoryReply]:
        questions = list(questions)
        if not questions:
            return []
        self.questions_asked += len(questions)
        return self._ask(questions, temperature, max_tokens, seed)

    @abstractmethod
    def _ask(self, questions: list[str], temperature: float, max_tokens: int, seed: int) -> list[MemoryReply]: ...

    def usage(self) -> dict[str, int]:
        return {"questions": self.questions_asked}


class RemoteMemory(MemoryClient):
    """A memory behind an OpenAI-compatible endpoint (`http://host:port/v1#NAME`).

    The response cache must never answer for a memory that was re-published under the same URL and name, so:
    before each batch the client asks the server which version of NAME it serves (`GET /models`; a memo server,
    `memo serve`, reports it in each model's `memo.version`). With a version, questions go to the pinned model
    `NAME@VERSION`: the version is part of the cache key, and the server refuses a version it no longer serves (the
    client then looks again and asks the new one), so a cached answer always belongs to the version that gave it.
    A server that reports no version (vLLM, llama.cpp...) is not cached unless `cache=True` (use it only when that
    endpoint is never redeployed under the same name); `cache=False` never caches.

    Raises LLMError for a spec that is not an endpoint.
    """

    def __init__(self, spec: str, cache: bool | None = None):
        super().__init__()
        parsed = parse_spec(spec)
        if parsed.kind != "openai" or not parsed.base_url or not parsed.model:
            raise LLMError(f"{spec!r} is not an endpoint memory: write it as http://HOST:PORT/v1#NAME")
        self.spec, self.description, self.cache = spec, spec, cache
        self.base_url, self.name = parsed.base_url.rstrip("/"), parsed.model
        self._api_key = parsed.api_key()
        # The model for answers without a version (built now, so a bad spec or a missing key fails here).
        self._models: dict[str | None, ChatModel] = {None: load_model(spec, cache=bool(cache))}

    def served_version(self) -> str | None:
        """The version of the memory the server answers with now, or None when it reports none (or cannot say)."""
        try:
            reply = httpx.get(f"{self.base_url}/models", headers={"Authorization": f"Bearer {self._api_key}"},
                              timeout=10)
            reply.raise_for_status()
            entries = reply.json().get("data") or []
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        for entry in entries:
            extra = entry.get("memo") if isinstance(entry, dict) and entry.get("id") == self.name else None
            if isinstance(extra, dict) and isinstance(extra.get("version"), str) and extra["version"]:
                return extra["version"]
        return None

    def _model(self, version: str | None) -> ChatModel:
        if version not in self._models:
            self._models[version] = load_model(f"{self.base_url}#{self.name}@{version}", cache=True)
        return self._models[version]

    def _ask(self, questions: list[str], temperature: float, max_tokens: int, seed: int) -> list[MemoryReply]:
        params = GenParams(temperature=temperature, max_tokens=max_tokens, seed=seed)
        conversations = [prompt_messages(q) for q in questions]
        version = None if self.cache is False else self.served_version()
        try:
            answers = self._model(version).chat_batch(conversations, params)
        except LLMError:
            newer = None if version is None else self.served_version()
            if newer is None or newer == version:
                raise
            answers = self._model(newer).chat_batch(conversations, params)  # published while we asked
        return [MemoryReply(question=q, answer=a.strip(), abstained=is_abstention(a)) for q, a in zip(questions, answers)]

    def usage(self) -> dict[str, int]:
        totals = {"questions": self.questions_asked, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0,
                  "cache_hits": 0}
        for model in self._models.values():
            for key, value in model.usage.as_dict().items():
                totals[key] = totals.get(key, 0) + value
        return totals


class LocalMemory(MemoryClient):
    """A memory artifact on disk (a store or one version), answered in-process by `memo.memory.MemoryModel`.

    `MemoryModel.ask` decodes greedily, so the stage temperatures (0.1 / 0.1 / 0.3) only apply to endpoint
    memories; answers come with citations.
    """

    def __init__(self, memory: "str | Path | MemoryModel"):
        super().__init__()
        if isinstance(memory, (str, Path)):
            from ..memory import MemoryModel

            self.memory = MemoryModel.load(memory)
        else:  # a MemoryModel, or an object with its `ask` and `path` (a server's batched memory)
            self.memory = memory
        self.description = str(memory if isinstance(memory, (str, Path)) else memory.path)

    def _ask(self, questions: list[str], temperature: float, max_tokens: int, seed: int) -> list[MemoryReply]:
        answers = self.memory.ask(questions, citations=True, max_new_tokens=max_tokens)
        return [
            MemoryReply(
                question=q, answer=a.answer, abstained=a.abstained,
                citations=[SourceCitation.model_validate(c, from_attributes=True) for c in a.citations],
            )
            for q, a in zip(questions, answers)
        ]


def open_memory(target: str | Path | MemoryClient) -> MemoryClient:
    """A client for `target`: a client as is, an endpoint spec (`http://host:port/v1#MODEL`), or a memory path."""
    if isinstance(target, MemoryClient):
        return target
    text = str(target)
    if text.startswith(("http://", "https://")):
        parse_spec(text)  # a clear error for a spec without #MODEL
        return RemoteMemory(text)
    return LocalMemory(text)
