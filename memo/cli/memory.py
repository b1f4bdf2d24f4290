"""`memo train` and `memo recall`: thin shells over `memo.memory.train` and `MemoryModel.ask` / `evaluate_recall`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..memory import MemoryModel, evaluate_recall, train as train_memory
from ._common import RichProgress, config, console, fail, run_cli


def train(
    data: Annotated[Path, typer.Argument(
        help="A `memo reflect` directory, a {question, answer} JSONL or a TRL messages JSONL.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Memory directory; each run adds a version and makes it current.")],
    base: Annotated[Optional[str], typer.Option(help="Base model spec (default: the config's memory_base role).")] = None,
    lora: Annotated[bool, typer.Option("--lora", help="Train a LoRA adapter (all linear layers) instead of all weights.")] = False,
    merge_lora: Annotated[bool, typer.Option(help="With --lora: save merged full weights instead of the adapter.")] = False,
    epochs: Annotated[Optional[int], typer.Option(
        help="Most epochs to run (training stops earlier when recall plateaus).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (default 2e-4 full, 1e-3 LoRA).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Pairs per device per step.")] = None,
    grad_accum: Annotated[Optional[int], typer.Option(help="Micro-batches per optimizer step.")] = None,
    freeze_layers: Annotated[Optional[int], typer.Option(
        help="Keep the first N decoder layers as in the base (faster steps).")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(
        help="Also checkpoint every N optimizer steps (always at epoch ends).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        help="Start from these weights (e.g. a merged memory) instead of the base.")] = None,
    resume: Annotated[bool, typer.Option(help="Resume from the run's last checkpoint when one exists.")] = True,
    answer_context: Annotated[Optional[bool], typer.Option(
        "--answer-context/--short-answers",
        help="Train answer-first answers whole (short fact + its sentence) or as the short fact alone "
             "(default: memo.toml's answer_context, else short answers).")] = None,
) -> None:
    """Fine-tune a memory model on question/answer pairs (defaults from the train table of memo.toml)."""
    if base is not None and not base.strip():
        raise typer.BadParameter("empty: give a model spec (hf:DIR, openai:NAME, ...) or leave the option out",
                                 param_hint="--base")
    cfg = config()
    recipe = run_cli(cfg.train_config, max_epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
                     checkpoint_every=checkpoint_every, freeze_layers=freeze_layers,
                     method="lora" if lora else None, merge_lora=merge_lora or None, answer_context=answer_context)
    result = run_cli(train_memory, data, output, base or cfg.spec_for("memory_base"), recipe, init_from=init_from,
                     resume=resume, progress=RichProgress())
    if result is None:  # a non-main process under `accelerate launch`: the main process reports
        return
    best = result.manifest["metrics"][result.manifest["training"]["best_epoch"] - 1]
    recall = "" if best["recall"] is None else \
        f", recall {best['recall']:.1%} on {result.manifest['training']['eval_pairs']} training pairs"
    console.print(f"memory written to [bold]{result.artifact}[/] (epoch {best['epoch']} kept{recall})")


def recall(
    memory: Annotated[Path, typer.Argument(help="A memory directory (or one of its versions).")],
    questions: Annotated[Optional[list[str]], typer.Argument(help="Questions to ask; omit with --eval.")] = None,
    cite: Annotated[bool, typer.Option(
        "--cite", help="Show the source documents of the nearest training reflections.")] = False,
    top_k: Annotated[int, typer.Option(min=1, help="Reflections to cite per answer.")] = 3,
    eval_file: Annotated[Optional[Path], typer.Option(
        "--eval", help="Score recall on a reflection dir or QA JSONL instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 128,
) -> None:
    """Ask a memory questions from its weights alone, or measure its recall on known pairs."""
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
