"""Text cleaning before fact extraction: markup, title lines, footnote marks and pronunciation brackets out.

`clean_document(text, title)` is a plain function of a document's text and title (no model), so the corpus loader
can call it too. What it removes never carries a fact a question should ask about; what carries facts is kept or
rewritten into a plain sentence ("X (born 1962 in Rome) is ..." -> "X is ... X was born 1962 in Rome.").
Conventions handled: CommonMark/GitHub Markdown (headings, emphasis, links, images, code, lists, block quotes,
tables, footnotes), HTML tags and entities, the typewriter quotes of tokenised corpora (``X'' -> "X"), and the
encyclopedia conventions of bracketed reference marks ("[1]", "[citation needed]") and pronunciation/foreign-name
glosses in parentheses ("(/ˈɪzreɪəl/; Hebrew: ...)").
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

_HTML_DROP = re.compile(r"<(script|style|ref|sup)\b[^>]*>.*?</\1\s*>|<ref\b[^>]*/>", re.I | re.S)
_HTML_BLOCK = re.compile(r"</?(p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|blockquote)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->", re.S)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1\s*$", re.M | re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE_DEF = re.compile(r"^\s*\[\^[^\]]+\]:.*$", re.M)
_REF_MARK = re.compile(r"\[\^[^\]]+\]|\[(\d{1,3}|[a-z]|note \d+|nb \d+|citation needed|clarification needed|"
                       r"when\?|who\?|according to whom\?|by whom\?|dubious[^\]]*|failed verification|"
                       r"verification needed|not in citation given|page needed|better source needed|"
                       r"[a-z ]{0,20}needed)\]", re.I)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\w)|"
                       r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)|`([^`\n]+)`")
_LIST = re.compile(r"^\s*([-*+]|\d{1,3}[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_RULE = re.compile(r"^\s*([-*_]\s*){3,}$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_IPA = re.compile(r"[\u0250-\u02AF\u02B0-\u02FF\u1D00-\u1DBF]|/[^/\s\d][^/\d]*/")  # not a date: 24/06/1987
_GLOSS = re.compile(r"^\s*(?:[A-Z][a-z]+(?: [A-Z][a-z]+)?(?: language)?|pronounced|listen|lit\.|literally)\s*[:;,]",
                    re.I)
_BORN = re.compile(r"^\s*(born|died|née|b\.|d\.)\s", re.I)
# A person's life dates in brackets, the convention of encyclopaedic lead sentences: "(3 May 1901 in Oderby – 1975)",
# "(c. 1474 – December 1557)": a year with an optional day and month, "c." when approximate, "in PLACE" or ", PLACE"
# after either.
_DATE = r"(?:c\.\s*)?(?:[A-Z][a-z]+\.?\s+)?(?:\d{1,2},?\s+)?(?:[A-Z][a-z]+\.?\s+)?\d{3,4}"
_PLACE = r"(?:(?:,?\s+in\s+|,\s+)(?P<{}>[A-Z][^–—]*?))?"  # "1850 in Oderby", "1850, Oderby"
LIFE_SPAN = re.compile(rf"^\s*(?P<born>{_DATE}){_PLACE.format('born_in')}\s*[–—-]\s*"
                       rf"(?P<died>{_DATE}){_PLACE.format('died_in')}\s*$")
# Typewriter quotes of tokenised corpora (Penn Treebank, LaTeX): ``Sea, Air, and Land ''Teams -> "Sea, Air, and
# Land" Teams
_TEX_QUOTE = re.compile(r"``\s*([^`'\n]*?(?:'(?!')[^`'\n]*?)*)\s*''(?=([\w(])?)")
_ALIAS = re.compile(r"^\s*(also|sometimes|formerly|originally|commonly|often|better)?\s*(known|called|named) as\s", re.I)


@dataclass
class CleanDocument:
    """A document ready for extraction: its main entity's name, a description from the title, and plain text."""

    title: str  # the main entity's name: "Tetris" for the title "Tetris (video game)"
    description: str  # the title's disambiguating note: "video game" (empty when none)
    text: str  # paragraphs separated by blank lines, one space between words, no markup


def _non_latin_share(s: str) -> float:
    letters = [c for c in s if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if not unicodedata.name(c, "").startswith("LATIN")) / len(letters)


def _drop_parenthetical(inner: str) -> bool:
    """Pronunciations, foreign-script names and language glosses: "(/ˈɪzreɪəl/; Hebrew: ...)", "(Italian: ...)"."""
    return bool(_IPA.search(inner) or _GLOSS.match(inner) or _non_latin_share(inner) > 0.3
                or re.fullmatch(r"\W*", inner))


def _bracket_sentence(subject: str, inner: str) -> str:
    """"Marie Curie" + "born 7 November 1867 in Warsaw" -> "Marie Curie was born on 7 November 1867 in
    Warsaw."; "also known as Madame Curie" -> "Marie Curie is also known as Madame Curie."."""
    inner = inner.strip().rstrip(";,")
    if _BORN.match(inner):
        verb = "died" if inner.lower().startswith(("died", "d.")) else "was born"
        rest = re.sub(r"^\s*(born|died|née|b\.|d\.)\s+", "", inner, flags=re.I)
        on = "on " if re.match(r"([A-Z][a-z]+ \d|\d{1,2} [A-Z])", rest) else ""
        return f"{subject} {verb} {on}{rest}."
    rest = re.sub(r"^(also|sometimes|formerly|originally|commonly|often|better)?\s*", "", inner, flags=re.I)
    return f"{subject} is also {rest}."


def _rewrite_parentheticals(text: str) -> str:
    """Remove pronunciation brackets; a birth/death or alias bracket right after a name becomes its own sentence,
    placed after the sentence it was in."""
    out: list[str] = []
    pending: list[str] = []  # sentences to add at the next sentence end
    i = depth = 0
    start = None
    for k, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = k
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                inner, before = text[start + 1 : k], text[i:start]
                name = re.search(r"((?:[A-Z][\w.'’-]*\s?){1,6})\s*$", before)
                if _drop_parenthetical(inner):  # a life span after a gloss stays: "(Hebrew: ...; 1901 – 1975)"
                    parts = [part.strip() for part in inner.split(";")[1:]]
                    span = [part for part in parts if LIFE_SPAN.match(part)]
                    out.append(before.rstrip() + (f" ({span[-1]})" if span else ""))
                    if name:  # and a birth or an alias after it is kept as above: "(/ˈvɛsnə/; born 1962 in Kaldera)"
                        pending += [_bracket_sentence(name.group(1).strip(), part) for part in parts
                                    if not _drop_parenthetical(part) and (_BORN.match(part) or _ALIAS.match(part))]
                    i = k + 1
                elif name and (_BORN.match(inner) or _ALIAS.match(inner)) and ";" not in inner:
                    pending.append(_bracket_sentence(name.group(1).strip(), inner))
                    out.append(before.rstrip())
                    i = k + 1
        elif pending and depth == 0 and ch in ".!?" and (k + 1 == len(text) or text[k + 1] == " ") \
                and not re.search(r"\b[A-Z][a-z]{0,2}$|\b[A-Z]$", text[i:k]):
            out.append(text[i : k + 1] + " " + " ".join(pending))
            pending = []
            i = k + 1
    out.append(text[i:])
    if pending:
        out.append(" ".join(pending))
    result = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(part.strip() for part in out if part.strip()))
    return re.sub(r"\s{2,}", " ", result)


def split_title(title: str) -> tuple[str, str]:
    """"Tetris (video game)" -> ("Tetris", "video game"); file-name titles made readable."""
    title = " ".join(title.replace("_", " ").split())
    m = re.match(r"^(.*?)\s*\(([^()]+)\)\s*$", title)
    if m and m.group(1):
        return m.group(1), m.group(2)
    return title, ""


def clean_document(text: str, title: str = "") -> CleanDocument:
    """Plain text and main-entity name for a document (see the module docstring for what is removed).

    The first Markdown heading (or an HTML <h1>/<title>, or a first line equal to `title`) becomes the title and
    leaves the text; other headings end a paragraph. `title` is used when the text has no heading.
    """
    heading = None
    m = re.search(r"<(title|h1)\b[^>]*>(.*?)</\1>", text, re.I | re.S)
    if m:
        heading = html.unescape(_HTML_TAG.sub("", m.group(2))).strip()
        text = text[: m.start()] + "\n\n" + text[m.end() :]
    text = _HTML_DROP.sub(" ", text)
    text = _HTML_BLOCK.sub("\n\n", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = _FENCE.sub("\n\n", text)
    text = _FOOTNOTE_DEF.sub("", text)
    paragraphs: list[list[str]] = [[]]
    lines = text.splitlines()
    for n, line in enumerate(lines):
        h = _HEADING.match(line)
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if h or (line.strip() and _SETEXT.match(nxt) and not _RULE.match(line)):
            name = (h.group(1) if h else line).strip()
            if heading is None and not any(paragraphs):
                heading = name
            paragraphs.append([])
            continue
        if _SETEXT.match(line) or _RULE.match(line) or _TABLE_SEP.match(line) or line.count("|") >= 2:
            paragraphs.append([])  # setext underline, rule or table row: not prose
            continue
        if not line.strip():
            paragraphs.append([])
            continue
        line = _QUOTE.sub("", line)
        bullet = _LIST.match(line)
        line = _LIST.sub("", line)
        if bullet:  # a list item is its own sentence
            paragraphs.append([])
            line = line.rstrip()
            if line and line[-1] not in ".!?:;":
                line += "."
        paragraphs[-1].append(line.strip())
    clean_title, description = split_title(heading or title)
    if not heading and clean_title:
        first = next((p for p in paragraphs if p), None)
        if first and len(first) >= 1 and split_title(first[0].rstrip("."))[0].lower() == clean_title.lower():
            first.pop(0)  # a plain first line repeating the title
    out = []
    for para in paragraphs:
        s = " ".join(para)
        s = _TEX_QUOTE.sub(lambda mm: f'"{mm.group(1)}"' + (" " if mm.group(2) else ""), s)
        s = _IMAGE.sub("", s)
        s = _REF_MARK.sub("", s)
        s = _LINK.sub(lambda mm: mm.group(1) or mm.group(2), s)
        for _ in range(2):  # nested emphasis
            s = _EMPHASIS.sub(lambda mm: next(g for g in mm.groups()[1:] if g is not None), s)
        s = re.sub(r"\^\w+", "", s)  # superscript footnote marks: "fact.^3"
        s = " ".join(s.split())
        if s:
            out.append(_rewrite_parentheticals(s))
    return CleanDocument(clean_title, description, "\n\n".join(out))
