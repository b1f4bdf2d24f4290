"""Persistent response cache: an interrupted pipeline re-runs without repeating a single model call.

Keys are a hash of (model identity, kind of call, messages, sampling parameters, schema). The seed is part of
the parameters, so sampled calls are cached per sample and reproduce on re-run. SQLite in WAL mode with one
connection per thread makes concurrent writers (threads or processes) safe.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel

from .base import ChatModel, Conversation, GenParams, LLMError


class CorruptCacheError(LLMError):
    pass


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn()  # open now so a corrupt file is reported at start, not mid-run

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, response TEXT,"
                    " created REAL)"
                )
                conn.execute("SELECT count(*) FROM responses LIMIT 1").fetchone()
            except sqlite3.DatabaseError as exc:
                raise CorruptCacheError(
                    f"the response cache {self.path} is not a readable SQLite database ({exc}); "
                    "delete it (or run `memo cache clear`) to start a fresh cache"
                ) from exc
            self._local.conn = conn
        return conn

    @staticmethod
    def key(identity: str, kind: str, conversation: Conversation, params: GenParams, schema: Any = None) -> str:
        payload = json.dumps(
            {"model": identity, "kind": kind, "messages": conversation, "params": params.as_dict(), "schema": schema},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        conn = self._conn()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for k, v in conn.execute(f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk):
                found[k] = v
        return found

    def put_many(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """rows: (key, model identity, response)."""
        if not rows:
            return
        conn = self._conn()
        now = time.time()
        for attempt in range(20):
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)",
                    [(k, m, r, now) for k, m, r in rows],
                )
                conn.execute("COMMIT")
                return
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def stats(self) -> dict[str, Any]:
        n = self._conn().execute("SELECT count(*) FROM responses").fetchone()[0]
        return {"path": str(self.path), "entries": n, "bytes": self.path.stat().st_size if self.path.exists() else 0}

    def clear(self) -> None:
        self._conn().execute("DELETE FROM responses")


class CachedChatModel(ChatModel):
    """Wraps any backend; only the misses of a batch reach the model, and their answers are stored at once."""

    def __init__(self, inner: ChatModel, cache: ResponseCache):
        super().__init__()
        self.inner = inner
        self.cache = cache
        self.spec = inner.spec
        self.constrained = inner.constrained
        self.usage = inner.usage  # one set of counters: real calls by the backend, hits by the cache

    @property
    def identity(self) -> str:
        return self.inner.identity

    def _cached(self, kind: str, convs: Sequence[Conversation], params: GenParams, schema: Any, call) -> list[str]:
        keys = [ResponseCache.key(self.identity, kind, c, params, schema) for c in convs]
        found = self.cache.get_many(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.usage.add(cache_hits=len(keys) - len(missing))
        # Store after every backend-sized chunk, so a run killed mid-batch keeps what it already paid for.
        step = max(1, self.inner.batch_size)
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            answers = call([convs[i] for i in part])
            self.cache.put_many([(keys[i], self.identity, a) for i, a in zip(part, answers)])
            found.update({keys[i]: a for i, a in zip(part, answers)})
        return [found[k] for k in keys]

    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[str]:
        return self._cached("text", conversations, params, None, lambda cs: self.inner._generate(cs, params))

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[str]:
        return self._cached(
            "json",
            conversations,
            params,
            schema.model_json_schema(),
            lambda cs: self.inner._generate_structured(cs, schema, params),
        )

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # Backend extras (tokenizer, model, count_tokens...) stay reachable through the wrapper.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
