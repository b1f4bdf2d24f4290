"""What every protocol shares: executive steps with retry, batched memory questions, and the trace they leave.

A protocol only decides *what* to ask; `Session` calls the models, validates, retries, times and records. It
also keeps the one rule every protocol obeys: what the memory knows is never silently lost. Each protocol asks
the memory the question itself among its first sub-questions (`with_question`); a step that stays malformed is
recorded in `degraded` with what the protocol did instead (`degrade`); and `finish` overrules an executive that
abstains although the memory answered the question itself, with the best-supported memory answer.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, Sequence, TypeVar

from pydantic import BaseModel

from ..llm import ChatModel, GenParams, StructuredOutputError
from ..records import ABSTAIN, is_abstention, normalize_text
from ..templates import render_prompt
from .answers import best_supported
from .memory import MemoryClient, SourceCitation
from ..settings import ExecutiveSettings
from .trace import AskResult, Exchange, Step, Trace

T = TypeVar("T", bound=BaseModel)

#: Temperature used to resample a malformed answer when the step itself is greedy (a greedy retry repeats itself).
RETRY_TEMPERATURE = 0.7


class Session:
    def __init__(self, question: str, protocol: str, executive: ChatModel, memory: MemoryClient,
                 settings: ExecutiveSettings, on_step: Callable[[Step], None] | None = None):
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        self.question = question
        self.protocol = protocol
        self.executive = executive
        self.memory = memory
        self.settings = settings
        self.on_step = on_step
        self.steps: list[Step] = []
        self.exchanges: list[Exchange] = []
        self.degraded: list[str] = []
        self._started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._t0 = time.perf_counter()
        self._usage0 = executive.usage.as_dict()
        self._memory_usage0 = memory.usage()

    def step(self, stage: str, turn: int = 0) -> Step:
        step = Step(stage=stage, turn=turn)
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        return step

    def think(self, step: Step, prompt: str, schema: type[T], temperature: float, **fields: object) -> T | None:
        """The executive's validated answer for this step, or None once `retries` resamples stayed malformed."""
        conversation = [{"role": "user", "content": render_prompt(f"executive/{prompt}", **fields)}]
        t0, tokens0 = time.perf_counter(), self._tokens()
        result: T | StructuredOutputError | None = None
        for attempt in range(self.settings.retries + 1):
            params = GenParams(
                temperature=temperature if attempt == 0 or temperature > 0 else RETRY_TEMPERATURE,
                top_p=self.settings.top_p, max_tokens=self.settings.max_tokens, seed=self.settings.seed + attempt,
            )
            result = self.executive.structured_batch([conversation], schema, params)[0]
            step.attempts = attempt + 1
            if not isinstance(result, StructuredOutputError):
                break
        step.seconds += time.perf_counter() - t0
        step.executive_tokens += self._tokens() - tokens0
        if isinstance(result, StructuredOutputError):
            step.error = str(result)
            return None
        step.output = result.model_dump()
        return result

    def degrade(self, step: Step, fallback: str) -> None:
        """Record that `step` stayed malformed and what the protocol did instead (shown with the answer)."""
        where = f"{step.stage} turn {step.turn}" if step.turn else step.stage
        error = (step.error or "").split("\n", 1)[0][:120]
        self.degraded.append(f"{where}: the executive's output stayed malformed after {step.attempts} attempt(s)"
                             f"{f' ({error})' if error else ''}; {fallback}")
        step.decision = f"malformed: {fallback}"

    def with_question(self, questions: Sequence[str]) -> list[str]:
        """`questions` with the user's question itself first (unless already there): every protocol's first batch.

        A one-hop question is often answered outright, and final synthesis must be able to see that answer.
        """
        key = normalize_text(self.question)
        return [self.question] + [q for q in questions if normalize_text(q) != key]

    def answer_to_question(self) -> Exchange | None:
        """The memory's non-abstaining answer to the user's question itself, if it gave one."""
        key = normalize_text(self.question)
        return next((e for e in self.exchanges if not e.abstained and normalize_text(e.question) == key), None)

    def fallback(self) -> tuple[str, list[Exchange]]:
        """The best-supported memory answer and the exchange it came from, or abstention when there is none."""
        best = best_supported(self.question, self.exchanges)
        return (best.answer, [best]) if best else (ABSTAIN, [])

    def ask_memory(self, step: Step, questions: Sequence[str], temperature: float) -> list[Exchange]:
        """Send a stage's sub-questions to the memory as one batch and record the exchanges."""
        unique: dict[str, str] = {}
        for q in questions:
            unique.setdefault(" ".join(q.lower().split()), q.strip())  # repeats differing in case or spacing
        questions = [q for q in unique.values() if q]
        if not questions:
            return []
        t0 = time.perf_counter()
        replies = self.memory.ask(questions, temperature=temperature, max_tokens=self.settings.memory_max_tokens,
                                  seed=self.settings.seed)
        step.seconds += time.perf_counter() - t0
        new = [
            Exchange(n=len(self.exchanges) + i + 1, stage=step.stage, turn=step.turn, question=r.question,
                     answer=r.answer, abstained=r.abstained, citations=r.citations)
            for i, r in enumerate(replies)
        ]
        self.exchanges.extend(new)
        step.asked.extend(e.n for e in new)
        return new

    def finish(self, answer: str, justification: str, used: Sequence[Exchange], entity: str | None = None,
               entity_confirmed: bool = False) -> AskResult:
        """The result: answer, justification, and the best citation per source document of the answers used.

        An abstention (or an empty answer) is overruled when the memory answered the question itself: the
        result is then the best-supported memory answer, and `degraded` says so.
        """
        if not answer.strip() or is_abstention(answer):
            answer = ABSTAIN
            if self.answer_to_question() is not None:
                answer, used = self.fallback()
                justification = f"The memory's answer to {used[0].question!r}."
                self.degraded.append("the executive abstained although the memory answered the question itself: "
                                     "the best-supported memory answer is given instead")
        best: dict[str, SourceCitation] = {}
        for e in used:
            for c in e.citations:
                if c.doc_id not in best or c.score > best[c.doc_id].score:
                    best[c.doc_id] = c
        usage = {k: v - self._usage0.get(k, 0) for k, v in self.executive.usage.as_dict().items()}
        usage["tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        memory_usage = {k: v - self._memory_usage0.get(k, 0) for k, v in self.memory.usage().items()}
        return AskResult(
            question=self.question, protocol=self.protocol, executive=self.executive.spec,
            memory=self.memory.description, settings=self.settings.model_dump(), started=self._started,
            answer=answer.strip(), justification=justification.strip(), entity=entity,
            entity_confirmed=entity_confirmed,
            citations=sorted(best.values(), key=lambda c: -c.score), degraded=list(self.degraded),
            trace=Trace(steps=self.steps, exchanges=self.exchanges, seconds=round(time.perf_counter() - self._t0, 3),
                        executive_usage=usage, memory_usage=memory_usage),
        )

    def _tokens(self) -> int:
        u = self.executive.usage
        return u.prompt_tokens + u.completion_tokens


def numbered(exchanges: Sequence[Exchange]) -> str:
    """Exchanges as the executive reads them: '[n] Q: ... A: ...', or '(none)'."""
    return "\n".join(f"[{e.n}] Q: {e.question}\n    A: {e.answer}" for e in exchanges) or "(none)"


def bullet(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) or "(none)"
