"""The executive: a frozen LLM that never sees documents and answers by questioning a memory.

    from memo.executive import ask
    result = ask("mem/", "In which city was the founder of Veltrona Labs born?")
    result.answer, result.justification, result.citations    # and result.trace: every step and exchange

`protocol` is "chain" (the default: the question as a chain of single-hop questions, MuSiQue's decomposition
format, asked step by step), "structured" (the paper's three stages plus final synthesis), "single" (decompose once, ask,
answer) or "multi" (an unstructured loop of at most 15 turns). Whatever the protocol, the memory's answer to the
question itself is never silently lost: `AskResult.degraded` lists every fallback. Formats: docs/EXECUTIVE.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..config import load_config
from ..llm import ChatModel, model_for
from .ablations import run_multi, run_single
from .chain import run_chain
from .memory import LocalMemory, MemoryClient, MemoryReply, RemoteMemory, SourceCitation, open_memory
from .session import Session
from ..settings import ExecutiveSettings
from .structured import run_structured
from .trace import AskResult, Exchange, Step, Trace, render_tree

__all__ = [
    "ask", "PROTOCOLS", "DEFAULT_PROTOCOL", "AskResult", "Trace", "Step", "Exchange", "render_tree", "ExecutiveSettings",
    "MemoryClient", "LocalMemory", "RemoteMemory", "MemoryReply", "SourceCitation", "open_memory",
]

PROTOCOLS = {"structured": run_structured, "chain": run_chain, "single": run_single, "multi": run_multi}
#: The protocol `ask`, `memo ask`, `memo demo`, `memo serve` and `memo eval`'s `memo` use unless told otherwise.
#: `chain`: on the demo, as accurate as `structured` with the embedded executive, at a third of the wall time and a
#: fifth of the executive tokens, and nothing degraded (docs/BENCHMARKS.md, "Executive").
DEFAULT_PROTOCOL = "chain"


def ask(
    memory: str | Path | MemoryClient,
    question: str,
    executive: str | ChatModel | None = None,
    protocol: str = DEFAULT_PROTOCOL,
    settings: ExecutiveSettings | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> AskResult:
    """Answer `question` by having the executive question `memory`; the result carries the full trace.

    Parameters:
        memory: a memory path (store or version dir), an endpoint spec `http://host:port/v1#MODEL`, or a client.
        question: the user's question, as written.
        executive: a model spec or ChatModel; default: the `executive` role of the config (embedded otherwise;
            the embedded model plays it with its executive adapter, docs/EXECUTIVE.md).
        protocol: a key of `PROTOCOLS`: "structured" (the MeMo paper's three stages, arXiv 2605.15156),
            "chain" (MuSiQue-style decomposition asked step by step), "single" or "multi" (the paper's ablations).
        settings: turn and sample budgets, temperatures (`ExecutiveSettings`); default memo.toml's `[executive]`.
        on_step: called with each new step as it starts (progress display).

    Returns an `AskResult`: `answer` (the executive's final answer, "I don't know." when it abstains),
    `justification`, `entity` (the bridge entity when the protocol converged on one), `citations` (sources of the
    memory answers that support it, from a local memory), `degraded` (one line per fallback: empty when every
    step went as designed), and `trace` (every step, memory exchange, executive and memory usage, seconds).

    Raises ValueError for an unknown protocol; LLMError for an executive spec that cannot be loaded (or an
    endpoint memory spec without `#MODEL`); MemoryNotFoundError / CorruptMemoryError (`MemoryModel.load`) for a
    memory path that holds no readable memory; EndpointError when an endpoint (executive or memory) stays
    unreachable. A malformed executive answer is never raised: it is a degraded step.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    model = executive if isinstance(executive, ChatModel) else model_for("executive", override=executive)
    client = open_memory(memory)
    session = Session(question, protocol, model, client, settings or load_config().executive_settings(), on_step)
    return PROTOCOLS[protocol](session)
