"""Versions of a memory: list them with lineage, check they are intact, switch back to an earlier one."""

from __future__ import annotations

import json
from pathlib import Path

from ..memory.artifact import verify_artifact
from ..formats import MEMORY_MANIFEST as MANIFEST, RETENTION_FILE as RETENTION
from ..memory.store import MemoryStore


def open_store(memory: str | Path) -> MemoryStore:
    store = MemoryStore(memory)
    if not store.exists():
        raise FileNotFoundError(f"{memory} is not a memory store (no versions/ or current); build one with `memo train`")
    return store


def list_versions(memory: str | Path) -> list[dict]:
    """One row per version, oldest first: name, current?, created, kind, reflections, last lineage step, retention."""
    store = open_store(memory)
    try:
        current = store.current_version()
    except FileNotFoundError:
        current = None
    rows = []
    for name in store.versions():
        path = store.versions_dir / name
        manifest = json.loads((path / MANIFEST).read_text())
        lineage = manifest.get("lineage") or []
        step = lineage[-1] if lineage else {}
        retention = json.loads((path / RETENTION).read_text()) if (path / RETENTION).is_file() else None
        rows.append({
            "version": name,
            "current": name == current,
            "created": manifest.get("created"),
            "kind": manifest.get("kind"),
            "reflections": (manifest.get("reflections") or {}).get("count"),
            "method": step.get("method", "train"),
            "parents": step.get("parents", []),
            "params": step.get("params", {}),
            "documents_added": step.get("documents_added", []),
            "metrics": manifest.get("metrics") or {},
            "retention": retention.get("summary") if retention else None,
        })
    return rows


def rollback(memory: str | Path, version: str) -> Path:
    """Make `version` current again, after checking its files are byte-identical to when it was written.

    Versions are immutable, so this only moves the `current` pointer (atomically); no version is deleted and
    rolling forward again is another rollback.

    version: a version name ("v0001") or its number ("1"). Raises FileNotFoundError when `memory` is not a store
    or has no such version (the message lists its versions), ValueError when `version` is neither a name nor a
    number, CorruptMemoryError when a file of the version changed since it was written.
    """
    store = open_store(memory)
    if not version.startswith("v"):
        if not version.isdigit():
            raise ValueError(f"version {version!r} must look like v0001 or 1; {memory} has "
                             f"{', '.join(store.versions()) or 'none'}")
        version = f"v{int(version):04d}"
    path = store.path_of(version)
    verify_artifact(path)  # CorruptMemoryError if a file changed since the version was written
    store.set_current(version)
    return path
