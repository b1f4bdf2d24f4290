"""The `chain` protocol: the question as a chain of single-hop questions, asked one step at a time.

The executive writes the question in MuSiQue's decomposition format (Trivedi et al. 2022, "MuSiQue: Multihop
Questions via Single-hop Question Composition"): single-hop steps where `#N` stands for the answer of step N,
e.g. "In which village was the founder of X born?" -> ["Who is the founder of X?", "In which village was #1
born?"]. A one-hop question is a chain of one. Then the code, not the executive, runs the chain:

1. decompose: one executive step (`Chain`), greedy. Malformed -> the question itself is a chain of one.
2. hops: step i is sent to the memory with every `#N` replaced by step N's short answer (`short_answer`: the
   fact the memory's sentence adds to the question). Step 1 goes in one batch with the question itself.
   A step that gets "I don't know." is rephrased by the executive (`Rephrasing`), at most
   `chain_rephrasings` times; a step still unanswered breaks the chain. At most `chain_steps` steps run.
3. check: the executive gets the question, the chain with every memory answer and the short answer taken from
   it, the memory's answer to the question itself and the proposed answer (the last step's short answer), and
   writes the final answer (`ChainCheck`).
   Its answer is kept when the memory's answers support it (`supported_by`) or when the chain proposed
   nothing; a malformed check, an abstention against a proposed answer, or an unsupported answer that would
   replace the chain's answer falls back to the chain's answer (else the best-supported memory answer), with
   `degraded` saying so.

Cost: 2 executive calls for a question whose every step the memory answers (decompose, check), plus one per
rephrasing; the structured protocol needs at least 3 and usually 5-7.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import ABSTAIN, is_abstention, normalize_text
from .answers import short_answer, supported_by
from .schemas import STEP_REFERENCE, Chain, ChainCheck, Rephrasing
from .session import Session
from .trace import AskResult, Exchange


def run_chain(session: Session) -> AskResult:
    s = session.settings
    step = session.step("decompose")
    out = session.think(step, "chain", Chain, s.chain_temperature, question=session.question)
    if out is None:
        steps = [session.question]
        session.degrade(step, "the question itself is asked as a chain of one")
    else:
        steps = list(out.steps)
        step.decision = f"chain of {len(steps)}"
    hops, used = follow(session, steps)
    return check(session, hops, used, complete=len(steps) <= s.chain_steps)


@dataclass
class Hop:
    """One chain step as it went: the question last asked (the step itself when never asked), the memory's
    answer (None when never asked) and its short answer ("" when the memory did not know)."""

    question: str
    reply: str | None = None
    answer: str = ""


def chain_text(hops: list[Hop]) -> str:
    """The chain as the check step reads it: each step, the memory's own answer, and the short answer taken."""
    lines = []
    for i, hop in enumerate(hops, 1):
        lines.append(f"{i}. {hop.question}")
        if hop.reply is None:
            lines.append("   (not asked)")
        else:
            lines += [f"   memory: {hop.reply}", f"   #{i} = {hop.answer or 'no answer'}"]
    return "\n".join(lines)


def substitute(template: str, answers: dict[int, str]) -> str | None:
    """`template` with each `#N` replaced by step N's short answer; None when a referenced step has none."""
    missing = [n for n in STEP_REFERENCE.findall(template) if int(n) not in answers]
    if missing:
        return None
    return STEP_REFERENCE.sub(lambda m: answers[int(m.group(1))], template)


def follow(session: Session, steps: list[str]) -> tuple[list[Hop], list[Exchange]]:
    """Ask the chain's steps in order; (every step as it went, the exchanges that answered a step)."""
    s = session.settings
    hops = [Hop(question=t) for t in steps]
    answers: dict[int, str] = {}
    used: list[Exchange] = []
    if len(steps) > s.chain_steps:
        session.steps[-1].notes.append(f"chain of {len(steps)} steps: only the first {s.chain_steps} are asked")
        session.degraded.append(f"decompose: the chain has {len(steps)} steps, more than chain_steps = "
                                f"{s.chain_steps}; its answer is not the last step's")
    for i, template in enumerate(steps[: s.chain_steps], 1):
        hop = session.step("hop", i)
        question = substitute(template, answers)
        if question is None:  # unreachable: the loop stops at the first unanswered step
            break
        batch = session.with_question([question]) if i == 1 else [question]
        replies = session.ask_memory(hop, batch, s.memory_entity_temperature)
        reply = next(e for e in replies if normalize_text(e.question) == normalize_text(question))
        for _ in range(s.chain_rephrasings):
            if not reply.abstained:
                break
            out = session.think(hop, "rephrase", Rephrasing, s.chain_temperature, question=question)
            if out is None:
                session.degrade(hop, "the step is not rephrased")
                break
            if normalize_text(out.question) == normalize_text(question):
                hop.notes.append("the rephrasing repeats the step")
                break
            hop.notes.append(f"rephrased: {out.question}")
            question = out.question
            reply = session.ask_memory(hop, [question], s.memory_entity_temperature)[0]
        hops[i - 1] = Hop(question=question, reply=reply.answer)
        if reply.abstained:
            hop.decision = "no answer: the chain stops here"
            break
        answers[i] = hops[i - 1].answer = short_answer(question, reply.answer) or reply.answer
        used.append(reply)
        hop.decision = f"#{i} = {answers[i]}"
    return hops, used


def check(session: Session, hops: list[Hop], used: list[Exchange], complete: bool) -> AskResult:
    """The executive's final answer, checked against the memory's answers (see the module docstring)."""
    proposed = hops[-1].answer if complete else ""
    direct = session.answer_to_question()
    step = session.step("check")
    out = session.think(step, "check", ChainCheck, session.settings.chain_temperature, question=session.question,
                        chain=chain_text(hops), direct=direct.answer if direct else ABSTAIN,
                        proposed=proposed or "(none)")
    answered = [f"#{i} {h.answer}" for i, h in enumerate(hops, 1) if h.answer]
    justification = "Chain: " + "; ".join(answered) if answered else "The chain got no answer from the memory."
    exchanges = [e for e in session.exchanges if not e.abstained]
    if out is None:
        if proposed:
            session.degrade(step, "the answer is the chain's last step")
            return session.finish(proposed, justification, used)
        answer, best = session.fallback()
        session.degrade(step, "the answer is the best-supported memory answer" if best else
                        "no memory answer to fall back on: abstention")
        return session.finish(answer, justification, best)
    answer = out.final_answer.strip()
    if proposed and (not answer or is_abstention(answer)):
        session.degraded.append(f"check: the executive abstained although the chain answered {proposed!r}; the "
                                "answer is the chain's last step")
        step.decision = f"abstained: kept {proposed}"
        return session.finish(proposed, justification, used)
    if proposed and not supported_by(answer, exchanges):
        session.degraded.append(f"check: the executive's answer {answer!r} is in no memory answer; the answer is "
                                "the chain's last step")
        step.decision = f"unsupported {answer!r}: kept {proposed}"
        return session.finish(proposed, justification, used)
    if answer and not is_abstention(answer) and not supported_by(answer, exchanges):
        step.notes.append("the answer is in no memory answer: it is the executive's own")
    step.decision = f"final: {answer}"
    support = [e for e in exchanges if answer and supported_by(answer, [e])] or used
    return session.finish(answer, justification, support)
