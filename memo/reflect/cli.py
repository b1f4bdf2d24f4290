"""`memo reflect`: the command-line shell over `memo.reflect.reflect` and `estimate`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from .config import PROFILES, STEPS, ReflectConfig


def register(app: typer.Typer) -> None:
    @app.command()
    def reflect(
        corpus: str = typer.Argument(..., help="A directory of .txt/.md/.jsonl files, a JSONL file, or a MuSiQue JSON."),
        output: Optional[str] = typer.Option(None, "--output", "-o", help="Dataset directory to write."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only estimate calls, tokens (and cost) per step."),
        steps: Optional[str] = typer.Option(None, help=f"Comma-separated steps to run (default all): {','.join(STEPS)}."),
        profile: Optional[str] = typer.Option(None, help=f"Prompt profile: {' | '.join(PROFILES)} (default auto)."),
        generator: Optional[str] = typer.Option(None, "--generator", "-g", help="Generator model spec."),
        chunk_tokens: Optional[int] = typer.Option(None, help="Chunk size in tokens (default 256)."),
        overlap_tokens: Optional[int] = typer.Option(None, help="Chunk overlap in tokens (default 32)."),
        seed: Optional[int] = typer.Option(None, help="Sampling seed (part of the cache key)."),
        grouping: Optional[str] = typer.Option(None, help="JSON file: list of lists of related document ids/titles."),
        generator_questions: bool = typer.Option(False, "--generator-questions",
                                                 help="Compact profile: let the generator propose the questions."),
        no_abstention: bool = typer.Option(False, "--no-abstention", help="Make no \"I don't know.\" pairs."),
        config: Optional[str] = typer.Option(None, help="Path to memo.toml."),
    ) -> None:
        """Synthesise reflections (self-contained Q/A pairs) from a corpus: the memory's training data."""
        from ..cli import console, fail, run_cli
        from ..config import load_config
        from .pipeline import estimate, reflect as run_reflect

        cfg_file = run_cli(load_config, config)
        chosen = tuple(s.strip() for s in steps.split(",") if s.strip()) if steps else None
        if chosen is not None and no_abstention:
            chosen = tuple(s for s in chosen if s != "abstention")
        elif no_abstention:
            chosen = tuple(s for s in STEPS if s != "abstention")
        cfg = run_cli(ReflectConfig.from_table, getattr(cfg_file, "reflect", None), profile=profile,
                      generator=generator, steps=chosen, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens,
                      seed=seed, grouping_file=grouping, generator_questions=generator_questions or None)
        if dry_run:
            est = run_cli(estimate, corpus, cfg)
            table = Table(title=f"estimate: {est['documents']} documents, {est['chunks']} chunks, "
                                f"profile {est['profile']}, generator {est['generator']}")
            for col in ("step", "calls", "prompt tokens", "completion tokens"):
                table.add_column(col)
            for step, s in est["steps"].items():
                table.add_row(step, str(s["calls"]), str(s["prompt_tokens"]), str(s["completion_tokens"]))
            t = est["total"]
            table.add_row("total", str(t["calls"]), str(t["prompt_tokens"]), str(t["completion_tokens"]))
            console.print(table)
            if "cost" in est:
                console.print(f"estimated cost: {est['cost']}")
            for s in est["skipped"]:
                console.print(f"[yellow]skipped[/] {s['source']}: {s['reason']}")
            return
        if not output:
            fail("give an output directory with -o/--output (or use --dry-run)")
        m = run_cli(run_reflect, corpus, output, cfg)
        counts = ", ".join(f"{k} {v}" for k, v in m["counts"].items())
        console.print(f"[green]wrote[/] {output}: {m['total']} reflections ({counts}) in {m['wall_seconds']} s, "
                      f"profile {m['profile']}")
        cov = m["coverage"]
        console.print(f"coverage: chunks {cov['chunks_covered']}/{cov['chunks']} ({cov['chunk_share']:.0%}), "
                      f"named entities {cov['entities_covered']}/{cov['entities']} ({cov['entity_share']:.0%})")
        q = m["quality"]
        if q["generator_calls"]:
            console.print(f"generator: {q['generator_calls']} results, schema-valid {q['schema_valid_share']:.0%}; "
                          f"tokens in/out {m['tokens']['prompt']}/{m['tokens']['completion']}, "
                          f"cache hits {m['tokens']['cache_hits']}")
        if q["self_contained_share"] is not None:
            console.print(f"self-contained on first check: {q['self_contained_share']:.0%}")
        for step, reasons in m["dropped"].items():
            if reasons:
                console.print(f"dropped in {step}: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
        for s in m["corpus"]["skipped"]:
            console.print(f"[yellow]skipped[/] {s['source']}: {s['reason']}")
