"""A memory on disk: immutable versions and one atomically switched `current` pointer.

    mem/
      current -> versions/v0002     symlink; `AutoModelForCausalLM.from_pretrained("mem/current")` works
      versions/v0001/               a complete memory artifact (HF model dir + memo.json)
      versions/v0002/

A version is built in a temporary directory and renamed into place only when complete; `current` is replaced
with an atomic rename of a fresh symlink. A crash at any point leaves the previous current version intact.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..formats import MEMORY_MANIFEST as MANIFEST
from ..paths import atomic_dir

_VERSION = re.compile(r"^v(\d{4,})$")


class MemoryNotFoundError(FileNotFoundError):
    pass


class MemoryStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def exists(self) -> bool:
        return (self.root / "current").is_symlink() or self.versions_dir.is_dir()

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        names = [p.name for p in self.versions_dir.iterdir() if _VERSION.match(p.name) and (p / MANIFEST).exists()]
        return sorted(names, key=lambda n: int(n[1:]))

    def current_version(self) -> str:
        link = self.root / "current"
        if not link.is_symlink():
            raise MemoryNotFoundError(f"{self.root} is not a memory (no `current` version); build one with `memo train`")
        return Path(os.readlink(link)).name

    def current(self) -> Path:
        return self.versions_dir / self.current_version()

    def path_of(self, version: str) -> Path:
        if version not in self.versions():
            raise MemoryNotFoundError(f"{self.root} has no version {version!r}; it has {', '.join(self.versions()) or 'none'}")
        return self.versions_dir / version

    def next_version(self) -> str:
        existing = self.versions()
        return f"v{(int(existing[-1][1:]) + 1 if existing else 1):04d}"

    @contextmanager
    def new_version(self, make_current: bool = True) -> Iterator[Path]:
        """Yield an empty directory to build a version in; publish it only if the block succeeds."""
        name = self.next_version()
        with atomic_dir(self.versions_dir / name) as tmp:
            yield tmp
        if make_current:
            self.set_current(name)

    def set_current(self, version: str) -> None:
        self.path_of(version)
        tmp_link = self.root / f".current.tmp-{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        os.symlink(Path("versions") / version, tmp_link)
        os.replace(tmp_link, self.root / "current")


def resolve_artifact(path: str | Path) -> Path:
    """The artifact directory for a memory path: a store (its current version) or a version directory itself."""
    p = Path(path)
    if (p / MANIFEST).is_file():
        return p
    store = MemoryStore(p)
    if store.exists():
        return store.current()
    raise MemoryNotFoundError(f"no memory at {p}: expected a directory made by `memo train` (with {MANIFEST})")
