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
3. check: the executive gets the question, the chain with its answers, the memory's answer to the question
   itself and the proposed answer (the last step's short answer), and writes the final answer (`ChainCheck`).
   Its answer is kept when the memory's answers support it (`supported_by`) or when the chain proposed
   nothing; a malformed check, an abstention against a proposed answer, or an unsupported answer that would
   replace the chain's answer falls back to the chain's answer (else the best-supported memory answer), with
   `degraded` saying so.

Cost: 2 executive calls for a question whose every step the memory answers (decompose, check), plus one per
rephrasing; the structured protocol needs at least 3 and usually 5-7.
"""

from __future__ import annotations

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
    answers, used = follow(session, steps)
    return check(session, steps, answers, used)


def substitute(template: str, answers: dict[int, str]) -> str | None:
    """`template` with each `#N` replaced by step N's short answer; None when a referenced step has none."""
    missing = [n for n in STEP_REFERENCE.findall(template) if int(n) not in answers]
    if missing:
        return None
    return STEP_REFERENCE.sub(lambda m: answers[int(m.group(1))], template)


def follow(session: Session, steps: list[str]) -> tuple[dict[int, str], list[Exchange]]:
    """Ask the chain's steps in order; (short answer per answered step, the exchanges that answered them)."""
    s = session.settings
    answers: dict[int, str] = {}
    used: list[Exchange] = []
    if len(steps) > s.chain_steps:
        session.steps[-1].notes.append(f"chain of {len(steps)} steps: only the first {s.chain_steps} are asked")
        session.degraded.append(f"decompose: the chain has {len(steps)} steps, more than chain_steps = "
                                f"{s.chain_steps}; its answer is not the last step's")
    for i, template in enumerate(steps[: s.chain_steps], 1):
        hop = session.step("hop", i)
        question = substitute(template, answers)
        if question is None:  # unreachable unless an earlier step broke the chain (the loop stops there)
            hop.decision = "a step it needs has no answer"
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
        if reply.abstained:
            hop.decision = "no answer: the chain stops here"
            break
        answers[i] = short_answer(question, reply.answer) or reply.answer
        used.append(reply)
        hop.decision = f"#{i} = {answers[i]}"
    return answers, used


def check(session: Session, steps: list[str], answers: dict[int, str], used: list[Exchange]) -> AskResult:
    s = session.settings
    last = min(len(steps), s.chain_steps)
    proposed = answers.get(last) if len(steps) <= s.chain_steps else None
    direct = session.answer_to_question()
    chain_text = "\n".join(
        f"{i}. {t}\n   -> {answers.get(i, 'no answer' if i <= last else 'not asked')}" for i, t in enumerate(steps, 1))
    step = session.step("check")
    out = session.think(step, "check", ChainCheck, s.chain_temperature, question=session.question, chain=chain_text,
                        direct=direct.answer if direct else ABSTAIN, proposed=proposed or "(none)")
    justification = "Chain: " + "; ".join(f"#{i} {answers[i]}" for i in sorted(answers)) if answers else \
        "The chain got no answer from the memory."
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
