"""`memo merge`, `memo add`, `memo versions`, `memo rollback`: a thin shell over memo.merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .math import METHODS
from .update import UpdatePlan


DEFAULT = UpdatePlan()


def register(app: typer.Typer) -> None:
    from ..cli import console, run_cli

    @app.command()
    def merge(
        memories: list[Path] = typer.Argument(..., help="Two or more memories (stores or version directories)."),
        out: Path = typer.Option(..., "-o", "--out", help="Store to write the merged memory into (new or existing)."),
        method: str = typer.Option("ties", help=f"One of: {', '.join(METHODS)}."),
        density: float = typer.Option(0.3, help="Share of each task vector kept (ties, dare_*, magnitude_prune)."),
        weights: Optional[str] = typer.Option(None, help="Comma-separated weight per memory, e.g. 1,0.5."),
        seed: int = typer.Option(0, help="Seed of DARE's random drop."),
        base: Optional[Path] = typer.Option(None, help="Take task vectors against this model dir instead of the manifests' base."),
    ) -> None:
        """Merge memories trained from one base into a new version (task vectors against the true base)."""
        from .merging import merge as merge_memories

        w = [float(x) for x in weights.split(",")] if weights else None
        path = run_cli(merge_memories, memories, out, method=method, density=density, weights=w, seed=seed, base=base)
        console.print(f"merged {len(memories)} memories with {method} -> {path}")

    @app.command()
    def add(
        memory: Path = typer.Argument(..., help="The memory store to update."),
        new_docs: Path = typer.Argument(..., help="A document file or directory, as accepted by `memo reflect`."),
        strategy: str = typer.Option(DEFAULT.strategy, help="merge: train a memory on the new documents and merge it in; "
                                     "continue: fine-tune the current memory on them, replaying the old reflections."),
        replay_share: float = typer.Option(DEFAULT.replay_share, help="continue: share of the old reflections replayed each epoch."),
        method: str = typer.Option(DEFAULT.method, help=f"merge: merge method ({', '.join(METHODS)})."),
        density: float = typer.Option(DEFAULT.density, help="Share of each task vector kept (1 = no trimming)."),
        replay: float = typer.Option(DEFAULT.replay_fraction, help="Share of old and new reflections replayed after merging (0 = none)."),
        replay_epochs: int = typer.Option(DEFAULT.replay_epochs, help="Epochs of the replay fine-tune."),
        compare_retrain: bool = typer.Option(False, help="Also retrain on the union and report its recall (slow)."),
        eval_sample: int = typer.Option(100, help="Reflections per side used for the retention report."),
    ) -> None:
        """Teach a memory new documents (reflect, then fine-tune with replay or merge) and publish a new version with a retention report."""
        from .update import add as add_documents
        from .versions import RETENTION

        plan = UpdatePlan(strategy=strategy, replay_share=replay_share, method=method, density=density,
                          replay_fraction=replay, replay_epochs=replay_epochs)
        path = run_cli(add_documents, memory, new_docs, plan, compare_retrain=compare_retrain, eval_sample=eval_sample)
        report = json.loads((path / RETENTION).read_text())
        table = Table(title=f"retention: {path.name}")
        for col in ("memory", "old documents", "new documents"):
            table.add_column(col)
        for name, row in report["summary"].items():
            table.add_row(name, f"{row['old']:.1f}%", f"{row['new']:.1f}%")
        console.print(table)
        console.print(f"new current version: {path}")

    @app.command()
    def versions(
        memory: Path = typer.Argument(..., help="A memory store."),
        as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    ) -> None:
        """List a memory's versions with lineage: parents, method, parameters, documents added, retention."""
        from .versions import list_versions

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

    @app.command()
    def rollback(
        memory: Path = typer.Argument(..., help="A memory store."),
        version: str = typer.Argument(..., help="The version to make current, e.g. v0001 (or 1)."),
    ) -> None:
        """Make an earlier version current again (its files are checked against their recorded hashes first)."""
        from .versions import rollback as rollback_to

        path = run_cli(rollback_to, memory, version)
        console.print(f"current version of {memory} is now {path.name}")
