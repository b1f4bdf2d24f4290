"""Memory clients: how the executive questions a memory, local or remote, through one interface.

The executive only ever sends natural-language sub-questions and reads short answers back; a stage's
sub-questions go to the memory as one batch (batched generation locally, concurrent requests remotely).

    LocalMemory(path)       a memory artifact (store or version dir) answered in this process, with citations
    RemoteMemory(spec)      a memory served behind an OpenAI-compatible endpoint, e.g. vLLM serving the
                            artifact dir: its saved chat template formats the prompt exactly as in training
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from pydantic import BaseModel

from ..llm import ChatModel, GenParams, load_model, parse_spec
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
    """A memory behind an OpenAI-compatible endpoint (`http://host:port/v1#MODEL`), through the response cache."""

    def __init__(self, spec: str | ChatModel):
        super().__init__()
        self.model = load_model(spec) if isinstance(spec, str) else spec
        self.description = self.model.spec

    def _ask(self, questions: list[str], temperature: float, max_tokens: int, seed: int) -> list[MemoryReply]:
        params = GenParams(temperature=temperature, max_tokens=max_tokens, seed=seed)
        answers = self.model.chat_batch([prompt_messages(q) for q in questions], params)
        return [MemoryReply(question=q, answer=a.strip(), abstained=is_abstention(a)) for q, a in zip(questions, answers)]

    def usage(self) -> dict[str, int]:
        u = self.model.usage
        return {"questions": self.questions_asked, "calls": u.calls, "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens, "cache_hits": u.cache_hits}


class LocalMemory(MemoryClient):
    """A memory artifact on disk (a store or one version), answered in-process by `memo.memory.MemoryModel`.

    `MemoryModel.ask` decodes greedily, so the stage temperatures (0.1 / 0.1 / 0.3) only apply to endpoint
    memories; answers come with citations.
    """

    def __init__(self, memory: "str | Path | MemoryModel"):
        super().__init__()
        from ..memory import MemoryModel

        self.memory = memory if isinstance(memory, MemoryModel) else MemoryModel.load(memory)
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
