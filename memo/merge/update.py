"""`add()`: teach an existing memory new documents without retraining it on everything.

    new docs --reflect--> reflections
    strategy "merge":    reflections --train (same base, same recipe)--> new memory
                         current version + new memory --merge (task vectors against the true base)--> merged
                         merged --replay (short fine-tune on a sample of old and new reflections)--> new version
    strategy "continue": current version --train on the new reflections, replaying a rotating share of the old
                         ones each epoch--> new version
    + retention.json: recall on old and new reflections for the new version and its parents

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

from ..config import load_config
from ..formats import MEMORY_MANIFEST as MANIFEST, REFLECTIONS_FILE as REFLECTIONS, REFLECTIONS_MANIFEST
from ..formats import RETENTION_FILE as RETENTION
from ..memory.artifact import memory_recipe
from ..memory.store import MemoryStore
from ..paths import atomic_write_json, atomic_write_jsonl, read_jsonl
from ..progress import Progress
from ..settings import ReflectConfig, TrainConfig, from_table
from .merging import (base_dir_for, check_merge, merge_weights, read_manifest, sha256_file, write_merged_manifest,
                      write_union_reflections)
from .versions import open_store


STRATEGIES = ("merge", "continue")


@dataclass(frozen=True)
class UpdatePlan:
    """How `memo add` updates a memory. Defaults: the best measured by bench/merge_retention.py (docs/BENCHMARKS.md)."""

    strategy: str = "continue"  # kept 95-100% of a retrained memory's recall in bench/merge_retention.py; merges 10-67%
    replay_share: float = 0.5  # "continue": share of the old reflections trained on each epoch, in rotation
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
    reflect_config: ReflectConfig | None = None,
    train_config: TrainConfig | None = None,
    progress: Progress | None = None,
) -> Path:
    """Teach the memory store `memory` new documents and publish the result as its new current version.

    What `memo add` runs. The new documents are reflected (`memo.reflect.reflect`), then, by `plan.strategy`:
    "continue" (default) fine-tunes the current version on the new reflections, replaying a rotating
    `plan.replay_share` of the old ones each epoch (rehearsal; the measured best, bench/merge_retention.py);
    "merge" trains a memory on the new reflections from the same base with the same recipe and merges it into
    the current version (task vectors against the true base, `merge_weights`: the MeMo paper's continual update
    by merging, arXiv 2605.15156), then, with `plan.replay_fraction` > 0, fine-tunes the merged weights briefly
    on a sample of old and new reflections. New documents are trained with the recipe that built the memory's
    knowledge (`memory_recipe`: carried from version to version, never the short replay pass's), or with
    `train_config` when the memory records none. docs/MERGING.md.

    Parameters:
        memory: a memory store (made by `memo train`; not a version directory).
        new_docs: a document file or directory, as `memo.corpus.load_corpus` reads it.
        plan: strategy, replay shares, merge method / density / weights, replay epochs, seed (`UpdatePlan`;
            default `UpdatePlan()`).
        compare_retrain: also train a memory on the union of old and new reflections from the base and report
            its recall beside the update's (slow: a full retraining).
        eval_sample: reflections per side (old, new) whose exact recall the retention report measures.
        reflect_config: the `[reflect]` settings for the new documents; default memo.toml's.
        train_config: the `[train]` recipe used when the memory records none (`memory_recipe` gives None);
            default memo.toml's.
        progress: passed on to reflection, training and merging.

    Intermediate results (reflections, the trained new memory) live in `<memory>/.work/<update id>/`, keyed by
    the parent version, the new documents' names and bytes and the plan, and are reused when the same update is
    run again after a failure; the directory is removed on success. The new version is built in a temporary
    directory and `current` moves only once it is complete.

    Returns the new version's directory (`memory/versions/vNNNN`, now current). It holds `retention.json`:
    `summary` (memory name -> {"old": %, "new": %}, exact recall after normalisation, in percent, for "updated",
    "previous", "new_only" (merge strategy) and "retrained" (with `compare_retrain`)), `details` (per-memory
    `RecallReport.as_dict()` per side), `sample` (pairs scored per side) and `memories` (their paths).

    Raises ValueError, before any reflection or training, for an unknown strategy and, with strategy "merge", an
    unknown merge method, a density outside (0, 1], `plan.weights` not of length 2 (current version, new-only
    memory) or, with replay, `plan.replay_epochs` < 1; FileNotFoundError when `memory` is not a store or `new_docs`
    does not exist (MemoryNotFoundError when the store has no current version), CorruptMemoryError for an unreadable
    manifest, IncompatibleMemoriesError when the manifest names no base or the base found has other weights than
    recorded, LLMError when the recorded base spec cannot be resolved to a local model, and whatever reflection
    (`reflect`: CorpusError, ConfigError, LLMError, NLPUnavailable) and training (`memo.memory.train`) raise.
    The current version is left as it was whenever anything is raised.
    """
    from ..memory import train
    from ..reflect import reflect

    plan = plan or UpdatePlan()
    if plan.strategy not in STRATEGIES:
        raise ValueError(f"unknown update strategy {plan.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if plan.strategy == "merge":
        check_merge(plan.method, plan.density, plan.weights, 2)  # the current version and the new-only memory
        if plan.replay_fraction > 0 and plan.replay_epochs < 1:
            raise ValueError(f"replay_epochs must be at least 1, not {plan.replay_epochs}")
    store = open_store(memory)
    parent = store.current()
    parent_manifest = read_manifest(parent)
    new_docs = Path(new_docs)
    if not new_docs.exists():
        raise FileNotFoundError(f"no documents at {new_docs}")
    base_spec = parent_manifest["base"]["spec"]
    base_dir = base_dir_for(parent_manifest)
    recorded = memory_recipe(parent_manifest)
    if recorded is not None:
        recipe = from_table(TrainConfig, recorded)
    else:
        recipe = train_config or load_config().train_config()
    # The fine-tunes' settings are built (and checked) now, so a bad option fails before reflection and training.
    pass_cfg = None
    if plan.strategy == "continue":
        pass_cfg = replace(recipe, method="full", replay_share=plan.replay_share)
    elif plan.replay_fraction > 0:  # full fine-tune from the merged weights, whatever the parents' method
        pass_cfg = replace(recipe, method="full", max_epochs=plan.replay_epochs, abstention_ratio=0.0)
    work = store.root / ".work" / _update_id(parent, new_docs, plan)
    work.mkdir(parents=True, exist_ok=True)

    reflections = work / "reflections"
    if not (reflections / REFLECTIONS_MANIFEST).is_file():
        reflect(new_docs, reflections, reflect_config, progress=progress)
    new_pairs = read_jsonl(reflections / REFLECTIONS)
    old_pairs = read_jsonl(parent / REFLECTIONS) if (parent / REFLECTIONS).is_file() else []

    if plan.strategy == "continue":
        return _continue(store, parent, parent_manifest, reflections, new_pairs, old_pairs, work, recipe, pass_cfg,
                         plan, base_spec, compare_retrain, eval_sample, progress)

    new_store = MemoryStore(work / "new-memory")
    if not new_store.exists():
        train(reflections, new_store.root, base=base_spec, config=recipe, progress=progress)
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
                                        plan.seed, progress)
        replayed = replay_sample(_facts(old_pairs), _facts(new_pairs), plan)
        atomic_write_jsonl(work / "replay.jsonl", replayed)
        replay_store = MemoryStore(work / "replayed")
        shutil.rmtree(replay_store.root, ignore_errors=True)
        result = train(work / "replay.jsonl", replay_store.root, base=base_spec, config=pass_cfg, init_from=merged,
                       progress=progress)
        training, metrics = result.manifest["training"], result.manifest["metrics"]

    with store.new_version() as tmp:
        if plan.replay_fraction > 0:
            _copy_model_files(result.artifact, tmp)
        else:
            params["stats"] = merge_weights(base_dir, parents, tmp, plan.method, plan.weights, plan.density,
                                            plan.seed, progress)
        write_union_reflections(parents, tmp)
        manifest = write_merged_manifest(tmp, [parent_manifest, read_manifest(new_artifact)], parents, params,
                                         sorted({d for p in new_pairs for d in p.get("doc_ids", [])}), None,
                                         training=training, metrics=metrics, recipe=recipe.as_dict())
        candidates = {"updated": tmp, "previous": parent, "new_only": new_artifact}
        _finish(store, tmp, manifest, candidates, old_pairs, new_pairs, work, recipe, base_spec, compare_retrain,
                eval_sample, plan.seed, replayed, progress)
    shutil.rmtree(work, ignore_errors=True)
    return store.current()


def _continue(store: MemoryStore, parent: Path, parent_manifest: dict, reflections: Path, new_pairs: list[dict],
              old_pairs: list[dict], work: Path, recipe: TrainConfig, cfg: TrainConfig, plan: UpdatePlan,
              base_spec: str, compare_retrain: bool, eval_sample: int, progress: Progress | None) -> Path:
    """Fine-tune the current version itself on the new reflections with `cfg`, replaying a rotating share of the
    old ones."""
    from ..memory import MemoryModel, train

    start = parent
    if parent_manifest.get("kind") == "lora":  # continue from its merged full weights; the new version is full
        start = work / "parent-full"
        if not (start / "config.json").is_file():
            MemoryModel.load(parent).export_merged(start)
    old_file = work / "old.jsonl"
    atomic_write_jsonl(old_file, old_pairs)
    continued = MemoryStore(work / "continued")
    if not continued.exists():
        train(reflections, continued.root, base=base_spec, config=cfg, init_from=start,
              replay=old_file if old_pairs else None, progress=progress)
    result = continued.current()
    params = {"method": "continue", "replay_share": plan.replay_share, "seed": plan.seed}
    with store.new_version() as tmp:
        _copy_model_files(result, tmp)
        write_union_reflections([parent, result], tmp)
        trained = read_manifest(result)
        manifest = write_merged_manifest(tmp, [parent_manifest], [parent], params,
                                         sorted({d for p in new_pairs for d in p.get("doc_ids", [])}), None,
                                         training=trained["training"], metrics=trained["metrics"],
                                         recipe=recipe.as_dict())
        _finish(store, tmp, manifest, {"updated": tmp, "previous": parent}, old_pairs, new_pairs, work, recipe,
                base_spec, compare_retrain, eval_sample, plan.seed, [], progress)
    shutil.rmtree(work, ignore_errors=True)
    return store.current()


def _copy_model_files(artifact: Path, out: Path) -> None:
    """Weights, config and tokenizer of a trained artifact (not its manifest or reflections: the update writes
    its own)."""
    for f in artifact.iterdir():
        if f.is_file() and f.suffix in (".safetensors", ".json", ".jinja") and f.name != MANIFEST:
            shutil.copy2(f, out / f.name)


def _finish(store: MemoryStore, tmp: Path, manifest: dict, candidates: dict[str, Path], old_pairs, new_pairs,
            work: Path, recipe, base_spec: str, compare_retrain: bool, eval_sample: int, seed: int, replayed,
            progress: Progress | None) -> None:
    """Write retention.json into the version being built (optionally against a memory retrained on the union)."""
    from ..memory import train

    if compare_retrain:
        union = work / "union.jsonl"
        atomic_write_jsonl(union, read_jsonl(tmp / REFLECTIONS))
        retrain = MemoryStore(work / "retrained")
        if not retrain.exists():
            train(union, retrain.root, base=base_spec, config=recipe, progress=progress)
        candidates["retrained"] = retrain.current()
    report = retention_report(candidates, old_pairs, new_pairs, eval_sample, exclude=replayed, seed=seed)
    # The report names where the new version will live, not the temporary directory it was built in.
    report["memories"]["updated"] = str(store.versions_dir / store.next_version())
    atomic_write_json(tmp / RETENTION, report)
    manifest["files"][RETENTION] = sha256_file(tmp / RETENTION)
    atomic_write_json(tmp / MANIFEST, manifest)
