"""`memo merge`, `memo add`, `memo versions`, `memo rollback`: a thin shell over `memo.merge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..formats import RETENTION_FILE
from ..merge import METHODS, UpdatePlan, add as add_documents, list_versions, merge as merge_memories
from ..merge import rollback as rollback_to
from ._common import RichProgress, config, console, fail, run_cli

DEFAULT = UpdatePlan()


def merge(
    memories: Annotated[list[Path], typer.Argument(help="Two or more memories (stores or version directories).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Store to write the merged memory into (new or existing).")],
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")] = "ties",
    density: Annotated[float, typer.Option(help="Share of each task vector kept (ties, dare_*, magnitude_prune).")] = 0.3,
    weights: Annotated[Optional[str], typer.Option(help="Comma-separated weight per memory, e.g. 1,0.5.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of DARE's random drop.")] = 0,
    base: Annotated[Optional[Path], typer.Option(
        help="Take task vectors against this model dir instead of the manifests' base.")] = None,
) -> None:
    """Merge memories trained from one base into a new version (task vectors against the true base)."""
    try:
        w = [float(x) for x in weights.split(",")] if weights else None
    except ValueError:
        fail(f"--weights must be comma-separated numbers, one per memory, e.g. 1,0.5 (got {weights!r})")
    path = run_cli(merge_memories, memories, out, method=method, density=density, weights=w, seed=seed, base=base,
                   progress=RichProgress())
    console.print(f"merged {len(memories)} memories with {method} -> {path}")


def add(
    memory: Annotated[Path, typer.Argument(help="The memory store to update.")],
    new_docs: Annotated[Path, typer.Argument(help="A document file or directory, as accepted by `memo reflect`.")],
    strategy: Annotated[str, typer.Option(help="merge: train a memory on the new documents and merge it in; "
                                          "continue: fine-tune the current memory on them, replaying the old "
                                          "reflections.")] = DEFAULT.strategy,
    replay_share: Annotated[float, typer.Option(
        help="continue: share of the old reflections replayed each epoch.")] = DEFAULT.replay_share,
    method: Annotated[str, typer.Option(help=f"merge: merge method ({', '.join(METHODS)}).")] = DEFAULT.method,
    density: Annotated[float, typer.Option(help="Share of each task vector kept (1 = no trimming).")] = DEFAULT.density,
    replay: Annotated[float, typer.Option(
        help="Share of old and new reflections replayed after merging (0 = none).")] = DEFAULT.replay_fraction,
    replay_epochs: Annotated[int, typer.Option(help="Epochs of the replay fine-tune.")] = DEFAULT.replay_epochs,
    compare_retrain: Annotated[bool, typer.Option(help="Also retrain on the union and report its recall (slow).")] = False,
    eval_sample: Annotated[int, typer.Option(help="Reflections per side used for the retention report.")] = 100,
) -> None:
    """Teach a memory new documents (reflect, then fine-tune with replay or merge) and publish a new version with a
    retention report. The new documents are reflected with the reflect table of memo.toml, and trained with the
    recipe the memory was built with (memo.toml's train table when it records none)."""
    plan = UpdatePlan(strategy=strategy, replay_share=replay_share, method=method, density=density,
                      replay_fraction=replay, replay_epochs=replay_epochs)
    settings = config()
    path = run_cli(add_documents, memory, new_docs, plan, compare_retrain=compare_retrain, eval_sample=eval_sample,
                   reflect_config=run_cli(settings.reflect_config), train_config=run_cli(settings.train_config),
                   progress=RichProgress())
    report = json.loads((path / RETENTION_FILE).read_text())
    table = Table(title=f"retention: {path.name}")
    for col in ("memory", "old documents", "new documents"):
        table.add_column(col)
    for name, row in report["summary"].items():
        table.add_row(name, f"{row['old']:.1f}%", f"{row['new']:.1f}%")
    console.print(table)
    console.print(f"new current version: {path}")


def versions(
    memory: Annotated[Path, typer.Argument(help="A memory store.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """List a memory's versions with lineage: parents, method, parameters, documents added, retention."""
    rows = run_cli(list_versions, memory)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=str(memory))
    for col in ("version", "created", "kind", "reflections", "method", "parents", "documents added", "retention old/new"):
        table.add_column(col)
    for r in rows:
        retention = r["retention"] or {}
        updated = retention.get("updated")
        table.add_row(
            ("* " if r["current"] else "  ") + r["version"], r["created"] or "", r["kind"] or "",
            str(r["reflections"] or ""), r["method"], ", ".join(Path(p).name for p in r["parents"]),
            str(len(r["documents_added"])) if r["documents_added"] else "",
            f"{updated['old']:.0f}% / {updated['new']:.0f}%" if updated else "",
        )
    console.print(table)


def rollback(
    memory: Annotated[Path, typer.Argument(help="A memory store.")],
    version: Annotated[str, typer.Argument(help="The version to make current, e.g. v0001 (or 1).")],
) -> None:
    """Make an earlier version current again (its files are checked against their recorded hashes first)."""
    path = run_cli(rollback_to, memory, version)
    console.print(f"current version of {memory} is now {path.name}")
