"""End to end with the real embedded generator (SmolLM2-135M) proposing questions: real calls, real cache."""

from __future__ import annotations

import json

import pytest

from memo.llm import load_model
from memo.reflect import ReflectConfig, read_reflections, reflect

pytestmark = pytest.mark.slow

DOCS = {
    "bakery.txt": "Marie Dubois founded the Lumen Bakery in Veldmark in 1998. She was born in Lyon in 1970.",
    "mayor.txt": "Tomas Kell was the mayor of Veldmark from 2001 to 2009.",
}


def test_embedded_generator_end_to_end_and_rerun_is_free(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    cfg = ReflectConfig(profile="compact", generator_questions=True)
    model = load_model("embedded")
    m = reflect(root, tmp_path / "a", cfg, model=model)
    rows = read_reflections(tmp_path / "a")
    # one question proposal per sentence, plus at most one repair round for answers cut off mid-JSON
    assert m["generator"]["used"] and 3 <= model.usage.calls <= 6
    assert m["notes"]["direct"].get("generator question accepted", 0) + m["notes"]["direct"].get(
        "generator question unusable", 0) == 3
    assert m["quality"]["schema_valid_share"] is not None
    assert {"direct", "entity", "cross_document"} <= {r["step"] for r in rows}
    corpus_ids = {json.loads(x)["id"] for x in (tmp_path / "a" / "corpus.jsonl").read_text().splitlines()}
    assert all(set(r["doc_ids"] + r["chunk_ids"]) <= corpus_ids for r in rows)
    assert all(len(r["doc_ids"]) >= 2 for r in rows if r["step"] == "cross_document")
    again = load_model("embedded")
    reflect(root, tmp_path / "b", cfg, model=again)
    assert again.usage.calls == 0 and again.usage.cache_hits == model.usage.calls
    assert (tmp_path / "a" / "reflections.jsonl").read_text() == (tmp_path / "b" / "reflections.jsonl").read_text()
