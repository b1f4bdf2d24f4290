"""Evaluation datasets: one loader per layout, all yielding the same `Example` type.

    musique:PATH        MuSiQue, the HippoRAG JSON list (the 50-question sample in shared data) or the official
                        JSONL (Trivedi et al., 2022): `paragraphs`, `question_decomposition`, `answer_aliases`
    narrativeqa:PATH    NarrativeQA (Kocisky et al., 2018) from local files in its Hugging Face layout: one row per
                        question with its `document` (id, text, summary.title), `question.text`, `answers[].text`
                        (.jsonl, .json or .parquet files, or a directory of them)
    jsonl:PATH          a generic JSONL of `{question, answers[], evidence_ids[]}` rows; needs a corpus (any input
                        `memo reflect` accepts), whose document ids, titles or file names the evidence ids name
    corpus:DIR          the user's own documents; the questions are written by `memo.eval.heldout`

Every document of a set gets the content id `memo.corpus` would give it, so evidence ids, reflections'
provenance and retrieval results all speak of the same documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..corpus import CorpusError, Document, content_id, load_corpus

DATASET_KINDS = ("musique", "narrativeqa", "jsonl", "corpus")


class DatasetError(ValueError):
    """A dataset file that cannot be used (missing, wrong layout, evidence naming unknown documents)."""


@dataclass
class Hop:
    """One gold single-hop step: its question as the dataset writes it (`#N` names step N's answer; MuSiQue's
    Wikidata-style steps read `Subject >> relation`), its answer, and the documents that support it."""

    question: str
    answer: str
    evidence_ids: list[str] = field(default_factory=list)


@dataclass
class Example:
    """One evaluation question.

    answers: the reference answer first, then its aliases (scores take the maximum over all of them);
    evidence_ids: the documents that answer it (gold evidence); decomposition: its gold single-hop steps, in
    order, when the dataset has them; hops: its hop count; distractor_ids: the dataset's own non-evidence
    documents for this question (MuSiQue's non-supporting paragraphs), the first choice for `--distractors`.
    """

    id: str
    question: str
    answers: list[str]
    evidence_ids: list[str]
    decomposition: list[Hop] = field(default_factory=list)
    hops: int = 1
    distractor_ids: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> "Example":
        row = dict(row)
        row["decomposition"] = [Hop(**h) for h in row.get("decomposition", [])]
        return cls(**row)


@dataclass
class EvalSet:
    """Examples and the documents they are asked about (`documents` maps id -> Document)."""

    name: str
    examples: list[Example]
    documents: dict[str, Document]
    source: str

    def limit(self, n: int | None) -> "EvalSet":
        """The first `n` examples (all when None)."""
        return self if n is None else EvalSet(self.name, self.examples[:n], self.documents, self.source)


def document_id(title: str, text: str) -> str:
    """The id `memo.corpus` gives a JSON document with this title and text."""
    return content_id(title, text.strip(), prefix="d-")


def _document(title: str, text: str, source: str, doc_id: str | None = None) -> Document:
    return Document(doc_id or document_id(title, text), text.strip(), title, None, source)


# -- MuSiQue ----------------------------------------------------------------------------------------------------

_HOPS_IN_ID = re.compile(r"^(\d+)hop")


def _jsonl_rows(path: Path) -> Iterable[tuple[Any, str]]:
    """(row, "file:line") for each non-blank line of a user's JSONL file; DatasetError naming the bad line."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line), f"{path}:{n}"
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc


def _rows(path: Path) -> Iterable[tuple[Any, str]]:
    """(row, where) from a JSONL file (one row a line) or a JSON file (a list of rows, or one row)."""
    if path.suffix == ".jsonl":
        yield from _jsonl_rows(path)
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc.msg})") from exc
    for n, row in enumerate(data if isinstance(data, list) else [data]):
        yield row, f"{path}[{n}]"


def load_musique(path: str | Path) -> EvalSet:
    """MuSiQue questions with their paragraphs: the HippoRAG JSON list or the official JSONL (one question a line).

    Unanswerable questions of the full MuSiQue variant (`answerable: false`) are left out. The supporting
    paragraphs (`is_supporting`) are the evidence, the question's other paragraphs its distractors; each
    decomposition step's evidence is its `paragraph_support_idx` paragraph. Raises DatasetError for a file
    without this layout.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"MuSiQue file {path} does not exist")
    examples: list[Example] = []
    documents: dict[str, Document] = {}
    for row, where in _rows(path):
        if not isinstance(row, dict) or not isinstance(row.get("paragraphs"), list) or "question" not in row:
            raise DatasetError(f"{where}: not a MuSiQue question (needs `question` and `paragraphs`)")
        if row.get("answerable") is False:
            continue
        by_idx: dict[int, str] = {}
        evidence, distractors = [], []
        for i, p in enumerate(row["paragraphs"]):
            doc = _document(p.get("title", ""), p.get("paragraph_text", p.get("text", "")), where)
            documents.setdefault(doc.id, doc)
            by_idx[int(p.get("idx", i))] = doc.id
            (evidence if p.get("is_supporting") else distractors).append(doc.id)
        steps = [Hop(str(s["question"]), str(s["answer"]),
                     [by_idx[s["paragraph_support_idx"]]] if s.get("paragraph_support_idx") in by_idx else [])
                 for s in row.get("question_decomposition", [])]
        m = _HOPS_IN_ID.match(str(row.get("id", "")))
        answers = _unique([str(row["answer"]), *map(str, row.get("answer_aliases", []))])
        examples.append(Example(
            id=str(row.get("id", f"q{len(examples)}")), question=str(row["question"]), answers=answers,
            evidence_ids=_unique(evidence), decomposition=steps,
            hops=int(m.group(1)) if m else max(1, len(steps)), distractor_ids=_unique(distractors)))
    if not examples:
        raise DatasetError(f"{path}: no answerable MuSiQue question")
    return EvalSet("musique", examples, documents, str(path))


# -- NarrativeQA ------------------------------------------------------------------------------------------------

def _table_rows(path: Path) -> Iterable[tuple[Any, str]]:
    if path.suffix != ".parquet":
        yield from _rows(path)
        return
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DatasetError(f"{path}: reading parquet needs pyarrow (pip install pyarrow), or export the "
                           "split to JSONL") from exc
    for n, row in enumerate(pq.read_table(path).to_pylist()):
        yield row, f"{path}[{n}]"


def load_narrativeqa(path: str | Path) -> EvalSet:
    """NarrativeQA in the Hugging Face layout, from a file or a directory of .jsonl / .json / .parquet files.

    Each row: `document` {id, text, summary {title, ...}}, `question` {text}, `answers` [{text}, ...]. The
    evidence of a question is its whole document (a book or a script). Raises DatasetError when no row has this
    layout.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"NarrativeQA path {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix in {".jsonl", ".json", ".parquet"}) if root.is_dir() else [root]
    examples: list[Example] = []
    documents: dict[str, Document] = {}
    for file in files:
        for row, where in _table_rows(file):
            doc, question, answers = (row.get(k) if isinstance(row, dict) else None
                                      for k in ("document", "question", "answers"))
            if not (isinstance(doc, dict) and isinstance(question, dict) and isinstance(answers, list)):
                raise DatasetError(f"{where}: not a NarrativeQA row (needs document, question, answers)")
            doc_id = str(doc["id"])
            if doc_id not in documents:
                title = str((doc.get("summary") or {}).get("title") or doc_id)
                documents[doc_id] = _document(title, str(doc.get("text", "")), str(file), doc_id)
            examples.append(Example(
                id=f"{doc_id}-{len(examples)}", question=str(question["text"]),
                answers=_unique([str(a["text"]) for a in answers if str(a.get("text", "")).strip()]),
                evidence_ids=[doc_id]))
    if not examples:
        raise DatasetError(f"{root}: no NarrativeQA rows (.jsonl, .json or .parquet files)")
    return EvalSet("narrativeqa", examples, documents, str(root))


# -- generic JSONL next to a corpus --------------------------------------------------------------------------------

def load_qa_jsonl(path: str | Path, corpus: str | Path) -> EvalSet:
    """`{id?, question, answers[], evidence_ids[], hops?, decomposition?}` rows asked about `corpus`.

    `corpus` is anything `memo reflect` reads; an evidence id may name a document by its id, its title or its
    file name (with or without the suffix). Raises DatasetError for a malformed row or an evidence id that names
    no document of the corpus.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"question file {path} does not exist")
    try:
        docs = load_corpus(corpus).documents
    except CorpusError as exc:
        raise DatasetError(str(exc)) from exc
    names: dict[str, str] = {}
    for d in docs:
        source = Path(d.source.split(":")[0].split("[")[0])
        for key in (d.title, source.name, source.stem):
            if key:
                names.setdefault(key, d.id)
        names[d.id] = d.id
    examples = []
    for row, where in _jsonl_rows(path):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("answers"), list):
            raise DatasetError(f"{where}: needs `question` (text) and `answers` (a list)")
        unknown = [e for e in row.get("evidence_ids", []) if str(e) not in names]
        if unknown:
            raise DatasetError(f"{where}: evidence {', '.join(map(str, unknown[:5]))} names no document of {corpus}")
        steps = [Hop(**h) if isinstance(h, dict) else Hop(str(h), "") for h in row.get("decomposition", [])]
        examples.append(Example(
            id=str(row.get("id", f"{path.stem}-{len(examples) + 1}")), question=row["question"], answers=_unique(map(str, row["answers"])),
            evidence_ids=_unique(names[str(e)] for e in row.get("evidence_ids", [])), decomposition=steps,
            hops=int(row.get("hops") or max(1, len(steps)))))
    if not examples:
        raise DatasetError(f"{path}: no questions")
    return EvalSet(path.stem, examples, {d.id: d for d in docs}, str(path))


def load_eval_set(spec: str, corpus: str | Path | None = None) -> EvalSet:
    """The dataset a `KIND:PATH` spec names (kinds: musique, narrativeqa, jsonl; `corpus:DIR` is handled by
    `memo.eval.evaluate`, which writes its questions). Raises DatasetError for an unknown kind or bad file."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in DATASET_KINDS or not path:
        raise DatasetError(f"dataset {spec!r}: write it as KIND:PATH with KIND one of {', '.join(DATASET_KINDS)}")
    if kind == "musique":
        return load_musique(path)
    if kind == "narrativeqa":
        return load_narrativeqa(path)
    if kind == "jsonl":
        if corpus is None:
            raise DatasetError("a jsonl: dataset needs the corpus its evidence ids name (--corpus PATH)")
        return load_qa_jsonl(path, corpus)
    raise DatasetError("corpus:DIR datasets are written from the documents by memo.eval.evaluate")


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out
