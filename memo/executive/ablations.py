"""The paper's protocol ablations: `single` (decompose once, ask, answer) and `multi` (an unstructured loop)."""

from __future__ import annotations

from ..records import ABSTAIN
from .schemas import Decomposition, MultiTurn, Response
from .session import Session, numbered
from .trace import AskResult, Exchange


def run_single(session: Session) -> AskResult:
    s = session.settings
    step = session.step("decompose")
    out = session.think(step, "decompose", Decomposition, s.grounding_temperature, question=session.question)
    if out is None:
        step.notes.append("decomposition failed: the question itself goes to the memory")
    questions = out.questions if out is not None else [session.question]
    step.decision = f"ask {len(questions)}"
    session.ask_memory(step, questions, s.memory_grounding_temperature)
    return respond(session)


def run_multi(session: Session) -> AskResult:
    s = session.settings
    for turn in range(1, s.multi_turns + 1):
        step = session.step("multi", turn)
        out = session.think(step, "multi", MultiTurn, s.entity_temperature, question=session.question,
                            history=numbered(session.exchanges), turn=turn, budget=s.multi_turns)
        if out is None:
            step.decision = "malformed: answer with what is known"
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
    """Answer from every memory answer so far; without a valid answer step, the last non-IDK memory answer."""
    step = session.step("respond")
    used: list[Exchange] = [e for e in session.exchanges if not e.abstained]
    out = session.think(step, "respond", Response, session.settings.final_temperature,
                        question=session.question, answers=numbered(session.exchanges))
    if out is None:
        step.decision = "malformed: fall back to the last memory answer"
        answer = used[-1].answer if used else ABSTAIN
        return session.finish(answer, "The executive's answer stayed malformed; this is the last memory answer.",
                              used)
    step.decision = f"final: {out.final_answer}"
    return session.finish(out.final_answer, out.justification, used)
