"""The memory as the evaluation asks it: any MemoryClient, behind the persistent response cache.

Chat models go through `memo.llm`'s response cache already; a local memory artifact answers in-process and does
not. `CachedMemory` puts its answers into the same cache, keyed by the artifact's content (the sha256 of its
files, from its manifest), the question and the sampling parameters, so an evaluation killed mid-question and run
again asks the memory nothing it already answered.
"""

from __future__ import annotations

import hashlib
import json
import threading

from ..executive import LocalMemory, MemoryClient, MemoryReply, RemoteMemory
from ..llm import GenParams, ResponseCache


def memory_identity(client: MemoryClient) -> str | None:
    """What a client's answers depend on: a local artifact's file hashes, an endpoint's model identity; None for
    any other client (its answers are not cached)."""
    if isinstance(client, LocalMemory):
        files = json.dumps(client.memory.manifest.get("files", {}), sort_keys=True)
        return "memory:" + hashlib.sha256(files.encode()).hexdigest()[:16]
    if isinstance(client, RemoteMemory):
        return "memory:" + client.model.identity
    return None


class CachedMemory(MemoryClient):
    """`inner`'s answers through `cache`; calls into `inner` are serialised (a local model is not shared by
    threads). `usage()` counts questions asked of this client, of which `answered` reached the memory."""

    def __init__(self, inner: MemoryClient, cache: ResponseCache | None):
        super().__init__()
        self.inner = inner
        self.description = inner.description
        self.identity = memory_identity(inner)
        self.cache = cache if self.identity is not None else None
        self.cache_hits = 0
        self._lock = threading.Lock()

    def _ask(self, questions: list[str], temperature: float, max_tokens: int, seed: int) -> list[MemoryReply]:
        if self.cache is None:
            with self._lock:
                return self.inner.ask(questions, temperature, max_tokens, seed)
        params = GenParams(temperature=temperature, max_tokens=max_tokens, seed=seed)
        keys = [ResponseCache.key(self.identity, "memory", [{"role": "user", "content": q}], params) for q in questions]
        found = {k: MemoryReply.model_validate_json(v) for k, v in self.cache.get_many(keys).items()}
        missing = list(dict.fromkeys(q for q, k in zip(questions, keys) if k not in found))
        with self._lock:
            self.cache_hits += len(questions) - len(missing)
            if missing:
                replies = self.inner.ask(missing, temperature, max_tokens, seed)
                rows = [(keys[questions.index(q)], self.identity, r.model_dump_json()) for q, r in zip(missing, replies)]
                self.cache.put_many(rows)
                found.update({k: MemoryReply.model_validate_json(v) for k, _, v in rows})
        return [found[k] for k in keys]

    def usage(self) -> dict[str, int]:
        inner = self.inner.usage()
        return {**inner, "questions": self.questions_asked, "answered": inner.get("questions", 0),
                "cache_hits": self.cache_hits}
