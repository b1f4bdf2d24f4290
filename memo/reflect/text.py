"""Light text rules that need no model: named entities, sentence subjects, and the self-containment check.

The compact profile leans on these because a 135M generator cannot do them reliably; the full profile uses the
same self-containment rules before (and besides) asking the generator.
"""

from __future__ import annotations

import re

PRONOUNS = {"he", "she", "him", "his", "her", "hers", "they", "them", "their", "theirs", "it", "its"}
_SUBJECT_PRONOUNS = {"he", "she", "they", "it", "his", "her", "their", "its", "this", "these", "those"}
RELATIVE_TIME = re.compile(
    r"\b(yesterday|today|tomorrow|tonight|recently|currently|nowadays|(last|next|this|previous|coming) "
    r"(year|month|week|decade|century|spring|summer|autumn|fall|winter)|\d+ (years?|months?|weeks?|days?) (ago|later)"
    r"|years? ago|ago)\b", re.I)
DOC_REFERENCE = re.compile(
    r"\b(the|this|that) (document|text|passage|article|paragraph|excerpt|story|chunk|source|context|author|"
    r"narrator)\b|\b(mentioned|described|stated) (above|below|here)\b|\baccording to the (text|document|passage)\b",
    re.I)
_STOP_CAPS = {
    "The", "A", "An", "In", "On", "At", "Of", "For", "And", "But", "Or", "By", "With", "From", "To", "As", "After",
    "Before", "During", "When", "While", "Since", "Although", "Because", "If", "Then", "There", "This", "That",
    "These", "Those", "He", "She", "It", "They", "His", "Her", "Its", "Their", "We", "I", "You", "What", "Who",
    "Which", "Where", "Why", "How", "Is", "Was", "Are", "Were", "Do", "Did", "Does", "Yes", "No", "Not", "Also",
    "Later", "Today", "Each", "Every", "Some", "Many", "Most", "All", "One", "Two", "Both", "Its", "Our", "My",
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "Instead", "However", "Furthermore", "Moreover", "Meanwhile", "Nevertheless", "Nonetheless", "Despite",
    "Following", "Unlike", "Like", "Under", "Over", "Between", "Among", "Within", "Without", "Throughout", "Upon",
    "Around", "Soon", "Still", "Yet", "Thus", "Hence", "Therefore", "Afterwards", "Here", "Once", "Until",
    "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Several", "Other", "Another", "Such", "Any",
    "Whereas", "Now",
}
_CONNECT = {"of", "the", "de", "la", "von", "van", "du", "del"}
_WORD = re.compile(r"[A-Za-z][\w'’\-]*|\d[\d,.:\-]*|\S")
ORG_WORDS = {"bakery", "company", "inc", "ltd", "university", "college", "school", "museum", "society", "council",
             "club", "bank", "library", "institute", "foundation", "guild", "press", "group", "team", "orchestra",
             "party", "church", "hospital", "association", "academy", "corporation", "agency", "ministry", "army",
             "league", "federation", "fc", "records", "studio", "studios", "band", "observatory", "works", "mill"}
PLACE_WORDS = {"river", "lake", "mountain", "mount", "city", "town", "village", "island", "valley", "street",
               "bridge", "county", "province", "region", "bay", "sea", "ocean", "forest", "park", "square", "harbour",
               "harbor", "hill", "hills", "coast", "state", "kingdom", "republic", "district", "port"}


def entities(text: str) -> list[str]:
    """Capitalised phrases ("Marie Dubois", "Bank of Orla"), in order of first appearance, without repeats.

    A capitalised word that starts a sentence counts only if it is not a common function word.
    """
    tokens = _WORD.findall(text)
    found: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        while cur and cur[-1].lower() in _CONNECT:
            cur.pop()
        if cur and re.search(r"['’]s?$", cur[-1]):  # "Messi's" -> "Messi"
            cur[-1] = re.sub(r"['’]s?$", "", cur[-1])
        if cur:
            name = " ".join(cur)
            if name not in found and not (len(cur) == 1 and cur[0] in _STOP_CAPS):
                found.append(name)
        cur.clear()

    for i, tok in enumerate(tokens):
        is_cap = tok[:1].isupper() and tok[:1].isalpha()
        sentence_start = i == 0 or tokens[i - 1] in {".", "!", "?", ":", ";", '"'}
        if is_cap and not cur and (tok in _STOP_CAPS or (sentence_start and tok.lower().endswith("ly"))):
            is_cap = False  # "Instead, ...", "Ultimately Barcelona ...": not part of a name
        if is_cap:
            cur.append(tok)
        elif cur and tok.lower() in _CONNECT and i + 1 < len(tokens) and tokens[i + 1][:1].isupper():
            cur.append(tok)
        else:
            flush()
    flush()
    return found


THING_WORDS = {"award", "prize", "medal", "comet", "asteroid", "festival", "war", "treaty", "act", "book", "novel",
               "album", "song", "film", "ship", "cup", "trophy", "whisk", "star", "planet", "cathedral", "tower"}


def entity_type(name: str, context: str = "") -> str:
    """person | organisation | place | thing, from the name's own words (no model); `context` (text that
    mentions the name) lets "in Lyon" mark a one-word name as a place."""
    words = {w.lower().strip(".") for w in name.split()}
    if words & ORG_WORDS:
        return "organisation"
    if words & PLACE_WORDS:
        return "place"
    if words & THING_WORDS:
        return "thing"
    if context and re.search(rf"\b(in|at|near|from|to|outside|across|through|into|of) (the )?{re.escape(name)}\b", context):
        return "place"
    parts = name.split()
    if 2 <= len(parts) <= 4 and all(p[:1].isupper() for p in parts if p.lower() not in _CONNECT):
        return "person"
    return "thing"


WH = {"person": "which person", "organisation": "which organisation", "place": "which place", "thing": "what"}


def subject_of(sentence: str) -> str | None:
    """The named entity the sentence starts with ("The Lumen Bakery won..." -> "Lumen Bakery"), if any."""
    s = re.sub(r"^(The|A|An)\s+", "", sentence.strip())
    ents = entities(s)
    return ents[0] if ents and s.startswith(ents[0]) else None


def starts_with_pronoun(sentence: str) -> bool:
    first = sentence.strip().split(" ", 1)[0].lower().strip(",")
    return first in _SUBJECT_PRONOUNS


def resolve_leading_pronoun(sentence: str, focus: str | None) -> str:
    """"He founded X" -> "Marie Dubois founded X" when the paragraph's focus entity is known."""
    if not focus:
        return sentence
    first, _, rest = sentence.strip().partition(" ")
    low = first.lower()
    if low in {"he", "she", "they", "it"}:
        return f"{focus} {rest}"
    if low in {"his", "her", "their", "its"}:
        return f"{focus}'s {rest}"
    return sentence


def absolute_time(sentence: str, date: str | None) -> str:
    """Relative year words -> absolute years, given the document date (e.g. "last year" in a 2019 text)."""
    year = re.match(r"\s*(\d{4})", date or "")
    if not year:
        return sentence
    y = int(year.group(1))
    for phrase, value in (("last year", y - 1), ("this year", y), ("next year", y + 1), ("previous year", y - 1)):
        sentence = re.sub(rf"\b{phrase}\b", f"in {value}", sentence, flags=re.I)
    return re.sub(r"\bin in\b", "in", sentence)


def self_containment_problems(question: str, answer: str, need_anchor: bool = True) -> list[str]:
    """Reasons a pair could not stand alone outside its document; empty when it can.

    `need_anchor`: the question must name something (an entity, a number or a date), which reverse-lookup and
    abstention questions may legitimately not do.
    """
    problems: list[str] = []
    q, a = question.strip(), answer.strip()
    if len(q.split()) < 3 or not q.endswith("?"):
        problems.append("malformed question")
    if not a:
        problems.append("incomplete answer")
    qwords = {w.lower() for w in re.findall(r"[A-Za-z']+", q)}
    if qwords & (PRONOUNS - {"it", "its"}):
        problems.append("unresolved pronoun")
    if starts_with_pronoun(a) and a.split(" ", 1)[0].lower() not in {"it", "this", "these", "those", "its"}:
        problems.append("unresolved pronoun")
    if RELATIVE_TIME.search(q) or RELATIVE_TIME.search(a):
        problems.append("relative time")
    if DOC_REFERENCE.search(q) or DOC_REFERENCE.search(a):
        problems.append("document reference")
    if need_anchor and not entities(q) and not re.search(r"\d", q):
        problems.append("vague reference")
    return sorted(set(problems))
