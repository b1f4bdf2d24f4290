"""Gold chains: a question's gold single-hop steps asked in order, each `#N` replaced by an earlier answer.

MuSiQue (Trivedi et al., 2022) writes some steps as Wikidata triples, `Erik Hort >> place of birth`. They become
natural questions by one rule over the relation label's form, for any relation (English grammar, no table of
relations):

    noun phrase                  "place of birth"            What is the place of birth of Erik Hort?
    ends with a preposition,     "owned by", "educated at"   What is X owned by?
    or a participle first        "located in the administrative territorial entity"
                                                             Which administrative territorial entity is X located in?

Labels that start with a verb in the third person ("contains settlement") read awkwardly under the noun rule;
telling them from plural nouns ("headquarters location") would need a part-of-speech tagger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .datasets import Hop

#: English prepositions that can close a relation label ("owned by") or open its object ("located in the ...").
PREPOSITIONS = frozenset(
    "about above across after against along among around as at before behind below beneath beside between "
    "beyond by during for from in inside into near of off on onto out outside over per since through throughout "
    "to toward towards under until up upon via with within without".split())
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.I)
_REFERENCE = re.compile(r"#(\d+)")


def _is_participle(word: str) -> bool:
    # Regular past participles; the irregular ones in relation labels ("born", "written") close with a
    # preposition and are caught by the "ends with a preposition" rule below.
    return len(word) > 4 and word.endswith("ed")


def natural_question(step: str) -> str:
    """A dataset step as a natural question: `Subject >> relation` by the rule in the module docstring; any
    other step (already a question) only gets its first letter capitalised and a question mark."""
    if ">>" not in step:
        q = " ".join(step.split())
        q = q[:1].upper() + q[1:]
        return q if q.endswith("?") else q.rstrip(" .") + "?"
    subject, _, relation = (part.strip() for part in step.partition(">>"))
    words = relation.split()
    if not words:
        return f"What is {subject}?"
    head = words[0].lower()
    if _is_participle(head) or (len(words) >= 2 and words[-1].lower() in PREPOSITIONS):
        if len(words) >= 3 and words[1].lower() in PREPOSITIONS and not _is_participle(words[-1]):
            obj = _ARTICLE.sub("", " ".join(words[2:]))
            return f"Which {obj} is {subject} {words[0]} {words[1]}?"
        return f"What is {subject} {relation}?"
    return f"What is the {relation} of {subject}?"


def substitute(question: str, answers: Sequence[str]) -> str:
    """`question` with each `#N` replaced by `answers[N-1]` (1-based, as MuSiQue numbers its steps).

    Raises ValueError for a reference to a step that has no answer yet (a malformed decomposition)."""
    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(answers):
            raise ValueError(f"step reference #{n} in {question!r} has no earlier answer (have {len(answers)})")
        return answers[n - 1].strip().rstrip(".")

    return " ".join(_REFERENCE.sub(repl, question).split())


@dataclass
class HopResult:
    """One step of a chain: asked with the chain's own earlier answers, and again with the gold ones."""

    question: str  # with the chain's own answers substituted
    answer: str
    gold_question: str  # with the gold answers substituted
    gold_substituted_answer: str
    gold: str  # the step's reference answer


#: Answers a batch of questions, one answer each (the memory, or retrieval + reader).
Answerer = Callable[[list[str]], list[str]]


def run_chains(decompositions: Sequence[Sequence[Hop]], answer: Answerer) -> list[list[HopResult]]:
    """Every chain step by step, all chains of a step in one batch (so a local model batches them).

    Step i of a chain is asked twice: with the chain's own earlier answers substituted (the chain's final answer
    is the method's answer) and with the gold earlier answers substituted (per-hop accuracy, free of earlier
    mistakes). Both go in one batch; identical questions (always the first step) are asked once.
    """
    natural = [[natural_question(h.question) for h in steps] for steps in decompositions]
    own: list[list[str]] = [[] for _ in decompositions]
    results: list[list[HopResult]] = [[] for _ in decompositions]
    for i in range(max((len(s) for s in decompositions), default=0)):
        live = [c for c, steps in enumerate(decompositions) if i < len(steps)]
        chain_q = {c: substitute(natural[c][i], own[c]) for c in live}
        gold_q = {c: substitute(natural[c][i], [h.answer for h in decompositions[c][:i]]) for c in live}
        asked = list(dict.fromkeys([*chain_q.values(), *gold_q.values()]))
        got = dict(zip(asked, answer(asked)))
        for c in live:
            own[c].append(got[chain_q[c]])
            results[c].append(HopResult(chain_q[c], got[chain_q[c]], gold_q[c], got[gold_q[c]],
                                        decompositions[c][i].answer))
    return results
