"""The paper's protocol ablations: `single` (decompose once, ask, answer) and `multi` (an unstructured loop)."""

from __future__ import annotations

from .schemas import Decomposition, MultiTurn, Response
from .session import Session, numbered
from .trace import AskResult, Exchange


def run_single(session: Session) -> AskResult:
    s = session.settings
    step = session.step("decompose")
    out = session.think(step, "decompose", Decomposition, s.grounding_temperature, question=session.question)
    if out is None:
        session.degrade(step, "the question itself goes to the memory")
    questions = session.with_question(out.questions if out is not None else [])
    if out is not None:
        step.decision = f"ask {len(questions)}"
    session.ask_memory(step, questions, s.memory_grounding_temperature)
    return respond(session)


def run_multi(session: Session) -> AskResult:
    s = session.settings
    # The loop starts from the memory's answer to the question itself, which final synthesis must see too.
    step = session.step("multi")
    step.decision = "ask the question itself"
    session.ask_memory(step, session.with_question([]), s.memory_entity_temperature)
    for turn in range(1, s.multi_turns + 1):
        step = session.step("multi", turn)
        out = session.think(step, "multi", MultiTurn, s.entity_temperature, question=session.question,
                            history=numbered(session.exchanges), turn=turn, budget=s.multi_turns)
        if out is None:
            session.degrade(step, "the answer step answers from what is known")
            break
        if out.decision == "answer" and out.final_answer:
            step.decision = f"answer: {out.final_answer}"
            used = [e for e in session.exchanges if not e.abstained]
            return session.finish(out.final_answer, out.justification or "(none given)", used)
        if not out.question:
            step.decision = "no question: answer with what is known"
            break
        step.decision = "ask"
        session.ask_memory(step, [out.question], s.memory_entity_temperature)
    else:
        session.steps[-1].notes.append("turn budget spent")
    return respond(session)


def respond(session: Session) -> AskResult:
    """Answer from every memory answer so far; without a valid answer step, the best-supported memory answer."""
    step = session.step("respond")
    used: list[Exchange] = [e for e in session.exchanges if not e.abstained]
    out = session.think(step, "respond", Response, session.settings.final_temperature,
                        question=session.question, answers=numbered(session.exchanges))
    if out is None:
        answer, best = session.fallback()
        session.degrade(step, "the answer is the best-supported memory answer" if best else
                        "no memory answer to fall back on: abstention")
        return session.finish(answer, "The executive's answer stayed malformed; this is the best-supported "
                              "memory answer.", best)
    step.decision = f"final: {out.final_answer}"
    return session.finish(out.final_answer, out.justification, used)
