"""The self-containment rules every pair of every profile must pass, and relative-time resolution.

A reflection is read with no document around it (docs/REFLECTIONS.md, "Rules of self-containment"): no personal
pronoun in the question, no relative time, no reference to "the document", and a question that names something.
"""

from __future__ import annotations

import re

PRONOUNS = {"he", "she", "him", "his", "her", "hers", "they", "them", "their", "theirs", "it", "its", "himself",
            "herself", "itself", "themselves"}
SUBJECT_PRONOUNS = {"he", "she", "they", "it", "his", "her", "their", "its", "this", "these", "those"}
RELATIVE_TIME = re.compile(
    r"\b(yesterday|today|tomorrow|tonight|recently|currently|nowadays|(last|next|this|previous|coming) "
    r"(year|month|week|decade|century|spring|summer|autumn|fall|winter)|\d+ (years?|months?|weeks?|days?) (ago|later)"
    r"|years? ago|ago)\b", re.I)
DOC_REFERENCE = re.compile(
    r"\b(the|this|that) (document|text|passage|article|paragraph|excerpt|story|chunk|source|context|author|"
    r"narrator)\b|\b(mentioned|described|stated) (above|below|here)\b|\baccording to the (text|document|passage)\b",
    re.I)


def names_something(question: str, numbers: bool = True) -> bool:
    """A question names something when a word after its first is capitalised (a name) or, with `numbers`, it holds
    a digit."""
    words = re.findall(r"[\w'’-]+", question)
    return any(w[:1].isupper() and w != "I" for w in words[1:]) or (numbers and bool(re.search(r"\d", question)))


def starts_with_pronoun(sentence: str) -> bool:
    first = sentence.strip().split(" ", 1)[0].lower().strip(",")
    return first in SUBJECT_PRONOUNS


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

    `need_anchor`: the question must name something (a name, a number or a date), which reverse-lookup and
    abstention questions may legitimately not do.
    """
    problems: list[str] = []
    q, a = question.strip(), answer.strip()
    if len(q.split()) < 3 or not q.endswith("?"):
        problems.append("malformed question")
    if not a:
        problems.append("incomplete answer")
    qwords = {w.lower() for w in re.findall(r"[A-Za-z']+", q)}
    if qwords & PRONOUNS:
        problems.append("unresolved pronoun")
    if starts_with_pronoun(a) and a.split(" ", 1)[0].lower() not in {"it", "this", "these", "those", "its"}:
        problems.append("unresolved pronoun")
    if RELATIVE_TIME.search(q) or RELATIVE_TIME.search(a):
        problems.append("relative time")
    if DOC_REFERENCE.search(q) or DOC_REFERENCE.search(a):
        problems.append("document reference")
    if need_anchor and not names_something(q):
        problems.append("vague reference")
    return sorted(set(problems))
