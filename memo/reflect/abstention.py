"""Abstention pairs (both profiles): questions shaped like real ones, about people or organisations the corpus
never mentions, answered "I don't know." This project's addition to the MeMo recipe (arXiv 2605.15156), whose
memory is asked to abstain only in the query prompt: here it learns to abstain from examples (docs/MEMORY.md,
"Abstention").
"""

from __future__ import annotations

import random

from ..records import ABSTAIN, Pair, normalize_text
from .context import RunContext
from .nlp import named_entities


def abstentions(ctx: RunContext, pairs: list[Pair]) -> list[Pair]:
    """Up to `abstention_ratio` x len(pairs) abstention pairs.

    A kept pair's question that names a person or organisation (spaCy PERSON / ORG, two words or more) gets an
    invented name recombined from the corpus's own names of that type ("Ada Lovelace" + "Alan Turing" -> "Ada
    Turing"), so it looks plausible; names that occur in the corpus text are never used.
    """
    stats = ctx.stats["abstention"]
    want = round(len(pairs) * ctx.cfg.abstention_ratio)
    text = " ".join(d.text for d in ctx.corpus.documents).lower()
    kinds: dict[str, str] = {}
    for ents in named_entities(d.text for d in ctx.corpus.documents):
        for name, label in ents:
            if label in {"PERSON", "ORG"} and len(name.split()) >= 2:
                kinds.setdefault(name, label)
    names = sorted(kinds)
    rng = random.Random(ctx.cfg.seed)
    out: list[Pair] = []
    seen: set[str] = set()
    candidates = [p for p in pairs if p.step in {"direct", "indirect", "entity"}]
    rng.shuffle(candidates)
    for p in candidates:
        if len(out) >= want:
            break
        present = [n for n in names if n in p.question]
        if not present:
            continue
        real = present[0]
        others = [n for n in names if n != real and kinds[n] == kinds[real]]
        if not others:
            continue
        donor = rng.choice(others)
        fake = " ".join(real.split()[:-1] + donor.split()[-1:])
        if fake.lower() in text or fake == real:
            fake = " ".join(donor.split()[:1] + real.split()[1:])
        if fake.lower() in text or fake == real:
            continue
        q = p.question.replace(real, fake)
        if normalize_text(q) in seen:
            continue
        seen.add(normalize_text(q))
        out.append(Pair(q, ABSTAIN, "abstention", [], [], [p.id]))
    stats.notes["wanted"] = want
    stats.produced = len(out)
    return out
