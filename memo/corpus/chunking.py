"""Sentences and token-bounded chunks, in any script.

Chunks pack whole sentences up to the token limit and repeat the previous chunk's last sentences as overlap. A
sentence longer than the limit (Chinese or Japanese text whose sentence ends the splitter missed, a URL, a
base64 blob, a table row) is cut by semchunk (token-aware: it tries paragraph, line, sentence, clause and word
boundaries, then characters), so every chunk holds at most `chunk_tokens` tokens as the given counter counts
them, whatever the script.
"""

from __future__ import annotations

import re
from typing import Callable

#: Sentence ends that need whitespace after them (Latin, Greek, Cyrillic, Arabic, Devanagari scripts).
_SPACED_ENDS = ".!?\u061f\u06d4\u0964\u0965"
#: Full-width sentence ends (Chinese, Japanese) that need no space after them.
_FULLWIDTH_ENDS = "\u3002\uff01\uff1f\uff61\uff0e"
_CLOSERS = "\"')]\u201d\u2019\u00bb\u300d\u300f\uff09"
_OPENERS = "\"'([\u201c\u2018\u00ab\u300c\u300e\uff08"
_SENT_END = re.compile(
    rf"(?<=[{re.escape(_SPACED_ENDS)}])[{re.escape(_CLOSERS)}]*\s+"
    rf"|(?<=[{re.escape(_FULLWIDTH_ENDS)}])[{re.escape(_CLOSERS)}]*\s*"
)
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Mt|No|vs|e\.g|i\.e|etc|U\.S|Inc|Ltd|Co|Capt|Gen|Col|Lt|Sgt|"
                     r"Rev|Gov|Sen|Fr|Ave|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$")


def _starts_sentence(rest: str) -> bool:
    """After a spaced sentence end: the next sentence starts with anything but a lower-case letter (capitals,
    digits, and letters of scripts without case all start sentences)."""
    rest = rest.lstrip(_OPENERS)
    return bool(rest) and not rest[0].islower()


def split_sentences(text: str) -> list[str]:
    """Rule-based sentence split (no model download): paragraphs first, then sentence ends in any script.

    Survives common abbreviations ("Dr. Kell") and initials ("J. R. Tolkien"); full-width ends (。！？) split
    without a following space.
    """
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        start = 0
        for m in _SENT_END.finditer(para):
            if m.end() >= len(para):
                break
            piece = para[start : m.start()].strip()
            spaced = para[m.start() - 1] in _SPACED_ENDS
            if spaced and not _starts_sentence(para[m.end() :]):
                continue
            if spaced and (_ABBREV.search(piece.split(" ")[-1] if piece else "") or re.search(r"\b[A-Z]\.$", piece)):
                continue  # "Dr. Kell", "J. R. Tolkien": not a sentence end
            if piece:
                out.append(piece + para[m.start() : m.end()].strip())
            start = m.end()
        tail = para[start:].strip()
        if tail:
            out.append(tail)
    return [s.strip() for s in out if s.strip()]


def join_sentences(parts: list[str]) -> str:
    """Sentences back into text: a space between them, none after a full-width sentence end."""
    text = ""
    for part in parts:
        if text and not (text[-1] in _FULLWIDTH_ENDS or text[-1] in _CLOSERS and text.rstrip(_CLOSERS)[-1:] in _FULLWIDTH_ENDS):
            text += " "
        text += part
    return text


def split_long(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """`text` cut into pieces of at most `limit` tokens at the most meaningful boundary available (semchunk)."""
    import semchunk

    return [p for p in semchunk.chunk(text, chunk_size=limit, token_counter=count_tokens, memoize=False) if p.strip()]


def pack_chunks(sentences: list[str], count_tokens: Callable[[str], int], chunk_tokens: int,
                overlap_tokens: int) -> list[str]:
    """Texts of at most `chunk_tokens` tokens (counted on the joined text, so separators count too), each
    starting with the previous one's last sentences up to `overlap_tokens`."""
    pieces: list[tuple[str, int]] = []
    for sent in sentences:
        n = count_tokens(sent)
        if n <= chunk_tokens:
            pieces.append((sent, n))
        else:
            pieces += [(p, count_tokens(p)) for p in split_long(sent, count_tokens, chunk_tokens)]
    texts: list[str] = []
    cur: list[tuple[str, int]] = []
    for piece in pieces:
        if cur and count_tokens(join_sentences([s for s, _ in cur] + [piece[0]])) > chunk_tokens:
            texts.append(join_sentences([s for s, _ in cur]))
            carry: list[tuple[str, int]] = []
            for s, n in reversed(cur):
                if sum(m for _, m in carry) + n > overlap_tokens:
                    break
                carry.insert(0, (s, n))
            # The overlap gives way to the new sentence: drop carried sentences until both fit together.
            while carry and count_tokens(join_sentences([s for s, _ in carry] + [piece[0]])) > chunk_tokens:
                carry.pop(0)
            cur = carry
        cur.append(piece)
    if cur:
        texts.append(join_sentences([s for s, _ in cur]))
    return texts
