"""Merge memories trained from one base into one memory, streaming tensor by tensor over safetensors.

Task vectors are taken against the *true base* named in the memories' manifests (spec + weights hash), never
against one of the fine-tuned memories; memories of different bases, tokenizers, prompt formats or shapes are
refused before any tensor is read. Peak memory is about one model (the merged output) plus one tensor per input.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from ..memory.artifact import read_manifest, sha256_file
from ..formats import CHAT_TEMPLATE_FILE, EMBEDDINGS_FILE as EMBEDDINGS, MEMORY_FORMAT, MEMORY_MANIFEST as MANIFEST
from ..formats import REFLECTIONS_FILE as REFLECTIONS
from ..memory.store import MemoryStore, resolve_artifact
from ..paths import atomic_write_json, atomic_write_jsonl
from ..progress import Progress, or_silent
from .math import METHODS, check_method, merge_task_vectors
from .weights import IncompatibleMemoriesError, TaskVector, Weights

#: files of a memory artifact that describe the tokenizer: merged memories must agree on all of them.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", CHAT_TEMPLATE_FILE, "special_tokens_map.json")
#: files that describe one memory's weights or training, never copied into a merged one
NOT_COPIED = {MANIFEST, "model.safetensors.index.json", "adapter_config.json"}


def merge_weights(
    base_dir: str | Path,
    sources: Sequence[str | Path],
    out_dir: str | Path,
    method: str = "ties",
    weights: Sequence[float] | None = None,
    density: float = 0.3,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Write base + merge(task vectors) as `out_dir/model.safetensors`, plus the config and tokenizer files.

    `sources` are HF model directories (full fine-tunes) or PEFT LoRA adapter directories of `base_dir`.
    Returns statistics: tensors merged, parameters, seconds, and the cosine between the first two task vectors
    (how much the memories learned the same thing).
    """
    import torch
    from safetensors.torch import save_file

    check_merge(method, density, weights, len(sources))
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    merged: dict[str, torch.Tensor] = {}
    dot = norm0 = norm1 = 0.0
    with Weights(base_dir) as base:
        vectors = [TaskVector(s, base) for s in sources]
        try:
            with or_silent(progress).task(f"merging ({method})", total=len(base.names())) as task:
                for i, name in enumerate(base.names()):
                    base_tensor = base.get(name)
                    deltas = [v.delta(name, base_tensor) for v in vectors]
                    dot += float((deltas[0] * deltas[1]).sum())
                    norm0 += float(deltas[0].square().sum())
                    norm1 += float(deltas[1].square().sum())
                    mixed = merge_task_vectors(deltas, method, weights, density, seed=seed + i)
                    merged[name] = (base_tensor.to(torch.float32) + mixed).to(base_tensor.dtype).contiguous()
                    del deltas, mixed, base_tensor
                    task.advance()
        finally:
            for v in vectors:
                v.__exit__(None, None, None)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(merged, out_dir / "model.safetensors", metadata={"format": "pt"})
    # config from the base, then tokenizer and chat template (the memory's prompt format) from the first memory
    for src in (Path(base_dir), Path(sources[0])):
        for f in src.iterdir():
            if f.is_file() and f.suffix in (".json", ".jinja") and f.name not in NOT_COPIED:
                shutil.copy2(f, out_dir / f.name)
    cosine = dot / max((norm0 * norm1) ** 0.5, 1e-30)
    return {
        "tensors": len(merged),
        "parameters": sum(t.numel() for t in merged.values()),
        "seconds": round(time.perf_counter() - t0, 3),
        "task_vector_cosine": round(cosine, 4),
    }


def check_merge(method: str, density: float, weights: Sequence[float] | None, count: int) -> None:
    """ValueError for an unknown method, a density outside (0, 1] (methods that trim), fewer than two memories or
    a weights list whose length is not `count`, the number of memories merged."""
    check_method(method, density)
    if count < 2:
        raise ValueError("a merge needs at least two memories")
    if weights is not None and len(weights) != count:
        raise ValueError(f"{len(weights)} weights given for {count} memories")


def base_dir_for(manifest: dict) -> Path:
    """The base model a memory was trained from, checked against the weights hash its manifest recorded."""
    from ..llm import resolve_local_model, weights_fingerprint

    base = manifest.get("base") or {}
    if not base.get("spec"):
        raise IncompatibleMemoriesError("the memory's manifest names no base model (base.spec): cannot take task vectors")
    path = resolve_local_model(base["spec"])
    found = weights_fingerprint(path)
    if base.get("weights_hash") and found != base["weights_hash"]:
        raise IncompatibleMemoriesError(
            f"the base model at {path} is not the one the memory was trained from (weights hash {found} != "
            f"{base['weights_hash']}): restore that base or pass --base"
        )
    return path


def _tokenizer_signature(model_dir: Path) -> dict[str, str]:
    return {f: sha256_file(model_dir / f) for f in TOKENIZER_FILES if (model_dir / f).is_file()}


def check_compatible(artifacts: Sequence[Path], manifests: Sequence[dict]) -> None:
    """Refuse, with a message naming the difference, memories that do not share base, tokenizer and prompt format."""
    first = manifests[0]
    for path, m in zip(artifacts[1:], manifests[1:]):
        for key, what in (("spec", "base model"), ("weights_hash", "base weights")):
            a, b = (first.get("base") or {}).get(key), (m.get("base") or {}).get(key)
            if a != b:
                raise IncompatibleMemoriesError(
                    f"{artifacts[0]} and {path} were trained from different {what} ({a!r} vs {b!r}); "
                    "only memories of one base can be merged"
                )
        if m.get("prompt_format") != first.get("prompt_format"):
            raise IncompatibleMemoriesError(f"{artifacts[0]} and {path} use different prompt formats")
    signatures = [_tokenizer_signature(p) for p in artifacts]
    for path, sig in zip(artifacts[1:], signatures[1:]):
        if sig != signatures[0]:
            raise IncompatibleMemoriesError(f"{artifacts[0]} and {path} have different tokenizers")


def merge(
    memories: Sequence[str | Path],
    out: str | Path,
    method: str = "ties",
    density: float = 0.3,
    weights: Sequence[float] | None = None,
    seed: int = 0,
    base: str | Path | None = None,
    documents_added: Sequence[str] = (),
    progress: Progress | None = None,
) -> Path:
    """Merge memories trained from one base into one, published as a new version of the store at `out`.

    Method: model merging of task vectors (theta_k - theta_base) taken against the *true base* the memories'
    manifests name (spec and weights hash), tensor by tensor; the methods are `peft.utils.merge_utils` (TIES,
    Yadav et al. 2023; DARE, Yu et al. 2024). The MeMo paper merges with TIES at density 0.3 and equal weights
    (arXiv 2605.15156); the default here is the same. Measured retention and the choice of default:
    docs/MERGING.md.

    Parameters:
        memories: two or more memories, each a store (its current version) or a version directory; full
            fine-tunes or LoRA adapters of the same base (a LoRA's exact delta is scale * B @ A).
        out: the store to publish into: a new directory or an existing store (one of the inputs' own included).
            The merged memory becomes a new immutable version there (`out/versions/vNNNN`) and, atomically, the
            store's current version.
        method: one of `memo.merge.METHODS`: "ties" (default), "dare_ties", "dare_linear", "magnitude_prune",
            "linear" (weighted mean), "task_arithmetic" (weighted sum).
        density: share of each task vector's entries kept, in (0, 1] (default 0.3); used by ties, dare_* and
            magnitude_prune, ignored (and recorded as None) by linear and task_arithmetic.
        weights: one weight per memory (default 1.0 each).
        seed: seed of DARE's random drop (a merge is reproducible).
        base: a Hugging Face model directory to take task vectors against instead of the manifests' base (not
            checked against the recorded weights hash; recorded in the lineage as `task_vector_base`).
        documents_added: document ids recorded in the new version's lineage step.
        progress: gets one task advanced per tensor.

    Returns the new version's directory (now current). It holds `model.safetensors` (the merged full weights, in
    the base's dtype), the base's config, the first memory's tokenizer and chat template, the union of the
    parents' reflections (deduplicated by id) with their citation embeddings, and `memo.json` (kind "full",
    `lineage` = the parents' lineage plus this merge: parents, method, params with the merge statistics
    (tensors, parameters, seconds, task-vector cosine of the first two memories), documents_added).

    Raises MemoryNotFoundError (a FileNotFoundError) for a path that holds no memory, CorruptMemoryError for an
    unreadable manifest, IncompatibleMemoriesError (a ValueError) for memories of different bases, base weights,
    tokenizers, prompt formats or tensor names and shapes, for a base that is not the one recorded, or for an
    adapter that is not a plain LoRA; ValueError for an unknown method, a density outside (0, 1], fewer than two
    memories or a weights list of the wrong length; FileNotFoundError for a memory or base without safetensors
    weights; LLMError when the recorded base spec cannot be resolved to a local model. Nothing is published when
    any of them is raised.
    """
    artifacts = [resolve_artifact(m) for m in memories]
    manifests = [read_manifest(a) for a in artifacts]
    check_compatible(artifacts, manifests)
    base_dir = Path(base) if base is not None else base_dir_for(manifests[0])
    store = MemoryStore(out)
    params = {"method": method, "density": density if METHODS.get(method, (False,))[0] else None,
              "weights": list(weights) if weights is not None else None, "seed": seed}
    with store.new_version() as tmp:
        stats = merge_weights(base_dir, artifacts, tmp,
                              method, weights, density, seed, progress)
        write_union_reflections(artifacts, tmp)
        write_merged_manifest(tmp, manifests, artifacts, params | {"stats": stats}, documents_added, base)
    return store.current()


def write_union_reflections(artifacts: Sequence[Path], out: Path) -> None:
    """The parents' training reflections, deduplicated by id, with their citation embeddings in the same order."""
    rows, vectors, seen = [], [], set()
    for a in artifacts:
        if not (a / REFLECTIONS).is_file():
            continue
        emb = np.load(a / EMBEDDINGS) if (a / EMBEDDINGS).is_file() else None
        for i, line in enumerate(l for l in (a / REFLECTIONS).read_text().splitlines() if l.strip()):
            row = json.loads(line)
            if row.get("id") in seen:
                continue
            seen.add(row.get("id"))
            rows.append(row)
            vectors.append(emb[i] if emb is not None else None)
    if not rows:
        return
    atomic_write_jsonl(out / REFLECTIONS, rows)
    if all(v is not None for v in vectors):
        np.save(out / EMBEDDINGS, np.stack(vectors).astype(np.float32))
    else:
        from ..embed import embed
        from ..memory.artifact import reflection_text

        np.save(out / EMBEDDINGS, embed([reflection_text(r) for r in rows]))


def write_merged_manifest(out: Path, manifests: Sequence[dict], artifacts: Sequence[Path], params: dict,
                          documents_added: Sequence[str], base_override: str | Path | None,
                          training: dict | None = None, metrics: list | None = None,
                          recipe: dict | None = None) -> dict:
    """memo-memory/1 manifest of a merged memory: the parents' lineage plus this merge, and every file's sha256.
    `training` is the record of the fine-tune that made the weights (default: the parents' records, as
    `merged_from`); `recipe`, when given, is recorded in it as `training.recipe` (`memo.memory.memory_recipe`)."""
    first = manifests[0]
    lineage = [step for m in manifests for step in m.get("lineage", [])]
    lineage.append({
        "parents": [str(a.resolve()) for a in artifacts],
        "method": params["method"],
        "params": {k: v for k, v in params.items() if k != "method"}
        | ({"task_vector_base": str(base_override)} if base_override is not None else {}),
        "documents_added": sorted(set(documents_added)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    refl = out / REFLECTIONS
    count = sum(1 for line in refl.read_text().splitlines() if line.strip()) if refl.exists() else 0
    manifest = {
        "format": MEMORY_FORMAT,
        "kind": "full",
        "base": first.get("base"),
        "init_from": None,
        "reflections": {"hash": sha256_file(refl) if refl.exists() else None, "count": count, "file": REFLECTIONS},
        "training": (training or {"merged_from": [m.get("training") for m in manifests]})
        | ({"recipe": recipe} if recipe is not None else {}),
        "metrics": metrics or [],
        "prompt_format": first.get("prompt_format"),
        "citations": first.get("citations"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lineage": lineage,
    }
    manifest["files"] = {f.name: sha256_file(f) for f in sorted(out.iterdir()) if f.is_file() and f.name != MANIFEST}
    atomic_write_json(out / MANIFEST, manifest)
    return manifest
