"""The MeMo paper's three-stage protocol (arXiv 2605.15156; docs/EXECUTIVE.md, "The structured protocol"), plus final synthesis.

1. grounding: atomic clues -> 3 sub-questions per HIGH clue, 1 per LOW clue, plus combination questions (and
   the question itself, which a one-hop question often needs and a weak executive may not rephrase well).
2. entity identification: label answers, rank candidates, decay them on targeted IDKs, confirm / exhaust / ask.
3. answer seeking: role, ratings, facts and unknowns; answer as soon as possible, pivot if needed.
4. final synthesis: candidate answers checked against the clues; the one covering the most clues wins.

The executive proposes; this module keeps the bookkeeping (IDK streaks, dead ends, budgets) deterministic, so
a weak executive cannot loop forever or resurrect an eliminated candidate. A step whose output stays malformed
after its retries ends its stage and the protocol moves on with what it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..records import ABSTAIN, normalize_text
from .schemas import AnswerTurn, EntityTurn, FinalSynthesis, Grounding
from .session import Session, bullet, numbered
from .trace import AskResult, Exchange


@dataclass
class State:
    """What the executive knows between turns."""

    clues: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # ranked, best first
    eliminated: set[str] = field(default_factory=set)  # normalised names
    facts: dict[str, list[str]] = field(default_factory=dict)
    idk_streak: dict[str, int] = field(default_factory=dict)
    idk_by_question: dict[str, int] = field(default_factory=dict)
    dead_ends: list[str] = field(default_factory=list)
    entity: str | None = None
    confirmed: bool = False
    draft_answer: str = ""
    unknowns: list[str] = field(default_factory=list)

    def add_candidate(self, name: str) -> None:
        name = name.strip()
        if _norm(name) and _norm(name) not in self.eliminated and not self.find(name):
            self.candidates.append(name)

    def find(self, name: str) -> str | None:
        key = _norm(name)
        return next((c for c in self.candidates if _norm(c) == key), None)

    def eliminate(self, name: str) -> None:
        found = self.find(name)
        if found:
            self.candidates.remove(found)
            self.eliminated.add(_norm(found))

    def add_fact(self, entity: str, fact: str) -> None:
        facts = self.facts.setdefault(entity.strip() or "(unassigned)", [])
        if fact not in facts:
            facts.append(fact)

    def facts_text(self) -> str:
        return "\n".join(f"{e}:\n" + bullet(fs) for e, fs in self.facts.items()) or "(none)"

    def candidates_text(self) -> str:
        return "\n".join(
            f"{i}. {c} [{self.idk_streak.get(_norm(c), 0)}]" for i, c in enumerate(self.candidates, 1)
        ) or "(none)"


def run_structured(session: Session) -> AskResult:
    state = State()
    new = ground(session, state)
    identify_entity(session, state, new)
    if state.entity:
        seek_answer(session, state)
    else:
        session.steps[-1].notes.append("no candidate entity: straight to final synthesis")
    return synthesise(session, state)


# -- stage 1 ----------------------------------------------------------------------------------------------------

def ground(session: Session, state: State) -> list[Exchange]:
    s = session.settings
    step = session.step("grounding")
    out = session.think(step, "grounding", Grounding, s.grounding_temperature, question=session.question)
    if out is None:
        questions = []
        session.degrade(step, "the question itself goes to the memory")
        state.clues = [session.question]
    else:
        state.clues = [c.clue for c in out.clues]
        questions = [q for c in out.clues for q in c.questions[: 3 if c.power == "HIGH" else 1]] + out.combined
        step.decision = f"{len(state.clues)} clues"
    # The question itself goes first: a one-hop question is often answered outright, whatever the clues.
    questions = session.with_question(questions)
    return session.ask_memory(step, questions[: s.grounding_questions], s.memory_grounding_temperature)


# -- stage 2 ----------------------------------------------------------------------------------------------------

def identify_entity(session: Session, state: State, new: list[Exchange]) -> None:
    s = session.settings
    for turn in range(1, s.entity_turns + 1):
        _track_idks(session, state, new)
        step = session.step("entity", turn)
        seen = {e.n for e in new}
        out = session.think(
            step, "entity", EntityTurn, s.entity_temperature, question=session.question,
            history=numbered([e for e in session.exchanges if e.n not in seen]), new_answers=numbered(new),
            facts=state.facts_text(), candidates=state.candidates_text(), dead_ends=bullet(state.dead_ends),
            turn=turn, budget=s.entity_turns,
        )
        if out is None:
            session.degrade(step, "entity identification stops with the candidates so far")
            break
        _apply_labels(state, out, {e.n: e for e in new})
        _rerank(state, out.candidates, s.demote_idks)
        step.candidates = list(state.candidates)
        if out.decision == "confirm" and (out.entity or state.candidates):
            state.entity = (state.find(out.entity) or out.entity) if out.entity else state.candidates[0]
            state.add_candidate(state.entity)
            state.confirmed = True
            step.decision = f"confirm {state.entity}"
            return
        if out.decision == "exhaust":
            step.decision = "exhaust"
            break
        questions = _fresh(state, out.questions)[: s.questions_per_turn]
        dropped = len(out.questions) - len(questions)
        if dropped:
            step.notes.append(f"{dropped} question(s) dropped: dead ends or repeats")
        step.decision = f"ask {len(questions)}"
        new = session.ask_memory(step, questions, s.memory_entity_temperature)
    else:
        if s.entity_turns:
            _track_idks(session, state, new)
            session.steps[-1].notes.append("entity budget spent")
    if state.candidates:
        state.entity = state.candidates[0]
        session.steps[-1].notes.append(f"carrying rank-1 candidate {state.entity} as an unconfirmed hypothesis")


def _track_idks(session: Session, state: State, exchanges: list[Exchange]) -> None:
    """Count IDKs per question (dead ends) and per candidate named in the question (demote, then eliminate)."""
    s = session.settings
    for e in exchanges:
        if not e.abstained:
            continue
        key = _norm(e.question)
        state.idk_by_question[key] = state.idk_by_question.get(key, 0) + 1
        if state.idk_by_question[key] >= s.dead_end_idks and e.question not in state.dead_ends:
            state.dead_ends.append(e.question)
        for c in list(state.candidates):
            if _names(e.question, c):
                streak = state.idk_streak[_norm(c)] = state.idk_streak.get(_norm(c), 0) + 1
                if streak >= s.eliminate_idks:
                    state.eliminate(c)
                    session.steps[-1].notes.append(f"{c} eliminated after {streak} IDKs in a row")
                elif streak >= s.demote_idks:
                    state.candidates.remove(c)
                    state.candidates.append(c)
                    session.steps[-1].notes.append(f"{c} demoted after {streak} IDKs in a row")


def _apply_labels(state: State, out: EntityTurn, new: dict[int, Exchange]) -> None:
    for label in out.labels:
        exchange = new.get(label.n)
        if exchange is None or exchange.abstained or not label.candidate:
            continue  # labels of unknown answers, or of IDKs, carry no signal
        if label.label == "eliminates":
            state.eliminate(label.candidate)
            continue
        if label.label in ("confirms", "new_candidate"):
            state.add_candidate(label.candidate)
            name = state.find(label.candidate)
            if name:
                state.add_fact(name, exchange.answer)
                if label.label == "confirms":
                    state.idk_streak[_norm(name)] = 0


def _rerank(state: State, ranking: list[str], demote_idks: int) -> None:
    """The executive's order first; candidates it left out keep their relative order after it.

    Demoted candidates (IDK streak at the demotion threshold) stay behind the others whatever the executive says.
    """
    for name in ranking:
        state.add_candidate(name)
    order = {_norm(n): i for i, n in enumerate(ranking)}
    state.candidates.sort(key=lambda c: (state.idk_streak.get(_norm(c), 0) >= demote_idks,
                                         order.get(_norm(c), len(order))))


def _fresh(state: State, questions: list[str]) -> list[str]:
    dead = {_norm(q) for q in state.dead_ends}
    return list(dict.fromkeys(q for q in questions if _norm(q) not in dead))


# -- stage 3 ----------------------------------------------------------------------------------------------------

def seek_answer(session: Session, state: State) -> None:
    s = session.settings
    new: list[Exchange] = []
    for turn in range(1, s.answer_turns + 1):
        step = session.step("answer", turn)
        entity = state.entity
        out = session.think(
            step, "answer", AnswerTurn, s.answer_temperature, question=session.question, entity=entity,
            status="confirmed" if state.confirmed else "unconfirmed hypothesis",
            candidates=", ".join(c for c in state.candidates if c != entity) or "(none)",
            facts=bullet(state.facts.get(entity, [])), unknowns="; ".join(state.unknowns) or "(not assessed yet)",
            new_answers=numbered(new), turn=turn, budget=s.answer_turns,
        )
        if out is None:
            session.degrade(step, "answer seeking stops: on to final synthesis")
            return
        by_n = {e.n: e for e in new}
        for rating in out.ratings:
            e = by_n.get(rating.n)
            if e is not None and not e.abstained and rating.label == "relevant":
                state.add_fact(entity, e.answer)
                state.idk_streak[_norm(entity)] = 0
            elif e is not None and rating.label == "contradiction":
                step.notes.append(f"answer [{e.n}] contradicts what is known")
        for fact in out.facts:
            state.add_fact(entity, fact)
        state.unknowns = list(out.unknowns)
        if out.decision == "answer" and out.answer and not _is_idk(out.answer):
            state.draft_answer = out.answer
            step.decision = f"answer: {out.answer}"
            return
        pivoted = False
        if out.decision == "pivot" and out.pivot_to and _norm(out.pivot_to) != _norm(entity):
            if _norm(out.pivot_to) in state.eliminated:
                step.notes.append(f"pivot to eliminated candidate {out.pivot_to} refused")
            else:
                state.add_candidate(out.pivot_to)
                state.entity = state.find(out.pivot_to) or out.pivot_to
                state.confirmed = False
                entity, pivoted = state.entity, True
        # Every stage-3 sub-question names the entity verbatim, so the memory knows whom it is about.
        questions = [q if _names(q, entity) else f"{entity}: {q}" for q in _fresh(state, out.questions)]
        questions = questions[: s.questions_per_turn]
        step.decision = (f"pivot to {entity}, " if pivoted else "") + f"ask {len(questions)}"
        new = session.ask_memory(step, questions, s.memory_answer_temperature)
        _track_idks(session, state, new)
        if state.entity and _norm(state.entity) in state.eliminated:
            step.notes.append(f"{state.entity} eliminated: on to synthesis")
            return
    if s.answer_turns:
        session.steps[-1].notes.append("answer budget spent")


# -- stage 4 ----------------------------------------------------------------------------------------------------

def synthesise(session: Session, state: State) -> AskResult:
    s = session.settings
    step = session.step("final")
    used = [e for e in session.exchanges if not e.abstained]
    constraints = state.clues or [session.question]
    draft = ""
    if state.draft_answer:
        draft = f"\nDraft answer from the last stage: {state.draft_answer}\n"
    elif state.entity:
        draft = f"\nMain entity: {state.entity} ({'confirmed' if state.confirmed else 'unconfirmed'})\n"
    out = session.think(
        step, "final", FinalSynthesis, s.final_temperature, question=session.question,
        constraints="\n".join(f"{i}. {c}" for i, c in enumerate(constraints, 1)), answers=numbered(used),
        facts=state.facts_text(), draft=draft,
    )
    if out is None:
        if state.draft_answer:
            answer = state.draft_answer
            session.degrade(step, "the answer is stage 3's draft answer")
        else:
            answer, used = session.fallback()
            session.degrade(step, "the answer is the best-supported memory answer" if used else
                            "no memory answer to fall back on: abstention")
        justification = "The executive's synthesis stayed malformed; this is the best answer it had collected."
    else:
        answer, justification = _best_covered(out, len(constraints)), out.justification
        step.decision = f"final: {answer}"
        if _norm(answer) != _norm(out.final_answer):
            step.notes.append(f"{out.final_answer!r} replaced by the candidate that satisfies more constraints")
    if _is_idk(answer):
        answer = ABSTAIN
    return session.finish(answer, justification, used, state.entity, state.confirmed)


def _best_covered(out: FinalSynthesis, n_constraints: int) -> str:
    """The candidate satisfying the most distinct valid constraints; ties keep the executive's own pick."""
    def coverage(c) -> int:
        return len({i for i in c.satisfies if 1 <= i <= n_constraints})

    candidates = [c for c in out.candidates if c.answer.strip()]
    if not candidates:
        return out.final_answer or ABSTAIN
    top = max(coverage(c) for c in candidates)
    best = [c for c in candidates if coverage(c) == top]
    chosen = next((c for c in best if _norm(c.answer) == _norm(out.final_answer)), best[0])
    return chosen.answer


# -- helpers ----------------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return normalize_text(text)


def _names(question: str, entity: str) -> bool:
    """Whether `question` mentions `entity` (whole words, case and punctuation folded)."""
    key = _norm(entity)
    return bool(key) and re.search(rf"\b{re.escape(key)}\b", _norm(question)) is not None


def _is_idk(text: str) -> bool:
    return _norm(text).startswith(_norm(ABSTAIN)) or not _norm(text)
