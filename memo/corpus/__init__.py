"""Stage 0: load a corpus from disk into documents and token-bounded chunks with stable content-hash ids.

Accepted inputs (docs/CORPUS.md): a directory of documents (`.txt`, `.md`, `.html`, `.pdf`, `.docx`, plus any
`.jsonl` / `.json` inside it; suffixes in any case), a single such file, a JSONL file (`{"id"?, "title"?, "text",
"date"?}` per line), or a JSON file in the HippoRAG / MuSiQue layout (a list of questions each with
`paragraphs: [{title, paragraph_text}]`, loaded as the deduplicated union of paragraphs; a plain list of
`{title?, text}` works too). Every file or record that is not read is listed in `Corpus.skipped` with its reason,
never fatal; `Corpus.warnings` lists what was read with a caveat (a legacy encoding, pages without text).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..paths import read_manifest_format
from .chunking import pack_chunks, split_sentences
from .readers import DATA_SUFFIXES, READERS, Unreadable, decode_text, unsupported_reason


class CorpusError(ValueError):
    """The corpus as a whole cannot be used (missing path, nothing readable in it)."""


@dataclass
class Document:
    id: str
    text: str
    title: str = ""
    date: str | None = None
    source: str = ""


@dataclass
class Chunk:
    id: str
    doc_id: str
    index: int
    text: str


@dataclass
class Corpus:
    documents: list[Document]
    chunks: list[Chunk]
    skipped: list[dict] = field(default_factory=list)  # {"source", "reason"}
    warnings: list[dict] = field(default_factory=list)  # {"source", "warning"}

    def doc(self, doc_id: str) -> Document:
        return self._docs[doc_id]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.doc_id == doc_id]

    def __post_init__(self) -> None:
        self._docs = {d.id: d for d in self.documents}

    @property
    def hash(self) -> str:
        """Fingerprint of the chunked corpus: changes with any text, id or chunking change."""
        h = hashlib.sha256()
        for c in self.chunks:
            h.update(f"{c.id}\n{c.doc_id}\n".encode())
        return h.hexdigest()[:16]

    def documents_without(self, doc_ids: Iterable[str]) -> list[dict]:
        """The documents not in `doc_ids` (e.g. those no reflection comes from), in corpus order, as
        `{"id", "title", "source", "chunks"}` rows for a manifest or a report."""
        reached = set(doc_ids)
        return [{"id": d.id, "title": d.title, "source": d.source, "chunks": len(self.chunks_of(d.id))}
                for d in self.documents if d.id not in reached]

    def records(self) -> list[dict]:
        """The `corpus.jsonl` rows: documents then chunks, so any provenance id can be resolved."""
        return [{"type": "document", **asdict(d)} for d in self.documents] + [
            {"type": "chunk", **asdict(c)} for c in self.chunks
        ]


def content_id(*parts: str, prefix: str = "") -> str:
    return prefix + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def default_token_counter() -> Callable[[str], int]:
    """Token counts with the embedded model's tokenizer (the default generator and memory base)."""
    from transformers import AutoTokenizer

    from ..llm.embedded import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def chunk_document(doc: Document, count_tokens: Callable[[str], int], chunk_tokens: int = 256,
                   overlap_tokens: int = 32) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `chunk_tokens` tokens; each chunk repeats the previous chunk's
    last sentences up to `overlap_tokens`, so a fact that straddles a boundary is seen whole at least once.
    Sentences longer than a chunk are cut token-aware (`memo.corpus.chunking`), so the limit holds in any
    script. ValueError for a limit that cannot work."""
    if chunk_tokens <= 0 or overlap_tokens < 0 or overlap_tokens >= chunk_tokens:
        raise ValueError("chunking needs chunk_tokens > 0 and 0 <= overlap_tokens < chunk_tokens")
    texts = pack_chunks(split_sentences(doc.text), count_tokens, chunk_tokens, overlap_tokens)
    return [Chunk(content_id(doc.id, str(i), t, prefix="c-"), doc.id, i, t) for i, t in enumerate(texts)]


def _make_doc(text: str, title: str = "", date: str | None = None, source: str = "", doc_id: str | None = None) -> Document:
    text = text.strip()
    return Document(doc_id or content_id(title, text, prefix="d-"), text, title, date, source)


def _json_records(path: Path, text: str) -> Iterable[tuple[dict, str]]:
    """(record, source label) pairs from a JSONL or JSON file."""
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line), f"{path}:{n}"
                except json.JSONDecodeError as exc:
                    yield {"__error__": f"invalid JSON ({exc.msg})"}, f"{path}:{n}"
        return
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    for n, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("paragraphs"), list):  # MuSiQue / HippoRAG questions
            for p in item["paragraphs"]:
                if isinstance(p, dict):
                    yield {"title": p.get("title", ""), "text": p.get("paragraph_text", p.get("text", ""))}, f"{path}[{n}]"
        else:
            yield item, f"{path}[{n}]"


def _docs_from_file(path: Path, skipped: list[dict], warnings: list[dict]) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix not in READERS and suffix not in DATA_SUFFIXES:
        skipped.append({"source": str(path), "reason": unsupported_reason(suffix)})
        return []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        skipped.append({"source": str(path), "reason": f"unreadable ({exc.strerror or exc})"})
        return []
    try:
        text, warning = READERS.get(suffix, decode_text)(raw)
    except Unreadable as exc:
        skipped.append({"source": str(path), "reason": str(exc)})
        return []
    if warning:
        warnings.append({"source": str(path), "warning": warning})
    if suffix not in DATA_SUFFIXES:
        if not text.strip():
            skipped.append({"source": str(path), "reason": "empty (no text once converted)"})
            return []
        return [_make_doc(text, title=path.stem, source=str(path))]
    docs = []
    try:
        for rec, source in _json_records(path, text):
            if not isinstance(rec, dict) or "__error__" in rec:
                skipped.append({"source": source, "reason": rec.get("__error__", "not a JSON object") if isinstance(rec, dict) else "not a JSON object"})
            elif not isinstance(rec.get("text"), str) or not rec["text"].strip():
                skipped.append({"source": source, "reason": "empty (no text)"})
            else:
                docs.append(_make_doc(rec["text"], str(rec.get("title") or ""), rec.get("date"), source,
                                      str(rec["id"]) if rec.get("id") is not None else None))
    except json.JSONDecodeError as exc:
        skipped.append({"source": str(path), "reason": f"invalid JSON ({exc.msg})"})
    return docs


def load_corpus(path: str | Path, chunk_tokens: int = 256, overlap_tokens: int = 32,
                count_tokens: Callable[[str], int] | None = None) -> Corpus:
    """Read a corpus from disk: its documents (deduplicated by id) and their token-bounded chunks.

    Parameters:
        path: a directory (read recursively, files and folders whose name starts with "." left out, suffixes in
            any case; a folder below it that holds this project's output, a `manifest.json` whose "format" starts
            with "memo-", is left out and listed once in `skipped`), a single document file, a JSONL file or a
            JSON file (formats: module docstring and docs/CORPUS.md). `~` is expanded.
        chunk_tokens: the most tokens one chunk holds (default 256), counted with `count_tokens`.
        overlap_tokens: tokens of whole sentences a chunk repeats from the end of the previous one (default 32);
            0 <= overlap_tokens < chunk_tokens.
        count_tokens: text -> number of tokens; default the embedded model's tokenizer (SmolLM2-135M-Instruct,
            `default_token_counter`), which is loaded, and materialised on first use, only when this is None.

    Returns a `Corpus` with `documents` (`Document`: `id` ("d-" + 12 hex digits of the sha256 of title and text,
    or the record's own "id"), `text`, `title` (file stem or record title), `date` (a record's "date" or None),
    `source` (file path, "path:line" for JSONL, "path[index]" for JSON)), `chunks` (`Chunk`: `id` ("c-" + 12
    hex digits of a content hash), `doc_id`, `index` within the document, `text`), `skipped` (every file or
    record not read, as `{"source", "reason"}`; never fatal) and `warnings` (files read with a caveat, as
    `{"source", "warning"}`).
    Documents with the same id count once, the first read being kept: copies with the same title and text (the
    same MuSiQue paragraph under several questions) are dropped silently, as content-hash ids merge them; a record
    whose own "id" is already taken by a document of other title or text is listed in `skipped` ("duplicate id").

    Raises CorpusError (a ValueError) when `path` does not exist or yields no usable document (the message gives
    the first five reasons), ValueError when `chunk_tokens` / `overlap_tokens` cannot work (checked once documents
    are read), and LLMError (memo.llm) when `count_tokens` is None and the embedded model is not installed.
    Sentence splitting and packing: `memo.corpus.chunking`; file readers (charset-normalizer, html2text, pypdf,
    mammoth): `memo.corpus.readers`.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus path {root} does not exist")
    skipped: list[dict] = []
    if root.is_dir():  # hidden files and folders (.git, .DS_Store) are not documents
        files = sorted(p for p in root.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        outputs = {m.parent: f for m in files if m.name == "manifest.json" and m.parent != root
                   and (f := read_manifest_format(m) or "").startswith("memo-")}  # reflections written into it, say
        skipped += [{"source": str(d), "reason": f"output of memo ({f}), not documents"}
                    for d, f in outputs.items()]
        files = [p for p in files if not any(d in p.parents for d in outputs)]
    else:
        files = [root]
    warnings: list[dict] = []
    docs: dict[str, Document] = {}
    for f in files:
        for d in _docs_from_file(f, skipped, warnings):
            first = docs.setdefault(d.id, d)  # the same paragraph in several MuSiQue questions counts once
            if (first.title, first.text) != (d.title, d.text):  # only a record's own "id" can collide so
                skipped.append({"source": d.source, "reason": f"duplicate id {d.id!r} (already used by "
                                                              f"{first.source}, with another title or text)"})
    if not docs:
        detail = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped[:5])
        if len(skipped) > 5:
            detail += f"; and {len(skipped) - 5} more"
        raise CorpusError(f"no usable documents in {root} ({detail or 'it holds no files'})")
    count_tokens = count_tokens or default_token_counter()
    documents = list(docs.values())
    chunks = [c for d in documents for c in chunk_document(d, count_tokens, chunk_tokens, overlap_tokens)]
    return Corpus(documents, chunks, skipped, warnings)


__all__ = ["Chunk", "Corpus", "CorpusError", "Document", "chunk_document", "content_id", "load_corpus",
           "split_sentences"]
