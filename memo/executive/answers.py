"""What a memory answer says, in short: the entity a sentence answer names, and the best-supported answer.

The memory answers in whole sentences ("Mira Castell founded Veltrona Labs in 2011."), in whatever wording its
reflections taught it. Two things need the short fact inside such a sentence, deterministically:

- the chain protocol substitutes step N's answer for `#N` in the next step (`short_answer`);
- every protocol falls back on the memory's own words when the executive fails or abstains
  (`best_supported`), and checks that the executive's final answer comes from what the memory said
  (`supported_by`).

`short_answer` uses only the surface of the question and the answer (no model, no word list about any topic):
what the question asks for (a number or date, or a name), and what the answer adds to the question.

1. An answer that leads with a short fact ("Marrowby. Mira Castell was born in Marrowby.": a first sentence
   of at most `memo.records.SHORT_LEAD` words followed by more text, or of at most `RESTATED_LEAD` words that
   the text after it restates) gives that fact.
2. A one-sentence answer none of whose content words the question has gives itself, function words trimmed from
   its ends, up to `SHORT_LEAD` words for a question asking for a number or date ("June 1982." for "When was
   Diego Maradona signed?") and up to `RESTATED_LEAD` for others (a description: "The period of Queen
   Victoria's reign." for "What was the Victorian era?").
3. A one-sentence answer to a question not asking for a number whose words are all capitalised, numbers or
   function words (names and titles joined by "is", "of", "and": 'The U.S. Navy's "Sea, Air, and Land" Teams.')
   gives itself, up to `RESTATED_LEAD` words, with the names the question has trimmed whole from both ends
   ("Ines Okafor is the CEO of Brisk Foods." for "Who is the CEO of Brisk Foods?" -> "Ines Okafor"). Such an answer
   has no verb or noun telling which of its names is the fact, so the one the question does not have is.
4. Otherwise the first span of the expected kind that the question does not already contain: a number for
   "when / what year / how many / how much / how old / how long" questions (a number inside a written date
   gives the whole date: "December 14, 1814"; a currency sign and a scale word stay: "$4.5 million"), else a
   capitalised name (runs of capitalised words, initials and abbreviations the sentence splitter kept, joined by
   lower-case particles such as "of": "Dr. Ines Okafor", "U.S. Navy"); for "where / in which ..." questions, a
   name after a preposition of place ("born in Porto Velho") before any other name. The other kind is the
   second choice.
5. Otherwise the first sentence with the question's own words trimmed from both ends
   ("Veltrona Labs makes salt-water batteries." for "What does Veltrona Labs make?" -> "salt-water batteries").
"""

from __future__ import annotations

import re
from typing import Sequence

from ..corpus import split_sentences
from ..records import RESTATED_LEAD, SHORT_LEAD, answer_lead, is_abstention, normalize_text
from .trace import Exchange

# Words that begin a question asking for a number or a date.
_NUMERIC_QUESTION = re.compile(
    r"^\s*(when\b|(in )?(what|which) (year|decade|century|date|day|month)\b|how (many|much|old|long|far|tall|"
    r"high|big|large|deep|wide)\b)", re.IGNORECASE)
# Function words: never a name on their own, trimmed from the edges of spans and fallbacks.
_FUNCTION = frozenset("""a an the this that these those it its he she they his her their him them we our you your i
    in on at of to for from by with as into onto over under after before since until during about and or but
    is are was were be been being has have had do does did who whom whose what which where when why how
    every each some any all no not there here then than also only one among between across through within without
    along around behind beyond upon near while although because however yes once still today later""".split())
_ARTICLES = frozenset(("a", "an", "the"))
# Lower-case words that may join the capitalised words of one name ("Isle of Dunmar", "Ludwig van Beethoven").
_PARTICLES = r"(?:of|the|de|du|da|del|der|den|van|von|la|le|di|y|and|&)"
# A capitalised word, an initial, or an abbreviation the sentence splitter kept inside a sentence ("Dr. Helena
# Marsh", "Mt. Kessel", "U.S. Navy", "J. R. Hollin").
_CAP = r"(?:(?:[A-Z]\.)+|[A-Z][a-z]{0,3}\.(?=\s+[A-Z])|[A-Z][\w'’\-]*)"
_NAME = re.compile(rf"{_CAP}(?:\s+(?:{_PARTICLES}\s+)*{_CAP})*")
# Questions that ask for a place, and the prepositions a place follows.
_PLACE_QUESTION = re.compile(r"^\s*(where\b|(in|at|from|to|on|near|into|through) (which|what)\b)", re.IGNORECASE)
_PLACE_BEFORE = re.compile(r"\b(in|at|on|near|from|to|of|into|inside|outside|across|through)\s+(the\s+)?$",
                           re.IGNORECASE)
_NUMBER = re.compile(r"[$€£]?(?:\b\d[\d,.]*\d\b|\b\d\b)(?:\s+(?:thousand|million|billion|trillion)\b)?")
# A date written with a capitalised month word beside its day or year: "December 14, 1814", "14 December 1814",
# "June 1982" (the capitalised word is not checked against month names: "Model 101" is taken whole too).
_DATE = re.compile(r"\b(?:[A-Z][a-z]+\.? \d{1,2}(?:st|nd|rd|th)?,? \d{3,4}"  # December 14, 1814
                   r"|\d{1,2}(?:st|nd|rd|th)? (?:of )?[A-Z][a-z]+\.?,? \d{3,4}"  # 14 December 1814, 3rd of December 1901
                   r"|[A-Z][a-z]+\.? \d{3,4})\b")  # June 1982


def short_answer(question: str, answer: str) -> str:
    """The short fact `answer` gives to `question`: the entity substituted into the next chain step.

    Returns "" for an abstention or an empty answer. Deterministic; see the module docstring for the rules.
    """
    text = _clean(answer)
    if not text or is_abstention(text):
        return ""
    first = answer_lead(text)
    if first is not None:
        return _dedupe(first.rstrip(".!?").strip())
    sentences = split_sentences(text)
    lead = sentences[0].rstrip(".!?").strip()
    asked = set(_words(question))
    numeric = bool(_NUMERIC_QUESTION.match(question))
    if len(sentences) == 1 and len(lead.split()) <= (SHORT_LEAD if numeric else RESTATED_LEAD) and not any(
            _in_question(t, asked) for t in lead.split() if normalize_text(t) not in _FUNCTION):
        return _dedupe(_trim_known(lead, asked) or lead)  # a short answer that only adds to the question
    if not numeric and len(sentences) == 1 and len(lead.split()) <= RESTATED_LEAD and _names_only(lead):
        return _dedupe(_trim_known_names(lead, asked) or lead)  # names joined by function words
    spans = [(_trim_name(m.group()), s[: m.start()]) for s in sentences for m in _NAME.finditer(s)]
    spans = [(name, before) for name, before in spans if name and not set(_words(name)) <= asked]
    if _PLACE_QUESTION.match(question):  # stable sort: names after a preposition of place first
        spans.sort(key=lambda span: not _PLACE_BEFORE.search(span[1]))
    names = [name for name, _ in spans]
    numbers = [number for s in sentences for number in _numbers(s) if number not in asked]
    for found in ((numbers, names) if numeric else (names, numbers)):
        if found:
            return _dedupe(found[0])
    return _trim_known(lead, asked) or lead


def supported_by(answer: str, exchanges: Sequence[Exchange]) -> bool:
    """Whether every content word of `answer` occurs in some non-abstaining memory answer (yes/no count too)."""
    if set(_words(answer)) in ({"yes"}, {"no"}):
        return True
    words = [w for w in _words(answer) if w not in _FUNCTION]
    if not words:
        return False
    said = {w for e in exchanges if not e.abstained for w in _words(e.answer)}
    return all(w in said for w in words)


def best_supported(question: str, exchanges: Sequence[Exchange]) -> Exchange | None:
    """The non-abstaining memory answer that best supports an answer to `question`; None when there is none.

    Ranked by how much of `question` its sub-question asks (the share of the question's content words it
    contains, so the memory's answer to the question itself comes first), then by how many non-abstaining
    answers repeat its short fact (agreement between answers to different sub-questions), then by recency.
    """
    answered = [e for e in exchanges if not e.abstained]
    if not answered:
        return None
    asked = set(_words(question)) - _FUNCTION

    def score(e: Exchange) -> tuple[float, int, int]:
        fact = normalize_text(short_answer(e.question, e.answer))
        support = sum(1 for other in answered if fact and fact in normalize_text(other.answer))
        overlap = len(asked & set(_words(e.question))) / max(1, len(asked))
        return overlap, support, e.n

    return max(answered, key=score)


# -- helpers ----------------------------------------------------------------------------------------------------

def _clean(text: str) -> str:
    """Markdown heading marks and surrounding whitespace removed."""
    return " ".join(re.sub(r"(^|\s)#+(?=\s)", " ", text).split())


def _words(text: str) -> list[str]:
    return normalize_text(text).split()


def _numbers(sentence: str) -> list[str]:
    """The numbers of a sentence in order, a number inside a written date as the whole date ("December 14, 1814",
    not "14")."""
    dates = [(m.start(), m.end(), m.group()) for m in _DATE.finditer(sentence)
             if m.group().split()[0].lower() not in _FUNCTION]  # "In 1814" is no month
    plain = [(m.start(), m.end(), m.group()) for m in _NUMBER.finditer(sentence)
             if not any(start <= m.start() < end for start, end, _ in dates)]
    return [text for _, _, text in sorted(dates + plain)]


def _trim_name(span: str) -> str:
    """A name span without leading function words ("The Arvik Institute" -> "Arvik Institute") or trailing
    particles."""
    tokens = span.split()
    while tokens and tokens[0].lower() in _FUNCTION:
        tokens.pop(0)
    while tokens and re.fullmatch(_PARTICLES, tokens[-1]):
        tokens.pop()
    return " ".join(tokens)


def _trim_known(sentence: str, asked: set[str]) -> str:
    """`sentence` without the words at either end that the question already has (or function words).

    Trimming from the front stops after an article: the noun phrase it opens is kept whole, even where it
    repeats a word of the question ("invented the Moreau lamp" -> "Moreau lamp").
    """
    tokens = sentence.split()

    def known(token: str) -> bool:
        return _is_function(token) or _in_question(token, asked)

    while tokens and known(tokens[0]):
        if normalize_text(tokens.pop(0)) in _ARTICLES:
            break
    while tokens and known(tokens[-1]):
        tokens.pop()
    return " ".join(tokens).strip(" ,;:")


def _is_function(token: str) -> bool:
    word = normalize_text(token)
    return not word or word in _FUNCTION


def _names_only(sentence: str) -> bool:
    """Whether every word of `sentence` is capitalised, starts with a digit or is a function word: names and
    titles joined by "is", "of", "and" ("The U.S. Navy's "Sea, Air, and Land" Teams", "Ines Okafor is the CEO of
    Brisk Foods"), with no lower-case verb or noun whose role the sentence alone would have to tell."""
    words = [token.strip("\"'“”‘’()[],;:.!?") for token in sentence.split()]
    return all(not w or w[0].isupper() or w[0].isdigit() or _is_function(w) for w in words)


def _trim_known_names(sentence: str, asked: set[str]) -> str:
    """A `_names_only` sentence without the names at either end whose words the question all has, and without
    function words at its ends: "The Pellin Owls are in the North Division of the Aubel League." for "Which league
    do the Pellin Owls play in?" -> "North Division of the Aubel League" (a name is trimmed whole, never a word of
    it, so "League" stays)."""
    units: list[list[str]] = []  # each a run of capitalised words and numbers, or one function word
    for token in sentence.split():
        if units and not _is_function(token) and not _is_function(units[-1][-1]):
            units[-1].append(token)
        else:
            units.append([token])

    def known(unit: list[str]) -> bool:
        return all(_is_function(t) or _in_question(t, asked) for t in unit)

    while units and known(units[0]):
        units.pop(0)
    while units and known(units[-1]):
        units.pop()
    return " ".join(t for unit in units for t in unit).strip(" ,;:.")


def _in_question(token: str, asked: set[str]) -> bool:
    """Whether `token` is a word of the question, or an inflection of one ("make" / "makes")."""
    word = normalize_text(token)
    return any(word == a or (min(len(word), len(a)) >= 4 and (word.startswith(a) or a.startswith(word)))
               for a in asked)


def _dedupe(text: str) -> str:
    """A span that repeats itself ("Mira Castell Mira Castell") once."""
    tokens = text.strip(" .,;:").split()
    half = len(tokens) // 2
    if len(tokens) % 2 == 0 and half and tokens[:half] == tokens[half:]:
        tokens = tokens[:half]
    return " ".join(tokens)
