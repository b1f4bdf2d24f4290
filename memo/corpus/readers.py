"""Files to text: what each corpus loader reads, and why a file is not read.

Every reader takes a file's bytes and returns its text, or raises `Unreadable` with a one-line reason that
`load_corpus` lists in `Corpus.skipped`. Suffixes are matched case-insensitively (`NOTES.TXT`, `Report.PDF`).

| suffix | reader |
|---|---|
| .txt .md .markdown | text; encoding detected (BOM, UTF-8, else charset-normalizer) |
| .html .htm .xhtml | HTML to Markdown-like text with html2text (scripts, styles and images dropped) |
| .pdf | the text layer of each page with pypdf (scanned pages without one are reported) |
| .docx | Word to HTML with mammoth, then html2text |
| .jsonl .json | records; see `memo.corpus.load_corpus` |

Converters: pypdf, html2text and mammoth are small pure-Python packages (about 2.5 MB together, no model
files, nothing fetched at run time); see docs/CORPUS.md for why they were chosen over markitdown and trafilatura.
"""

from __future__ import annotations

import io
import unicodedata
from typing import Callable

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
DATA_SUFFIXES = (".jsonl", ".json")
#: Formats users often keep next to their documents that no reader here understands, with what to do instead.
UNSUPPORTED_HINTS = {
    ".doc": "legacy Word format: save it as .docx or .pdf",
    ".odt": "OpenDocument text: save it as .docx, .pdf or .txt",
    ".rtf": "RTF: save it as .docx, .pdf or .txt",
    ".pptx": "slides are not read: export them as .pdf",
    ".xlsx": "spreadsheets are not read: export the text as .csv/.txt or JSONL records",
    ".epub": "e-books are not read: convert to .html, .pdf or .txt",
}
#: Share of control characters (other than tab, newline, carriage return, form feed) above which decoded
#: bytes are taken for binary data rather than text.
MAX_CONTROL_SHARE = 0.01


class Unreadable(Exception):
    """A file (or record) that yields no text; the message is the reason listed in `Corpus.skipped`."""


def _controls(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """(text, warning) for the bytes of a text file; raises Unreadable for empty or binary data.

    Order: a byte-order mark (UTF-8/16/32), then strict UTF-8 (most files), then charset-normalizer's detection
    (Windows-1252, Latin-9, Shift-JIS, GB18030, UTF-16 without BOM...). When several single-byte code pages tie,
    Windows-1252 wins (the WHATWG Encoding Standard decodes even "latin-1" labels as windows-1252), so curly
    quotes, dashes and the euro sign come out right instead of as invisible C1 control characters. The warning
    names the encoding whenever it was not UTF-8.
    """
    if not raw.strip(b" \t\r\n\f\x00"):
        raise Unreadable("empty")
    text, encoding = None, None
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            try:
                text, encoding = raw.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise Unreadable(f"undecodable: starts with a {codec} byte-order mark but is not {codec} ({exc.reason})")
            break
    if text is None and b"\x00" not in raw:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    if text is None:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(raw))
        if not matches:
            raise Unreadable("binary (no text encoding fits these bytes)")
        best = matches[0]
        tied = [m for m in matches if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.05]
        if any("cp1252" in m.could_be_from_charset for m in tied):
            try:
                text, encoding = raw.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                pass
        if text is None:
            text, encoding = str(best), best.encoding
    text = text.replace("\r\n", "\n")
    controls = _controls(text)
    if controls > MAX_CONTROL_SHARE * len(text):
        raise Unreadable(f"binary ({controls / len(text):.0%} control characters once decoded as {encoding})")
    if not text.strip():
        raise Unreadable("empty")
    warning = None
    if controls:  # a few stray control characters in otherwise good text: dropped, and said so
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch in "\n\r\t\f")
        warning = f"{controls} control character(s) removed"
    if encoding not in ("utf-8", "utf-8-sig"):
        note = f"not UTF-8: decoded as {encoding}"
        warning = f"{note}; {warning}" if warning else note
    return text, warning


def html_to_text(html: str) -> str:
    """HTML (or XHTML) as Markdown-like plain text: headings, paragraphs, lists and tables kept, link targets,
    images, scripts and styles dropped (html2text)."""
    import html2text

    h = html2text.HTML2Text()
    h.body_width = 0  # no hard wrapping: sentences stay on one line
    h.ignore_images = True
    h.ignore_links = True  # keep the link text, drop the URL
    h.ignore_emphasis = True
    h.unicode_snob = True  # real characters instead of ASCII approximations
    return h.handle(html)


def read_html(raw: bytes) -> tuple[str, str | None]:
    text, warning = decode_text(raw)
    return html_to_text(text), warning


def read_pdf(raw: bytes) -> tuple[str, str | None]:
    """The text layer of every page (pypdf). Encrypted PDFs are opened with the empty password when allowed."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted PDF (needs a password): save a decrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged files; the file is skipped, not fatal
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    empty = sum(1 for p in pages if not p.strip())
    if empty == len(pages):
        raise Unreadable(f"PDF without a text layer ({len(pages)} page(s) of images?): run OCR on it first")
    warning = f"{empty} of {len(pages)} PDF pages have no text layer" if empty else None
    return "\n\n".join(p.strip() for p in pages if p.strip()), warning


def read_docx(raw: bytes) -> tuple[str, str | None]:
    """A Word document's body (mammoth to HTML, then html2text); messages about unknown styles are ignored."""
    import zipfile

    import mammoth

    try:
        result = mammoth.convert_to_html(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(f"not a readable DOCX ({type(exc).__name__}: {exc})") from exc
    return html_to_text(result.value), None


READERS: dict[str, Callable[[bytes], tuple[str, str | None]]] = {
    **{s: decode_text for s in TEXT_SUFFIXES},
    **{s: read_html for s in HTML_SUFFIXES},
    ".pdf": read_pdf,
    ".docx": read_docx,
}


def unsupported_reason(suffix: str) -> str:
    suffix = suffix.lower()
    hint = UNSUPPORTED_HINTS.get(suffix)
    kind = f"unsupported file type {suffix or '(no suffix)'}"
    readable = ", ".join(sorted(set(READERS) | set(DATA_SUFFIXES)))
    return f"{kind} ({hint})" if hint else f"{kind} (read: {readable})"
