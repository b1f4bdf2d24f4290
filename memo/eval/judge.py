"""The binary LLM judge of the MeMo paper's evaluation (arXiv 2605.15156): is an answer correct against the reference?

Rubric (`memo/prompts/eval/judge.md`): a fuller or more specific form of the reference counts as correct; a
missing critical qualifier, a contradiction, a hedge between several answers or no answer does not. The judge is
the `judge` role; an abstention ("I don't know.") is judged incorrect without asking it.
"""

from __future__ import annotations

from typing import Annotated, Sequence

from pydantic import BaseModel, StringConstraints

from ..llm import ChatModel, GenParams, StructuredOutputError
from ..records import is_abstention
from ..templates import render_prompt

#: Local judges below this many parameters (the embedded 135M model) give verdicts no better than chance.
RELIABLE_JUDGE_PARAMETERS = 1_000_000_000


class Verdict(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
    correct: bool


def judge_reliability(model: ChatModel) -> str | None:
    """Why `model`'s verdicts should not be trusted (a local model under 1B parameters), or None."""
    hf = getattr(model, "model", None)
    if model.spec == "embedded" or (hasattr(hf, "num_parameters") and hf.num_parameters() < RELIABLE_JUDGE_PARAMETERS):
        return (f"the judge ({model.spec}) is a local model under 1B parameters: its verdicts are unreliable, so "
                "this report leads with EM and F1; set the judge role to a capable model for judged accuracy")
    return None


def judge_answers(model: ChatModel, items: Sequence[tuple[str, Sequence[str], str]], seed: int = 0,
                  ) -> list[dict]:
    """One verdict per (question, reference answers, answer): {"correct": bool | None, "reason": str}.

    `correct` is None when the judge's output stayed malformed (the answer then counts in no judged mean).
    """
    verdicts: list[dict | None] = [None] * len(items)
    prompts, idx = [], []
    for i, (question, answers, answer) in enumerate(items):
        if not answer.strip() or is_abstention(answer):
            verdicts[i] = {"correct": False, "reason": "no answer (abstained)"}
            continue
        prompts.append(render_prompt("eval/judge", question=question, reference=answers[0],
                                     aliases="; ".join(answers[1:]) or "(none)", answer=answer))
        idx.append(i)
    params = GenParams(temperature=0.0, max_tokens=128, seed=seed)
    for i, res in zip(idx, model.structured_batch(prompts, Verdict, params)):
        if isinstance(res, StructuredOutputError):
            verdicts[i] = {"correct": None, "reason": f"malformed verdict: {str(res)[:120]}"}
        else:
            verdicts[i] = {"correct": res.correct, "reason": res.reason}
    return verdicts
