"""What each epoch of memory training trains on: the pairs, rewrites of their questions, fresh abstentions, replay.

An epoch is a fixed number of *slots* (so every epoch has the same number of optimizer steps and a killed run
resumes at the same step): the training pairs (with the paraphrases of all but the recall-check sample), then
`phrasings` rule rewrites of each pair's question, `synthetic_abstentions` questions about invented names
answered "I don't know.", and this epoch's slice of the replay pool. The rewrites, the invented names and the
replay slice change from epoch to epoch, deterministically from (seed, epoch), so a resumed run sees the same
epochs as an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Sequence

from ..records import ABSTAIN, Pair
from ..settings import TrainConfig

_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")
_SYLLABLES = ("bra", "dor", "fen", "gal", "hix", "jor", "kel", "lum", "mor", "nax", "pel", "quor", "rin", "sav",
              "tor", "ulm", "vex", "wen", "yal", "zed", "ast", "bel", "cri", "dun", "eth", "fro", "gwi", "ix")
_FIRST_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Leo",
                "Maya", "Nils", "Olga", "Pavel", "Rosa", "Sami", "Tara", "Umar", "Vera", "Yusuf", "Zoe", "Oskar")


def _invented_name(rng: random.Random) -> str:
    """An unseen two-word name: invented syllables, or a common first name with an invented surname."""

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()

    return f"{rng.choice(_FIRST_NAMES) if rng.random() < 0.5 else word()} {word()}"


def abstention_questions(pairs: Sequence[Pair], count: int, seed: int) -> list[str]:
    """Questions shaped like the training questions but about invented names the data never mentions.

    Taking the training questions' own shapes teaches the memory the one thing that matters: a known name gets
    its fact, an unknown name gets "I don't know.".
    """
    rng = random.Random(seed)
    text = " ".join(p.question + " " + p.answer for p in pairs).lower()
    shaped = [p.question for p in pairs if _NAME.search(p.question)]
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(count * 20):
        if not shaped or len(out) >= count:
            break
        name = _invented_name(rng)
        if name.lower() in text:
            continue
        q = _NAME.sub(name, rng.choice(shaped), count=1)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


# -- rule rewrites of a question ------------------------------------------------------------------------------

# Neutral frames around a whole question; nothing in them is about any subject.
_FRAMES = ("Question: {q}", "Do you know this? {q}", "{q} Answer briefly.", "Tell me: {q}", "Quick question. {q}",
           "{q} Please answer.", "I would like to know: {q}", "Can you answer this? {q}")


def rephrase(question: str, rng: random.Random) -> str:
    """One cheap rule rewrite of `question` that keeps every name and number in it.

    One operation drawn at random: the three word-level operations of EDA without a thesaurus (random deletion,
    random swap, random insertion of one of the question's own words; Wei & Zou 2019, "EDA: Easy Data
    Augmentation Techniques", section 2), lower-casing, dropping the question mark, or a neutral frame around the
    question. Capitalised words after the first (names, titles) and words with digits are never touched, so the
    rewrite asks about the same thing in a different surface form. Training on such rewrites makes the memory
    key a fact on the name and the content words rather than on one exact wording.
    """
    words = question.split()
    if len(words) < 2:
        return question
    free = [i for i, w in enumerate(words) if not (i > 0 and w[:1].isupper()) and not any(c.isdigit() for c in w)]
    ops = ["frame", "lower", "nomark", "insert"]
    if len(free) >= 3:
        ops.append("delete")
    if len(free) >= 2:
        ops.append("swap")
    op = rng.choice(ops)
    if op == "frame":
        return rng.choice(_FRAMES).format(q=question)
    if op == "lower":
        return " ".join(w if i not in free else w.lower() for i, w in enumerate(words))
    if op == "nomark":
        stripped = question.rstrip(" ?")
        return stripped if stripped != question else question + "?"
    mark = "?" if words[-1].endswith("?") else ""
    words[-1] = words[-1].rstrip("?")
    if op == "delete":
        drop = set(rng.sample(free, max(1, round(0.15 * len(free)))))
        words = [w for i, w in enumerate(words) if i not in drop]
    elif op == "swap":
        a, b = rng.sample(free, 2)
        words[a], words[b] = words[b], words[a]
    else:  # insert
        words.insert(rng.randrange(len(words) + 1), words[rng.choice(free)].lower() if free else words[0])
    return " ".join(words) + mark


# -- the plan of a run and each epoch's examples -------------------------------------------------------------


@dataclass
class Plan:
    train: list[Pair]  # the pairs trained every epoch (with the paraphrases of all but the eval sample)
    rewritten: list[Pair]  # the pairs whose question gets `phrasings` fresh rule rewrites each epoch
    eval: list[Pair]  # training pairs whose recall (and held-out paraphrases) are checked after each epoch
    abstain_eval: list[str]  # invented-name questions, never trained on, for the abstention rate
    synthetic_abstentions: int  # "I don't know." pairs added to every epoch, about names drawn afresh each epoch
    replay_per_epoch: int  # replayed pairs added to every epoch, in rotation through the pool


def plan(pairs: list[Pair], cfg: TrainConfig, replay: Sequence[Pair] = ()) -> Plan:
    """Split `pairs` (and the `replay` pool) into what every epoch trains on and what is checked."""
    rng = random.Random(cfg.seed)
    facts = [p for p in pairs if p.step != "abstention"]
    # Replayed pairs are checked too: a memory that learns the new pairs by forgetting the old ones is no better.
    checked = facts + [p for p in replay if p.step != "abstention"]
    eval_pairs = rng.sample(checked, min(cfg.eval_size, len(checked)))
    held_out = {p.id for p in eval_pairs}
    train = list(pairs)
    # Paraphrases are extra phrasings to learn from, except those of the eval sample: they measure whether
    # the memory answers a question it never saw in that form.
    for p in pairs:
        if p.id not in held_out:
            train += [Pair(question=q, answer=p.answer, step=p.step, doc_ids=p.doc_ids, chunk_ids=p.chunk_ids)
                      for q in p.paraphrases]
    have = sum(p.step == "abstention" for p in pairs)
    wanted = max(math.ceil(cfg.abstention_ratio * len(facts)), min(cfg.min_abstentions, len(facts)))
    want = max(0, wanted - have) if cfg.abstention_ratio > 0 else 0
    n_eval_abstain = min(16, max(4, cfg.eval_size // 4)) if cfg.eval_size and (want or have) else 0
    replay_k = min(len(replay), max(1, math.ceil(cfg.replay_share * len(replay)))) \
        if replay and cfg.replay_share > 0 else 0
    return Plan(train=train, rewritten=list(pairs) if cfg.phrasings else [], eval=eval_pairs,
                abstain_eval=abstention_questions(pairs, n_eval_abstain, cfg.seed),
                synthetic_abstentions=want, replay_per_epoch=replay_k)


def replay_slice(pool: Sequence[Pair], share: float, seed: int, epoch: int) -> list[Pair]:
    """This epoch's share of the replay pool: consecutive slices of one shuffled order, so every pair comes back
    once every 1/share epochs (a fixed sample would leave the rest of the pool to be forgotten)."""
    if not pool or share <= 0:
        return []
    order = list(pool)
    random.Random(seed).shuffle(order)
    k = min(len(order), max(1, math.ceil(share * len(order))))
    start = (epoch * k) % len(order)
    return (order + order)[start : start + k]


def epoch_abstentions(pairs: list[Pair], run: Plan, seed: int, epoch: int) -> list[str]:
    """This epoch's synthetic abstention questions.

    Names are drawn afresh every epoch: a fixed set of invented names is soon memorised as "the names I don't
    know", after which the memory answers confidently about every other unseen name. Fresh names leave only
    the general rule to learn: a name the memory was never taught gets "I don't know.".
    """
    if not run.synthetic_abstentions:
        return []
    held_out = set(run.abstain_eval)
    drawn = abstention_questions(pairs, run.synthetic_abstentions + len(held_out), seed * 1000 + epoch + 1)
    return [q for q in drawn if q not in held_out][: run.synthetic_abstentions]


def epoch_pairs(pairs: list[Pair], run: Plan, cfg: TrainConfig, replay: Sequence[Pair], epoch: int,
                known: Sequence[bool] | None = None) -> list[tuple[str, str, int | None]]:
    """(question, answer, index in `run.train` or None) of every slot of `epoch`, in slot order.

    The index marks the slots that train a pair in its own wording: how the trainer sees whether the memory
    already answers that pair. With `cfg.spaced_repetition` and `known` (per `run.train` pair: answered exactly at
    its last training pass), a known pair is reviewed only every other epoch (a Leitner schedule with two boxes:
    Amiri et al. 2017, "Repeat before forgetting: spaced repetition for efficient and effective training of neural
    networks") and its slot trains a rule rewrite of a pair not known yet instead: the same epoch length, with the
    passes going to the facts still to learn.
    """
    rng = random.Random(cfg.seed * 1000 + epoch)
    out: list[tuple[str, str, int | None]] = []
    unknown = [i for i in range(len(run.train)) if not (known and known[i])]
    rng.shuffle(unknown)
    extra = 0
    for i, p in enumerate(run.train):
        if cfg.spaced_repetition and known and known[i] and (i + epoch) % 2 and unknown:
            j = unknown[extra % len(unknown)]
            extra += 1
            out.append((rephrase(run.train[j].question, rng), run.train[j].answer, None))
        else:
            out.append((p.question, p.answer, i))
    for _ in range(cfg.phrasings):
        out += [(rephrase(p.question, rng), p.answer, None) for p in run.rewritten]
    abstain = epoch_abstentions(pairs, run, cfg.seed, epoch)
    # Too few distinct invented names (a dataset with few name-shaped questions): repeat what there is.
    out += [(abstain[i % len(abstain)], ABSTAIN, None) for i in range(run.synthetic_abstentions)] if abstain else []
    out += [(p.question, p.answer, None) for p in replay_slice(replay, cfg.replay_share, cfg.seed, epoch)]
    return out
