"""The memory artifact on disk: a plain Hugging Face model directory plus `memo.json`.

    v0001/
      model.safetensors, config.json,      full memories: weights loadable by transformers / vLLM as they are
      generation_config.json
      adapter_model.safetensors,           LoRA memories instead: a peft adapter over the base named in
      adapter_config.json                  the manifest (export merged weights with `MemoryModel.export_merged`)
      tokenizer.json, tokenizer_config.json
      chat_template.jinja                  the memory's prompt format (base template minus its default system turn)
      reflections.jsonl                    the pairs the memory was trained on, with provenance (for citations)
      reflections.npy                      their embeddings (float32, L2-normalised; rows match reflections.jsonl)
      memo.json                            manifest, format "memo-memory/1"; `files` holds the sha256 of every file

The version directory is built in a temporary sibling and published atomically by `MemoryStore.new_version`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..formats import (CHAT_TEMPLATE_FILE, EMBEDDINGS_FILE, MEMORY_FORMAT, MEMORY_MANIFEST, REFLECTIONS_FILE)
from ..paths import atomic_write_json, atomic_write_jsonl
from ..records import ABSTAIN
from .data import Dataset
from .prompt import PROMPT_FORMAT
from .store import MemoryStore, resolve_artifact

EMBEDDER = "minilm"


class CorruptMemoryError(ValueError):
    """A memory artifact whose manifest is unreadable or whose files do not match their recorded hashes."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reflection_text(row: dict) -> str:
    """What a reflection is embedded as for citation lookup: its question and answer together."""
    return f"{row['question']} {row['answer']}"


def write_artifact(
    output: str | Path, lm, tokenizer, *, state_dict, base_spec: str, base_dir: Path, dataset: Dataset,
    training: dict, metrics: list[dict], lineage: list[dict], merge_lora: bool, init_from: str | None,
) -> tuple[Path, dict]:
    """Save a trained model as a new current version of the memory store at `output`; (version dir, manifest)."""
    from ..embed import embed
    from ..llm import weights_fingerprint

    is_lora = hasattr(lm, "peft_config")
    store = MemoryStore(output)
    with store.new_version() as tmp:
        if is_lora and merge_lora:
            lm = lm.merge_and_unload()
            state_dict = None
        lm.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
        if is_lora and not merge_lora:
            cfg_path = tmp / "adapter_config.json"
            adapter_cfg = json.loads(cfg_path.read_text())
            adapter_cfg["base_model_name_or_path"] = str(Path(base_dir).resolve())
            atomic_write_json(cfg_path, adapter_cfg)
        tokenizer.save_pretrained(tmp)
        rows = [p.record() for p in dataset.pairs]
        atomic_write_jsonl(tmp / REFLECTIONS_FILE, rows)
        np.save(tmp / EMBEDDINGS_FILE, embed([reflection_text(r) for r in rows], name=EMBEDDER))
        manifest = {
            "format": MEMORY_FORMAT,
            "kind": "lora" if is_lora and not merge_lora else "full",
            "base": {"spec": base_spec, "path": str(Path(base_dir).resolve()), "weights_hash": weights_fingerprint(base_dir)},
            "init_from": init_from,
            "reflections": {"hash": dataset.hash, "count": len(dataset.pairs), "source": dataset.source,
                            "file": REFLECTIONS_FILE},
            "training": training,
            "metrics": metrics,
            "prompt_format": {**PROMPT_FORMAT, "chat_template": CHAT_TEMPLATE_FILE, "abstention": ABSTAIN},
            "citations": {"embedder": EMBEDDER, "embeddings": EMBEDDINGS_FILE, "text": "question + ' ' + answer"},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "lineage": lineage,
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()},
        }
        atomic_write_json(tmp / MEMORY_MANIFEST, manifest)
    return store.current(), manifest


def read_manifest(path: str | Path) -> dict:
    """The manifest of a memory (store or version directory); CorruptMemoryError when it cannot be read."""
    artifact = resolve_artifact(path)
    try:
        manifest = json.loads((artifact / MEMORY_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptMemoryError(f"{artifact / MEMORY_MANIFEST}: unreadable memory manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MEMORY_FORMAT:
        raise CorruptMemoryError(f"{artifact / MEMORY_MANIFEST}: not a {MEMORY_FORMAT} manifest")
    return manifest


def verify_artifact(path: str | Path) -> dict:
    """Check every file against the manifest's sha256; the manifest, or CorruptMemoryError naming the bad file."""
    artifact = resolve_artifact(path)
    manifest = read_manifest(artifact)
    for name, digest in manifest.get("files", {}).items():
        file = artifact / name
        if not file.is_file():
            raise CorruptMemoryError(f"memory {artifact} is incomplete: {name} is missing")
        if sha256_file(file) != digest:
            raise CorruptMemoryError(f"memory {artifact} is corrupt: {name} does not match its recorded sha256")
    return manifest


def memory_recipe(manifest: dict) -> dict | None:
    """The `[train]` recipe (a `TrainConfig.as_dict()` table) that taught a memory its documents, from its manifest.

    A version made by `add` carries it on as `training.recipe` (its own `training.config`, when it has one, is the
    update's fine-tune: a short replay pass, or a continued training with full weights); a memory made by `train`
    records it as `training.config`; a version made by `merge` has its first parent's (the memory whose tokenizer
    and prompt format it keeps), or the next parent's that records one. None when no recipe is recorded. A recipe
    recorded before `answer_context` existed gets `answer_context = True`: those memories learned whole answers.
    """
    training = manifest.get("training") or {}
    if training.get("recipe") is not None:
        recipe = training["recipe"]
    elif "merged_from" in training:
        found = (memory_recipe({"training": parent}) for parent in training["merged_from"])
        recipe = next((recipe for recipe in found if recipe is not None), None)
    else:
        recipe = training.get("config")
    if recipe is not None and "answer_context" not in recipe:
        recipe = {**recipe, "answer_context": True}  # recorded before the setting existed: whole answers trained
    return recipe
