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
    (root / "image.png").write_bytes(b"\x89PNG")  # no reader for it: listed with the reason
    corpus = load_corpus(root, count_tokens=words)
    titles = sorted(d.title for d in corpus.documents)
    assert titles == ["a", "b", "latin"]
    latin = next(d for d in corpus.documents if d.title == "latin")
    assert "Renée Favé" in latin.text
    assert any("latin.txt" in w["source"] and "not UTF-8: decoded as cp1252" in w["warning"] for w in corpus.warnings)
    reasons = {Path(s["source"]).name: s["reason"] for s in corpus.skipped}
    assert reasons["empty.txt"] == "empty"
    assert reasons["blob.txt"].startswith("binary")
    assert reasons["image.png"].startswith("unsupported file type .png")
    assert all(c.doc_id in {d.id for d in corpus.documents} for c in corpus.chunks)


def test_an_output_of_memo_inside_the_corpus_folder_is_not_read_as_documents(tmp_path):
    root = tmp_path / "docs"
    (root / "refl" / "steps").mkdir(parents=True)
    (root / "note.md").write_text("The Osk mural is in Pellin.")
    (root / "refl" / "manifest.json").write_text(json.dumps({"format": "memo-reflections/1"}))
    (root / "refl" / "corpus.jsonl").write_text(json.dumps({"type": "document", "text": "Copied text."}) + "\n")
    (root / "refl" / "steps" / "direct.jsonl").write_text(json.dumps({"question": "Q?", "answer": "A."}) + "\n")
    (root / "app").mkdir()  # another program's manifest is no reason to leave a folder out
    (root / "app" / "manifest.json").write_text(json.dumps({"name": "app", "format": "webapp/2"}))
    (root / "app" / "readme.txt").write_text("The app reads notes.")
    corpus = load_corpus(root, count_tokens=words)
    assert sorted(d.text for d in corpus.documents) == ["The Osk mural is in Pellin.", "The app reads notes."]
    assert [s for s in corpus.skipped if "refl" in s["source"]] == [
        {"source": str(root / "refl"), "reason": "output of memo (memo-reflections/1), not documents"}]


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


def test_a_reused_id_with_other_content_is_listed_and_an_identical_copy_is_not(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "doc-1", "title": "Bakery", "text": "The Lumen Bakery opened in 1998."}),
        json.dumps({"id": "doc-1", "title": "Bakery", "text": "The Lumen Bakery opened in 1998."}),
        json.dumps({"id": "doc-1", "title": "Comet", "text": "Priya Nand discovered Comet Xelos in 2016."}),
    ]), encoding="utf-8")
    corpus = load_corpus(path, count_tokens=words)
    assert [(d.id, d.text) for d in corpus.documents] == [("doc-1", "The Lumen Bakery opened in 1998.")]
    assert len(corpus.skipped) == 1 and corpus.skipped[0]["source"] == f"{path}:3"
    reason = corpus.skipped[0]["reason"]
    assert reason.startswith("duplicate id 'doc-1'") and f"{path}:1" in reason


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
    assert split_sentences("Capt. Voss died on Dec. 3, 1901. He was 70.") == ["Capt. Voss died on Dec. 3, 1901.",
                                                                              "He was 70."]


# -- real-world inputs (issue 14, items 1-4) ------------------------------------------------------------------


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one Helvetica text line per page (written by hand: no PDF writer is a dependency)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET" if text else ""
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def make_docx(paragraphs: list[str]) -> bytes:
    """A minimal Word document (the three parts a .docx needs)."""
    import io
    import zipfile

    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                   '</Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                   '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml",
                   '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
                   f'2006/main"><w:body>{body}</w:body></w:document>')
    return buf.getvalue()


def test_suffixes_match_in_any_case(tmp_path):
    (tmp_path / "NOTES.TXT").write_text("Tomas Kell was the mayor of Veldmark.", encoding="utf-8")
    (tmp_path / "EXPORT.JSONL").write_text(
        json.dumps({"id": "r1", "text": "The Orla Bridge opened in 1887."}) + "\n"
        + json.dumps({"id": "r2", "text": "Priya Nand discovered Comet Xelos."}) + "\n", encoding="utf-8")
    corpus = load_corpus(tmp_path, count_tokens=words)
    assert sorted(d.id for d in corpus.documents if d.id.startswith("r")) == ["r1", "r2"]
    assert [d.title for d in corpus.documents if not d.id.startswith("r")] == ["NOTES"]
    assert corpus.skipped == []


def test_pdf_html_and_docx_are_read_and_the_rest_listed_with_reasons(tmp_path):
    (tmp_path / "report.PDF").write_bytes(make_pdf(["Ada Ferrin built the Orla Bridge in 1887.",
                                                    "The bridge was repainted in 1931."]))
    (tmp_path / "page.html").write_text(
        "<html><head><style>p {color: red}</style><script>var tracking = 1;</script></head><body>"
        "<h1>Lumen Bakery</h1><p>Marie Dubois founded the Lumen Bakery in 1998 &amp; ran it for years.</p>"
        "</body></html>", encoding="utf-8")
    (tmp_path / "minutes.docx").write_bytes(make_docx(["The council met in March.", "Tomas Kell chaired it."]))
    (tmp_path / "scan.pdf").write_bytes(make_pdf(["", ""]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy word")
    corpus = load_corpus(tmp_path, count_tokens=words)
    text = {d.title: d.text for d in corpus.documents}
    assert "Ada Ferrin built the Orla Bridge in 1887." in text["report"]
    assert "The bridge was repainted in 1931." in text["report"]
    assert "Marie Dubois founded the Lumen Bakery in 1998 & ran it for years." in text["page"]
    assert "Lumen Bakery" in text["page"] and "tracking" not in text["page"] and "color" not in text["page"]
    assert "The council met in March." in text["minutes"] and "Tomas Kell chaired it." in text["minutes"]
    reasons = {Path(s["source"]).name: s["reason"] for s in corpus.skipped}
    assert set(reasons) == {"scan.pdf", "broken.pdf", "old.doc"}
    assert "without a text layer" in reasons["scan.pdf"] and "OCR" in reasons["scan.pdf"]
    assert reasons["broken.pdf"].startswith("not a readable PDF")
    assert reasons["old.doc"].startswith("unsupported file type .doc") and ".docx" in reasons["old.doc"]


def test_a_folder_of_only_unreadable_files_says_why(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([""]))
    (tmp_path / "deck.pptx").write_bytes(b"PK\x03\x04")
    with pytest.raises(CorpusError, match=r"deck\.pptx: unsupported file type \.pptx.*scan\.pdf: PDF without a text"):
        load_corpus(tmp_path, count_tokens=words)
    (tmp_path / "scan.pdf").unlink()
    (tmp_path / "deck.pptx").unlink()
    with pytest.raises(CorpusError, match="holds no files"):
        load_corpus(tmp_path, count_tokens=words)


CP1252_TEXT = ("The caf\u00e9\u2019s owner said \u201cprices rose 5\u20137% this year \u2014 a coffee now costs "
               "\u20ac3.\u201d Ren\u00e9e Fav\u00e9 has run the Caf\u00e9 Orla since 1998, na\u00efvely hoping "
               "the trams would return.")


def test_windows_1252_utf16_and_binary(tmp_path):
    (tmp_path / "cp1252.txt").write_bytes(CP1252_TEXT.encode("cp1252"))
    (tmp_path / "utf16.txt").write_bytes(CP1252_TEXT.encode("utf-16"))  # with a byte-order mark
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 8)
    corpus = load_corpus(tmp_path, count_tokens=words)
    text = {d.title: d.text for d in corpus.documents}
    assert text["cp1252"] == CP1252_TEXT
    assert text["utf16"] == CP1252_TEXT
    assert not any(0x80 <= ord(ch) <= 0x9F for t in text.values() for ch in t)  # no C1 control characters
    warned = {Path(w["source"]).name: w["warning"] for w in corpus.warnings}
    assert warned["cp1252.txt"] == "not UTF-8: decoded as cp1252"
    assert "utf16.txt" in warned and "utf-16" in warned["utf16.txt"]
    assert [(Path(s["source"]).name, s["reason"].split(" ")[0]) for s in corpus.skipped] == [("blob.txt", "binary")]


@pytest.fixture(scope="module")
def real_tokens(embedded_dir):
    from memo.corpus import default_token_counter

    return default_token_counter()


def test_every_chunk_respects_the_token_limit_in_any_script(real_tokens):
    chinese = "".join(f"马丽在{1900 + i}年创办了第{i}家面包店，它位于韦尔马克的老城区，靠近火车站和河边的市场。"
                      for i in range(60))
    blob = "aGVsbG8gd29ybGQ" * 300  # one unbroken "word" of 4,500 characters
    mixed = "Tomas Kell was the mayor of Veldmark. " * 20 + blob + " The end came in 1931."
    for text in (chinese, blob, mixed):
        doc = Document("d", text)
        chunks = chunk_document(doc, real_tokens, chunk_tokens=256, overlap_tokens=32)
        assert len(chunks) > 1
        assert max(real_tokens(c.text) for c in chunks) <= 256
        squeezed = "".join(text.split())
        for c in chunks:  # nothing invented: every chunk is a piece of the document
            assert "".join(c.text.split()) in squeezed
        # and nothing lost: the chunks cover the document from its first character to its last
        assert squeezed.startswith("".join(chunks[0].text.split()))
        assert squeezed.endswith("".join(chunks[-1].text.split()))
    assert len(split_sentences(chinese)) == 60
    chunks = chunk_document(Document("d", chinese), real_tokens, chunk_tokens=256, overlap_tokens=32)
    assert all(c.text.endswith("。") for c in chunks)  # whole sentences: CJK sentence ends are boundaries


def test_sentence_ends_in_other_scripts():
    assert split_sentences("Мэр Томас Келл родился в 1850 году. Он умер в 1920 году.") == [
        "Мэр Томас Келл родился в 1850 году.", "Он умер в 1920 году."]
    assert split_sentences("She said \u201cIt works.\u201d Then she left.") == [
        "She said \u201cIt works.\u201d", "Then she left."]
    assert split_sentences("It cost 3.5 dollars. e.g. this stays.") == ["It cost 3.5 dollars. e.g. this stays."]


def test_a_document_without_reflections_is_reported_in_the_cli_and_manifest(tmp_path):
    from typer.testing import CliRunner

    from memo.cli import app

    root = tmp_path / "docs"
    root.mkdir()
    (root / "bakery.txt").write_text("Marie Dubois founded the Lumen Bakery in 1998. The bakery is in Veldmark.",
                                     encoding="utf-8")
    (root / "menu.txt").write_text("Menu.\n\nPrices.\n\nOpen daily.", encoding="utf-8")  # no sentence to ask about
    (root / "café.txt").write_bytes("The café opened in 1999.".encode("cp1252"))  # read with a warning
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["reflect", str(root), "-o", str(out), "--steps", "direct",
                                      "--profile", "rules", "-g", "embedded"])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "not UTF-8: decoded as cp1252" in " ".join(result.output.split())
    assert "no reflections from" in result.output and "menu.txt" in result.output
    assert "bakery.txt" not in result.output.split("no reflections from", 1)[1]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    [missing] = manifest["corpus"]["without_reflections"]
    assert missing["title"] == "menu" and missing["chunks"] == 1
    # a corpus with nothing to ask about is an error, not a dataset to train on; and the output path is checked
    (root / "bakery.txt").unlink()
    (root / "café.txt").unlink()
    result = CliRunner().invoke(app, ["reflect", str(root), "-o", str(out), "--steps", "direct",
                                      "--profile", "rules", "-g", "embedded"])
    assert result.exit_code == 1 and "no reflections: " in result.output and "English" in result.output
    result = CliRunner().invoke(app, ["reflect", str(root), "-o", str(root), "--profile", "rules", "-g", "embedded"])
    assert result.exit_code == 1 and "choose a new output path" in result.output and (root / "menu.txt").is_file()
