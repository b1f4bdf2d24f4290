"""Citations are shown only above the calibrated similarity (issue 14 item 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memo.embed import embed
from memo.memory.artifact import reflection_text
from memo.memory.model import CITATION_MIN_SIMILARITY, MemoryModel

REFLECTIONS = [
    {"question": "Who founded the Lumen Bakery?", "answer": "Marie Dubois.", "doc_ids": ["d-bakery"],
     "chunk_ids": ["c-1"]},
    {"question": "In which year did Ada Ferrin build the Orla Bridge?", "answer": "1887.", "doc_ids": ["d-bridge"],
     "chunk_ids": ["c-2"]},
    {"question": "Which comet did Priya Nand discover?", "answer": "Comet Xelos.", "doc_ids": ["d-comet"],
     "chunk_ids": ["c-3"]},
]


@pytest.fixture
def memory():
    m = MemoryModel(Path("."), None, None, {"citations": {"embedder": "minilm"}})
    m._reflections = REFLECTIONS
    m._embeddings = embed([reflection_text(r) for r in REFLECTIONS])
    return m


def test_a_source_is_shown_only_above_the_calibrated_similarity(memory):
    threshold = CITATION_MIN_SIMILARITY["minilm"]
    assert 0 < threshold < 1
    supported, unrelated = memory.cite(["Who was the founder of the Lumen Bakery? Marie Dubois.",
                                        "What is the boiling point of water at sea level? 100 degrees Celsius."])
    assert supported[0].doc_id == "d-bakery" and all(c.score >= threshold for c in supported)
    assert unrelated == []  # before: the three nearest reflections, however far
    [everything] = memory.cite(["What is the boiling point of water at sea level? 100 degrees Celsius."],
                               min_similarity=-1.0)
    assert len(everything) == 3 and all(c.score < threshold for c in everything)


def test_an_embedder_without_a_calibrated_threshold_needs_one(memory):
    memory.manifest["citations"]["embedder"] = "some/other-model"
    with pytest.raises(ValueError, match="no calibrated citation threshold.*min_similarity"):
        memory.cite(["q a"])
