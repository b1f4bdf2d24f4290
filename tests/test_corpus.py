"""Corpus loading and chunking: formats, stable ids, bad documents skipped and listed, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memo.corpus import CorpusError, Document, chunk_document, load_corpus, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_directory_of_text_files_with_bad_ones_listed(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Marie Dubois founded the Lumen Bakery in 1998. It is in Veldmark.", encoding="utf-8")
    (root / "b.md").write_text("# Kell\n\nTomas Kell was the mayor of Veldmark.", encoding="utf-8")
    (root / "empty.txt").write_text("   \n", encoding="utf-8")
    (root / "blob.txt").write_bytes(b"\x89PNG\x00\x01\x02binary")
    (root / "latin.txt").write_bytes("Ren\xe9e Fav\xe9 painted the Caf\xe9 Orla in 1931.".encode("latin-1"))
    (root / "image.png").write_bytes(b"\x89PNG")  # not a corpus suffix: ignored, not listed
    corpus = load_corpus(root, count_tokens=words)
    titles = sorted(d.title for d in corpus.documents)
    assert titles == ["a", "b", "latin"]
    latin = next(d for d in corpus.documents if d.title == "latin")
    assert "Renée Favé" in latin.text
    assert any("latin.txt" in w["source"] and "Latin-1" in w["warning"] for w in corpus.warnings)
    reasons = {Path(s["source"]).name: s["reason"] for s in corpus.skipped}
    assert reasons["empty.txt"] == "empty"
    assert reasons["blob.txt"].startswith("binary")
    assert all(c.doc_id in {d.id for d in corpus.documents} for c in corpus.chunks)


def test_ids_are_stable_content_hashes(tmp_path):
    (tmp_path / "a.txt").write_text("Ada Ferrin built the Orla Bridge in 1887.", encoding="utf-8")
    first, second = load_corpus(tmp_path, count_tokens=words), load_corpus(tmp_path, count_tokens=words)
    assert [d.id for d in first.documents] == [d.id for d in second.documents]
    assert [c.id for c in first.chunks] == [c.id for c in second.chunks]
    assert first.hash == second.hash
    (tmp_path / "a.txt").write_text("Ada Ferrin built the Orla Bridge in 1888.", encoding="utf-8")
    assert load_corpus(tmp_path, count_tokens=words).hash != first.hash


def test_jsonl_keeps_given_ids_titles_dates_and_skips_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "doc-1", "title": "Bakery", "text": "The Lumen Bakery opened in 1998.", "date": "2019-05-01"}),
        json.dumps({"title": "no text"}),
        "{not json",
        json.dumps({"text": "Priya Nand discovered Comet Xelos in 2016."}),
    ]), encoding="utf-8")
    corpus = load_corpus(path, count_tokens=words)
    assert [d.id for d in corpus.documents][0] == "doc-1"
    assert corpus.doc("doc-1").date == "2019-05-01"
    assert len(corpus.documents) == 2
    assert sorted(s["reason"].split(" ")[0] for s in corpus.skipped) == ["empty", "invalid"]


def test_musique_format_is_the_deduplicated_union_of_paragraphs(tmp_path):
    para = {"title": "Orla", "paragraph_text": "The Orla River floods every spring.", "is_supporting": True}
    data = [{"id": "q1", "paragraphs": [para, {"title": "Kell", "paragraph_text": "Tomas Kell was a mayor."}]},
            {"id": "q2", "paragraphs": [para]}]
    path = tmp_path / "musique.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    corpus = load_corpus(path, count_tokens=words)
    assert sorted(d.title for d in corpus.documents) == ["Kell", "Orla"]


def test_shared_musique_sample_loads_when_present():
    path = Path("/work/shared/data/musique/musique_hipporag_subset.json")
    if not path.exists():
        pytest.skip("shared MuSiQue sample not available")
    corpus = load_corpus(path, count_tokens=words)
    raw = json.loads(path.read_text(encoding="utf-8"))
    distinct = {(p["title"], p["paragraph_text"].strip()) for q in raw for p in q["paragraphs"]}
    assert len(corpus.documents) == len(distinct)


def test_empty_or_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="no usable documents.*empty"):
        load_corpus(tmp_path, count_tokens=words)


def test_chunks_respect_the_token_budget_and_overlap():
    text = " ".join(f"Sentence number {i} is about Veldmark." for i in range(40))
    doc = Document("d", text)
    chunks = chunk_document(doc, words, chunk_tokens=30, overlap_tokens=6)
    assert len(chunks) > 5
    assert all(words(c.text) <= 30 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):  # each chunk starts with the previous chunk's last sentence
        assert b.text.startswith(split_sentences(a.text)[-1])
    covered = {s for c in chunks for s in split_sentences(c.text)}
    assert covered == set(split_sentences(text))


def test_sentence_split_keeps_abbreviations():
    assert split_sentences("Dr. Kell met J. R. Ferrin. They talked.") == ["Dr. Kell met J. R. Ferrin.", "They talked."]
