"""The retrieval baselines: BM25 (bm25s, Lucene variant) and dense retrieval (sentence-transformers through
`memo.embed`) over the passages of an evaluation corpus, top-k per query.

Passages are the corpus chunks `memo.corpus` makes (whole paragraphs for MuSiQue, token-bounded pieces of long
documents such as NarrativeQA books), indexed as "title + text".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..corpus import Corpus


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    title: str
    text: str

    def indexed_text(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


def passages_of(corpus: Corpus) -> list[Passage]:
    """One passage per chunk of `corpus`, carrying its document's title."""
    return [Passage(c.id, c.doc_id, corpus.doc(c.doc_id).title, c.text) for c in corpus.chunks]


Hit = tuple[Passage, float]


class Retriever(ABC):
    """Top-k passages for each query, best first, with the retriever's score."""

    name: str

    def __init__(self, passages: Sequence[Passage]):
        if not passages:
            raise ValueError("cannot index an empty corpus")
        self.passages = list(passages)

    @abstractmethod
    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...


class BM25Retriever(Retriever):
    """Okapi BM25 (k1 1.5, b 0.75, Lucene idf) on lower-cased word tokens with English stop words removed."""

    name = "bm25"

    def __init__(self, passages: Sequence[Passage]):
        import bm25s
        from bm25s.tokenization import Tokenizer

        super().__init__(passages)
        self.tokenizer = Tokenizer(stopwords="en")
        tokens = self.tokenizer.tokenize([p.indexed_text() for p in self.passages], update_vocab=True,
                                         return_as="ids", show_progress=False)
        self.index = bm25s.BM25()
        self.index.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        if not queries:
            return []
        k = min(k, len(self.passages))
        tokens = self.tokenizer.tokenize(list(queries), update_vocab=False, return_as="ids", show_progress=False)
        ids, scores = self.index.retrieve(tokens, k=k, show_progress=False)
        return [[(self.passages[int(i)], float(s)) for i, s in zip(row_ids, row_scores)]
                for row_ids, row_scores in zip(ids, scores)]


class DenseRetriever(Retriever):
    """Cosine similarity of sentence embeddings (`memo.embed`, the offline all-MiniLM-L6-v2 by default)."""

    name = "dense"

    def __init__(self, passages: Sequence[Passage], embedder: str = "minilm"):
        from ..embed import embed

        super().__init__(passages)
        self.embedder = embedder
        self.matrix = embed([p.indexed_text() for p in self.passages], name=embedder)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        from ..embed import embed

        if not queries:
            return []
        scores = embed(list(queries), name=self.embedder) @ self.matrix.T
        out = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:k]
            out.append([(self.passages[int(j)], float(row[j])) for j in top])
        return out
