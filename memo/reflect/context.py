"""What every step of every profile shares: the run context (corpus, settings, generator, statistics)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..corpus import Corpus
from ..llm import ChatModel, GenParams, StructuredOutputError
from ..progress import SILENT, Progress
from ..records import Pair
from ..settings import ReflectConfig


@dataclass
class StepStats:
    calls: int = 0  # generator results received (LLM profile)
    schema_valid: int = 0
    produced: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> pairs (or calls) lost
    notes: Counter = field(default_factory=Counter)  # anything else worth counting
    fallbacks: Counter = field(default_factory=Counter)  # what was used instead of a failed generator result


@dataclass
class RunContext:
    """One reflection run. `model_factory` loads the generator on first use (the rules profile never calls it)."""

    corpus: Corpus
    cfg: ReflectConfig
    profile: str
    model_factory: Callable[[], ChatModel]
    progress: Progress = SILENT
    stats: dict[str, StepStats] = field(default_factory=lambda: defaultdict(StepStats))
    groups: list[list[str]] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict)  # computed once per run, shared by the steps
    _model: ChatModel | None = None

    @property
    def model(self) -> ChatModel:
        if self._model is None:
            self._model = self.model_factory()
        return self._model

    def ask(self, step: str, prompts: Sequence[str], schema, params: GenParams, failed: str = "schema invalid") -> list:
        """Structured answers in prompt order. A result that fails its schema (after the backend's repair round)
        is None and counted under `dropped[failed]` of `step` (a call that got no answer: under "generator call
        <reason>"); it is never raised."""
        stats = self.stats[step]
        out: list = []
        if not prompts:
            return out
        size = max(1, self.model.batch_size) * 2
        with self.progress.task(step, total=len(prompts)) as task:
            for start in range(0, len(prompts), size):
                convs = [[{"role": "user", "content": p}] for p in prompts[start : start + size]]
                for r in self.model.structured_batch(convs, schema, params):
                    stats.calls += 1
                    if isinstance(r, StructuredOutputError):
                        # An answer that does not validate counts under `failed`; a call that got no answer at all
                        # (rejected, filtered, empty, truncated) under its own reason.
                        stats.dropped[failed if r.reason == "invalid" else f"generator call {r.reason}"] += 1
                        out.append(None)
                    else:
                        stats.schema_valid += 1
                        out.append(r)
                task.advance(len(convs))
        return out


def pair_from(question: str, answer: str, step: str, sources: Sequence[tuple[str, str]], derived: Sequence[Pair] = (),
              paraphrases: Sequence[str] = ()) -> Pair:
    """A pair whose provenance is the (doc_id, chunk_id) of each source it draws on."""
    return Pair(question, answer, step, sorted({d for d, _ in sources}), sorted({c for _, c in sources}),
                [p.id for p in derived], list(paraphrases))
