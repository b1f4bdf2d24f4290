"""`add()`: teach an existing memory new documents without retraining it on everything.

    new docs --reflect--> reflections --train (same base, same recipe)--> new memory
    current version + new memory --merge (task vectors against the true base)--> merged weights
    merged --replay (short fine-tune on a small sample of old and new reflections)--> new version
    + retention.json: recall on old and new reflections for the new version and both parents

Intermediate results live in `<store>/.work/<update id>/` and are reused when an update is re-run after a
failure (reflection and training are also resumable on their own). The new version is built in a temporary
directory and `current` moves only once it is complete: a crash at any point leaves the current memory intact.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

from ..memory.store import MANIFEST, MemoryStore
from ..paths import atomic_write_json, atomic_write_jsonl, read_jsonl
from .merging import (REFLECTIONS, base_dir_for, merge_weights, read_manifest, sha256_file, write_merged_manifest,
                    write_union_reflections)
from .versions import RETENTION, open_store


@dataclass(frozen=True)
class UpdatePlan:
    """How `memo add` merges. Defaults: the best method measured by bench/merge_retention.py (docs/BENCHMARKS.md)."""

    method: str = "ties"
    density: float = 1.0
    weights: tuple[float, ...] | None = None
    replay_fraction: float = 0.2  # share of old and of new reflections replayed after merging (0: no replay)
    replay_max: int = 2000  # cap per side, so replay stays cheap on large corpora
    replay_epochs: int = 2
    seed: int = 0


def _update_id(parent: Path, new_docs: Path, plan: UpdatePlan) -> str:
    """Same parent, same documents and same plan -> same work directory, so a re-run resumes."""
    h = hashlib.sha256(f"{parent.resolve()}\0{json.dumps(asdict(plan))}".encode())
    for f in sorted(p for p in ([new_docs] if new_docs.is_file() else new_docs.rglob("*")) if p.is_file()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _facts(pairs: Sequence[dict]) -> list[dict]:
    return [p for p in pairs if p.get("step") != "abstention"]


def replay_sample(old: Sequence[dict], new: Sequence[dict], plan: UpdatePlan) -> list[dict]:
    """A fixed-seed sample with the same share of old and of new pairs (at least one of each when there are any)."""
    rng = random.Random(plan.seed)
    sample: list[dict] = []
    for pairs in (old, new):
        if pairs:
            k = min(len(pairs), plan.replay_max, max(1, round(plan.replay_fraction * len(pairs))))
            sample += rng.sample(list(pairs), k)
    return sample


def retention_report(memories: dict[str, Path], old: Sequence[dict], new: Sequence[dict], sample: int = 100,
                     exclude: Sequence[dict] = (), seed: int = 0) -> dict:
    """Recall (exact, after normalisation; in %) of each memory on old and on new reflections.

    Pairs in `exclude` (the replayed ones) are left out when enough others exist, so replay cannot flatter the
    score; paraphrases, when the reflections have them, are scored as well (questions never trained on).
    """
    from ..memory import evaluate_recall

    skip = {p.get("id") for p in exclude}
    rng = random.Random(seed)
    sets = {}
    for side, pairs in (("old", _facts(old)), ("new", _facts(new))):
        held = [p for p in pairs if p.get("id") not in skip] or list(pairs)
        sets[side] = rng.sample(held, min(sample, len(held)))
    summary, details = {}, {}
    for name, path in memories.items():
        summary[name], details[name] = {}, {}
        for side, pairs in sets.items():
            report = evaluate_recall(path, pairs) if pairs else None
            summary[name][side] = 100.0 * report.exact if report else 0.0
            details[name][side] = report.as_dict() if report else None
    return {"summary": summary, "details": details, "sample": {k: len(v) for k, v in sets.items()},
            "memories": {k: str(v) for k, v in memories.items()}}


def add(
    memory: str | Path,
    new_docs: str | Path,
    plan: UpdatePlan | None = None,
    compare_retrain: bool = False,
    eval_sample: int = 100,
    reflect_config=None,
    show_progress: bool = True,
) -> Path:
    """Add documents to the memory store at `memory`; returns the new version's directory (now current)."""
    from ..memory import TrainConfig, train
    from ..reflect import reflect

    plan = plan or UpdatePlan()
    store = open_store(memory)
    parent = store.current()
    parent_manifest = read_manifest(parent)
    new_docs = Path(new_docs)
    if not new_docs.exists():
        raise FileNotFoundError(f"no documents at {new_docs}")
    base_spec = parent_manifest["base"]["spec"]
    base_dir = base_dir_for(parent_manifest)
    recipe = TrainConfig.from_dict((parent_manifest.get("training") or {}).get("config") or {})
    work = store.root / ".work" / _update_id(parent, new_docs, plan)
    work.mkdir(parents=True, exist_ok=True)

    reflections = work / "reflections"
    if not (reflections / "manifest.json").is_file():
        reflect(new_docs, reflections, reflect_config, show_progress=show_progress)
    new_pairs = read_jsonl(reflections / REFLECTIONS)
    old_pairs = read_jsonl(parent / REFLECTIONS) if (parent / REFLECTIONS).is_file() else []

    new_store = MemoryStore(work / "new-memory")
    if not new_store.exists():
        train(reflections, new_store.root, base=base_spec, config=recipe, progress=show_progress)
    new_artifact = new_store.current()
    parents = [parent, new_artifact]
    params = {"method": plan.method, "density": plan.density, "weights": list(plan.weights) if plan.weights else None,
              "seed": plan.seed, "replay_fraction": plan.replay_fraction, "replay_epochs": plan.replay_epochs}

    replayed: list[dict] = []
    training, metrics = None, None
    if plan.replay_fraction > 0:
        merged = work / "merged"
        shutil.rmtree(merged, ignore_errors=True)
        params["stats"] = merge_weights(base_dir, parents, merged, plan.method, plan.weights, plan.density,
                                        plan.seed, show_progress)
        replayed = replay_sample(_facts(old_pairs), _facts(new_pairs), plan)
        atomic_write_jsonl(work / "replay.jsonl", replayed)
        replay_store = MemoryStore(work / "replayed")
        shutil.rmtree(replay_store.root, ignore_errors=True)
        # Full fine-tune from the merged weights, whatever the parents' method: the merge is a full model.
        cfg = replace(recipe, method="full", max_epochs=plan.replay_epochs, abstention_ratio=0.0)
        result = train(work / "replay.jsonl", replay_store.root, base=base_spec, config=cfg, init_from=merged,
                       progress=show_progress)
        training, metrics = result.manifest["training"], result.manifest["metrics"]

    with store.new_version() as tmp:
        if plan.replay_fraction > 0:
            for f in result.artifact.iterdir():
                if f.is_file() and f.suffix in (".safetensors", ".json", ".jinja") and f.name != MANIFEST:
                    shutil.copy2(f, tmp / f.name)
        else:
            params["stats"] = merge_weights(base_dir, parents, tmp, plan.method, plan.weights, plan.density,
                                            plan.seed, show_progress)
        write_union_reflections(parents, tmp)
        manifest = write_merged_manifest(tmp, [parent_manifest, read_manifest(new_artifact)], parents, params,
                              sorted({d for p in new_pairs for d in p.get("doc_ids", [])}), None,
                              training=training, metrics=metrics)
        candidates = {"merged": tmp, "previous": parent, "new_only": new_artifact}
        if compare_retrain:
            union = work / "union.jsonl"
            atomic_write_jsonl(union, read_jsonl(tmp / REFLECTIONS))
            retrain = MemoryStore(work / "retrained")
            if not retrain.exists():
                train(union, retrain.root, base=base_spec, config=recipe, progress=show_progress)
            candidates["retrained"] = retrain.current()
        report = retention_report(candidates, old_pairs, new_pairs, eval_sample, exclude=replayed, seed=plan.seed)
        # The report names where the new version will live, not the temporary directory it was built in.
        report["memories"]["merged"] = str(store.versions_dir / store.next_version())
        atomic_write_json(tmp / RETENTION, report)
        manifest["files"][RETENTION] = sha256_file(tmp / RETENTION)
        atomic_write_json(tmp / MANIFEST, manifest)
    shutil.rmtree(work, ignore_errors=True)
    return store.current()
