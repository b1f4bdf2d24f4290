"""Questions from a dependency parse: every clause of a sentence, asked about each of its parts.

A clause is a verb with its subject, auxiliaries and complements (spaCy's ClearNLP-style dependency labels:
nsubj, nsubjpass, aux, auxpass, dobj, attr, oprd, acomp, dative, prep/pobj, agent, npadvmod, prt). Asking about
the subject gives a subject question ("Who founded the Radium Institute?"); asking about a complement inverts subject and
auxiliary, or adds do-support ("What did Marie Curie study?", "When was Marie Curie born?"). The wh-word
follows the answer's entity type and role: PERSON who; GPE/LOC/FAC where after in/at/on, else "which place";
DATE when; CARDINAL how many (with the counted noun); QUANTITY/MONEY how much; ORG which organisation;
WORK_OF_ART which work; EVENT which event; other names "which" + their kind; the sentence's own noun for a name
("coach Vince Lombardi" -> "which coach"); otherwise what. Each question comes with other phrasings of it
(paraphrases): the short and the full form, other wh-words, and passive or active voice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .checks import names_something
from .clean import LIFE_SPAN
from .nlp import NAME_LABELS, name_text

if TYPE_CHECKING:  # spaCy (and torch, through thinc) load where text is parsed: `memo --help` stays fast
    from spacy.tokens import Span, Token

SUBJECT_DEPS = {"nsubj", "nsubjpass"}
# "ccomp": the clause a verb of saying or thinking reports ("wrote that the riots divided Birmingham"), kept only
# when it names its own subject (`_reported`)
CORE_DEPS = {"dobj", "attr", "oprd", "acomp", "dative", "prt", "xcomp", "ccomp"}
COMPLEMENT_DEPS = CORE_DEPS | {"prep", "agent", "npadvmod", "advmod"}
TRIM_DEPS = {"relcl", "acl", "appos", "advcl", "parataxis", "ccomp", "conj", "cc"}
LABEL_WH = {"ORG": "which organisation", "WORK_OF_ART": "which work", "EVENT": "which event", "GPE": "which place",
            "LOC": "which place", "FAC": "which place", "NORP": "which group", "PRODUCT": "which product",
            "LAW": "which law", "LANGUAGE": "which language"}
WHERE_PREPS = {"in", "at", "on", "inside", "within"}
WHEN_PREPS = {"in", "on", "at", "during"}
SPAN_PREPS = {"from", "since", "until", "till"}
DO_FORMS = {"VBD": "did", "VBZ": "does", "VBP": "do", "VB": "do"}
MAX_QUESTION_WORDS = 22
RELATIVE_DATE = re.compile(r"(the )?(same|following|next|previous|last|this|that|these|those)\b", re.I)
# Nouns for the kind of a name, by which a text introduces it ("the county of Kent") or refers back to it ("the
# company"), by entity type.
KIND_NOUNS_BY_LABEL = {
    "ORG": {"company", "organisation", "organization", "corporation", "firm", "group", "club", "team", "band",
            "party", "label", "university", "school"},
    "GPE": {"city", "town", "country", "state", "village", "nation", "kingdom", "province", "region",
            "municipality", "county", "district"},
    "LOC": {"island", "river", "lake", "mountain", "region", "area"},
    "FAC": {"building", "station", "museum", "church", "library", "bridge"},
    "WORK_OF_ART": {"album", "song", "film", "book", "novel", "series", "episode", "game", "show"},
}
KIND_NOUNS = set().union(*KIND_NOUNS_BY_LABEL.values())
# Nouns that name an event, which starts and ends ("the Battle of X", "the festival").
EVENT_KINDS = {"battle", "war", "siege", "festival", "tournament", "championship", "campaign", "revolution",
               "expedition", "conference", "strike", "crisis", "negotiation", "talk", "games", "season", "uprising"}
# The noun for the event a verb (by its lemma) states, for asking a "where"/"when" fact the way reference works and
# knowledge bases name it ("Where was X born?" -> "What is the place of birth of X?"). English derives these nouns
# irregularly (born -> birth, die -> death, found -> founding), so no suffix rule finds them: this is a table of
# the events encyclopaedic text dates and places, those of a person's life apart from those of a made thing (a
# person "released" in 1918 left prison). WHERE_NOUNS: verbs that only place their subject, whose noun names the
# place itself ("Where is X headquartered?" -> "What is the headquarters of X?"); "be" only for a thing.
LIFE_EVENT_NOUNS = {"bear": "birth", "die": "death", "bury": "burial", "marry": "marriage", "retire": "retirement"}
THING_EVENT_NOUNS = {"found": "founding", "establish": "establishment", "create": "creation",
                     "build": "construction", "construct": "construction", "complete": "completion",
                     "publish": "publication", "release": "release", "form": "formation", "dissolve": "dissolution",
                     "abolish": "abolition", "open": "opening", "close": "closure", "launch": "launch",
                     "record": "recording", "premiere": "premiere"}
# Family relations, each with the general noun knowledge bases use for it (son, daughter -> child; Wikidata's
# child, sibling, father/mother, spouse), and the general noun of the relation read the other way: "A is the son
# of B" -> A is a child of B, B a parent of A.
KIN_NOUNS = {"son": "child", "daughter": "child", "child": "child", "brother": "sibling", "sister": "sibling",
             "sibling": "sibling", "father": "parent", "mother": "parent", "parent": "parent", "wife": "spouse",
             "husband": "spouse", "spouse": "spouse", "widow": "spouse", "widower": "spouse"}
KIN_INVERSE = {"child": "parent", "parent": "child", "sibling": "sibling", "spouse": "spouse"}
UNIQUE_KIN = {"father", "mother", "wife", "husband", "spouse", "widow", "widower"}  # "the father of"; others "a son of"
WHERE_NOUNS = {"locate": "location", "situate": "location", "headquarter": "headquarters location",
               "base": "headquarters location", "be": "location"}
# What a work's maker is called, by the kind of work and the verb that says it was made, the way knowledge bases
# name it (Wikidata's performer, director, author): "X is a song recorded by Y", "X is an album by Y" -> "Who is
# the performer of X?". A film "written by" someone has a screenwriter, not its director, and an album "recorded
# by" someone its engineer: each noun its own verbs; "by" alone (a work "by" someone, someone's work) the maker of
# any kind, a person for a film or a book ("a film by Kelda Pictures" is its studio's).
WORK_KINDS = {"album": "album", "ep": "album", "record": "album", "song": "song", "single": "song", "film": "film",
              "movie": "film", "novel": "text", "book": "text", "poem": "text", "play": "text", "story": "text"}
MAKER_NOUNS = {"song": ("performer", {"record", "perform", "sing", "by"}), "album": ("performer", {"perform", "by"}),
               "film": ("director", {"direct", "by"}), "text": ("author", {"write", "by"})}
RELEASE_PREPS = {"on", "by", "through", "under", "via"}  # a music work released "on" its record label
# Forms of address before a name, which (unlike an office: "King", "President") say nothing about the years after it.
HONORIFICS = {"sir", "dame", "dr", "mr", "mrs", "ms", "miss", "madame", "mme"}
MIN_LIFE_YEARS = 15  # life dates in brackets closer than this are a term of office (see `_lifetime`)
# Verbs that say where a person was educated, with the preposition (or "dobj") that names the school; the verbs
# of a degree ("obtained a degree at X") name it only with a degree noun as object.
SCHOOL_VERBS = {"graduate": {"from"}, "study": {"at"}, "attend": {"dobj"}, "educate": {"at"}, "obtain": {"at", "from"},
                "receive": {"at", "from"}, "earn": {"at", "from"}, "complete": {"at"}}
# The nouns in a school's name, for the verbs that name other things too (attend a conference, study a text).
SCHOOL_NOUNS = {"university", "college", "school", "academy", "institute", "seminary", "conservatory", "conservatoire",
                "gymnasium", "lyceum", "polytechnic"}
DEGREE_NOUNS = {"degree", "diploma", "doctorate", "bachelor", "master", "phd", "ba", "ma", "bsc", "msc"}


@dataclass
class Question:
    """A question about one part of a sentence, with the short answer and other phrasings."""

    text: str
    answer: str  # the short fact: a name, date, number or phrase
    label: str  # the answer's entity label ("" for a plain noun phrase)
    role: str  # "subject" or the complement's dependency label
    named: bool  # the answer is a name (reverse-lookup material)
    predicate: str  # the clause without its subject, for joining facts: "founded the Radium Institute in 2011"
    paraphrases: list[str] = field(default_factory=list)


def _inflect(lemma: str, tag: str) -> str | None:
    from lemminflect import getInflection

    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else None


def _span(tokens: list[Token]) -> str:
    if not tokens:
        return ""
    doc = tokens[0].doc
    return doc[tokens[0].i : tokens[-1].i + 1].text


def phrase(tok: Token, trim: bool = True) -> list[Token]:
    """The contiguous phrase headed by `tok`: its subtree, without clauses hanging off it (relative clauses,
    appositions, conjoined clauses) when `trim`, and without parentheses or edge punctuation."""
    drop: set[int] = set()
    if trim:
        for t in tok.subtree:
            if t is not tok and _alias(t):
                drop.update(x.i for x in t.subtree)
                drop.update(x.i for x in t.head.children if x.dep_ == "cc" and x.i < t.i)
                continue
            if t is tok or (t.dep_ in {"conj", "cc"} and t.head.pos_ not in {"VERB", "AUX"}):
                continue  # coordinated names and adjectives stay: "China, India and Laos"
            if t.dep_ == "appos" and t.pos_ == "PROPN" and t.i > 0 and t.doc[t.i - 1].text != "," \
                    and t.doc[t.i - 1].i in {x.i for x in t.subtree} | {x.i for x in tok.subtree}:
                continue  # "the physicist Marie Curie", "Pellam Falls, Orrick County": part of the phrase
            if t.dep_ in TRIM_DEPS and not (t.ent_type_ == "DATE" and t.head.ent_type_ == "DATE"):
                drop.update(x.i for x in t.subtree)
    depth = 0
    for t in tok.subtree:  # parenthesised parts
        if t.text == "(":
            depth += 1
        if depth:
            drop.add(t.i)
        if t.text == ")" and depth:
            depth -= 1
    kept = [t for t in tok.subtree if t.i not in drop]
    block: list[Token] = []
    for t in kept:  # the contiguous run holding the head
        if block and t.i != block[-1].i + 1:
            if tok.i <= block[-1].i:
                break
            block = []
        block.append(t)
    while block and (block[0].is_punct or block[0].dep_ == "cc"):
        block = block[1:]
    while block and (block[-1].is_punct or block[-1].dep_ == "cc"):
        block = block[:-1]
    return block


def _alias(tok: Token) -> bool:
    """`tok` heads another name for its head, set off by a comma and introduced by an adverb: "Ostrand,
    officially the Republic of Ostrand", "the Basilica of St. Arno, or simply St. Arno's" (not a place's county
    "Pellam Falls, Orrick County", a title "X, Baroness of Y", or a list "A, B, or C")."""
    if tok.pos_ != "PROPN" or tok.dep_ not in {"appos", "conj"} or tok.head.pos_ != "PROPN":
        return False
    doc, start = tok.doc, min(x.i for x in tok.subtree)
    if doc[start].pos_ != "ADV":
        return False
    if tok.dep_ == "appos":
        return start > 0 and doc[start - 1].text == ","
    return start > 1 and doc[start - 1].lower_ == "or" and doc[start - 2].text == ","


def aliases(tokens: list[Token]) -> list[str]:
    """The other names a phrase gives its head ("Ostrand, officially the Republic of Ostrand" -> ["the Republic of
    Ostrand"]), without their adverbs ("officially", "simply")."""
    out = []
    for t in tokens:
        if _alias(t) and t.head in tokens:
            name = [x for x in phrase(t) if not (x.pos_ == "ADV" and x.i < t.i)]
            if name:
                out.append(_span(name))
    return out


def _label(tokens: list[Token]) -> str:
    """The entity label of a phrase: its head's; for a name without one, the first name inside it."""
    if not tokens:
        return ""
    head = _head(tokens)
    if head.ent_type_:
        return head.ent_type_
    names = [t for t in tokens if t.ent_type_ in NAME_LABELS]
    if head.pos_ == "PROPN" and names:
        return names[0].ent_type_
    appos = [c for c in head.children if c.dep_ == "appos" and c.ent_type_ in NAME_LABELS and c in tokens]
    return appos[0].ent_type_ if appos else ""


def _entity_in(tokens: list[Token], label: str) -> str:
    """The text of the first entity of `label` inside the phrase."""
    for ent in tokens[0].doc.ents if tokens else []:
        if ent.label_ == label and ent.start >= tokens[0].i and ent.end <= tokens[-1].i + 1:
            return name_text(ent) or ent.text
    return ""


def kind_noun(tokens: list[Token]) -> tuple[str, str] | None:
    """(kind noun, name) when the phrase names its kind: "coach Vince Lombardi" -> ("coach", "Vince Lombardi"),
    "the city of Warsaw" -> ("city", "Warsaw")."""
    if not tokens:
        return None
    head = min(tokens, key=lambda t: len(list(t.ancestors)))
    if head.pos_ == "PROPN":
        nouns = [c for c in head.children if c.dep_ == "compound" and c.pos_ == "NOUN" and c.i < head.i]
        if nouns:
            kind = nouns[-1]
            name = [t for t in tokens if t.i > kind.i]
            if name and all(t.pos_ in {"PROPN", "PART", "ADP", "DET", "NUM"} or t.is_punct for t in name):
                return kind.lemma_.lower(), _span(name)
    if head.pos_ == "NOUN":  # "the Venetian artist Jon Halloran", 'the series "Corven Bay"': the name follows its kind
        names = [c for c in head.children if c.dep_ == "appos" and c.pos_ == "PROPN" and c.i > head.i
                 and all(t.is_quote for t in head.doc[head.i + 1 : min(x.i for x in c.subtree)])]
        if names:
            name = [t for t in phrase(names[0]) if not t.is_quote]
            return head.lemma_.lower(), _span(name)
    if head.pos_ == "NOUN" and head.lemma_.lower() in KIND_NOUNS and all(c.dep_ in {"det", "compound", "prep"}
                                                                         for c in head.children):
        for prep in head.children:
            if prep.dep_ == "prep" and prep.lower_ == "of":
                objs = [c for c in prep.children if c.dep_ == "pobj" and c.pos_ == "PROPN"]
                if objs and objs[0].ent_type_ in {"GPE", "LOC", "FAC"}:
                    return head.lemma_.lower(), _span(phrase(objs[0]))
    return None


@dataclass
class Target:
    tokens: list[Token]  # what the question removes from the clause
    wh: str
    answer: str
    label: str
    role: str
    prep: str = ""  # a preposition left at the end ("Who was it compared to?")
    named: bool = False  # the answer is a name
    alternatives: list[str] = field(default_factory=list)  # other wh-phrases


def _glued(np: list[Token]) -> list[Token]:
    """The phrase with the rest of any word the tokenizer split at a hyphen: "June" -> "mid-June"."""
    doc = np[0].doc
    start, end = np[0].i, np[-1].i
    while start >= 2 and doc[start - 1].text in {"-", "–"} and not doc[start - 1].whitespace_ \
            and not doc[start - 2].whitespace_:
        start -= 2
    while end + 2 < len(doc) and doc[end + 1].text in {"-", "–"} and not doc[end].whitespace_ \
            and not doc[end + 1].whitespace_:
        end += 2
    return [doc[i] for i in range(start, end + 1)]


def _year_only(text: str) -> bool:
    return bool(re.fullmatch(r"(in |the year )?\d{3,4}", text.strip(), re.I))


def target_for(comp: Token, role: str, kinds: dict[str, str] | None = None) -> Target | None:
    """How to ask about one complement (or the subject) of a clause (see `_target`); the target is marked as a name
    when the phrase is one ("Marie Curie", "the city of Warsaw")."""
    t = _target(comp, role, kinds)
    if t is not None and t.label not in {"DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT"}:
        np = t.tokens[1:] if t.tokens and t.tokens[0].dep_ in {"prep", "agent"} else t.tokens
        t.named = bool(np) and (_head(np).pos_ == "PROPN" or kind_noun(np) is not None or t.label == "PERSON")
    return t


def _target(comp: Token, role: str, kinds: dict[str, str] | None = None) -> Target | None:
    """How to ask about one complement (or the subject) of a clause; None when it is not worth a question.
    `kinds`: a name's kind noun from its definition elsewhere ("Tetris is a video game" -> "video game")."""
    kinds = kinds or {}
    if role in {"prep", "agent"}:
        objs = [c for c in comp.children if c.dep_ == "pobj"]
        if not objs:
            return None
        np = phrase(objs[0])
        prep = comp.lower_
    elif role in {"subject", "dobj", "attr", "oprd", "dative", "npadvmod"}:
        np = phrase(comp)
        prep = ""
    else:
        return None
    if not np or _head(np).pos_ == "PRON" or np[0].lower_ in {"this", "these", "that", "those"}:
        return None  # pronouns are not answers
    doc = np[0].doc
    np = _glued(np)
    label = _label(np)
    text = _span(np)
    head = _head(np)
    all_tokens = ([comp] if prep else []) + np
    if role == "npadvmod" and head.lemma_.lower() == "time" and any(t.dep_ == "nummod" for t in head.children):
        return Target(np, "how many times", text, "CARDINAL", role)  # "flooded the town 22 times"
    if role == "npadvmod" and label not in {"DATE", "TIME"}:
        return None
    if label in {"DATE", "TIME"}:
        if RELATIVE_DATE.match(text):
            return None  # relative to another sentence
        if prep in WHEN_PREPS or (not prep and role == "npadvmod"):
            month = re.search(r"\b(January|February|March|April|May|June|July|August|September|October|November|"
                              r"December)\b", text)
            alts = ["in which year"] if _year_only(text) else (
                ["on what date"] if month and re.search(r"\b\d{1,2}\b", text) else ["in which month"] if month else [])
            return Target(all_tokens, "when", text, label, role, alternatives=alts)
        if prep == "for":  # a duration: "worked there for twenty years"
            return Target(all_tokens, "how long", text, label, role)
        if prep in {"since", "until", "till", "before", "after", "from"}:
            return Target(all_tokens, f"{prep} when", text, label, role)
        if prep == "between":
            return Target(all_tokens, "when", f"between {text}", label, role)
        if not prep and role in {"dobj", "attr"}:
            return Target(np, "what date", text, label, role)
        return None
    kind = kind_noun(np)
    if kind and not label:
        label = next((t.ent_type_ for t in np if t.ent_type_ in NAME_LABELS), "")
    name = kind[1] if kind else (name_text(doc[np[0].i : np[-1].i + 1]) if head.pos_ == "PROPN" else text)
    whole_name = all(t.pos_ in {"PROPN", "PART"} or t.text[:1].isupper() or t.is_punct for t in np)
    if not kind and head.pos_ == "PROPN" and head.ent_type_ and not whole_name:  # the name, not what hangs on it
        name = name_text(ent) if (ent := _entity_of(head)) is not None else name
    defined = kinds.get(name.lower())
    if not label and prep in WHERE_PREPS and any(t.ent_type_ in {"GPE", "LOC", "FAC"} for t in np):
        return Target(all_tokens, "where", text, "LOC", role)
    # a name after "in/at/on" is a place unless typed as an organisation or a work ("in Oxford" typed PERSON is not)
    place = label in {"GPE", "LOC", "FAC"} or (head.pos_ == "PROPN" and label in {"", "PRODUCT"}) or (
        head.pos_ == "PROPN" and label == "PERSON" and prep in WHERE_PREPS)
    if place and prep in WHERE_PREPS | {"from", "to", "into"}:
        if prep in WHERE_PREPS:
            alts = [f"in which {kind[0]}"] if kind else ([f"in which {defined}"] if defined else [])
            return Target(all_tokens, "where", name, label, role, alternatives=alts)
        return Target(np, "where", name, label, role, prep=prep)
    nummod = [t for t in np if t.dep_ == "nummod" and t.head in np and t.head.pos_ == "NOUN" and t.i < t.head.i
              and not (t.head.tag_ == "NN" and _year_only(t.text))]  # "a 1558 painting" counts nothing
    if nummod and label in {"CARDINAL", "QUANTITY", "MONEY", ""}:
        noun = nummod[0].head
        counted = [t for t in np if t.i >= noun.i and t in phrase(noun)]
        mods = [t for t in np if nummod[0].i < t.i < noun.i]
        wh = "how many " + _span(mods + counted) if counted else "how many"
        first = min(t.i for t in nummod[0].subtree)  # "4.5 million euros", not "million euros"
        return Target(np, wh, _span([t for t in np if t.i >= first and t.dep_ != "det"]), "CARDINAL", role, prep)
    if label == "MONEY" or (label == "QUANTITY" and not nummod):
        return Target(np, "how much", text, label, role, prep)
    if label == "PERCENT":
        return Target(np, "what percentage", text, label, role, prep)
    if len(np) > 12 and role in {"attr", "oprd"}:  # a long description: its noun and first modifier phrase,
        cut = [c.i for c in head.children if c.dep_ == "prep" and c.i > head.i][1:2]  # the rest is context
        np = [t for t in np if not cut or t.i < cut[0]]
        text = _span(np)
    if label in {"ORDINAL", "CARDINAL"} or len(np) > 12:
        return None
    thing = (kind and kind[0] in KIND_NOUNS) or (defined and defined.split()[-1] in KIND_NOUNS)
    if label == "PERSON" and not thing:  # 'the series "Corven Bay"' is no person, nor "X" in "X is a song by Y"
        name = kind[1] if kind else (_entity_in(np, "PERSON") or name)
        alts = [f"which {kind[0]}"] if kind else ([f"which {defined}"] if defined else [])
        return Target(np, "who", name, label, role, prep, alternatives=alts)
    if role in {"attr", "oprd"}:
        return Target(np, "what", name if head.pos_ == "PROPN" else text, label, role, prep)
    if head.pos_ == "PROPN" or kind:
        if kind:
            wh = f"which {kind[0]}"
        elif defined:
            wh = f"which {defined}"
        elif label in {"GPE", "LOC", "FAC"} and role in {"subject", "agent"}:
            wh = "what"  # the subject of an action is rarely a place: a team, a government
        else:
            wh = LABEL_WH.get(label, "what")
        alts = ["what"] if wh != "what" else []
        return Target(np, wh, name, label, role, prep, alternatives=alts)
    if head.pos_ in {"NOUN", "NUM"} or role == "attr":
        return Target(np, "what", text, label, role, prep)
    return None


def definitions(sent: Span) -> dict[str, str]:
    """Kind nouns a sentence defines: "Tetris is a video game ..." -> {"tetris": "video game"}, also with its maker
    ("X is a song by Y"), not with another relation ("X is the son of Y" defines no kind)."""
    out = {}
    for t in sent:
        if t.dep_ == "attr" and t.head.lemma_ == "be" and t.pos_ == "NOUN":
            subj = [c for c in t.head.children if c.dep_ == "nsubj"]
            np = _subject_phrase(subj[0], t.head) if subj else []
            if np and _head(np).pos_ == "PROPN" and not any(c.dep_ == "prep" and c.lower_ != "by" for c in t.children):
                compounds = [c for c in t.children if c.dep_ == "compound" and c.i == t.i - 1 and c.pos_ == "NOUN"
                             and t.doc[c.i - 1].text != "-"]  # not "length" of "a full-length album"
                noun = " ".join([c.lower_ for c in compounds] + [t.lemma_.lower()])
                out[name_text(t.doc[np[0].i : np[-1].i + 1]).lower()] = noun
    return out


@dataclass
class Clause:
    verb: Token
    subject: list[Token]  # the subject phrase ([] for a subject we supply, see `subject_text`)
    subject_text: str
    subject_label: str
    aux: list[str]  # auxiliaries before the verb, as they should be written
    verb_text: str
    complements: list[tuple[Token, str]]  # (token, role) in sentence order
    negated: bool = False
    aliases: list[str] = field(default_factory=list)  # the subject's other names (`aliases`)


def _subject_of(verb: Token) -> list[Token] | None:
    subj = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    if subj:
        if subj[0].tag_ in {"WDT", "WP"} and verb.dep_ == "relcl":
            return _noun_subject(verb.head)
        if verb.dep_ == "relcl":
            return None  # "the territory the United States had acquired": the gap is the object, not the subject
        return _subject_phrase(subj[0], verb) or None
    if verb.dep_ == "conj" and verb.head.pos_ in {"VERB", "AUX"}:
        return _subject_of(verb.head)
    if verb.dep_ in {"relcl", "acl"}:
        return _noun_subject(verb.head)
    if verb.dep_ == "advcl" and verb.tag_ == "VBG" and not any(c.dep_ == "mark" for c in verb.children):
        return _subject_of(verb.head)
    if verb.dep_ == "ROOT" and verb.tag_ in {"VBD", "VBZ", "VBP"}:
        # the small parser sometimes reads an unknown sentence-initial name as a modifier ("Acme ceased to
        # operate ..." with "Acme" an advmod): a name opening the sentence before a tensed verb is its subject
        first = [c for c in verb.children if c.i == verb.sent.start and c.pos_ == "PROPN"
                 and c.dep_ in {"advmod", "npadvmod", "dep", "nmod"}]
        if first:
            return phrase(first[0])
    return None


def subject_outside_brackets(subj: Token, verb: Token) -> Token | None:
    """The parsed subject `subj` of `verb`, repaired when a bracket confused the small parser: in "A (1850, Oderby –
    1921) was ..." it takes "Oderby" for the subject; the subject of a verb outside the bracket is then the name the
    bracket follows, and None when no name does."""
    opening = _opening_bracket(subj)
    if opening is None or _opening_bracket(verb) is not None:
        return subj
    while not opening.is_sent_start and subj.doc[opening.i - 1].text == ")":  # "A (also B) (1935 – 2003) was"
        opening = _opening_bracket(subj.doc[opening.i - 1])
        if opening is None:
            return None
    before = None if opening.is_sent_start else subj.doc[opening.i - 1]
    return before if before is not None and before.pos_ == "PROPN" else None


def _subject_phrase(subj: Token, verb: Token) -> list[Token]:
    """The phrase of the subject `subj` of `verb` (`subject_outside_brackets`): the whole name when the repair took
    the name before a bracket, which the parser may have split ([] when there is no subject)."""
    head = subject_outside_brackets(subj, verb)
    if head is None:
        return []
    ent = _entity_of(head) if head.i != subj.i else None
    return list(ent) if ent is not None and ent.end == head.i + 1 else phrase(head)


def _opening_bracket(tok: Token) -> Token | None:
    """The "(" of the bracket `tok` stands in within its sentence, None when it stands outside every bracket."""
    depth, t = 0, tok
    while not t.is_sent_start:  # not `tok.sent`, which walks the whole document
        t = t.doc[t.i - 1]
        depth += (t.text == ")") - (t.text == "(")
        if depth < 0:
            return t
    return None


def _noun_subject(noun: Token) -> list[Token]:
    """The subject a clause hanging off `noun` is about: the noun itself, or, when the noun is what a copula says
    its subject is ("X is an engineer who ..."), that subject."""
    if noun.dep_ == "pobj" and noun.head.lower_ == "of" and noun.head.head.dep_ == "attr":
        noun = noun.head.head  # "X was a series of battles fought ..." -> about X
    if noun.dep_ == "attr" and noun.head.lemma_ == "be":
        subj = [c for c in noun.head.children if c.dep_ in SUBJECT_DEPS]
        if subj:
            return phrase(subj[0])
    return phrase(noun)


def _shared_aux(verb: Token) -> list[str]:
    """The auxiliaries a participle conjoined without its own takes from the first verb of the coordination: "was
    founded ... and renamed" -> ["was"]; after a copula or a participle phrase ("is a song written by X, and
    recorded by Y") the participle is passive and past: ["was"]."""
    head = verb
    while head.dep_ == "conj" and head.head.pos_ in {"VERB", "AUX"}:
        head = head.head
    aux = [c.text for c in head.children if c.dep_ in {"aux", "auxpass"} and c.i < head.i]
    if aux:
        return aux
    return ["was"] if head.dep_ == "acl" or head.lemma_ == "be" else []


def clauses(sent: Span) -> list[Clause]:
    """Every clause of the sentence whose subject is not a pronoun (a clause about a pronoun cannot stand alone)."""
    out = []
    for v in sent:
        if v.pos_ not in {"VERB", "AUX"} or v.dep_ not in {"ROOT", "conj", "relcl", "acl", "advcl"}:
            continue
        if v.dep_ == "conj" and (v.head.pos_ not in {"VERB", "AUX"} or (v.tag_ == "VBG" and not any(
                c.dep_ == "aux" for c in list(v.children) + list(v.head.children)))):
            continue  # "a film directed by A and starring B": no clause "X starring B" (see `_cast`)
        if v.dep_ == "advcl" and (v.tag_ != "VBG" or any(c.dep_ in {"mark"} | SUBJECT_DEPS for c in v.children)):
            continue
        if v.dep_ == "acl" and (v.tag_ != "VBN" or not (v.head.dep_ in {"attr", "dobj", "nsubj", "nsubjpass", "appos"}
                                                         or (v.head.dep_ == "pobj" and v.head.head.head.dep_ == "attr"))):
            continue
        subj = _subject_of(v)
        if not subj or any(t.dep_ == "expl" for t in v.children):
            continue
        if subj[0].pos_ == "PRON" or subj[0].tag_ in {"WDT", "WP"} or subj[0].lower_ in {"this", "these", "that",
                                                                                          "those", "one", "another"}:
            continue
        aux = [c for c in v.children if c.dep_ in {"aux", "auxpass"} and c.i < v.i]
        verb_text = v.text
        aux_text = [a.text for a in aux]
        if v.dep_ == "acl":
            aux_text = ["was"]  # "a game published in 1984" -> "was published"
        elif v.dep_ == "conj" and not aux and not any(c.dep_ in SUBJECT_DEPS for c in v.children) and (
                v.tag_ == "VBN" or (v.tag_ == "VBD" and _shared_aux(v)
                                    and not any(c.dep_ == "dobj" for c in v.children))):
            # "X was founded in 1900 and renamed ...", "X is a song ..., and recorded by ...", and "born in A and
            # raised in B" with "raised" tagged as a past tense: a participle without an object after a passive
            aux_text = _shared_aux(v)
        elif v.dep_ == "advcl":  # "..., winning the first leg" -> "won the first leg"
            tensed = [a for a in [v.head] + list(v.head.children) if a.tag_ in {"VBD", "VBZ", "VBP"}]
            verb_text = _inflect(v.lemma_, "VBZ" if tensed and tensed[0].tag_ != "VBD" else "VBD") or verb_text
        inside = {t.i for t in subj}
        after = [(c, c.dep_) for c in v.children if c.dep_ in COMPLEMENT_DEPS and c.i > v.i and c.i not in inside
                 and not (v.lemma_ == "bear" and c.dep_ in {"dobj", "oprd", "attr"})  # a birth name: `_birth_names`
                 and (c.dep_ != "ccomp" or _reported(c))]
        before = [(c, c.dep_) for c in v.children if c.dep_ in {"prep", "npadvmod"} and c.i < v.i
                  and c.i not in inside and (c.dep_ == "npadvmod" or any(o.dep_ == "pobj" for o in c.children))]
        subject_text = subj[0].doc[subj[0].i : subj[-1].i + 1].text
        out.append(Clause(v, subj, subject_text, _label(subj), aux_text, verb_text, after + before,
                          any(c.dep_ == "neg" for c in v.children), aliases(list(_head(subj).subtree))))
    return out


def _reported(ccomp: Token) -> bool:
    """The clausal complement `ccomp` can stand in a question about its verb's subject: a verb other than "be"
    reports it ("Who wrote that the riots divided Birmingham?", not "What is that ...?"), it names its own subject
    (not "he would return"), and it has no object of its verb before it ("told the king that ...")."""
    verb = ccomp.head
    subj = [c for c in ccomp.children if c.dep_ in SUBJECT_DEPS]
    return verb.lemma_ != "be" and bool(subj) and subj[0].pos_ != "PRON" \
        and subj[0].lower_ not in {"this", "these", "that", "those"} \
        and not any(c.dep_ in {"dobj", "dative"} for c in verb.children)


def appositions(sent: Span) -> list[Question]:
    """Questions from a name and the description set beside it, asked for the name: "Lina Dorsch (wife of the
    painter Jon Halloran)" -> "Who is the wife of the painter Jon Halloran?"; "the Norvane leader, Ren Adu, ..."
    -> "Who is the Norvane leader?". Only descriptions that name something themselves (a bare "the journalist"
    picks nobody out). Outside parentheses, only a description that starts with a determiner, beside a name that
    is not inside a prepositional phrase or a list (several appositions to one word are a list misread): there the
    parser's attachments are least reliable ("lying in the Velmo Basin, the largest country of the region"
    describes the sentence's subject, not the basin)."""
    out = []
    for tok in sent:
        if tok.dep_ != "appos":
            continue
        name, desc = (tok.head, tok) if tok.pos_ == "NOUN" else (tok, tok.head)
        if name.pos_ != "PROPN" or desc.pos_ != "NOUN" or name.ent_type_ not in NAME_LABELS \
                or len([c for c in tok.head.children if c.dep_ == "appos"]) > 1:  # a list read as appositions
            continue
        desc_tokens = phrase(desc)
        if desc.doc[min(t.i for t in desc.subtree) - 1].text != "(" and (
                name.dep_ in {"pobj", "conj"} or tok.head.dep_ in {"pobj", "conj"}
                or not desc_tokens or not (desc_tokens[0].pos_ == "DET" or desc_tokens[0].dep_ == "poss")):
            continue
        if name.i in {t.i for t in desc_tokens} or not any(t.pos_ == "PROPN" for t in desc_tokens):
            continue
        ent = _entity_of(name)
        answer = name_text(ent) if ent is not None else ""
        described = _lower_first(_span(desc_tokens), desc_tokens)
        if not answer or answer.lower() in described.lower():
            continue
        if desc_tokens[0].pos_ != "DET" and not any(t.dep_ == "poss" for t in desc_tokens):
            described = f"the {described}"
        wh = "who" if name.ent_type_ == "PERSON" else "what"
        q = _tidy(f"{wh} is {described}?")
        # also asked without the titles of a name inside the description: "the wife of Arnav Rhee" for "the wife
        # of governor Arnav Rhee" (the relation's general noun, "the spouse of ...", comes from `relations`)
        plain = described
        for t in desc_tokens:
            kind = kind_noun(phrase(t)) if t.dep_ == "pobj" else None
            if kind and kind[0] not in KIND_NOUNS:
                plain = plain.replace(_span(phrase(t)), kind[1])
        if 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
            out.append(Question(q, _cap(answer), name.ent_type_, "appos", True, f"is {described}",
                                [f for f in _fit([_tidy(f"{wh} is {plain}?")]) if f != q]))
    return out


def _entity_of(tok: Token) -> Span | None:
    """The named-entity span `tok` belongs to, if any."""
    return next((e for e in tok.doc.ents if e.start <= tok.i < e.end), None)


def _name_span(tok: Token) -> tuple[Span | None, str]:
    """(span, label) of the name `tok` belongs to: its named entity, or for a proper noun the NER model left untyped,
    the noun with the proper nouns compounded before it when they are two words or more ("Agnes Thorvald"),
    unlabelled; (None, "") for anything else. Either way with the untyped first names compounded before it that the
    NER left out ("Amsel [Cradwick]"), not a title the dictionary knows as a noun ("King", "President")."""
    doc = tok.doc
    ent = _entity_of(tok) if tok.ent_type_ in NAME_LABELS else None
    if ent is None and (tok.pos_ != "PROPN" or tok.ent_type_):
        return None, ""
    start, end = (ent.start, ent.end) if ent is not None else (tok.i, tok.i + 1)
    while start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].dep_ == "compound" \
            and not doc[start - 1].ent_type_ and start - 1 < doc[start - 1].head.i < end \
            and not _is_noun(doc[start - 1].lower_):
        start -= 1
    if ent is None and start == tok.i:
        return None, ""  # one untyped word: a title, a common word capitalised
    return doc[start:end], ent.label_ if ent is not None else ""


def _name_of(tok: Token) -> tuple[str, str]:
    """(name, label) of `_name_span(tok)`; ("", "") when `tok` is in no name."""
    span, label = _name_span(tok)
    return (name_text(span) if label else span.text, label) if span is not None else ("", "")


def _named(toks: list[Token]) -> list[Token]:
    """The name tokens among `toks` and their conjuncts, a noun standing for the name set beside it ("the painter
    Jon Vik" -> "Jon Vik")."""
    out = []
    for t in toks:
        if t.pos_ == "NOUN":
            t = next((c for c in t.children if c.dep_ == "appos" and c.pos_ == "PROPN" and c.i > t.i), t)
        out += [t] + [c for c in t.conjuncts if c.i > t.i and c.pos_ == "PROPN"]
    return out


def _kin_pairs(noun: Token) -> tuple[list[Token], list[Token]]:
    """(relatives, holders) of a family noun: the names that are the relation and the names they are it of. "A is
    the son of B", "A, the son of B", "B's son is A", "B's son, A", "B's husband A", "B had a brother, A"."""
    if any(p.lower_ == "in" and any(c.lemma_ == "law" for c in p.children) for p in noun.children):
        return [], []  # "father-in-law": a relation by marriage, not the family noun
    holders = [c for prep in noun.children if prep.dep_ == "prep" and prep.lower_ == "of"
               for c in prep.children if c.dep_ == "pobj"]
    holders += [c for c in noun.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
    first = noun
    while first.dep_ == "conj":
        first = first.head
    if first.dep_ == "dobj" and first.head.lemma_ == "have":
        holders += [c for c in first.head.children if c.dep_ == "nsubj"]
    relatives = [c for c in noun.children if c.dep_ == "appos" and c.pos_ == "PROPN"]
    if noun.head.lemma_ in {"be", "become"} and noun.dep_ in {"attr", "nsubj"}:  # "A is/became the wife of B"
        other = "nsubj" if noun.dep_ == "attr" else "attr"
        relatives += [c for c in noun.head.children if c.dep_ == other and c.pos_ == "PROPN"]
    # several relatives only for a plural noun ("two brothers, A and B", the first name read as an apposition or a
    # conjunct); a singular one names the nearest ("B's wife A, C and D", "B's son A and daughter C")
    if noun.tag_ == "NNS":
        relatives = _named(relatives + [c for c in noun.children if c.dep_ == "conj" and c.pos_ == "PROPN"])
    else:
        relatives = [t for t in relatives if _name_of(t)[0]][:1]
    head = noun.head
    ent = _entity_of(head)
    if noun.dep_ in {"appos", "compound"} and ent is not None and ent.root == head and ent.label_ in {"PERSON", "ORG"}:
        # a name, not a word inside one ("the first Earl of Wendmoor, son of ..."); persons are often typed ORG. In a
        # list of names, the name's conjuncts are not relatives too.
        relatives.append(head)
    return relatives, _named(holders)


def _kin_question(noun: str, holder: str) -> str:
    return f"Who is {'the' if noun in UNIQUE_KIN else 'a'} {noun} of {holder}?"


def relations(sent: Span) -> list[Question]:
    """The relations between two names (or a name and its dates) that knowledge bases record, each asked by the
    noun they use for it: family (`_family`), a person's life dates in brackets (`_life_dates`) and birth name
    (`_birth_names`), a film's cast
    (`_cast`), where a person was educated (`_schools`). Role "relation": the rules profile joins the same
    question from several sentences into one pair listing every answer."""
    return _family(sent) + _life_dates(sent) + _birth_names(sent) + _cast(sent) + _schools(sent)


def _life_dates(sent: Span) -> list[Question]:
    """A person's life span in brackets after the name (`clean.LIFE_SPAN`): "Ines Varro (4 May 1901 in Oderby – 1975)"
    -> "When was Ines Varro born?" (4 May 1901, also "What is the date of birth of ...?"), "Where was Ines Varro
    born?" (Oderby), "When did Ines Varro die?" (1975). For "A, born B (...)" the dates are A's. The name typed
    PERSON, or two proper nouns the NER left untyped and without an article ("The Brask War" is no person), or ORG
    with a day and month in both dates (the small NER model types many persons ORG). Not a
    term of office (`_lifetime`): a bracket of bare years after a title ("King A (1340–1365)"), or one of several
    brackets where one starts the year another ends (a succession)."""
    found = []
    doc = sent.doc
    kinds = definitions(sent)  # "A (1902–1988) was a steel company": a thing's kind, not a person
    for tok in sent:
        close = next((t for t in doc[tok.i + 1 : sent.end] if t.text == ")"), None) if tok.text == "(" else None
        span = LIFE_SPAN.match(doc[tok.i + 1 : close.i].text.split(";")[-1]) if close and tok.i > sent.start else None
        if span is None:
            continue
        before = doc[tok.i - 1]
        name_span, label = _name_span(before)
        name, start = (_name_of(before)[0], name_span.start) if name_span is not None else ("", before.i)
        full_dates = all(re.search(r"[A-Za-z]{3}", span[k]) for k in ("born", "died"))  # "6 June 1917"
        if not name or label not in {"PERSON", ""} | ({"ORG"} if full_dates else set()) or (
                not label and any(c.dep_ == "det" for c in before.children)):
            continue  # a person typed ORG has a day and month: an organisation's bracket has years
        if start - 2 >= sent.start and doc[start - 1].lower_ in {"born", "née"} and doc[start - 2].text == ",":
            name = _name_of(doc[start - 3])[0] if start - 3 >= sent.start else ""  # "A, born B (...)": A's dates
        titled = start > sent.start and doc[start - 1].is_title and doc[start - 1].pos_ in {"NOUN", "PROPN"} \
            and doc[start - 1].lower_.rstrip(".") not in HONORIFICS
        bare_years = not re.search(r"[A-Za-z]", span["born"] + span["died"])
        kind = kinds.get(name.lower(), "")
        thing = bool(kind) and kind.split()[-1] in KIND_NOUNS
        if name and _lifetime(span["born"], span["died"]) and not (titled and bare_years) and not thing:
            found.append((name, span))
    years = [(_year(s["born"]), _year(s["died"])) for _, s in found]
    if any(b == d for b, _ in years for _, d in years):
        return []  # "under A (1340–1380) and his son B (1380–1412)": reigns
    out = []
    for name, span in found:
        for event, noun, when, where in (("born", "birth", span["born"], span["born_in"]),
                                         ("died", "death", span["died"], span["died_in"])):
            asked = (f"When was {name} born?", f"Where was {name} born?") if event == "born" else \
                (f"When did {name} die?", f"Where did {name} die?")
            verb = "was born" if event == "born" else "died"
            out.append(Question(asked[0], when.strip(), "DATE", "relation", False, f"{verb} in {when}",
                                [f"What is the date of {noun} of {name}?"]))
            if where:
                place = where.strip().rstrip(",")
                out.append(Question(asked[1], place, "GPE", "relation", True, f"{verb} in {place}",
                                    [f"What is the place of {noun} of {name}?"]))
    return out


def _birth_names(sent: Span) -> list[Question]:
    """"A was born B in C" (B the name A was born with; the parser hangs "in C" on B) -> "What is the birth name of
    A?" (B), and "Where was A born?" (C, also "What is the place of birth of A?")."""
    out = []
    for verb in sent:
        if verb.lemma_ != "bear" or verb.pos_ != "VERB":
            continue
        people = [_name_of(c) for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}]
        for given in [c for c in verb.children if c.dep_ in {"dobj", "oprd", "attr"} and c.pos_ == "PROPN"]:
            start = min([c.i for c in given.lefts if c.dep_ == "compound" and c.pos_ == "PROPN"] + [given.i])
            birth_name = given.doc[start : given.i + 1].text  # the NER splits foreign birth names
            places = [_name_of(o) for p in given.children if p.dep_ == "prep" and p.lower_ in {"in", "at"}
                      for o in p.children if o.dep_ == "pobj"]
            for person, label in people:
                if not person or label not in {"PERSON", "ORG", ""} or birth_name == person:  # persons typed ORG
                    continue
                out.append(Question(f"What is the birth name of {person}?", birth_name, "PERSON", "relation", True,
                                    f"was born {birth_name}", [f"What was {person}'s name at birth?"]))
                out += [Question(f"Where was {person} born?", place, place_label, "relation", True,
                                 f"was born in {place}", [f"What is the place of birth of {person}?"])
                        for place, place_label in places if place_label in {"GPE", "LOC", "FAC"}]
    return out


def _year(date: str) -> int:
    return int(re.findall(r"\d{3,4}", date)[-1])


def _lifetime(born: str, died: str) -> bool:
    """Two dates far enough apart for a life, not a term of office: "President A (1853–1857)" held office."""
    return MIN_LIFE_YEARS <= _year(died) - _year(born) <= 120


def _work_of(verb: Token) -> Token | None:
    """The work a participle describes: "X is a film ... starring Y" -> X; "X, a film starring Y" -> X."""
    head = verb
    while head.dep_ in {"conj", "acl", "xcomp"} and head.head.pos_ in {"VERB", "NOUN"}:
        head = head.head
        if head.pos_ == "NOUN":
            break
    if head.pos_ != "NOUN":
        return None
    if head.dep_ == "attr" and head.head.lemma_ == "be":
        return next((c for c in head.head.children if c.dep_ == "nsubj" and c.pos_ == "PROPN"), None)
    return head.head if head.dep_ == "appos" and head.head.pos_ == "PROPN" else None


def _title_of(tok: Token) -> str:
    """A work's name: its proper-noun phrase (titles are often untyped, or split by the NER: "Si mis campos
    hablaran"), else its entity."""
    words = phrase(tok)
    return _span(words) if _head(words).pos_ == "PROPN" and len(words) <= 8 else _name_of(tok)[0]


def _cast(sent: Span) -> list[Question]:
    """A film's cast, asked both ways: "X is a 1997 drama film ... starring A and B", "X stars A", "A starred in
    (the film) X" -> "Who starred in X?" (A, B; also "Who is a cast member of X?"), "What did A star in?" (X). Not
    "starred in Brask" (a city)."""
    found = []
    for verb in sent:
        if verb.lemma_ != "star" or verb.pos_ != "VERB":
            continue
        actors = _named([c for c in verb.children if c.dep_ == "dobj"])
        if actors:  # "X stars A", "a film starring A"
            works = [c for c in verb.children if c.dep_ == "nsubj" and c.pos_ == "PROPN"] or [_work_of(verb)]
        else:  # "A starred in X"
            actors = _named([c for c in verb.children if c.dep_ == "nsubj"])
            works = [w for w in _named([o for p in verb.children if p.dep_ == "prep" and p.lower_ == "in"
                                        for o in p.children if o.dep_ == "pobj"])  # "in (the film) X"
                     if w.pos_ == "PROPN" and w.ent_type_ not in {"GPE", "LOC", "DATE", "PERSON"}]
        found += [(_name_of(a)[0], _title_of(w)) for a in actors for w in works if w is not None]
    out = []
    for actor, work in dict.fromkeys(found):
        if actor and work and actor != work:
            out.append(Question(f"Who starred in {work}?", actor, "PERSON", "relation", True, f"starred in {work}",
                                [f"Who is a cast member of {work}?", f"Who acted in {work}?"]))
            out.append(Question(f"What did {actor} star in?", work, "WORK_OF_ART", "relation", True,
                                f"is a cast member of {work}"))
    return out


def _schools(sent: Span) -> list[Question]:
    """Where a person was educated (`SCHOOL_VERBS`): "A graduated from X", "A studied law at X", "A attended X",
    "A obtained a degree in painting at X" -> "Where was A educated?" (X; also "Where did A study?"). The school
    a named organisation or building (for "attend" and "study", whose object may be an event or a text, one with
    a school's noun in its name: `SCHOOL_NOUNS`); the person a name the NER does not type as something else; not an
    honorary degree."""
    out = []
    for verb in sent:
        preps = SCHOOL_VERBS.get(verb.lemma_.lower()) if verb.pos_ == "VERB" else None
        if not preps:
            continue
        objs = [c for c in verb.children if c.dep_ == "dobj"]
        degree = [o for o in objs if o.lemma_.lower() in DEGREE_NOUNS
                  and not any(c.lower_ == "honorary" for c in o.children)]  # an honour, not schooling
        if verb.lemma_.lower() in {"obtain", "receive", "earn", "complete"} and not degree:
            continue  # "received an award at X" is no schooling
        # the school hangs off the verb or its object ("studied law at X", "a degree in law at X")
        objects = degree or objs
        holders = [verb] + objects + [o for d in objects for p in d.children if p.dep_ == "prep" and p.lower_ == "of"
                                      for o in p.children if o.dep_ == "pobj"]
        schools = _named((objs if "dobj" in preps else []) + [
            o for h in holders for p in h.children if p.dep_ == "prep" and p.lower_ in preps
            for o in p.children if o.dep_ == "pobj"])  # and their conjuncts: "at X and Y"
        people = _named([c for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}])
        for person, label in map(_name_of, people):
            for school in schools:
                name, school_label = _name_of(school)
                if verb.lemma_.lower() in {"attend", "study"} and not SCHOOL_NOUNS & set(name.lower().split()):
                    continue  # "attended the Lenz Conference", "studied the Codex at X": a school says so
                if person and name and label in {"PERSON", ""} and school_label in {"ORG", "FAC", ""}:
                    out.append(Question(f"Where was {person} educated?", name, school_label or "ORG", "relation",
                                        True, f"was educated at {name}", [f"Where did {person} study?"]))
    return out


def _family(sent: Span) -> list[Question]:
    """Family relations between two names, asked both ways by the nouns knowledge bases use (`KIN_NOUNS`): "Greta
    Lorne was the second daughter of Aldo Lorne" -> "Who is a child of Aldo Lorne?" (and "Who is a daughter of Aldo
    Lorne?") -> Greta Lorne, and "Who is a parent of Greta Lorne?" -> Aldo Lorne; "Greta Lorne married Piers
    Amblin" -> "Who is the spouse of Greta Lorne?" and of Piers Amblin. Forms: `_kin_pairs`, and marry with an
    object or "to". One of the two names typed PERSON (the small NER model types some persons ORG or GPE; two
    organisations are a parent company and its subsidiary). Several sentences asking the same question
    ("Who is a child of X?" for each child) are joined into one pair by the rules profile."""
    found: list[tuple[tuple[str, str], str, tuple[str, str]]] = []  # (relative, noun, holder): relative is holder's
    for tok in sent:
        if tok.pos_ == "NOUN" and tok.lemma_.lower() in KIN_NOUNS:
            relatives, holders = _kin_pairs(tok)
            found += [(r, tok.lemma_.lower(), h) for r in map(_name_of, relatives) for h in map(_name_of, holders)]
        elif (tok.lemma_ == "marry" and tok.pos_ == "VERB") or (tok.lower_ == "married" and tok.pos_ == "ADJ"):
            # "A married B", "A was married to B"
            verb = tok.head if tok.dep_ == "acomp" else tok
            subjects = _named([c for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}])
            objects = _named([c for c in tok.children if c.dep_ == "dobj"] + [
                c for prep in tok.children if prep.dep_ == "prep" and prep.lower_ == "to"
                for c in prep.children if c.dep_ == "pobj"])
            if not objects:  # "A and B married"
                subjects, objects = subjects[:1], subjects[1:2]
            found += [(o, "spouse", s) for o in map(_name_of, objects) for s in map(_name_of, subjects)]
    out = []
    for (relative, rlabel), noun, (holder, hlabel) in dict.fromkeys(found):
        shorter, longer = sorted((relative.lower(), holder.lower()), key=len)
        if not shorter or shorter == longer or (" " not in shorter and shorter in longer.split()):
            continue  # "Tarn" beside "Ada Tarn" is the name cut short, not a relative (a namesake is kept)
        if "PERSON" not in {rlabel, hlabel}:
            continue
        general = KIN_NOUNS[noun]
        out.append(Question(_kin_question(general, holder), relative, "PERSON", "relation", True,
                            f"is the {noun} of {holder}", [_kin_question(noun, holder)] if noun != general else []))
        back = KIN_INVERSE[general]
        out.append(Question(_kin_question(back, relative), holder, "PERSON", "relation", True,
                            f"is the {back} of {relative}"))
    return out


def abbreviations(sent: Span) -> list[Question]:
    """What a short form stands for, from the two ways a text introduces one: "X, commonly abbreviated as Y" and
    "X (Y)" where Y spells the initials of X's capitalised words ("the National Oceanic and Atmospheric
    Administration (NOAA)") -> "What does Y stand for?" (X); the bracketed form is also asked the other way ("What
    is the abbreviation of X?" -> Y)."""
    doc = sent.doc
    out = []
    for tok in sent:
        if tok.lemma_.lower() == "abbreviate" and tok.tag_ == "VBN":
            shorts = [o for p in tok.children if p.dep_ == "prep" and p.lower_ in {"as", "to"}
                      for o in p.children if o.dep_ == "pobj"] + [o for o in tok.children if o.dep_ in {"oprd", "dobj"}]
            full = tok.head if tok.dep_ == "acl" else next((c for c in tok.children if c.dep_ == "nsubjpass"), None)
            if shorts and full is not None and full.pos_ != "PRON":
                short = _span([t for t in phrase(shorts[0]) if t.dep_ != "det"])
                long_form = _cap(_span(phrase(full)))
                if short and long_form:
                    out.append(_stands_for(short, long_form))
        elif tok.text == "(" and tok.i + 2 < sent.end and doc[tok.i + 2].text == ")" \
                and re.fullmatch(r"[A-Z][A-Z&]{1,7}s?", doc[tok.i + 1].text):
            short = doc[tok.i + 1].text
            long_form = _spelled_by(doc[sent.start : tok.i], short.rstrip("s").replace("&", ""))
            if long_form:
                out += [_stands_for(short, long_form),
                        Question(_tidy(f"what is the abbreviation of {long_form}?"), short, "", "abbreviation",
                                 False, f"is abbreviated as {short}", [_tidy(f"what is {long_form} abbreviated as?")])]
    return out


def _stands_for(short: str, long_form: str) -> Question:
    return Question(_tidy(f"what does {short} stand for?"), _cap(long_form), "", "abbreviation", False,
                    f"stands for {long_form}", [_tidy(f"what is {short} short for?"),
                                                _tidy(f"what is the full name of {short}?")])


def _spelled_by(before: Span, letters: str) -> str:
    """The run of capitalised words ending `before` whose initials spell `letters` (small words such as "of",
    "and" between them), as the text writes it; "" when none does."""
    words: list[Token] = []
    for t in reversed(before):
        if t.is_title or t.is_upper:
            words.append(t)
            if len(words) == len(letters):
                break
        elif not (words and t.lower_ in {"of", "and", "for", "on", "in", "the", "de", "du", "&"}):
            return ""
    if len(words) != len(letters) or "".join(w.text[0] for w in reversed(words)).upper() != letters.upper():
        return ""
    the = "the " if words[-1].i > before.start and words[-1].nbor(-1).lower_ == "the" else ""
    return the + _span([words[-1], before[-1]])


def gerund_events(sent: Span) -> list[Question]:
    """A dated action named by a gerund whose doer is only a pronoun, asked about its object in the passive: "...
    resulted in his founding the Republic of Ostrand in 1930" -> "When was the Republic of Ostrand founded?"
    (1930). The clause questions cannot ask it: "his" does not stand alone."""
    out = []
    for verb in sent:
        if verb.tag_ != "VBG" or verb.dep_ not in {"pcomp", "pobj"}:
            continue
        doers = [c for c in verb.children if c.dep_ in SUBJECT_DEPS | {"poss"}]
        objs = [c for c in verb.children if c.dep_ == "dobj"]
        if not objs or (doers and doers[0].pos_ != "PRON"):
            continue
        obj = target_for(objs[0], "dobj")
        vbn = _inflect(verb.lemma_, "VBN")
        if obj is None or not obj.named or not vbn:
            continue
        for prep in verb.children:
            t = target_for(prep, "prep") if prep.dep_ == "prep" else None
            if t is None or t.wh != "when":
                continue
            obj_text = _lower_first(_span(phrase(objs[0])), phrase(objs[0]))
            q = _tidy(f"when was {obj_text} {vbn}?")
            if 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
                out.append(Question(q, _cap(t.answer), t.label, "gerund", False, f"was {vbn} {_span(phrase(prep))}",
                                    t.alternatives and [_tidy(f"{t.alternatives[0]} was {obj_text} {vbn}?")]))
    return out


def _lower_first(text: str, tokens: list[Token]) -> str:
    """Lower-case a phrase's first word when it started the sentence and is not a name."""
    if tokens and tokens[0].i == tokens[0].sent.start and not (tokens[0].text.isupper() and tokens[0].text != "A") \
            and (tokens[0].pos_ in {"DET", "ADP", "ADV", "PRON"} or (tokens[0].pos_ == "ADJ" and not tokens[0].ent_type_)):
        return text[:1].lower() + text[1:]
    return text


def _balanced(text: str) -> str:
    """The text without its double quotes when a phrase boundary cut one of a pair off: 'series "Corven Bay'."""
    return re.sub(r'["“”]', "", text) if len(re.findall(r'["“”]', text)) % 2 else text


def _tidy(q: str) -> str:
    q = _balanced(q)
    q = re.sub(r"\s+([,.;:?!%])", r"\1", " ".join(q.split()))
    q = re.sub(r"\s+(['’]s)\b", r"\1", q)
    q = q.strip(" ,;:")
    return q[:1].upper() + q[1:]


def _singular(word: str) -> str:
    return {"were": "was", "are": "is", "have": "has", "do": "does"}.get(word.lower(), word)


def _render(comps: list[tuple[Token, str]], exclude: set[int] = frozenset()) -> str:
    """The complements' phrases in order, without the tokens in `exclude`."""
    parts = []
    for c, _ in comps:
        toks = [t for t in phrase(c) if t.i not in exclude]
        runs: list[list[Token]] = []
        for t in toks:
            if runs and t.i == runs[-1][-1].i + 1:
                runs[-1].append(t)
            else:
                runs.append([t])
        parts += [_lower_first(_span(r), r) for r in runs]
    return " ".join(p for p in parts if p)


def _be(plural: bool, past: bool) -> str:
    return ("were" if plural else "was") if past else ("are" if plural else "is")


def _plural(tokens: list[Token]) -> bool:
    return bool(tokens) and _head(tokens).tag_ == "NNS"


def questions(clause: Clause, kinds: dict[str, str] | None = None) -> list[Question]:
    """Every question about the clause's parts: best phrasing first, the others as its paraphrases."""
    if clause.negated or clause.verb.lemma_ == "do":
        return []
    out: list[Question] = []
    comps = clause.complements
    verb = clause.verb
    has_object = any(role in {"dobj", "attr", "oprd", "acomp"} for _, role in comps)
    core = [(c, r) for c, r in comps if r in CORE_DEPS]
    if not has_object and not any(a.dep_ == "auxpass" for a in verb.children) and verb.dep_ != "acl":
        # a verb whose complement is a prepositional phrase: "lies on both banks of X"
        core += [(c, r) for c, r in comps if r in {"prep", "agent"}][:1]
    subject = _lower_first(clause.subject_text, clause.subject)
    verb = clause.verb
    is_be = verb.lemma_ == "be" and not clause.aux
    predicate = " ".join(clause.aux + [clause.verb_text, _render(comps)])

    def rests(rest_core: list, rest_all: list, allow_empty: bool = False) -> list[str]:
        core_text, all_text = _render(rest_core), _render(rest_all)
        if not core_text and not allow_empty:
            core_text = _render(rest_all[:1])
        return [core_text] + ([all_text] if all_text != core_text and len(all_text.split()) <= 16 else [])

    subj_target = target_for(_head(clause.subject), "subject", kinds)
    if subj_target and subj_target.wh not in {"when", "where"} and not subj_target.prep:
        verb_words = [_singular(w) for w in clause.aux[:1]] + clause.aux[1:] + [clause.verb_text]
        if not clause.aux and verb.tag_ in {"VBP", "VBZ"}:
            verb_words = [_singular(clause.verb_text) if is_be else (_inflect(verb.lemma_, "VBZ") or clause.verb_text)]
        elif not clause.aux and verb.tag_ == "VBD" and is_be:
            verb_words = ["was"]
        whs = [subj_target.wh] + subj_target.alternatives
        if verb.lemma_ == "bear" and subj_target.named:  # only a person is born; the NER types some persons ORG
            whs = ["who"]
        if is_be and any(r == "attr" for _, r in comps):  # "X is a pop artist": who/what, not "which artist"
            whs = ["who" if subj_target.label == "PERSON" and not _kind_of_thing(comps) else "what"]
        subject_rests = rests(core, comps)
        if is_be and any(r == "attr" for _, r in comps):  # the whole description: "a video game published in 1984"
            attr = next(c for c, r in comps if r == "attr")
            whole = _span(phrase(attr, trim=False))
            if len(whole.split()) <= 16:
                subject_rests = [whole] + subject_rests
            # one of two coordinated descriptions is asked alone first: "Who is the mascot of X?", not "Who is
            # the mascot of X and winner of Y?"
            first = _first_conjunct(attr)
            if first:
                subject_rests = [first] + subject_rests
        forms = [_tidy(f"{wh} {' '.join(verb_words)} {rest}?") for wh in whs for rest in subject_rests]
        passive = _passive_subject_question(clause, whs[0])
        if passive:
            forms.append(passive)
        objs = [c for c, r in comps if r == "dobj"]
        if objs and not clause.aux:
            forms.insert(1, _agent_noun_question(clause, whs[0], phrase(objs[0])) or "")
        forms = _fit(forms)
        if forms:
            out.append(Question(forms[0], _cap(subj_target.answer), subj_target.label, "subject",
                                subj_target.named, predicate, forms[1:]))
    reports = any(r == "ccomp" for _, r in comps)  # its other parts are not asked: "What did X claim that ... after?"
    for comp, role in [] if reports else comps:
        t = target_for(comp, role, kinds)
        if t is None:
            continue
        rest_core = [(c, r) for c, r in core if c is not comp]
        rest_all = [(c, r) for c, r in comps if c is not comp]
        whs = [t.wh] + t.alternatives
        if is_be and role == "attr" and clause.subject_label == "PERSON" and not _kind_of_thing(comps):
            whs = ["who"] + whs
        forms = []
        for wh in whs:
            for rest in rests(rest_core, rest_all, allow_empty=True):
                tail = f"{rest} {t.prep}".strip()
                if is_be:
                    if t.wh in {"where", "when"} or role == "attr":
                        tail = t.prep  # "Where is Norway?", "What is Tetris?"
                    elif has_object:
                        continue  # "What is X an American corporation ...?": not a question
                    forms.append(_tidy(f"{wh} {clause.verb_text} {subject} {tail}?"))
                elif clause.aux:
                    forms.append(_tidy(f"{wh} {clause.aux[0]} {subject} {' '.join(clause.aux[1:])} "
                                       f"{clause.verb_text} {tail}?"))
                else:
                    tag = verb.tag_ if verb.dep_ != "advcl" else ("VBZ" if clause.verb_text.endswith("s") else "VBD")
                    if tag in DO_FORMS:
                        forms.append(_tidy(f"{wh} {DO_FORMS[tag]} {subject} {verb.lemma_} {tail}?"))
        if not rest_core and not t.prep and not t.answer.startswith("between "):
            forms.insert(1, _relation_noun_question(clause, subject, t.wh, is_be) or "")
        if t.wh == "when" and t.answer.startswith("between ") and not is_be:
            out += _span_ends(clause, subject, _between_ends(comp), _render(rest_core), predicate, out)
        if role == "dobj":
            forms.append(_passive_object_question(clause, comp, t) or "")
        label_of = verb.lemma_ == "release" and t.label == "ORG" and (role == "agent" or (
            role == "prep" and comp.lower_ in RELEASE_PREPS)) and WORK_KINDS.get(_kind_of(clause, kinds)) in {"song",
                                                                                                            "album"}
        if label_of:  # "X was released on Y Records" -> "What is the record label of X?"
            forms.insert(1, _tidy(f"what is the record label of {subject}?"))
        if role == "agent":
            named = bool(clause.subject) and _head(clause.subject).pos_ == "PROPN"  # not "the performer of a song"
            maker = _maker_question(_kind_of(clause, kinds), verb.lemma_.lower(), subject, t.label) if named else ""
            forms[:0] = [_active_agent_question(clause, t) or "",
                         maker or _agent_noun_question(clause, t.wh, clause.subject) or ""]
        forms = _fit(forms)
        if forms:
            out.append(Question(forms[0], _cap(t.answer), t.label, role, t.named, predicate,
                                forms[1:]))
    if not is_be:
        out += _span_ends(clause, subject, _from_until_ends(clause),
                          _render([(c, r) for c, r in core if c.lower_ not in SPAN_PREPS]), predicate, out)
    out += _whose(clause, subject, is_be) + _of_what(clause, subject, is_be, kinds)
    out += _nested_when(clause, subject, core, is_be, out)
    where = _where_is(clause, subject, is_be)
    if where:  # the description's place comes first: "Ostrand is a country in the Velmo Basin, on the shore of ..."
        out = [q for q in out if not q.text.lower().startswith("where")] + where
    out += _place_kinds(clause, out)
    for q in out if clause.aliases else []:  # asked by the subject's other name too: "Where is St. Arno's?"
        if q.role != "subject" and subject in q.text:
            q.paraphrases.insert(0, _tidy(q.text.replace(subject, clause.aliases[0], 1)))
    for q in out:  # a short form that lost every name is no phrasing of a question that has one: "What is a song?"
        if names_something(q.text):
            q.paraphrases = [p for p in q.paraphrases if names_something(p)]
    return out


def _between_ends(comp: Token) -> tuple[str, str]:
    """The two dates of "between A and B" ("", "" when the phrase is not two coordinated dates)."""
    objs = [c for c in comp.children if c.dep_ == "pobj"]
    ends = objs[:1] + [c for c in objs[0].children if c.dep_ == "conj"][:1] if objs else []
    if len(ends) != 2:
        return "", ""
    cut = min([c.i for c in ends[0].children if c.dep_ == "cc"] + [ends[1].i])
    first = [t for t in phrase(ends[0]) if t.i < cut]
    return _span(first).strip(" ,"), _span(phrase(ends[1]))


def _from_until_ends(clause: Clause) -> tuple[str, str]:
    """The dates a clause runs from and until: "held from the foundation of the state in 1929 until his death in
    1952" -> ("", "1952"); a side is the one date inside its "from"/"since" or "until"/"till" phrase."""
    ends = []
    for preps in (SPAN_PREPS - {"until", "till"}, SPAN_PREPS - {"from", "since"}):
        phrases = [c for c, r in clause.complements if r == "prep" and c.lower_ in preps]
        dates = [e for c in phrases for e in c.doc.ents if e.label_ == "DATE" and c.i < e.start
                 and e.end - 1 <= max(t.i for t in c.subtree)]
        ends.append(dates[0].text if len(dates) == 1 and not RELATIVE_DATE.match(dates[0].text) else "")
    return (ends[0], ends[1]) if ends[1] else ("", "")


def _span_ends(clause: Clause, subject: str, ends: tuple[str, str], rest: str, predicate: str,
               asked: list[Question]) -> list[Question]:
    """A time span asked for its ends: "fought between March 1921 and June 1922" -> "When was X first fought?"
    (March 1921) and "When was X last fought?" (June 1922), also "When did X start/end?" for an event (`happened`
    below); an end that is "" is not asked. An end some question of `asked` already answers ("Until when did X live
    there?" -> 1910) gets the new phrasing as a paraphrase of that question instead of a pair of its own."""
    out = []
    # an event (a name the NER types as one, or whose own noun says so: "the Battle of X") starts and ends
    # itself; a bridge "built between ..." or a person "imprisoned between ..." does not
    head = _head(clause.subject) if clause.subject else None
    happened = clause.subject_label == "EVENT" or (head is not None and head.lemma_.lower() in EVENT_KINDS)
    for which, end, verb in zip(("first", "last"), ends, ("start", "end")):
        q = _when_question(clause, subject, rest, which)
        if not end or not q or not 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
            continue
        same = [a for a in asked if a.answer.lower() == _cap(end).lower()]
        if same:
            same[0].paraphrases.append(q)
        else:
            out.append(Question(q, _cap(end), "DATE", "span", False, predicate,
                                [_tidy(f"when did {subject} {verb}?")] if happened and not rest else []))
    return out


def _first_conjunct(noun: Token) -> str:
    """The first of coordinated descriptions: "the official mascot of X and winner of Y" -> "the official mascot
    of X"; "" when the noun has no coordinated noun."""
    joined = [c.i for c in noun.children if c.i > noun.i and (c.dep_ == "cc" or (c.dep_ == "conj" and c.pos_ in
                                                                                   {"NOUN", "PROPN"}))]
    if not any(c.dep_ == "conj" for c in noun.children if c.i in joined):
        return ""
    tokens = [t for t in phrase(noun) if t.i < min(joined)]
    while tokens and tokens[-1].is_punct:
        tokens = tokens[:-1]
    # alone it must still pick its subject out: a name, a number or a few words ("a major city" does not)
    specific = any(t.pos_ in {"PROPN", "NUM"} for t in tokens) or len([t for t in tokens if t.dep_ != "det"]) >= 4
    return _span(tokens) if tokens and tokens[-1].i >= noun.i and specific else ""


def _where_is(clause: Clause, subject: str, is_be: bool) -> list[Question]:
    """Where a description places its subject: "A Lim is a village in south-eastern Laos" -> "Where is A Lim?"
    (south-eastern Laos). Only for a subject that is not a person and a place phrase holding a place name."""
    if not is_be or (clause.subject_label == "PERSON" and not _kind_of_thing(clause.complements)):
        return []
    for comp, role in clause.complements:
        if role != "attr" or comp.pos_ != "NOUN":
            continue
        for prep in _place_preps(comp):
            objs = [c for c in prep.children if c.dep_ == "pobj"]
            if prep.lower_ not in WHERE_PREPS or not objs:
                continue
            place = _glued(phrase(objs[0]))
            if not any(t.ent_type_ in {"GPE", "LOC", "FAC"} for t in place):
                continue
            q = _tidy(f"where {clause.verb_text} {subject}?")
            if not 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
                return []
            predicate = " ".join([clause.verb_text, _render(clause.complements)])
            located = _tidy(f"where {clause.verb_text} {subject} located?")
            return [Question(q, _cap(_span(place)), _label(place) or "LOC", "prep", False, predicate,
                             _fit([_relation_noun_question(clause, subject, "where", is_be) or "", located]))]
    return []


def _place_preps(noun: Token) -> list[Token]:
    """The prepositions hanging off `noun`, nearest first, then those of their objects reached through locating
    prepositions, and "of" a plural ("a series of raids on the villages off the coast of Orlen in the Grey Sound"
    -> of, on, off, of, in), never through a clause or another preposition ("a film about a village in Tarsk" is
    not in Tarsk, nor "a painting of the harbour of Orlen" in Orlen)."""
    out, frontier = [], [noun]
    while frontier:
        preps = [c for n in frontier for c in n.children if c.dep_ == "prep"]
        out += preps
        frontier = [o for p in preps if p.lower_ in WHERE_PREPS | {"of", "off", "near", "along"}
                    for o in p.children if o.dep_ == "pobj" and (p.lower_ != "of" or o.tag_ == "NNS")]
    return out


def _whose(clause: Clause, subject: str, is_be: bool) -> list[Question]:
    """Possessives asked the other way: "X is Y's third album" -> "Whose third album is X?" (Y); and so is an
    author after "by": "X is a novel by Y" -> "Whose novel is X?" (Y), also asked "Who is the creator of X?"."""
    out = []
    for comp, role in clause.complements:
        if role != "attr" or not is_be:
            continue
        owners = [c for c in comp.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
        authors = [o for c in comp.children if c.dep_ == "prep" and c.lower_ == "by" for o in c.children
                   if o.dep_ == "pobj" and (_label(phrase(o)) in {"PERSON", "ORG"} or _head(phrase(o)).pos_ == "PROPN"
                                                or kind_noun(phrase(o)))]
        if owners:
            owner = phrase(owners[0], trim=True)
            owned = [t for t in phrase(comp) if t.i not in {x.i for x in owners[0].subtree} and t.dep_ != "det"]
        elif authors:
            owner = phrase(authors[0])
            owned = [t for t in phrase(comp) if t.i < authors[0].head.i and t.dep_ != "det"]
        else:
            continue
        kind = kind_noun(owner)  # "New Orleans drummer Stanton Moore" -> Stanton Moore
        name = kind[1] if kind else name_text(owner[0].doc[owner[0].i : owner[-1].i + 1]) if owner else ""
        if not owned or not name:
            continue
        q = _tidy(f"whose {_span(owned)} {clause.verb_text} {subject}?")
        # a work "by" its author, or a person's numbered or debut album, film or book ("Y's third album", not
        # "Y's favourite film"): the maker, by the relation's general noun
        made = bool(authors) or (comp.lemma_.lower() in KIND_NOUNS_BY_LABEL["WORK_OF_ART"] and any(
            c.ent_type_ == "ORDINAL" or c.lower_ == "debut" for c in comp.children))
        maker = _maker_question(comp.lemma_, "by", subject, _label(owner))
        out.append(Question(q, _cap(name), _label(owner), "poss", True,
                            " ".join([clause.verb_text, _span(phrase(comp))]),
                            _fit([maker, f"Who is the creator of {subject}?", f"Who created {subject}?"])
                            if made else []))
    return out


def _of_what(clause: Clause, subject: str, is_be: bool, kinds: dict[str, str] | None) -> list[Question]:
    """What a description relates its subject to, asked the other way: "X is the pilot episode of the series Corven
    Bay" -> "Which series is X the pilot episode of?" (Corven Bay); "Velmora is the capital of Ostrand" ->
    "Which place is Velmora the capital of?". Only for a name after "of" (not "a series of battles")."""
    out = []
    for comp, role in clause.complements if is_be else []:
        if role != "attr" or comp.pos_ != "NOUN":
            continue
        for prep in comp.children:
            if prep.dep_ != "prep" or prep.lower_ != "of":
                continue
            t = target_for(prep, "prep", kinds)
            if t is None or not t.named or t.wh in {"when", "where"} or t.wh.startswith("how"):
                continue
            described = [x for x in phrase(comp) if x.i < prep.i]
            q = _tidy(f"{t.wh} {clause.verb_text} {subject} {_lower_first(_span(described), described)} of?")
            if 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
                out.append(Question(q, _cap(t.answer), t.label, "of", True,
                                    " ".join([clause.verb_text, _span(phrase(comp))]), []))
    return out


def _place_kinds(clause: Clause, asked: list[Question]) -> list[Question]:
    """A place named with its kind inside a "Where ...?" answer, asked by that kind: "Where is Alderby?" (the
    town of Wexcombe, Brant County, Ostrand) -> "Which county is Alderby in?" (Brant County), also asked "What is the
    county of Alderby?"."""
    out = []
    places = [e for e in clause.verb.sent.ents if e.label_ in {"GPE", "LOC", "FAC"} and len(e) > 1
              and e[-1].pos_ == "PROPN" and e[-1].lower_ in KIND_NOUNS]
    for q in asked:  # not "Where does X flow to?": the kind question would need the preposition moved
        if not q.text.startswith("Where ") or q.text.split()[-1].rstrip("?").lower() in {"to", "from", "into"}:
            continue
        for e in places:
            if e.text in q.answer and q.answer != e.text and e.text not in clause.subject_text:
                kind = e[-1].lower_
                prep = next((a.lower_ for a in e.root.ancestors if a.dep_ == "prep" and a.lower_ in WHERE_PREPS), "in")
                text = _tidy(f"which {kind} {q.text[len('Where '):-1]} {prep}?")  # "... lie on?": its own preposition
                subject = _lower_first(clause.subject_text, clause.subject)
                out.append(Question(text, _cap(e.text), e.label_, q.role, True, q.predicate,
                                    _fit([f"What is the {kind} of {subject}?"])))
    return out


def _nested_when(clause: Clause, subject: str, core: list, is_be: bool, asked: list[Question]) -> list[Question]:
    """A clause with one date deeper inside its complements ("ceased to operate upon the departure of Y in
    January 1986") and none of its own is asked "When ...?" about that date; not a date of a clause nested in it
    ("led by X, who married Y in 1931")."""
    if is_be or any(q.label in {"DATE", "TIME"} for q in asked):
        return []
    inside = {t.i for c, _ in clause.complements for t in c.subtree}
    dates = [e for e in clause.verb.doc.ents if e.label_ == "DATE" and e.start in inside and not any(
        a.dep_ in {"relcl", "acl", "advcl", "ccomp", "parataxis", "conj"} and a.pos_ in {"VERB", "AUX"}
        for a in e.root.ancestors if a.i in inside)]
    if len(dates) != 1 or RELATIVE_DATE.match(dates[0].text):
        return []
    date = dates[0]
    prep = date.root.head if date.root.dep_ == "pobj" else None
    cut = {t.i for t in (prep.subtree if prep is not None else date)}
    q = _when_question(clause, subject, _render(core if core else clause.complements, cut))
    if not q or not 3 <= len(q.split()) <= MAX_QUESTION_WORDS:
        return []
    return [Question(q, _cap(date.text), "DATE", "nested", False,
                     " ".join(clause.aux + [clause.verb_text, _render(clause.complements)]), [])]


def _when_question(clause: Clause, subject: str, rest: str, adverb: str = "") -> str | None:
    """"When did X [adverb] verb rest?" with subject-auxiliary inversion or do-support; None for a verb that takes
    neither."""
    verb = clause.verb
    if clause.aux:
        return _tidy(f"when {clause.aux[0]} {subject} {' '.join(clause.aux[1:])} {adverb} {clause.verb_text} {rest}?")
    if verb.tag_ in DO_FORMS:
        return _tidy(f"when {DO_FORMS[verb.tag_]} {subject} {adverb} {verb.lemma_} {rest}?")
    return None


def _kind_of_thing(comps: list[tuple[Token, str]]) -> bool:
    """The copula's complement names a kind of place, organisation or work ("a battery company"): its subject is not
    a person, whatever type the model gave the name."""
    return any(r == "attr" and c.lemma_.lower() in KIND_NOUNS for c, r in comps)


def _cap(text: str) -> str:
    text = _balanced(text)
    return text[:1].upper() + text[1:]


def _fit(forms: list[str]) -> list[str]:
    """Distinct phrasings of a usable length, in order."""
    seen, out = set(), []
    for f in forms:
        key = f.lower()
        if f and key not in seen and 3 <= len(f.split()) <= MAX_QUESTION_WORDS:
            seen.add(key)
            out.append(f)
    return out


def _head(tokens: list[Token]) -> Token:
    return min(tokens, key=lambda t: len(list(t.ancestors)))


def _kind_of(clause: Clause, kinds: dict[str, str] | None) -> str:
    """The kind noun of the clause's subject: the noun a participle describes ("an album released on ..." ->
    album), else the subject's definition elsewhere (`definitions`); "" when unknown."""
    if clause.verb.dep_ == "acl" and clause.verb.head.pos_ == "NOUN":
        return clause.verb.head.lemma_.lower()
    defined = (kinds or {}).get(clause.subject_text.lower()) or (kinds or {}).get(
        re.sub(r"^the ", "", clause.subject_text.lower()), "")
    return defined.split()[-1] if defined else ""


def _maker_question(kind: str, verb: str, subject: str, label: str) -> str:
    """"Who is the performer of X?" for a song recorded, performed or sung by someone (`MAKER_NOUNS`); `label`: the
    maker's entity label (a band is an organisation, a film's or book's maker a person). "" when the kind of work
    and the verb name no maker."""
    work = WORK_KINDS.get(kind.lower(), "")
    noun, verbs = MAKER_NOUNS.get(work, ("", set()))
    if verb not in verbs or (label == "ORG" and work in {"film", "text"}):
        return ""
    return _tidy(f"who is the {noun} of {subject}?")


def _is_noun(word: str) -> bool:
    """Whether LemmInflect's dictionary knows `word` as an English noun ("king", "president"; not "amsel")."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word, upos="NOUN"))


def _agent_noun(lemma: str) -> str | None:
    """The noun for who does what the verb says, when the dictionary knows it: design -> designer, create ->
    creator, publish -> publisher; None for "marry" (no "marrier"). The lexicon is LemmInflect's."""
    from lemminflect import getAllLemmas

    stem = lemma[:-1] if lemma.endswith("e") else lemma
    for noun in (f"{stem}er", f"{stem}or", f"{lemma}r"):
        if noun in getAllLemmas(noun, upos="NOUN").get("NOUN", ()):
            return noun
    return None


def _agent_noun_question(clause: Clause, wh: str, obj: list[Token]) -> str | None:
    """"Who designed the Fenwick Viaduct?" -> "Who was the designer of the Fenwick Viaduct?": the relation named by
    its agent noun, the way reference works and knowledge bases ask it. `obj`: what was done (the active clause's
    object, the passive clause's subject); not a person or a place (the dictionary's "crosser" of an ice shelf is
    no relation)."""
    noun = _agent_noun(clause.verb.lemma_.lower())
    if not noun or not obj or len(obj) > 8 or clause.verb.lemma_ == "be" \
            or _label(obj) in {"PERSON", "GPE", "LOC", "NORP", "DATE"}:
        return None  # what is made, run or owned has a maker or owner; a place crossed has no "crosser"
    past = clause.verb.tag_ == "VBD" or any(a.lower() in {"was", "were", "had"} for a in clause.aux)
    return _tidy(f"{wh} {'was' if past else 'is'} the {noun} of {_lower_first(_span(obj), obj)}?")


def _relation_noun_question(clause: Clause, subject: str, wh: str, is_be: bool) -> str | None:
    """A place or date asked by the relation's noun, the way reference works and knowledge bases name it: "Where
    was Ines Varro born?" -> "What is the place of birth of Ines Varro?", "When did she die?" -> "What is the date of
    death of ...?", "Where is X (located)?" -> "What is the location of X?" (`LIFE_EVENT_NOUNS` for a person,
    `THING_EVENT_NOUNS` for anything else, `WHERE_NOUNS`). Only for a named subject and a question about the verb
    alone ("When did X win the cup?" has no such noun)."""
    person = clause.subject_label == "PERSON"
    if wh not in {"where", "when"} or not (clause.subject_label in NAME_LABELS or (
            clause.subject and _head(clause.subject).pos_ == "PROPN")):
        return None
    lemma = "be" if is_be else clause.verb.lemma_.lower()
    if wh == "where" and lemma in WHERE_NOUNS and not (person and lemma == "be") and not (
            lemma == "base" and clause.subject_label != "ORG"):  # a person or a film "based in" has no headquarters
        return _tidy(f"what is the {WHERE_NOUNS[lemma]} of {subject}?")
    noun = LIFE_EVENT_NOUNS.get(lemma) if person else LIFE_EVENT_NOUNS.get(lemma, THING_EVENT_NOUNS.get(lemma))
    if noun:
        return _tidy(f"what is the {'place' if wh == 'where' else 'date'} of {noun} of {subject}?")
    return None


def _passive_subject_question(clause: Clause, wh: str) -> str | None:
    """"Who founded the Radium Institute?" -> "Who was the Radium Institute founded by?" (active clause with an object)."""
    verb = clause.verb
    objs = [c for c, r in clause.complements if r == "dobj"]
    if clause.aux or not objs or verb.tag_ not in {"VBD", "VBZ", "VBP"} or verb.lemma_ == "be":
        return None
    vbn = _inflect(verb.lemma_, "VBN")
    obj = phrase(objs[0])
    if not vbn or len(obj) > 8:
        return None
    return _tidy(f"{wh} {_be(_plural(obj), verb.tag_ == 'VBD')} {_lower_first(_span(obj), obj)} {vbn} by?")


def _passive_object_question(clause: Clause, obj: Token, t: Target) -> str | None:
    """"What did Marie Curie discover?" -> "What was discovered by Marie Curie?"."""
    verb = clause.verb
    if clause.aux or verb.tag_ not in {"VBD", "VBZ", "VBP"} or t.prep or verb.lemma_ == "be":
        return None
    vbn = _inflect(verb.lemma_, "VBN")
    if not vbn:
        return None
    plural = _plural(phrase(obj)) if t.wh.startswith("how many") else False
    return _tidy(f"{t.wh} {_be(plural, verb.tag_ == 'VBD')} {vbn} by {_lower_first(clause.subject_text, clause.subject)}?")


def _active_agent_question(clause: Clause, t: Target) -> str | None:
    """"Who was Tetris published by?" -> "Who published Tetris?"."""
    aux = [a.lower() for a in clause.aux]
    if aux not in (["was"], ["were"], ["is"], ["are"]) or clause.verb.tag_ != "VBN":
        return None
    form = _inflect(clause.verb.lemma_, "VBD" if aux[0] in {"was", "were"} else "VBZ")
    if not form:
        return None
    return _tidy(f"{t.wh} {form} {_lower_first(clause.subject_text, clause.subject)}?")
