"""The vocabulary every stage shares: the question/answer pair, the abstention answer, text normalisation.

A `Pair` is what reflection writes, what a memory is trained on and what recall is scored on; `ABSTAIN` is the
one answer that means "the memory was not taught this"; `normalize_text` is the one folding (case, punctuation,
whitespace) used to compare questions and answers everywhere; `answer_lead` reads (with the corpus's sentence
splitter) the answer-first form ("Marrowby. Mira Castell was born in Marrowby.") that reflections write.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, fields

from .corpus.chunking import split_sentences  # the one rule-based splitter: abbreviations and initials survive

ABSTAIN = "I don't know."


def normalize_text(text: str) -> str:
    """Lower case, punctuation replaced by spaces, whitespace collapsed: "Who?  Mira!" -> "who mira"."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def is_abstention(answer: str) -> bool:
    """True when `answer` starts with "I don't know" (after normalisation)."""
    return normalize_text(answer).startswith(normalize_text(ABSTAIN))


#: Longest leading sentence (in words) read as an answer's short fact when more text follows it.
SHORT_LEAD = 5
#: Longest leading phrase read as the short fact when the text after it restates it word for word: a description
#: or a long name ("The period of Queen Victoria's reign. The Victorian era was the period of Queen Victoria's reign
#: from 1837 to 1901."), which a first sentence that is a fact of its own never is.
RESTATED_LEAD = 12


def answer_lead(answer: str) -> str | None:
    """The short fact an answer-first answer leads with: its first sentence when more text follows and it has at
    most `SHORT_LEAD` words, or at most `RESTATED_LEAD` words that the rest restates ("Marrowby. Mira Castell was
    born in Marrowby." -> "Marrowby."); else None."""
    sentences = split_sentences(answer)
    if len(sentences) < 2:
        return None
    words = len(sentences[0].rstrip(".!?").split())
    if 0 < words <= SHORT_LEAD or (words <= RESTATED_LEAD and restates(" ".join(sentences[1:]), sentences[0])):
        return sentences[0]
    return None


def restates(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase` word for word (after `normalize_text`)."""
    fact = normalize_text(phrase)
    return bool(fact) and f" {fact} " in f" {normalize_text(text)} "


def pair_id(question: str, answer: str) -> str:
    """The content id of a pair: "r-" + the first 12 hex digits of sha256(question, answer)."""
    return "r-" + hashlib.sha256(f"{question}\x1f{answer}".encode()).hexdigest()[:12]


@dataclass
class Pair:
    """One question/answer pair (a reflection). Provenance never enters the training text.

    step: which reflection step made it ("direct", "entity", "abstention", ...; "qa" for plain user pairs);
    doc_ids / chunk_ids: the corpus documents and chunks it comes from; derived_from: ids of the pairs it was
    built from; paraphrases: other phrasings of the question with the same answer; id: the content id
    (`pair_id`) unless the source gave one.
    """

    question: str
    answer: str
    step: str = "qa"
    doc_ids: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    derived_from: list[str] = field(default_factory=list)
    paraphrases: list[str] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = pair_id(self.question, self.answer)

    def record(self) -> dict:
        """The JSON object written to reflections.jsonl (id first)."""
        d = asdict(self)
        return {"id": d.pop("id"), **d}

    @classmethod
    def from_record(cls, row: dict) -> "Pair":
        """A pair from a reflections.jsonl object (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})
