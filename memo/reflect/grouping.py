"""Groups of related documents for cross-document synthesis, found without benchmark labels.

Two documents are linked when their embeddings are close (mean of their chunk embeddings) or when they share a
named entity; links are merged strongest first into groups of at most `max_size` documents. A user grouping
file (JSON: a list of lists of document ids, titles or source paths) replaces the automatic grouping.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..corpus import Corpus
from ..embed import embed
from .nlp import named_entities


def document_entities(corpus: Corpus) -> dict[str, set[str]]:
    """Each document's named entities (spaCy NER)."""
    return {d.id: {n for n, _ in ents} for d, ents in zip(corpus.documents, named_entities(d.text for d in corpus.documents))}


def group_documents(corpus: Corpus, max_size: int = 4, similarity: float = 0.55,
                    embedder: str = "minilm") -> list[list[str]]:
    """Groups (lists of document ids, each of 2..max_size) of related documents; unrelated documents stay out."""
    docs = corpus.documents
    if len(docs) < 2:
        return []
    vecs = embed([c.text for c in corpus.chunks], name=embedder)
    index = {d.id: i for i, d in enumerate(docs)}
    doc_vecs = np.zeros((len(docs), vecs.shape[1]), dtype=np.float32)
    for c, v in zip(corpus.chunks, vecs):
        doc_vecs[index[c.doc_id]] += v
    doc_vecs /= np.maximum(np.linalg.norm(doc_vecs, axis=1, keepdims=True), 1e-9)
    sims = doc_vecs @ doc_vecs.T
    ents = document_entities(corpus)
    edges = []
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            shared = len(ents[docs[i].id] & ents[docs[j].id])
            if shared or sims[i, j] >= similarity:
                # Shared names are the stronger signal: each (up to 3) outweighs any similarity difference.
                edges.append((min(shared, 3) + float(sims[i, j]), i, j))
    parent = list(range(len(docs)))
    size = [1] * len(docs)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for _, i, j in sorted(edges, key=lambda e: (-e[0], e[1], e[2])):
        a, b = root(i), root(j)
        if a != b and size[a] + size[b] <= max_size:
            parent[b] = a
            size[a] += size[b]
    groups: dict[int, list[str]] = {}
    for k, d in enumerate(docs):
        groups.setdefault(root(k), []).append(d.id)
    return [g for g in groups.values() if len(g) >= 2]


def load_grouping_file(path: str | Path, corpus: Corpus) -> list[list[str]]:
    """Groups from a JSON file: a list of lists naming documents by id, title or source path."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"grouping file {path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(g, list) for g in data):
        raise ValueError(f"grouping file {path}: expected a JSON list of lists of document ids or titles")
    lookup: dict[str, str] = {}
    for d in corpus.documents:
        for key in (d.source, d.title, d.id):
            if key:
                lookup[key] = d.id
    groups = []
    for g in data:
        missing = [str(x) for x in g if str(x) not in lookup]
        if missing:
            raise ValueError(f"grouping file {path}: unknown document(s) {', '.join(missing[:5])}")
        ids = list(dict.fromkeys(lookup[str(x)] for x in g))
        if len(ids) >= 2:
            groups.append(ids)
    return groups
