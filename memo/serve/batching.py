"""Dynamic batching for the local memory: concurrent requests share one batched generation.

Requests arriving within a short collection window (or until `max_batch` questions are waiting) are answered by
one `MemoryModel.ask` call, which generates a whole batch at once; one batch runs at a time, in a worker thread,
so the event loop keeps accepting requests meanwhile. This is the continuous-batching idea of LLM servers (Orca,
OSDI 2022; vLLM) at request granularity: a small memory answers a batch of 16 in little more than the time of one.

Only requests for the same loaded version and the same `max_tokens` share a batch (a request never mixes
versions). The queue is bounded: `submit` raises `Saturated` with a Retry-After estimate when `max_queue` requests
already wait. `max_batch = 1` with `window = 0` turns batching off (one request after another).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..memory import MemoryAnswer
from ..memory.prompt import format_prompt
from .live import Loaded


class Saturated(RuntimeError):
    """The server is at its limit; the client should retry after `retry_after` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class MemoryResult:
    """One answer with its token counts (the prompt and the answer re-tokenized with the memory's tokenizer)."""

    answer: MemoryAnswer
    version: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(eq=False)
class _Request:
    loaded: Loaded
    questions: list[str]
    max_tokens: int
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[int, int]:
        return id(self.loaded), self.max_tokens


class DynamicBatcher:
    """Collects memory questions into batches and runs them one batch at a time.

    max_batch: most questions in one generation (a request with more runs alone, in one call).
    window: seconds the oldest waiting request may wait for company before its batch starts.
    max_queue: most requests waiting (not yet running) before `submit` refuses with `Saturated`.
    top_k: citations per answer (`MemoryModel.ask(citations=True, top_k=...)`).
    """

    def __init__(self, max_batch: int = 16, window: float = 0.01, max_queue: int = 256, top_k: int = 3):
        if max_batch < 1 or window < 0 or max_queue < 1:
            raise ValueError("max_batch >= 1, window >= 0 and max_queue >= 1 are required")
        self.max_batch, self.window, self.max_queue, self.top_k = max_batch, window, max_queue, top_k
        self._pending: deque[_Request] = deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.running_questions = 0
        self.batches = 0
        self.questions = 0
        self._batch_seconds = 0.5  # moving average of one batch's wall time, for Retry-After

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memo-batch")
        self._worker = asyncio.create_task(self._run(), name="memo-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        for request in self._pending:
            if not request.future.done():
                request.future.set_exception(RuntimeError("the server is shutting down"))
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    # -- requests ---------------------------------------------------------------------------------------

    async def submit(self, loaded: Loaded, questions: list[str], max_tokens: int,
                     admit: bool = True) -> list[MemoryResult]:
        """Answers to `questions` from `loaded`, in order. With `admit`, refuses with `Saturated` when the queue
        is full (requests made on behalf of a running `memo` answer pass with `admit=False`: refusing them
        half-way would waste the work already done)."""
        if self._worker is None:
            raise RuntimeError("the batcher is not running (call start() first)")
        if admit and len(self._pending) >= self.max_queue:
            raise Saturated(f"the memory queue is full ({len(self._pending)} requests waiting)", self.retry_after())
        request = _Request(loaded, list(questions), max_tokens, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._wake.set()
        return await request.future

    def retry_after(self) -> int:
        """Seconds until the current queue has likely drained (whole seconds, at least 1)."""
        waiting = sum(len(r.questions) for r in self._pending)
        return max(1, math.ceil(self._batch_seconds * (waiting / self.max_batch + 1)))

    def depth(self) -> dict[str, int]:
        return {"waiting_requests": len(self._pending),
                "waiting_questions": sum(len(r.questions) for r in self._pending),
                "running_questions": self.running_questions, "max_queue": self.max_queue,
                "batches": self.batches, "questions": self.questions}

    # -- the worker -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            head = self._pending[0]
            while True:  # collect: until a full batch waits or the oldest request's window has passed
                ready = sum(len(r.questions) for r in self._pending if r.key == head.key)
                wait = head.arrived + self.window - time.monotonic()
                if ready >= self.max_batch or wait <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    break
            batch = self._take(head.key)
            if not batch:
                continue
            questions = [q for r in batch for q in r.questions]
            self.running_questions = len(questions)
            t0 = time.monotonic()
            try:
                results = await loop.run_in_executor(self._executor, _answer, head.loaded, questions,
                                                     head.max_tokens, self.top_k)
            except Exception as exc:  # noqa: BLE001 - every request of the batch gets the error
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            finally:
                self.running_questions = 0
            self._batch_seconds = 0.8 * self._batch_seconds + 0.2 * (time.monotonic() - t0)
            self.batches += 1
            self.questions += len(questions)
            start = 0
            for r in batch:
                if not r.future.done():
                    r.future.set_result(results[start : start + len(r.questions)])
                start += len(r.questions)

    def _take(self, key: tuple[int, int]) -> list[_Request]:
        """The waiting requests with `key`, oldest first, up to `max_batch` questions (at least one request);
        requests whose client has gone are dropped."""
        batch: list[_Request] = []
        kept: deque[_Request] = deque()
        size = 0
        for r in self._pending:
            if r.future.done():  # cancelled: the client went away or timed out
                continue
            if r.key == key and (not batch or size + len(r.questions) <= self.max_batch):
                batch.append(r)
                size += len(r.questions)
            else:
                kept.append(r)
        self._pending = kept
        return batch


def _answer(loaded: Loaded, questions: list[str], max_tokens: int, top_k: int) -> list[MemoryResult]:
    memory = loaded.memory
    answers = memory.ask(questions, citations=True, top_k=top_k, max_new_tokens=max_tokens,
                         batch_size=max(1, len(questions)))
    tok = memory.tokenizer
    prompts = tok([format_prompt(tok, q) for q in questions], add_special_tokens=False)["input_ids"]
    outputs = tok([a.answer for a in answers], add_special_tokens=False)["input_ids"]
    return [MemoryResult(a, loaded.version, len(p), len(o)) for a, p, o in zip(answers, prompts, outputs)]
