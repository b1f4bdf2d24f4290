"""Synthetic training data for the embedded executive's adapter: questions about invented things, and what the
`chain` protocol's executive should write for them.

A 135M model does not decompose questions from a prompt alone (tried: it copies the question or invents
entities), so the embedded executive gets a LoRA adapter trained on examples of the three `chain` steps
(`memo/executive/chain.py`), each rendered with the protocol's own prompt and answered in the JSON the
constrained decoder produces:

- decompose (`Chain`): a 1-4 hop question -> its steps, MuSiQue's format (`#N` = step N's answer). One-hop
  questions are left whole. A k-hop question nests noun phrases ("the author of X", "the city where X is
  headquartered"), and its steps ask each phrase in turn, innermost first, mostly in the question's own words:
  what the model must learn is where the phrases are and how each becomes a question, not any relation.
- rephrase (`Rephrasing`): a single-hop question -> the same fact asked in another wording.
- check (`ChainCheck`): the question, the chain with the memory's (invented) answers and the short answers
  taken, the memory's answer to the whole question and the proposed answer -> the final answer (the proposed
  one; when the chain broke, the memory's answer to the question, else "I don't know.").

Everything is invented from a seed: names are built from syllables, titles from short word lists, and 69
relations (a few of them read both ways, "the book whose author is X") each bring several wordings, so the
adapter learns the form of a decomposition, not facts. None of the relations or names used by the demo
(`memo.demo`) or the tests appears here (tests/test_executive_adapter.py checks the generator and its data); the
adapter is judged on questions about relations and names it never saw.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from ..llm.base import _with_instruction
from ..records import ABSTAIN
from ..templates import render_prompt
from .chain import Hop, chain_text, substitute
from .schemas import Chain, ChainCheck, Rephrasing

#: Share of each kind of example, and of each hop count among decompositions.
TASK_SHARES = {"decompose": 0.7, "rephrase": 0.2, "check": 0.1}
HOP_SHARES = {1: 0.3, 2: 0.4, 3: 0.2, 4: 0.1}


# -- invented names -------------------------------------------------------------------------------------------

_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "st", "tr",
           "th", "sh", "j", "c", "w")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou")
_CODAS = ("", "", "", "", "n", "l", "r", "s", "t", "m", "nd", "rk", "x")
_TITLE_ADJ = ("Silent", "Broken", "Golden", "Hollow", "Distant", "Crimson", "Quiet", "Northern", "Burning", "Paper",
              "Glass", "Iron", "Winter", "Second", "Last", "Endless", "Hidden", "Velvet", "Salt", "Copper", "Falling",
              "Little", "Green", "Empty", "Wandering", "Seventh", "Bitter", "Pale", "Wild", "Sleeping")
_TITLE_NOUN = ("Orchard", "Mirror", "Tide", "Garden", "Compass", "Letters", "Staircase", "Harvest", "Signal",
               "Archive", "Voyage", "Window", "Kingdom", "Machine", "Chorus", "Fever", "Season", "Shore", "Engine",
               "Silence", "Crossing", "Thread", "Ember", "Atlas", "Parade", "Meadow", "Echo", "Ledger", "Bell",
               "Ferry")
_ORG_SUFFIX = ("Works", "Group", "Partners", "Systems", "Foundry", "Collective", "Trust", "Press", "Records",
               "Studios", "Bank", "Mills", "Brewery", "Motors", "Airways", "Shipping", "Textiles", "Robotics",
               "Holdings", "Cooperative", "Ltd", "Industries", "Media", "Pharma", "Engineering")


def _word(rng: random.Random, lo: int = 2, hi: int = 3) -> str:
    """An invented word of `lo`-`hi` syllables, capitalised: "Tavelor", "Brisk", "Oumenda"."""
    n = rng.choices(range(lo, hi + 1), [3] + [1] * (hi - lo))[0]
    text = "".join(("" if i == 0 and rng.random() < 0.15 else rng.choice(_ONSETS)) + rng.choice(_VOWELS)
                   + (rng.choice(_CODAS) if i == n - 1 or rng.random() < 0.3 else "") for i in range(n))
    return text.capitalize()


def _person(rng: random.Random) -> str:
    first, last = _word(rng, 1, 2), _word(rng)
    r = rng.random()
    if r < 0.08:
        return f"{first} {rng.choice('ABDEGHJKLMNPRSTVW')}. {last}"
    if r < 0.14:
        return f"{first} {rng.choice(('van', 'de', 'da', 'von'))} {last}"
    return f"{first} {last}"


#: Name makers by entity kind. The kind also names what the entity is in wordings like "In which city ...".
NAMES = {
    "person": _person,
    "company": lambda rng: f"{_word(rng)} {rng.choice(_ORG_SUFFIX)}",
    "museum": lambda rng: rng.choice(("the {} Museum", "the {} Gallery", "the Museum of {}")).format(_word(rng)),
    "university": lambda rng: rng.choice(("the University of {}", "{} College", "the {} Academy")).format(_word(rng)),
    "party": lambda rng: rng.choice(("the {} Party", "the {} League", "the {} Movement")).format(_word(rng)),
    "label": lambda rng: f"{_word(rng)} {rng.choice(('Records', 'Sound', 'Music'))}",
    "shipyard": lambda rng: f"{_word(rng)} {rng.choice(('Shipyard', 'Docks', 'Yards'))}",
    "team": lambda rng: f"{_word(rng)} {rng.choice(('Falcons', 'Rovers', 'Wolves', 'United', 'Athletic', 'Comets'))}",
    "city": lambda rng: _word(rng) if rng.random() < 0.75 else f"{rng.choice(('Port', 'New', 'Saint', 'Upper'))} {_word(rng)}",
    "town": lambda rng: _word(rng),
    "village": lambda rng: _word(rng) if rng.random() < 0.8 else f"{_word(rng)} {rng.choice(('Cross', 'End', 'Green'))}",
    "country": lambda rng: _word(rng) + rng.choice(("ia", "land", "ora", "istan", "ea", "")),
    "region": lambda rng: rng.choice(("{}", "the {} Valley", "the {} Coast", "{} Province")).format(_word(rng)),
    "island": lambda rng: rng.choice(("{} Island", "the {} Islet", "{} Atoll")).format(_word(rng)),
    "river": lambda rng: rng.choice(("the {} River", "the River {}")).format(_word(rng)),
    "lake": lambda rng: f"Lake {_word(rng)}",
    "mountain": lambda rng: rng.choice(("Mount {}", "the {} Peak")).format(_word(rng)),
    "stadium": lambda rng: rng.choice(("{} Park", "the {} Arena", "{} Stadium")).format(_word(rng)),
    "airport": lambda rng: f"{_word(rng)} {rng.choice(('Airport', 'Airfield'))}",
    "building": lambda rng: rng.choice(("the {} Tower", "the {} Hall", "{} House")).format(_word(rng)),
    "bridge": lambda rng: f"the {_word(rng)} Bridge",
    "cemetery": lambda rng: rng.choice(("{} Cemetery", "the {} Churchyard")).format(_word(rng)),
    "festival": lambda rng: rng.choice(("the {} Festival", "the {} Fair", "the {} Games")).format(_word(rng)),
    "award": lambda rng: rng.choice(("the {} Prize", "the {} Medal", "the {} Award")).format(_word(rng)),
    "language": lambda rng: _word(rng, 1, 2) + rng.choice(("ish", "ese", "ic", "an")),
    "book": lambda rng: _title(rng),
    "film": lambda rng: _title(rng),
    "album": lambda rng: _title(rng),
    "song": lambda rng: _title(rng),
    "painting": lambda rng: _title(rng),
    "opera": lambda rng: _title(rng),
    "ship": lambda rng: f"the {_word(rng)}",
    "character": _person,
    "year": lambda rng: str(rng.randint(1620, 2023)),
    "number": lambda rng: str(rng.choice((rng.randint(2, 99), rng.randint(100, 9999), rng.randint(10_000, 900_000)))),
    "height": lambda rng: f"{rng.randint(300, 8800)} metres",
    "occupation": lambda rng: rng.choice(("a glassblower", "a surveyor", "a cartographer", "a pharmacist", "a pilot",
                                          "a violin maker", "a judge", "a beekeeper", "a stonemason", "a diplomat")),
    "instrument": lambda rng: rng.choice(("the cello", "the oboe", "the harp", "the trumpet", "the accordion",
                                          "the viola", "the bassoon", "the mandolin")),
    "goods": lambda rng: rng.choice(("ceramic tiles", "bicycles", "wool blankets", "soap", "telescopes", "paper",
                                     "canned fish", "wind turbines", "hats", "pianos", "ropes", "glass bottles")),
    "currency": lambda rng: f"the {_word(rng, 1, 2).lower()} {rng.choice(('crown', 'mark', 'dollar', 'florin'))}",
}
#: Kinds whose values are not named things (no relation starts from them: they end a chain).
TERMINAL = {"year", "number", "height", "occupation", "instrument", "goods", "currency"}
PLACE = ("city", "town", "village")


def _title(rng: random.Random) -> str:
    pattern = rng.choice(("{a} {n}", "The {a} {n}", "{n} of {w}", "The {n}", "{w} {n}"))
    return pattern.format(a=rng.choice(_TITLE_ADJ), n=rng.choice(_TITLE_NOUN), w=_word(rng))


# -- relations --------------------------------------------------------------------------------------------------

@dataclass
class Relation:
    """A relation from one kind of thing to another, and how questions say it.

    `ask`: questions about a subject `{s}` (a name or a nested phrase). `phrases`: noun phrases for "the object
    of `{s}`" paired with the single-hop question that asks for it (how a chain step spells the phrase out).
    Wordings with `{s}'s` are only used with a named subject.
    """

    subjects: tuple[str, ...]
    object: str
    ask: tuple[str, ...]
    phrases: tuple[tuple[str, str], ...] = ()


def R(subjects: str, obj: str, ask: tuple[str, ...], phrases: tuple[tuple[str, str], ...] = ()) -> Relation:
    return Relation(tuple(subjects.split()), obj, ask, phrases)


RELATIONS: tuple[Relation, ...] = (
    # people
    R("person character", "person", ("Who is the spouse of {s}?", "Whom did {s} marry?", "Who is {s}'s spouse?",
                                     "Who is the husband or wife of {s}?"),
      (("the spouse of {s}", "Who is the spouse of {s}?"), ("{s}'s spouse", "Who is {s}'s spouse?"),
       ("the person {s} married", "Whom did {s} marry?"))),
    R("person character", "person", ("Who is the father of {s}?", "Who was {s}'s father?", "Who is {s}'s dad?"),
      (("the father of {s}", "Who is the father of {s}?"), ("{s}'s father", "Who is {s}'s father?"))),
    R("person character", "person", ("Who is the mother of {s}?", "Who was {s}'s mother?"),
      (("the mother of {s}", "Who is the mother of {s}?"), ("{s}'s mother", "Who is {s}'s mother?"))),
    R("person", "person", ("Who is the older sister of {s}?", "Who is {s}'s sister?"),
      (("the sister of {s}", "Who is the sister of {s}?"), ("{s}'s sister", "Who is {s}'s sister?"))),
    R("person", "person", ("Who was the mentor of {s}?", "Who trained {s}?", "Who taught {s}?",
                           "Who was {s}'s teacher?"),
      (("the mentor of {s}", "Who was the mentor of {s}?"), ("the teacher of {s}", "Who was the teacher of {s}?"),
       ("the person who trained {s}", "Who trained {s}?"))),
    R("person", "company", ("Which company does {s} work for?", "Where does {s} work?",
                            "What is the employer of {s}?", "Who is {s}'s employer?"),
      (("the employer of {s}", "What is the employer of {s}?"),
       ("the company {s} works for", "Which company does {s} work for?"),
       ("{s}'s employer", "Who is {s}'s employer?"))),
    R("person", "country", ("Which country is {s} a citizen of?", "What is the nationality of {s}?",
                            "Of which country is {s} a citizen?"),
      (("the country {s} is a citizen of", "Which country is {s} a citizen of?"),
       ("the home country of {s}", "What is the home country of {s}?"))),
    R("person", "city", ("Where does {s} live?", "In which city does {s} live?", "Which city does {s} live in?",
                         "What is the home town of {s}?"),
      (("the city where {s} lives", "In which city does {s} live?"), ("the city {s} lives in", "Which city does {s} live in?"),
       ("the home town of {s}", "What is the home town of {s}?"))),
    R("person", "town", ("Where did {s} die?", "In which town did {s} die?", "What is the place of death of {s}?"),
      (("the town where {s} died", "In which town did {s} die?"),
       ("the place of death of {s}", "What is the place of death of {s}?"))),
    R("person", "cemetery", ("Where is {s} buried?", "In which cemetery is {s} buried?", "Where was {s} laid to rest?"),
      (("the cemetery where {s} is buried", "In which cemetery is {s} buried?"),)),
    R("person", "year", ("When did {s} die?", "In which year did {s} die?", "What year did {s} pass away?")),
    R("person", "year", ("When did {s} retire?", "In which year did {s} retire?", "What year did {s} stop working?")),
    R("person", "occupation", ("What is the occupation of {s}?", "What does {s} do for a living?",
                               "What is {s}'s job?", "What job does {s} have?")),
    R("person", "instrument", ("Which instrument does {s} play?", "What instrument does {s} play?",
                               "Which instrument is {s} known for playing?")),
    R("person", "language", ("Which language does {s} speak?", "What is the mother tongue of {s}?",
                             "What language does {s} speak at home?"),
      (("the language {s} speaks", "Which language does {s} speak?"),
       ("the mother tongue of {s}", "What is the mother tongue of {s}?"))),
    R("person", "party", ("Which party is {s} a member of?", "Which party does {s} belong to?",
                          "What party did {s} join?"),
      (("the party {s} belongs to", "Which party does {s} belong to?"),
       ("the party of {s}", "What is the party of {s}?"))),
    R("person", "university", ("Which college did {s} graduate from?", "Where did {s} graduate?",
                               "From which university did {s} graduate?"),
      (("the university {s} graduated from", "Which university did {s} graduate from?"),)),
    R("person", "award", ("Which prize did {s} win?", "What award did {s} receive?", "Which award was given to {s}?"),
      (("the prize {s} won", "Which prize did {s} win?"), ("the award {s} received", "Which award did {s} receive?"))),
    R("person", "team", ("Which team does {s} play for?", "For which team does {s} play?", "What team is {s} on?"),
      (("the team {s} plays for", "Which team does {s} play for?"),)),
    # organisations
    R("company museum university", "person", ("Who is the director of {s}?", "Who runs {s}?", "Who leads {s}?",
                                              "Who is the head of {s}?"),
      (("the director of {s}", "Who is the director of {s}?"), ("the head of {s}", "Who is the head of {s}?"),
       ("the person who runs {s}", "Who runs {s}?"), ("{s}'s director", "Who is {s}'s director?"))),
    R("company team", "person", ("Who owns {s}?", "Who is the owner of {s}?", "Whose company is {s}?"),
      (("the owner of {s}", "Who is the owner of {s}?"), ("the person who owns {s}", "Who owns {s}?"))),
    R("company label shipyard", "company", ("What is the parent company of {s}?", "Which company owns {s}?",
                                            "Which group is {s} part of?"),
      (("the parent company of {s}", "What is the parent company of {s}?"),
       ("the company that owns {s}", "Which company owns {s}?"))),
    R("company label shipyard party", "city", ("Where is {s} headquartered?", "In which city is {s} headquartered?",
                                               "Where are the headquarters of {s}?", "Which city is {s} run from?"),
      (("the city where {s} is headquartered", "In which city is {s} headquartered?"),
       ("the headquarters city of {s}", "What is the headquarters city of {s}?"))),
    R("company museum university party", "year", ("When was {s} established?", "In which year was {s} set up?",
                                                  "What year was {s} created?")),
    R("company", "goods", ("What does {s} make?", "What does {s} sell?", "Which goods does {s} manufacture?")),
    R("company university", "number", ("How many people work at {s}?", "How many staff does {s} have?",
                                       "What is the number of staff at {s}?")),
    R("company", "festival", ("Which festival does {s} sponsor?", "What event does {s} sponsor?"),
      (("the festival {s} sponsors", "Which festival does {s} sponsor?"),)),
    R("museum", "painting", ("What is the most famous painting in {s}?", "Which painting is {s} best known for?"),
      (("the most famous painting in {s}", "What is the most famous painting in {s}?"),)),
    R("museum university building stadium", "city", ("In which city is {s} located?", "Where is {s} located?",
                                                      "Which city is {s} in?"),
      (("the city where {s} is located", "In which city is {s} located?"), ("the city {s} is in", "Which city is {s} in?"))),
    # places
    R("country region island", "city", ("What is the capital of {s}?", "Which city is the capital of {s}?",
                                        "Which city is {s}'s capital?"),
      (("the capital of {s}", "What is the capital of {s}?"), ("{s}'s capital", "What is {s}'s capital?"))),
    R("city town village lake mountain", "country", ("In which country is {s}?", "Which country is {s} in?",
                                                     "{s} lies in which country?"),
      (("the country where {s} lies", "In which country does {s} lie?"),
       ("the country {s} is in", "Which country is {s} in?"))),
    R("city town village", "region", ("Which region is {s} part of?", "In which region does {s} lie?",
                                      "What region contains {s}?"),
      (("the region {s} is part of", "Which region is {s} part of?"), ("the region of {s}", "What is the region of {s}?"))),
    R("city town", "river", ("Which river flows through {s}?", "What river runs through {s}?",
                             "Through {s} flows which river?"),
      (("the river that flows through {s}", "Which river flows through {s}?"),
       ("the river of {s}", "What is the river of {s}?"))),
    R("river", "lake", ("Into which lake does {s} flow?", "Which lake does {s} flow into?", "Where does {s} end?"),
      (("the lake {s} flows into", "Which lake does {s} flow into?"),)),
    R("city town village island region country", "number", ("What is the population of {s}?",
                                                              "How many people live in {s}?",
                                                              "How many inhabitants does {s} have?")),
    R("country region island", "mountain", ("What is the highest mountain in {s}?", "Which mountain is the highest in {s}?"),
      (("the highest mountain in {s}", "What is the highest mountain in {s}?"),
       ("the tallest peak of {s}", "What is the tallest peak of {s}?"))),
    R("mountain building", "height", ("How high is {s}?", "What is the height of {s}?", "How tall is {s}?")),
    R("country region", "language", ("What is the official language of {s}?", "Which language is spoken in {s}?",
                                     "What language do people speak in {s}?"),
      (("the official language of {s}", "What is the official language of {s}?"),
       ("the language spoken in {s}", "Which language is spoken in {s}?"))),
    R("language", "country", ("Where is {s} spoken?", "In which country is {s} spoken?",
                              "Which country speaks {s}?"),
      (("the country where {s} is spoken", "In which country is {s} spoken?"),)),
    R("country", "currency", ("What is the currency of {s}?", "Which currency is used in {s}?",
                              "What money do people use in {s}?")),
    R("country", "person", ("Who is the president of {s}?", "Who leads the government of {s}?",
                            "Who is {s}'s president?"),
      (("the president of {s}", "Who is the president of {s}?"), ("{s}'s president", "Who is {s}'s president?"))),
    R("region island", "person", ("Who is the governor of {s}?", "Who governs {s}?"),
      (("the governor of {s}", "Who is the governor of {s}?"), ("the person who governs {s}", "Who governs {s}?"))),
    R("city", "city", ("Which city is twinned with {s}?", "What is the twin city of {s}?"),
      (("the twin city of {s}", "What is the twin city of {s}?"), ("the city twinned with {s}", "Which city is twinned with {s}?"))),
    R("city", "airport", ("What is the main airport of {s}?", "Which airport serves {s}?"),
      (("the airport that serves {s}", "Which airport serves {s}?"), ("the main airport of {s}", "What is the main airport of {s}?"))),
    R("city town", "building", ("What is the tallest building in {s}?", "Which building is the tallest in {s}?"),
      (("the tallest building in {s}", "What is the tallest building in {s}?"),)),
    R("city", "team", ("Which team plays in {s}?", "What is the home team of {s}?"),
      (("the home team of {s}", "What is the home team of {s}?"),)),
    R("team", "stadium", ("Where does {s} play its home games?", "In which stadium does {s} play?",
                          "What is the home ground of {s}?"),
      (("the stadium where {s} plays", "In which stadium does {s} play?"),
       ("the home ground of {s}", "What is the home ground of {s}?"))),
    R("island", "city", ("What is the largest town on {s}?", "Which town is the largest on {s}?"),
      (("the largest town on {s}", "What is the largest town on {s}?"),)),
    # works
    R("book", "person", ("Who wrote {s}?", "Who is the author of {s}?", "Who was {s} written by?",
                         "Which writer wrote {s}?"),
      (("the author of {s}", "Who is the author of {s}?"), ("the writer of {s}", "Who is the writer of {s}?"),
       ("the person who wrote {s}", "Who wrote {s}?"))),
    R("film", "person", ("Who directed {s}?", "Who is the director of the film {s}?", "Who made the film {s}?"),
      (("the director of {s}", "Who is the director of {s}?"), ("the person who directed {s}", "Who directed {s}?"))),
    R("song opera", "person", ("Who composed {s}?", "Who is the composer of {s}?", "Who wrote the music of {s}?"),
      (("the composer of {s}", "Who is the composer of {s}?"), ("the person who composed {s}", "Who composed {s}?"))),
    R("painting", "person", ("Who painted {s}?", "Who is the painter of {s}?", "Which artist painted {s}?"),
      (("the painter of {s}", "Who is the painter of {s}?"), ("the artist who painted {s}", "Which artist painted {s}?"))),
    R("building bridge stadium", "person", ("Who designed {s}?", "Who was the architect of {s}?",
                                            "Which architect designed {s}?"),
      (("the architect of {s}", "Who was the architect of {s}?"), ("the person who designed {s}", "Who designed {s}?"))),
    R("book", "company", ("Which company published {s}?", "Who is the publisher of {s}?", "Who published {s}?"),
      (("the publisher of {s}", "Who is the publisher of {s}?"), ("the company that published {s}", "Which company published {s}?"))),
    R("album song", "label", ("Which label released {s}?", "On which label did {s} come out?",
                              "What record label put out {s}?"),
      (("the label that released {s}", "Which label released {s}?"),)),
    R("album song", "person", ("Who performed {s}?", "Who recorded {s}?", "Who sings {s}?", "Who is the performer of {s}?"),
      (("the performer of {s}", "Who is the performer of {s}?"), ("the singer who recorded {s}", "Which singer recorded {s}?"))),
    R("book film song album painting opera", "year", ("When was {s} published?", "In which year was {s} released?",
                                                      "What year did {s} come out?")),
    R("book film opera", "city", ("Where is {s} set?", "In which city is {s} set?", "Which city is {s} set in?"),
      (("the city where {s} is set", "In which city is {s} set?"), ("the setting of {s}", "What is the setting of {s}?"))),
    R("book film", "character", ("Who is the main character of {s}?", "Who is the hero of {s}?",
                                 "Which character is at the centre of {s}?"),
      (("the main character of {s}", "Who is the main character of {s}?"), ("the hero of {s}", "Who is the hero of {s}?"))),
    R("painting", "museum", ("Which museum displays {s}?", "Where is {s} exhibited?", "In which museum can one see {s}?"),
      (("the museum that displays {s}", "Which museum displays {s}?"), ("the museum where {s} hangs", "In which museum does {s} hang?"))),
    R("ship", "shipyard", ("Which shipyard built {s}?", "Who built the ship {s}?", "Where was {s} built?"),
      (("the shipyard that built {s}", "Which shipyard built {s}?"), ("the builder of {s}", "Who is the builder of {s}?"))),
    R("bridge", "river", ("Which river does {s} cross?", "What river does {s} span?", "Over which river does {s} run?"),
      (("the river {s} crosses", "Which river does {s} cross?"),)),
    R("festival", "town", ("Where does {s} take place?", "In which town does {s} take place?",
                           "Which town hosts {s}?"),
      (("the town where {s} takes place", "In which town does {s} take place?"),
       ("the town that hosts {s}", "Which town hosts {s}?"))),
    R("award", "person", ("Who was the first winner of {s}?", "Who received {s} first?", "Who first won {s}?"),
      (("the first winner of {s}", "Who was the first winner of {s}?"),)),
    # the same relations read backwards ("the book whose author is X")
    R("person", "book", ("Which book did {s} write?", "What is the best-known book by {s}?"),
      (("the book {s} wrote", "Which book did {s} write?"), ("the book whose author is {s}", "Which book is {s} the author of?"))),
    R("person", "company", ("Which company does {s} direct?", "Which company is {s} the director of?"),
      (("the company whose director is {s}", "Which company is {s} the director of?"),
       ("the company {s} directs", "Which company does {s} direct?"))),
    R("city", "country", ("Which country has {s} as its capital?", "Of which country is {s} the capital?"),
      (("the country whose capital is {s}", "Which country has {s} as its capital?"),)),
    R("person", "painting", ("Which painting did {s} paint?", "What is the best-known painting by {s}?"),
      (("the painting {s} painted", "Which painting did {s} paint?"),
       ("the painting whose painter is {s}", "Which painting is {s} the painter of?"))),
    R("person", "team", ("Which team does {s} own?", "Which team is owned by {s}?"),
      (("the team whose owner is {s}", "Which team does {s} own?"), ("the team {s} owns", "Which team does {s} own?"))),
)


# -- examples ---------------------------------------------------------------------------------------------------

def _fill(template: str, subject: str) -> str:
    text = template.replace("{s}", subject)
    return text[0].upper() + text[1:]


def _phrase_ok(template: str, nested: bool) -> bool:
    return not (nested and "{s}'s" in template)


@dataclass
class Question:
    text: str
    steps: list[str]
    answers: list[str]  # the short answer of each step (invented)


def make_question(rng: random.Random, hops: int) -> Question | None:
    """A `hops`-hop question about invented things and its chain; None when the random walk dead-ends."""
    relations: list[Relation] = []
    kind = None
    for _ in range(hops):
        options = [r for r in RELATIONS if (kind is None or kind in r.subjects) and (
            len(relations) == hops - 1 or (r.object not in TERMINAL and r.phrases))]
        if not options:
            return None
        relation = rng.choice(options)
        relations.append(relation)
        kind = relation.object
    subject_kind = rng.choice(relations[0].subjects)
    name = NAMES[subject_kind](rng)
    answers = []
    for r in relations:
        answers.append(NAMES[r.object](rng))
    # Build the question from the inside out, and the chain step by step.
    steps: list[str] = []
    phrase = name
    for i, r in enumerate(relations):
        nested = i > 0
        last = i == len(relations) - 1
        reference = f"#{i}" if nested else name
        if last:
            ask = rng.choice([t for t in r.ask if _phrase_ok(t, nested)])
            steps.append(_fill(ask, reference))
            text = _fill(ask, phrase)
        else:
            np, step = rng.choice([p for p in r.phrases if _phrase_ok(p[0], nested)])
            steps.append(_fill(step, reference))
            phrase = np.replace("{s}", phrase)
    if hops == 1:
        steps = [text]
    return Question(text=text, steps=steps, answers=answers)


def _rephrasing(rng: random.Random) -> tuple[str, str] | None:
    relation = rng.choice(RELATIONS)
    wordings = list(relation.ask) + [step for _, step in relation.phrases]
    wordings = list(dict.fromkeys(wordings))
    if len(wordings) < 2:
        return None
    a, b = rng.sample(wordings, 2)
    name = NAMES[rng.choice(relation.subjects)](rng)
    return _fill(a, name), _fill(b, name)


def _memory_sentence(rng: random.Random, asked: str, answer: str) -> str:
    """An invented memory answer naming `answer`: the bare fact, the fact first, or the fact inside a sentence."""
    return rng.choice(("{a}.", "It is {a}.", "{a}. {q}: {a}.", "The answer is {a}.")).format(
        a=answer, q=asked.rstrip("?"))


def _check(rng: random.Random, q: Question) -> tuple[dict, str]:
    """(prompt fields, final answer) for the check step of one chain, sometimes broken part-way."""
    stop = rng.randint(1, len(q.steps)) if len(q.steps) > 1 and rng.random() < 0.25 else len(q.steps) + 1
    hops, answers = [], {}
    for i, template in enumerate(q.steps, 1):
        asked = substitute(template, answers) if i <= stop else None
        if asked is None:
            hops.append(Hop(question=template))
        elif i == stop:
            hops.append(Hop(question=asked, reply=ABSTAIN))
        else:
            answers[i] = q.answers[i - 1]
            hops.append(Hop(question=asked, reply=_memory_sentence(rng, asked, answers[i]), answer=answers[i]))
    proposed = answers.get(len(q.steps))
    direct, fact = ABSTAIN, None
    if rng.random() < 0.5:
        fact = q.answers[-1] if rng.random() < 0.7 else NAMES["person"](rng)
        direct = _memory_sentence(rng, q.text, fact)
    fields = dict(question=q.text, chain=chain_text(hops), direct=direct, proposed=proposed or "(none)")
    return fields, proposed or fact or ABSTAIN


def _prompt(name: str, schema, **fields: object) -> str:
    """The user message the executive sees for this step (the prompt plus the constrained decoder's field list)."""
    conversation = [{"role": "user", "content": render_prompt(f"executive/{name}", **fields)}]
    return _with_instruction(conversation, schema, brief=True)[-1]["content"]


def _target(obj) -> str:
    """The JSON the constrained decoder writes for `obj` (xgrammar, any_whitespace=False: ", " and ": ")."""
    return json.dumps(obj.model_dump(), ensure_ascii=False)


def generate(count: int, seed: int = 0) -> list[dict]:
    """`count` training pairs {"question": prompt, "answer": JSON, "task": ...}, deterministic in `seed`.

    Prompts are the protocol's own (`memo/prompts/executive/{chain,rephrase,check}.md`); every pair is unique.
    """
    rng = random.Random(seed)
    tasks, weights = zip(*TASK_SHARES.items())
    hop_counts, hop_weights = zip(*HOP_SHARES.items())
    out: list[dict] = []
    seen: set[str] = set()
    while len(out) < count:
        task = rng.choices(tasks, weights)[0]
        if task == "rephrase":
            made = _rephrasing(rng)
            if made is None:
                continue
            source, target = made
            pair = (_prompt("rephrase", Rephrasing, question=source), _target(Rephrasing(question=target)))
        else:
            q = make_question(rng, rng.choices(hop_counts, hop_weights)[0])
            if q is None:
                continue
            if task == "decompose":
                pair = (_prompt("chain", Chain, question=q.text), _target(Chain(steps=q.steps)))
            else:
                fields, final = _check(rng, q)
                pair = (_prompt("check", ChainCheck, **fields), _target(ChainCheck(final_answer=final)))
        if pair[0] in seen:
            continue
        seen.add(pair[0])
        out.append({"question": pair[0], "answer": pair[1], "task": task})
    return out
