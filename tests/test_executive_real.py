"""Real run: the embedded executive questions an embedded-model memory trained on invented facts.

Correctness is reported (printed), not asserted: a 135M executive is weak. What must hold is that the protocol
completes a two-hop question with a full, consistent trace.
"""

from __future__ import annotations

import pytest

from memo.demo import DEMO_SETTINGS, SAMPLE_PAIRS
from memo.executive import AskResult, LocalMemory, ask
from memo.llm import load_model
from memo.paths import atomic_write_jsonl

TWO_HOP = "In which village was the founder of Veltrona Labs born?"


@pytest.mark.slow
def test_embedded_executive_completes_a_two_hop_question_with_a_full_trace(tmp_path, embedded_dir):
    from memo.memory import train

    atomic_write_jsonl(tmp_path / "pairs.jsonl", SAMPLE_PAIRS)
    train(tmp_path / "pairs.jsonl", tmp_path / "mem")
    memory = LocalMemory(tmp_path / "mem")
    executive = load_model("embedded")

    result = ask(memory, TWO_HOP, executive, "structured", DEMO_SETTINGS)
    print(f"\n{TWO_HOP} -> {result.answer!r} (expected Marrowby; entity {result.entity!r}, "
          f"{result.trace.seconds:.0f}s, {result.trace.executive_usage['calls']} executive calls, "
          f"{result.trace.memory_usage['questions']} memory questions)")

    assert result.answer.strip()
    steps = result.trace.steps
    assert steps[0].stage == "grounding" and steps[-1].stage == "final"
    assert all(s.output is not None or s.error for s in steps)  # every step recorded what it produced
    asked = [n for s in steps for n in s.asked]
    assert asked == [e.n for e in result.trace.exchanges] and asked  # every exchange belongs to one step
    assert all(e.answer for e in result.trace.exchanges)
    assert result.trace.executive_usage["calls"] >= len(steps)
    assert result.trace.executive_usage["tokens"] > 0
    if any(not e.abstained for e in result.trace.exchanges):
        assert result.citations  # a local memory cites the sources of the answers it gave
    result.save(tmp_path / "trace.json")
    assert AskResult.load(tmp_path / "trace.json") == result

    # The same question again repeats no executive call: everything comes from the response cache.
    calls = executive.usage.calls
    again = ask(memory, TWO_HOP, executive, "structured", DEMO_SETTINGS)
    assert executive.usage.calls == calls and again.answer == result.answer
