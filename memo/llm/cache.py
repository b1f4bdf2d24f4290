"""Persistent response cache: an interrupted pipeline re-runs without repeating a single model call.

Keys are a hash of (model identity, kind of call, messages, sampling parameters, schema). The seed is part of
the parameters, so sampled calls are cached per sample and reproduce on re-run. SQLite in WAL mode with one
connection per thread makes concurrent writers (threads or processes) safe. Only finished answers are stored:
errors, empty answers and answers cut at `max_tokens` are asked again on the next run. A damaged database file
is found when the cache opens (SQLite's `PRAGMA quick_check`) and reported as CorruptCacheError with the fix.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from pydantic import BaseModel

from .base import (Capabilities, ChatModel, Completion, Conversation, GenParams, LLMError, Result,
                   _as_conversation, as_result, schema_of)

_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class CorruptCacheError(LLMError):
    """The response cache file is damaged or not a SQLite database; the message says how to start afresh."""


class ResponseCache:
    """The SQLite file of cached model answers: one table `responses (key, model, response, created)`.

    `key(...)` names a call; `get_many` / `put_many` read and write answers by key; `stats` and `clear` serve
    `memo cache info` / tooling. The file is opened in WAL mode with one connection per thread (sqlite3 module),
    so threads and processes may read and write it at once. `CachedChatModel` puts it in front of any backend
    (`memo.llm.load_model` does so unless the cache is disabled); the evaluation caches memory answers in it too.

    Opening checks the file with SQLite's `PRAGMA quick_check` (it reads every page once, so a large cache takes
    longer to open). Raises CorruptCacheError (an LLMError) at open when the file is damaged or not a SQLite
    database, and from `get_many`, `put_many`, `stats` and `clear` when they meet damage later; OSError when the
    parent directory cannot be created.
    """

    def __init__(self, path: str | Path):
        """Open (creating it and its parent directory if needed) and check the cache file at `path`."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()  # open and check now, so a damaged file is reported at start, not mid-run
        with self._guard():
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise self._corrupt("; ".join(problems[:3]))

    def _corrupt(self, detail: str) -> CorruptCacheError:
        detail = " ".join(detail.split())
        detail = detail if len(detail) <= 160 else detail[:157] + "..."
        return CorruptCacheError(
            f"the response cache {self.path} is damaged ({detail}); delete it (or run `memo cache clear`) to start "
            "a fresh cache: only cached answers are lost, and they are asked again"
        )

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite's "database disk image is malformed" / "file is not a database" into CorruptCacheError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", None) in _CORRUPT or type(exc) is sqlite3.DatabaseError:
                raise self._corrupt(str(exc)) from exc
            raise

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._guard():
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, response TEXT,"
                    " created REAL)"
                )
            self._local.conn = conn
        return conn

    @staticmethod
    def key(identity: str, kind: str, conversation: Conversation, params: GenParams, schema: Any = None) -> str:
        """The cache key of one call: the sha256 (64 hex digits) of its canonical JSON: the model's `identity`
        (a local model's directory name and weights fingerprint, an endpoint's URL and model name), the `kind`
        of call ("text", "json" for structured output, "memory" for the evaluation's memory answers), the
        messages, every sampling parameter (`GenParams`, seed included, so each sample of a sampled call has its
        own entry) and the JSON schema (or None)."""
        payload = json.dumps(
            {"model": identity, "kind": kind, "messages": conversation, "params": params.as_dict(), "schema": schema},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> cached answer text for those of `keys` that are cached (missing keys are absent), read in
        groups of 500 keys."""
        found: dict[str, str] = {}
        conn = self._conn()
        with self._guard():
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for k, v in conn.execute(f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk):
                    found[k] = v
        return found

    def put_many(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Store answers; `rows` are (key, model identity, response text) tuples, replacing any entry of the same
        key, in one transaction. A database locked by another writer is retried 19 times with a growing pause
        (about 10 s in all, besides SQLite's own 60 s busy timeout per attempt) before its sqlite3.OperationalError
        is raised."""
        if not rows:
            return
        conn = self._conn()
        now = time.time()
        for attempt in range(20):
            try:
                with self._guard():
                    self._write(conn, rows, now)
                return
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))

    @staticmethod
    def _write(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str]], now: float) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)",
            [(k, m, r, now) for k, m, r in rows],
        )
        conn.execute("COMMIT")

    def stats(self) -> dict[str, Any]:
        """`{"path", "entries", "bytes"}`: the file, the number of cached answers and the file's size in bytes
        (the main file only, not its -wal / -shm companions)."""
        with self._guard():
            n = self._conn().execute("SELECT count(*) FROM responses").fetchone()[0]
        return {"path": str(self.path), "entries": n, "bytes": self.path.stat().st_size if self.path.exists() else 0}

    def clear(self) -> None:
        """Delete every cached answer from the table (the file stays; `memo cache clear` deletes the files
        instead, which also gets rid of a damaged one). Raises CorruptCacheError when it meets damage."""
        conn = self._conn()
        with self._guard():
            conn.execute("DELETE FROM responses")


class CachedChatModel(ChatModel):
    """Wraps any backend; only the misses of a batch reach the model, and their finished answers are stored at
    once. Capabilities (batch size, structured mode...) are the inner model's, including what it learns later."""

    def __init__(self, inner: ChatModel, cache: ResponseCache):
        super().__init__()
        self.inner = inner
        self.cache = cache
        self.spec = inner.spec
        self.usage = inner.usage  # one set of counters: real calls by the backend, hits by the cache

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return self.inner.capabilities

    @property
    def batch_size(self) -> int:
        return self.inner.batch_size

    @property
    def structured_modes(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.structured_modes

    def declare(self, **capabilities: Any) -> None:
        self.inner.declare(**capabilities)

    @property
    def identity(self) -> str:
        return self.inner.identity

    def _cached(self, kind: str, convs: Sequence[Conversation], params: GenParams, schema: Any, call) -> list[Result]:
        keys = [ResponseCache.key(self.identity, kind, c, params, schema) for c in convs]
        found: dict[str, Result] = {k: Completion(v) for k, v in self.cache.get_many(keys).items()}
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.usage.add(cache_hits=len(keys) - len(missing))
        out: dict[int, Result] = {}
        # Store after every backend-sized chunk, so a run killed mid-batch keeps what it already paid for.
        step = max(1, self.inner.batch_size)
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            answers = [as_result(a) for a in call([convs[i] for i in part])]
            self.cache.put_many([(keys[i], self.identity, a.text) for i, a in zip(part, answers)
                                 if isinstance(a, Completion) and not a.truncated])
            out.update(zip(part, answers))
        return [out[i] if i in out else found[k] for i, k in enumerate(keys)]

    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[Result]:
        return self._cached("text", conversations, params, None, lambda cs: self.inner._generate(cs, params))

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[Result]:
        return self._cached("json", conversations, params, schema_of(schema),
                            lambda cs: self.inner._generate_structured(cs, schema, params))

    def stream(self, messages: Conversation | str, params: GenParams | None = None) -> Iterator[str]:
        """A cached answer in one piece; otherwise the inner model's stream (not stored: a stream can stop early)."""
        params = params or GenParams()
        conv = _as_conversation(messages)
        key = ResponseCache.key(self.identity, "text", conv, params)
        hit = self.cache.get_many([key]).get(key)
        if hit is not None:
            self.usage.add(cache_hits=1)
            yield hit
        else:
            yield from self.inner.stream(conv, params)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # Backend extras (tokenizer, model, count_tokens...) stay reachable through the wrapper.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
