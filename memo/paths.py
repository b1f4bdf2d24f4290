"""Where memo keeps its files, and how it writes them without ever leaving half a file behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def memo_home() -> Path:
    """MEMO_HOME, default ~/.cache/memo: the embedded model's safetensors and the default response cache."""
    return Path(os.environ.get("MEMO_HOME") or Path.home() / ".cache" / "memo").expanduser()


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it: set and restore, once, at import (not thread-safe later)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
FILE_MODE = 0o666 & ~_UMASK  # what open(path, "w") would give a new file
DIR_MODE = 0o777 & ~_UMASK  # what mkdir would give a new folder (mkdtemp gives 0700)


def temporary_dir(parent: Path, prefix: str) -> Path:
    """A new empty folder in `parent` (tempfile.mkdtemp) with a plain folder's permissions, not owner-only."""
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    os.chmod(tmp, DIR_MODE)
    return tmp


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: readers see the old file or the
    new one, never half of one. The file gets the permissions a plain `open(path, "w")` would (0666 less the
    umask), not mkstemp's owner-only 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[Any]:
    """Every non-blank line of a JSONL file our own stages wrote (user input gets line-numbered errors instead)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def atomic_write_jsonl(path: str | Path, rows: Any) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def check_writable_dir(target: str | Path, marker: str | None = None,
                       manifest_format: str | None = None) -> Path:
    """Check, before any work, that `atomic_dir` may write the directory `target`; returns it resolved.

    `target` may be absent, an empty directory, or a directory holding the file `marker` (the artifact's own
    manifest: an earlier run's output, which is replaced). With `manifest_format`, the marker must also be a JSON
    object whose "format" is `manifest_format` ("memo-reflections/1"): a folder that merely holds a file of the
    same name (a web app's or a dataset's `manifest.json`) is not an earlier output. Anything else is refused, so
    that an output path pointing at a file, at the corpus or at a folder of other files never deletes them.

    Raises:
        FileExistsError: `target` is a file, or a non-empty directory without `marker` (of `manifest_format`).
        PermissionError: the directory that would hold `target` cannot be created or written.
    """
    target = Path(target).expanduser().resolve()
    if target.is_file() or (target.is_dir() and any(target.iterdir())
                            and not _is_output(target, marker, manifest_format)):
        what = "a file" if target.is_file() else "a folder of other files" + (
            f" (no {marker}{f' of format {manifest_format}' if manifest_format else ''})" if marker else "")
        raise FileExistsError(f"{target} is {what}; choose a new output path or remove it first")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"cannot create the output folder {target.parent}: {exc.strerror or exc}") from exc
    try:  # what atomic_dir will do there, tried now
        os.rmdir(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.check-"))
    except OSError as exc:
        raise PermissionError(f"cannot write to {target.parent}: {exc.strerror or exc}") from exc
    return target


def read_manifest_format(manifest: str | Path) -> str | None:
    """The "format" string of the JSON manifest file `manifest` ("memo-reflections/1"); None when the file is
    missing or unreadable, or is not a JSON object with a string "format"."""
    try:
        data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    fmt = data.get("format") if isinstance(data, dict) else None
    return fmt if isinstance(fmt, str) else None


def _is_output(folder: Path, marker: str | None, expected: str | None) -> bool:
    """Whether `folder` holds `marker`, and (with `expected`) the marker is a JSON manifest of that format."""
    if not marker or not (folder / marker).is_file():
        return False
    return expected is None or read_manifest_format(folder / marker) == expected


@contextmanager
def atomic_dir(target: str | Path, marker: str | None = None, manifest_format: str | None = None) -> Iterator[Path]:
    """Build a directory in a temporary sibling and move it into place only when the block succeeds.

    An existing `target` is replaced only when `check_writable_dir(target, marker, manifest_format)` allows it
    (empty, or an earlier output holding `marker` of `manifest_format`); on any failure it is left untouched and
    the partial build removed.
    """
    target = check_writable_dir(target, marker, manifest_format)
    tmp = temporary_dir(target.parent, f".{target.name}.tmp-")
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
