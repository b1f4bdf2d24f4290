"""The served memory: the loaded version, and the switch to a newly published one without a restart.

A memory store's `current` symlink names its current version (`memo train`, `memo add` and `memo rollback` switch
it atomically, docs/MERGING.md). `LiveMemory.stale()` compares it with the loaded version (one `readlink`, cheap
enough for every request); `reload()` loads the new version and only then swaps it in. A request takes the
`Loaded` object once, at its start, and uses only that, so its answers never mix versions; the old model is freed
when the last request holding it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..formats import MEMORY_MANIFEST, REFLECTIONS_FILE
from ..memory import MemoryModel, MemoryStore
from ..paths import read_jsonl

log = logging.getLogger("memo.serve")


@dataclass(frozen=True, eq=False)
class Loaded:
    """One loaded version of the memory: everything a request needs, fixed for the request's lifetime."""

    name: str
    version: str
    memory: MemoryModel
    loaded_at: float = field(default_factory=time.time)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.memory.manifest


class LiveMemory:
    """A memory store (follows `current`) or one version directory (fixed), loaded and ready to answer.

    path: a store made by `memo train` or a version directory inside one.
    name: the model id it is served under; default the store's directory name.
    load: how a version directory is loaded (default `MemoryModel.load`, which verifies every file's hash).
    Raises MemoryNotFoundError / CorruptMemoryError (memo.memory) when the initial version cannot be loaded.
    """

    def __init__(self, path: str | Path, name: str | None = None,
                 load: Callable[[Path], MemoryModel] = MemoryModel.load):
        self.path = Path(path)
        self._load = load
        self.store: MemoryStore | None = None
        if not (self.path / MEMORY_MANIFEST).is_file() and MemoryStore(self.path).exists():
            self.store = MemoryStore(self.path)
        store_dir = self.path if self.store else (
            self.path.resolve().parent.parent if self.path.resolve().parent.name == "versions" else self.path)
        self.name = name or store_dir.resolve().name
        if not self.name or any(c.isspace() for c in self.name) or "@" in self.name or "#" in self.name:
            raise ValueError(f"{self.name!r} cannot be a model id (no spaces, '@' or '#'); pass another name")
        self._lock = threading.Lock()  # one load at a time
        self.reload_error: str | None = None
        self._failed: str | None = None  # the version whose load failed, not retried until `current` moves again
        self._loaded = self._load_version(self.target())

    @property
    def current(self) -> Loaded:
        """The loaded version; take it once per request."""
        return self._loaded

    def target(self) -> str:
        """The version the store's `current` names now (the fixed version for a version directory)."""
        return self.store.current_version() if self.store else self.path.resolve().name

    def stale(self) -> bool:
        """True when `current` names a version other than the loaded one (and it has not already failed)."""
        if self.store is None:
            return False
        try:
            target = self.target()
        except OSError:  # the link is being replaced right now: look again next time
            return False
        return target != self._loaded.version and target != self._failed

    def reload(self, force: bool = False) -> bool:
        """Load the version `current` names if it is not the loaded one (blocking; seconds for a real model).

        Returns True when a new version was swapped in. A failed load keeps the loaded version serving and is
        reported in `reload_error` (and retried only when `current` moves again, or with `force`).
        """
        with self._lock:
            if self.store is None:
                return False
            target = self.target()
            if target == self._loaded.version or (target == self._failed and not force):
                return False
            try:
                loaded = self._load_version(target)
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old version serving
                self._failed, self.reload_error = target, f"{target}: {exc}"
                log.error("could not load version %s of %s; still serving %s: %s", target, self.name,
                          self._loaded.version, exc)
                return False
            previous, self._loaded = self._loaded.version, loaded
            self._failed = self.reload_error = None
            log.info("memory %s: now serving %s (was %s)", self.name, target, previous)
            return True

    def _load_version(self, version: str) -> Loaded:
        directory = self.store.path_of(version) if self.store else self.path
        return Loaded(self.name, version, self._load(directory))

    def info(self) -> dict[str, Any]:
        """What `memory_info` reports: name, version, base, documents, training figures and lineage size."""
        loaded = self._loaded
        manifest = loaded.manifest
        training = manifest.get("training", {})
        metrics = manifest.get("metrics") or []
        best = training.get("best_epoch")
        reflections = loaded.memory.path / REFLECTIONS_FILE
        rows = read_jsonl(reflections) if reflections.is_file() else []
        documents = sorted({d for r in rows for d in (r.get("doc_ids") or [])})
        return {
            "name": loaded.name,
            "version": loaded.version,
            "versions": self.store.versions() if self.store else [loaded.version],
            "kind": manifest.get("kind"),
            "base": manifest.get("base", {}).get("spec"),
            "created": manifest.get("created"),
            "documents": {"count": len(documents), "ids": documents},
            "reflections": manifest.get("reflections", {}).get("count"),
            "training": {
                key: training.get(key) for key in
                ("method", "learning_rate", "epochs_run", "best_epoch", "optimizer_steps", "examples",
                 "synthetic_abstentions", "device", "wall_seconds")
            } | {"best_metrics": metrics[best - 1] if best and len(metrics) >= best else None},
            "updates": len(manifest.get("lineage") or []),
        }
