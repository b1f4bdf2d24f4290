"""What both servers (OpenAI-compatible HTTP and MCP) share: the live memory, the batcher, the answerer, limits.

    service = MemoryService("mem/", ServeSettings(), executive="openai:gpt-4o-mini")
    async with service.running():                  # batcher worker + `current` watcher on this event loop
        results = await service.ask_memory(["Who founded Veltrona Labs?"])
        result = await service.answer("Where was the founder of Veltrona Labs born?")   # an AskResult

`ask_memory` goes through the dynamic batcher (docs/SERVING.md); `answer` runs the executive protocol
(`memo.executive.ask`) in a worker thread against the same loaded version, its memory questions batched with
everyone else's. Both take the loaded version once, at their start.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import Config, load_config
from ..executive import DEFAULT_PROTOCOL, PROTOCOLS, AskResult, LocalMemory, ask
from ..llm import ChatModel, model_for
from ..memory import MemoryAnswer
from ..settings import ExecutiveSettings
from .batching import DynamicBatcher, MemoryResult, Saturated
from .live import LiveMemory, Loaded

log = logging.getLogger("memo.serve")

#: The model id of the whole answerer (executive + memory), next to the memory's own id.
ANSWERER_MODEL = "memo"


class VersionNotServed(LookupError):
    """A request pinned a version of the memory other than the one being served."""


class ServeSettings(BaseModel):
    """Limits and batching of a memory server; the `memo serve` / `memo mcp` options set them."""

    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(16, ge=1, description="most memory questions in one batched generation")
    batch_window: float = Field(0.01, ge=0, description="seconds a request may wait for others to batch with")
    max_queue: int = Field(256, ge=1, description="memory requests waiting at most; more get HTTP 429")
    max_answers: int = Field(2, ge=1, description="`memo` answers running at once")
    answer_queue: int = Field(8, ge=0, description="`memo` answers waiting at most; more get HTTP 429")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest request body (HTTP 413 above)")
    max_tokens_limit: int = Field(1024, ge=1, description="largest max_tokens a request may ask (HTTP 400 above)")
    default_max_tokens: int = Field(128, ge=1, description="memory answer budget when a request names none")
    request_timeout: float = Field(600.0, gt=0, description="seconds before a request is answered with 504")
    watch_interval: float = Field(1.0, gt=0, description="seconds between checks of the store's `current`")
    top_k: int = Field(3, ge=0, description="citations per memory answer")


class AnswerOptions(BaseModel):
    """Per-request overrides of the answerer (the `memo` extra field of a chat request, or MCP arguments)."""

    model_config = ConfigDict(extra="forbid")

    executive: str | None = Field(None, description="one of the executive specs this server offers")
    protocol: str | None = Field(None, description=" | ".join(PROTOCOLS))
    settings: dict[str, Any] = Field(default_factory=dict, description="ExecutiveSettings fields")


class _Batched:
    """A MemoryModel look-alike for `LocalMemory`: questions from the executive's worker thread go through the
    service's batcher, to the version the answer started with."""

    def __init__(self, service: "MemoryService", loaded: Loaded):
        self.service, self.loaded, self.path = service, loaded, loaded.memory.path

    def ask(self, questions: Sequence[str], *, citations: bool = True, max_new_tokens: int = 128,
            **_: Any) -> list[MemoryAnswer]:
        future = asyncio.run_coroutine_threadsafe(
            self.service.batcher.submit(self.loaded, list(questions), max_new_tokens, admit=False),
            self.service.loop)
        return [r.answer for r in future.result()]


class _Gate:
    """At most `running` at once and `waiting` more in line; anything beyond is refused with `Saturated`."""

    def __init__(self, running: int, waiting: int):
        self.limit = running + waiting
        self.semaphore = asyncio.Semaphore(running)
        self.inside = 0

    @asynccontextmanager
    async def enter(self, retry_after: int) -> AsyncIterator[None]:
        if self.inside >= self.limit:
            raise Saturated(f"{self.inside} answers are running or waiting", retry_after)
        self.inside += 1
        try:
            async with self.semaphore:
                yield
        finally:
            self.inside -= 1


class MemoryService:
    """A memory made servable: batched memory answers, executive answers, hot reload, health. What both servers
    (`create_app`, `create_mcp_server`) wrap; use it inside `async with service.running():` (the batcher and the
    `current` watcher run on that event loop; `answer` needs it).

    Parameters:
        memory: a memory store (followed: a version `memo add` / `memo rollback` publishes is loaded in the
            background and swapped in) or a version directory (fixed), see `LiveMemory`; or a ready `LiveMemory`.
            The initial version is loaded, and its files checked against their hashes, here.
        settings: limits and batching (`ServeSettings`: max_batch questions, batch_window and request_timeout
            in seconds, queue bounds, max_tokens_limit in tokens, top_k citations...); default `ServeSettings()`.
        executive: the executive spec(s) or ChatModel(s) offered; the first is the default (default: the
            config's executive role). A request may pick another one only among these; specs are loaded on
            first use.
        protocol: the answerer's default protocol, a key of `memo.executive.PROTOCOLS` (default `DEFAULT_PROTOCOL`).
        executive_settings: the answerer's default `ExecutiveSettings`; default memo.toml's `[executive]`.
        config: the configuration the executive models are loaded with; default `load_config()`.
        name: the model id the memory is served under; default the store's directory name.

    `ask_memory(questions)` returns `MemoryResult`s (the `MemoryAnswer` with citations, the version, prompt and
    completion token counts); `answer(question)` returns the executive's `AskResult` with its trace; `health()`
    the status dict `/health` shows. Raises ValueError for an unknown protocol or a name that cannot be a model
    id (the answerer's "memo", spaces, "@", "#"), ConfigError for a bad memo.toml, and MemoryNotFoundError /
    CorruptMemoryError (memo.memory) when the initial version cannot be loaded.
    """

    def __init__(self, memory: str | Path | LiveMemory, settings: ServeSettings | None = None, *,
                 executive: str | ChatModel | Sequence[str | ChatModel] | None = None,
                 protocol: str = DEFAULT_PROTOCOL, executive_settings: ExecutiveSettings | None = None,
                 config: Config | None = None, name: str | None = None):
        self.config = config or load_config()
        self.settings = settings or ServeSettings()
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.executive_settings = executive_settings or self.config.executive_settings()
        offered = executive if isinstance(executive, (list, tuple)) else [executive]
        self._executives: dict[str, str | ChatModel] = {}
        for e in offered:
            e = e if e is not None else self.config.spec_for("executive")
            self._executives[e.spec if isinstance(e, ChatModel) else e] = e
        self.default_executive = next(iter(self._executives))
        self.live = memory if isinstance(memory, LiveMemory) else LiveMemory(memory, name=name)
        if self.live.name == ANSWERER_MODEL:
            raise ValueError(f"the memory cannot be served as {ANSWERER_MODEL!r} (the answerer's model id); "
                             "pass another name")
        s = self.settings
        self.batcher = DynamicBatcher(s.max_batch, s.batch_window, s.max_queue, s.top_k)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._gate: _Gate | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._reload: asyncio.Task | None = None

    @property
    def name(self) -> str:
        return self.live.name

    # -- lifecycle --------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator["MemoryService"]:
        """Start the batcher and the `current` watcher on the running event loop; stop them on exit."""
        self.loop = asyncio.get_running_loop()
        self._gate = _Gate(self.settings.max_answers, self.settings.answer_queue)
        self._threads = ThreadPoolExecutor(self.settings.max_answers + 1, thread_name_prefix="memo-answer")
        await self.batcher.start()
        watcher = asyncio.create_task(self._watch(), name="memo-watch-current")
        try:
            yield self
        finally:
            watcher.cancel()
            await self.batcher.stop()
            self._threads.shutdown(wait=False, cancel_futures=True)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watch_interval)
            self.check_reload()

    def check_reload(self) -> None:
        """Start loading a newly published version in the background if `current` moved (cheap; per request)."""
        if self.live.stale() and (self._reload is None or self._reload.done()):
            self._reload = asyncio.create_task(asyncio.to_thread(self.live.reload))

    async def reload(self) -> bool:
        """Load the version `current` names now and wait for it (POST /admin/reload); True when it changed."""
        if self._reload is not None and not self._reload.done():
            await asyncio.shield(self._reload)
        return await asyncio.to_thread(self.live.reload, True)

    # -- answering --------------------------------------------------------------------------------------

    async def ask_memory(self, questions: Sequence[str], max_tokens: int | None = None,
                         version: str | None = None) -> list[MemoryResult]:
        """The memory's own answers (with abstention flags, citations and token counts), dynamically batched.

        version: answer only if this is the version being served (a pinned `NAME@VERSION` request).
        Raises Saturated when the queue is full, ValueError for an empty question or a max_tokens over the limit,
        VersionNotServed for another `version`, TimeoutError after `request_timeout`.
        """
        questions = [q.strip() for q in questions]
        if not questions or not all(questions):
            raise ValueError("the question is empty")
        max_tokens = self._max_tokens(max_tokens)
        self.check_reload()
        loaded = self.live.current
        if version is not None and version != loaded.version:
            raise VersionNotServed(f"{self.name}@{version} is not served: this server serves {self.name}@"
                                   f"{loaded.version}")
        return await asyncio.wait_for(self.batcher.submit(loaded, questions, max_tokens),
                                      self.settings.request_timeout)

    async def answer(self, question: str, options: AnswerOptions | None = None) -> AskResult:
        """The whole answerer: the executive protocol against the loaded version (an `AskResult` with the trace).

        Raises Saturated when `max_answers` run and `answer_queue` wait, ValueError for an unknown protocol, an
        executive this server does not offer or bad settings, TimeoutError after `request_timeout`.
        """
        options = options or AnswerOptions()
        protocol = options.protocol or self.protocol
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        spec = options.executive or self.default_executive
        if spec not in self._executives:
            raise ValueError(f"executive {spec!r} is not offered by this server; it offers "
                             f"{', '.join(self._executives)}")
        try:
            settings = ExecutiveSettings.model_validate({**self.executive_settings.model_dump(), **options.settings})
        except ValidationError as exc:
            raise ValueError(f"executive settings: {_first_error(exc)}") from None
        self.check_reload()
        loaded = self.live.current
        async with self._gate.enter(self.batcher.retry_after() + 5):
            executive = await asyncio.to_thread(self._executive, spec)
            memory = LocalMemory(_Batched(self, loaded))
            memory.description = f"{loaded.name}@{loaded.version}"
            run = self.loop.run_in_executor(self._threads, lambda: ask(memory, question, executive, protocol,
                                                                       settings))
            return await asyncio.wait_for(run, self.settings.request_timeout)

    def _executive(self, spec: str) -> ChatModel:
        model = self._executives[spec]
        if not isinstance(model, ChatModel):  # loaded on first use, then kept
            model = self._executives[spec] = model_for("executive", self.config, override=model)
        return model

    def _max_tokens(self, max_tokens: int | None) -> int:
        if max_tokens is None:
            return self.settings.default_max_tokens
        if max_tokens < 1 or max_tokens > self.settings.max_tokens_limit:
            raise ValueError(f"max_tokens must be between 1 and {self.settings.max_tokens_limit}")
        return max_tokens

    # -- status -----------------------------------------------------------------------------------------

    def executives(self) -> list[str]:
        return list(self._executives)

    def health(self) -> dict[str, Any]:
        loaded = self.live.current
        reloading = self._reload is not None and not self._reload.done()
        return {
            "status": "ok", "memory": loaded.name, "version": loaded.version,
            "published_version": self.live.target() if self.live.store else loaded.version,
            "reloading": reloading, "reload_error": self.live.reload_error,
            "queue": self.batcher.depth(),
            "answers": {"inside": self._gate.inside if self._gate else 0, "max_answers": self.settings.max_answers,
                        "answer_queue": self.settings.answer_queue},
            "batching": {"max_batch": self.settings.max_batch, "window_seconds": self.settings.batch_window},
        }


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"

