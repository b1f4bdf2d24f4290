"""`memo train` and `memo recall`: thin shells over memo.memory.train and MemoryModel.ask / evaluate_recall."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from ..cli import console, fail, run_cli

    @app.command("train")
    def train_cmd(
        data: Path = typer.Argument(..., help="A `memo reflect` directory, a {question, answer} JSONL or a TRL messages JSONL."),
        output: Path = typer.Option(..., "--output", "-o", help="Memory directory; each run adds a version and makes it current."),
        base: Optional[str] = typer.Option(None, help="Base model spec (default: the config's memory_base role)."),
        lora: bool = typer.Option(False, "--lora", help="Train a LoRA adapter (all linear layers) instead of all weights."),
        merge_lora: bool = typer.Option(False, help="With --lora: save merged full weights instead of the adapter."),
        epochs: Optional[int] = typer.Option(None, help="Most epochs to run (training stops earlier when recall plateaus)."),
        lr: Optional[float] = typer.Option(None, help="Peak learning rate (default 2e-4 full, 1e-3 LoRA)."),
        batch_size: Optional[int] = typer.Option(None, help="Pairs per device per step."),
        grad_accum: Optional[int] = typer.Option(None, help="Micro-batches per optimizer step."),
        freeze_layers: Optional[int] = typer.Option(None, help="Keep the first N decoder layers as in the base (faster steps)."),
        checkpoint_every: Optional[int] = typer.Option(None, help="Also checkpoint every N optimizer steps (always at epoch ends)."),
        init_from: Optional[Path] = typer.Option(None, help="Start from these weights (e.g. a merged memory) instead of the base."),
        resume: bool = typer.Option(True, help="Resume from the run's last checkpoint when one exists."),
        config: Optional[str] = typer.Option(None, help="Path to memo.toml (its [train] section sets defaults)."),
    ) -> None:
        """Fine-tune a memory model on question/answer pairs."""
        from ..config import load_config
        from .train import TrainConfig, train

        cfg = run_cli(load_config, config)
        options = dict(getattr(cfg, "train", None) or {})
        for key, value in (("max_epochs", epochs), ("lr", lr), ("batch_size", batch_size), ("grad_accum", grad_accum),
                           ("checkpoint_every", checkpoint_every), ("freeze_layers", freeze_layers)):
            if value is not None:
                options[key] = value
        if lora:
            options["method"] = "lora"
        if merge_lora:
            options["merge_lora"] = True
        recipe = run_cli(TrainConfig.from_dict, options)
        result = run_cli(train, data, output, base or cfg.spec_for("memory_base"), recipe, init_from=init_from,
                         resume=resume)
        if result is None:  # a non-main process under `accelerate launch`: the main process reports
            return
        best = result.manifest["metrics"][result.manifest["training"]["best_epoch"] - 1]
        recall = "" if best["recall"] is None else \
            f", recall {best['recall']:.1%} on {result.manifest['training']['eval_pairs']} training pairs"
        console.print(f"memory written to [bold]{result.artifact}[/] (epoch {best['epoch']} kept{recall})")

    @app.command("recall")
    def recall_cmd(
        memory: Path = typer.Argument(..., help="A memory directory (or one of its versions)."),
        questions: list[str] = typer.Argument(None, help="Questions to ask; omit with --eval."),
        cite: bool = typer.Option(False, "--cite", help="Show the source documents of the nearest training reflections."),
        top_k: int = typer.Option(3, help="Reflections to cite per answer."),
        eval_file: Optional[Path] = typer.Option(None, "--eval", help="Score recall on a reflection dir or QA JSONL instead."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        max_tokens: int = typer.Option(128, help="Longest answer, in tokens."),
    ) -> None:
        """Ask a memory questions from its weights alone, or measure its recall on known pairs."""
        from .model import MemoryModel
        from .recall import evaluate_recall

        if not questions and eval_file is None:
            fail("give one or more questions, or --eval FILE")
        model = run_cli(MemoryModel.load, memory)
        if eval_file is not None:
            report = run_cli(evaluate_recall, model, eval_file, max_new_tokens=max_tokens)
            if as_json:
                console.print_json(json.dumps({**report.as_dict(), "items": [asdict(i) for i in report.items]}))
                return
            para = "" if report.paraphrase_exact is None else f", paraphrases {report.paraphrase_exact:.1%}"
            console.print(f"exact recall {report.exact:.1%} of {report.count} (contains {report.contains:.1%}{para})")
            return
        answers = model.ask(questions, citations=cite, top_k=top_k, max_new_tokens=max_tokens)
        if as_json:
            console.print_json(json.dumps([asdict(a) for a in answers]))
            return
        for a in answers:
            if len(answers) > 1:
                console.print(f"[bold]Q:[/] {a.question}", markup=True, highlight=False)
            console.print(a.answer, markup=False, highlight=False)
            for c in a.citations:
                console.print(f"  [dim]source {c.doc_id or '(no document)'} {','.join(c.chunk_ids)} "
                              f"({c.score:.2f}): {c.question}[/]", highlight=False)
