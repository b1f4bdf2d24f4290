"""Stage 0: load a corpus from disk into documents and token-bounded chunks with stable content-hash ids.

Accepted inputs: a directory of `.txt` / `.md` files (plus any `.jsonl` / `.json` inside it), a JSONL file
(`{"id"?, "title"?, "text", "date"?}` per line), or a JSON file in the HippoRAG / MuSiQue layout (a list of
questions each with `paragraphs: [{title, paragraph_text}]`, loaded as the deduplicated union of paragraphs; a
plain list of `{title?, text}` works too). Unusable documents are skipped and listed, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

TEXT_SUFFIXES = {".txt", ".md"}
DATA_SUFFIXES = {".jsonl", ".json"}


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

    def records(self) -> list[dict]:
        """The `corpus.jsonl` rows: documents then chunks, so any provenance id can be resolved."""
        return [{"type": "document", **asdict(d)} for d in self.documents] + [
            {"type": "chunk", **asdict(c)} for c in self.chunks
        ]


def content_id(*parts: str, prefix: str = "") -> str:
    return prefix + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Mt|No|vs|e\.g|i\.e|etc|U\.S|Inc|Ltd|Co)\.$")


def split_sentences(text: str) -> list[str]:
    """Rule-based sentence split that survives common abbreviations (no model download)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        start = 0
        for m in _SENT_END.finditer(para):
            piece = para[start : m.start()].strip()
            if _ABBREV.search(piece.split(" ")[-1] if piece else "") or re.search(r"\b[A-Z]\.$", piece):
                continue  # "Dr. Kell", "J. R. Tolkien": not a sentence end
            if piece:
                out.append(piece + para[m.start() : m.end()].strip())
            start = m.end()
        tail = para[start:].strip()
        if tail:
            out.append(tail)
    return [s.strip() for s in out if s.strip()]


def default_token_counter() -> Callable[[str], int]:
    """Token counts with the embedded model's tokenizer (the default generator and memory base)."""
    from transformers import AutoTokenizer

    from ..llm.embedded import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def chunk_document(doc: Document, count_tokens: Callable[[str], int], chunk_tokens: int = 256,
                   overlap_tokens: int = 32) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `chunk_tokens`; each chunk repeats the previous chunk's last
    sentences up to `overlap_tokens`, so a fact that straddles a boundary is seen whole at least once."""
    if chunk_tokens <= 0 or overlap_tokens < 0 or overlap_tokens >= chunk_tokens:
        raise ValueError("chunking needs chunk_tokens > 0 and 0 <= overlap_tokens < chunk_tokens")
    pieces: list[tuple[str, int]] = []
    for sent in split_sentences(doc.text):
        n = count_tokens(sent)
        if n <= chunk_tokens:
            pieces.append((sent, n))
            continue
        words, cur = sent.split(), []
        for w in words:  # an over-long sentence is cut by words
            if cur and count_tokens(" ".join(cur + [w])) > chunk_tokens:
                pieces.append((" ".join(cur), count_tokens(" ".join(cur))))
                cur = []
            cur.append(w)
        if cur:
            pieces.append((" ".join(cur), count_tokens(" ".join(cur))))
    texts: list[str] = []
    cur: list[tuple[str, int]] = []
    for piece in pieces:
        if cur and sum(n for _, n in cur) + piece[1] > chunk_tokens:
            texts.append(" ".join(s for s, _ in cur))
            carry: list[tuple[str, int]] = []
            for s, n in reversed(cur):
                if sum(m for _, m in carry) + n > overlap_tokens or sum(m for _, m in carry) + n + piece[1] > chunk_tokens:
                    break
                carry.insert(0, (s, n))
            cur = carry
        cur.append(piece)
    if cur:
        texts.append(" ".join(s for s, _ in cur))
    return [Chunk(content_id(doc.id, str(i), t, prefix="c-"), doc.id, i, t) for i, t in enumerate(texts)]


def _decode(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(text, warning, skip reason)."""
    if not raw.strip():
        return None, None, "empty"
    if b"\x00" in raw[:8192]:
        return None, None, "binary (NUL bytes)"
    try:
        return raw.decode("utf-8-sig"), None, None
    except UnicodeDecodeError:
        pass
    text = raw.decode("latin-1")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > len(text) * 0.01:
        return None, None, "undecodable (not UTF-8 and not Latin-1 text)"
    return text, "not UTF-8: decoded as Latin-1", None


def _make_doc(text: str, title: str = "", date: str | None = None, source: str = "", doc_id: str | None = None) -> Document:
    text = text.strip()
    return Document(doc_id or content_id(title, text, prefix="d-"), text, title, date, source)


def _json_records(path: Path, text: str) -> Iterable[tuple[dict, str]]:
    """(record, source label) pairs from a JSONL or JSON file."""
    if path.suffix == ".jsonl":
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
    try:
        raw = path.read_bytes()
    except OSError as exc:
        skipped.append({"source": str(path), "reason": f"unreadable ({exc.strerror or exc})"})
        return []
    text, warning, reason = _decode(raw)
    if reason:
        skipped.append({"source": str(path), "reason": reason})
        return []
    if warning:
        warnings.append({"source": str(path), "warning": warning})
    if path.suffix.lower() in TEXT_SUFFIXES:
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
    """Documents (deduplicated by id) and their chunks from a file or directory. Raises CorpusError when the
    path is missing or yields no usable document; bad individual documents are listed in `skipped`."""
    root = Path(path).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus path {root} does not exist")
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES | DATA_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
    else:
        files = [root]
    skipped: list[dict] = []
    warnings: list[dict] = []
    docs: dict[str, Document] = {}
    for f in files:
        if f.suffix.lower() not in TEXT_SUFFIXES | DATA_SUFFIXES:
            skipped.append({"source": str(f), "reason": f"unsupported file type {f.suffix or '(none)'}"})
            continue
        for d in _docs_from_file(f, skipped, warnings):
            docs.setdefault(d.id, d)  # the same paragraph in several MuSiQue questions counts once
    if not docs:
        detail = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped[:5])
        raise CorpusError(f"no usable documents in {root}" + (f" ({detail})" if detail else ""))
    count_tokens = count_tokens or default_token_counter()
    documents = list(docs.values())
    chunks = [c for d in documents for c in chunk_document(d, count_tokens, chunk_tokens, overlap_tokens)]
    return Corpus(documents, chunks, skipped, warnings)


__all__ = ["Chunk", "Corpus", "CorpusError", "Document", "chunk_document", "content_id", "load_corpus",
           "split_sentences"]
