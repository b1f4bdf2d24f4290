"""End to end with the embedded generator as the configured one: `auto` picks the rules profile, never loads the
model, says so, and a re-run writes the same bytes."""

from __future__ import annotations

import json

import pytest

from memo.reflect import ReflectConfig, read_reflections, reflect

pytestmark = pytest.mark.slow

DOCS = {
    "bakery.md": "# Ottilie Brandt\n\nOttilie Brandt opened a bakery in Kiel in 1921. She was born in Lübeck in 1893.",
    "harbour.md": "# Kiel Harbour Board\n\nThe Kiel Harbour Board was founded in 1901. Ottilie Brandt chaired it in 1930.",
}


def test_auto_with_the_embedded_generator_runs_rules_without_loading_it(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    cfg = ReflectConfig(profile="auto", generator="embedded")
    m = reflect(root, tmp_path / "a", cfg)
    rows = read_reflections(tmp_path / "a")
    assert m["profile"] == "rules" and "under 1B" in m["profile_reason"]
    assert m["generator"] == {"spec": "embedded", "identity": None, "used": False, "note": m["generator"]["note"]}
    assert m["tokens"]["calls"] == 0 and m["quality"]["generator_calls"] == 0
    questions = {r["question"]: r["answer"] for r in rows}
    assert questions["When was Ottilie Brandt born?"].startswith("1893. ")
    corpus_ids = {json.loads(x)["id"] for x in (tmp_path / "a" / "corpus.jsonl").read_text().splitlines()}
    assert all(set(r["doc_ids"] + r["chunk_ids"]) <= corpus_ids for r in rows)
    reflect(root, tmp_path / "b", cfg)
    assert (tmp_path / "a" / "reflections.jsonl").read_text() == (tmp_path / "b" / "reflections.jsonl").read_text()
