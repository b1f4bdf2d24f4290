"""Turn question/answer pairs into a memory: supervised fine-tuning on TRL's `SFTTrainer`, loss on the answers only.

The trainer is the field's standard one (TRL `SFTTrainer` on transformers' `Trainer` and accelerate), so the same
`memo train` runs single-process on a CPU in fp32 and under `accelerate launch` (DDP, FSDP, DeepSpeed) on GPUs in
bf16 with gradient checkpointing, with the trainer's checkpoints, resume and `report_to`. What memo adds
(`memo.memory.trainer`): the epoch's examples in the memory's prompt format with fresh abstentions, question
rewrites and rotating replay; length-grouped batches; logits at answer positions only; a recall check after
each epoch that keeps the best epoch and stops early once recall reaches the target or stops improving.
"""

from __future__ import annotations

import hashlib
import json
import math
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import load_config
from ..progress import Progress, or_silent
from ..records import ABSTAIN
from ..settings import TrainConfig
from .data import Dataset, answer_leads, load_dataset
from .epochs import epoch_pairs, plan
from .prompt import memory_chat_template

# The GPU-hours estimate in every manifest: training FLOPs ~ 6 x parameters x tokens (forward and backward;
# Kaplan et al. 2020, "Scaling Laws for Neural Language Models", section 2.1) on an H100 SXM (989 dense bf16
# TFLOP/s) at 40% model FLOPs utilisation, a typical figure for small-batch fine-tuning.
H100_BF16_FLOPS = 989e12
ASSUMED_MFU = 0.40


@dataclass
class TrainResult:
    artifact: Path
    manifest: dict
    history: list[dict] = field(default_factory=list)


__all__ = ["TrainResult", "gpu_hours_estimate", "train"]


def gpu_hours_estimate(parameters: int, tokens: int) -> dict:
    """H100-class GPU-hours for training `parameters` weights on `tokens` tokens (see H100_BF16_FLOPS)."""
    flops = 6 * parameters * tokens
    return {"gpu_hours": flops / (H100_BF16_FLOPS * ASSUMED_MFU) / 3600, "flops": flops,
            "assumption": f"6 x {parameters} parameters x {tokens} tokens (padding included) FLOPs on one H100 "
                          f"(989 TFLOP/s dense bf16) at {ASSUMED_MFU:.0%} utilisation"}


def _run_key(dataset_hash: str, base_id: str, cfg: TrainConfig) -> str:
    blob = json.dumps({"data": dataset_hash, "base": base_id, "config": cfg.as_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _complete_checkpoint(root: Path) -> Path | None:
    """The newest checkpoint under `root` whose memo state was written (the last file of a checkpoint)."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from .trainer import MEMO_STATE

    found = [p for p in root.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if (p / MEMO_STATE).is_file()] if root.is_dir() else []
    return max(found, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def _freeze(model, cfg: TrainConfig):
    """Apply `freeze_embeddings` and `freeze_layers`; the decoder layers (for LoRA targets)."""
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
        model.get_output_embeddings().weight.requires_grad_(False)
    layers = model.get_decoder().layers
    if not 0 <= cfg.freeze_layers < len(layers):
        raise ValueError(f"freeze_layers={cfg.freeze_layers}: the base has {len(layers)} decoder layers")
    for layer in layers[: cfg.freeze_layers]:
        layer.requires_grad_(False)
    if cfg.train_modules == "mlp":
        for layer in layers:
            layer.self_attn.requires_grad_(False)
    return layers


def _lora_config(cfg: TrainConfig, layers):
    """LoRA on every linear layer, or (with frozen layers) on the linear layers of the trainable decoder layers."""
    import torch
    from peft import LoraConfig

    targets: dict = {"target_modules": "all-linear"}
    if cfg.freeze_layers or cfg.train_modules == "mlp":
        names = sorted({n.rsplit(".", 1)[-1] for n, m in layers.named_modules() if isinstance(m, torch.nn.Linear)
                        and (cfg.train_modules != "mlp" or ".mlp." in f".{n}")})
        targets = {"target_modules": names, "layers_to_transform": list(range(cfg.freeze_layers, len(layers)))}
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, task_type="CAUSAL_LM",
                      **targets)


def train(
    data: str | Path | Dataset,
    output: str | Path,
    base: str | None = None,
    config: TrainConfig | None = None,
    *,
    init_from: str | Path | None = None,
    replay: str | Path | Dataset | None = None,
    lineage: list[dict] | None = None,
    resume: bool = True,
    progress: Progress | None = None,
) -> TrainResult | None:
    """Fine-tune a memory on question/answer pairs and publish it as a new version of the memory store `output`.

    Method: supervised fine-tuning with TRL's `SFTTrainer` (transformers' `Trainer` on accelerate; LoRA through
    peft), loss on the answer tokens only, one pair per sequence in the memory's own prompt format; the MeMo
    paper's memory training (arXiv 2605.15156) with the changes and defaults docs/MEMORY.md describes (train in
    the format the memory is asked in, synthetic "I don't know." pairs, a recall check after each epoch that keeps
    the best epoch and stops early). Runs as is on a CPU (fp32) and under `accelerate launch` (DDP, FSDP,
    DeepSpeed) on GPUs.

    Parameters:
        data: a reflection directory (`memo reflect` output), a pairs JSONL (`{"question", "answer", ...}` per
            line) or a TRL messages JSONL (`memo.memory.data`), or a loaded `Dataset`.
        output: the memory store directory (created if needed). The new version is built in a temporary
            directory and published as `output/versions/vNNNN`, then `output/current` is switched to it
            atomically; mid-run checkpoints live under `output/checkpoints/<run key>/` and are removed at the end.
        base: the local model spec the memory is a fine-tune of ("embedded", "hf:/path" or a path; default the
            config's `memory_base` role). Recorded in the manifest with its weights hash: merges take task
            vectors against it. It must be a chat (instruct) model with a chat template.
        config: the `[train]` settings (`TrainConfig`: method "full" or "lora", epochs, learning rate, batch size
            in pairs per device, `max_length` in tokens...); default memo.toml's, `load_config().train_config()`.
        init_from: a Hugging Face model directory of the same architecture to start from instead of `base`
            (e.g. a merged memory for a short replay fine-tune); `base` stays the recorded base.
        replay: pairs (path or `Dataset`, as `data`) mixed into training, `config.replay_share` of them per
            epoch in rotation (e.g. an existing memory's reflections when it learns new ones); they are part of
            the recall check too.
        lineage: the manifest's `lineage` list, recorded as given (empty for a first build).
        resume: continue a run killed earlier with the same data, base weights and config from its last complete
            checkpoint (checkpoints: `config.checkpoint_every` steps, `config.checkpoint_minutes`); the result has
            the same optimizer steps as an uninterrupted run. False starts afresh.
        progress: gets one task per epoch (optimizer steps, loss, tokens per second) and a log line with each
            epoch's recall (main process only).

    Returns a `TrainResult`: `artifact` (the published version directory, `output/versions/vNNNN`), `manifest`
    (its `memo.json`, format "memo-memory/1": `kind` "full" or "lora", `base` (spec, path, weights_hash),
    `reflections`, `training` (config, optimizer steps, epochs run, best epoch, examples, dropped too-long pairs,
    synthetic abstentions, tokens, `build_cost` with wall / CPU seconds, peak memory in bytes and an H100
    GPU-hours estimate), `metrics`, `prompt_format`, `citations`, `lineage`, `files` (sha256 of every file)) and
    `history` (one dict per epoch: epoch, optimizer_steps, train_loss, and recall, paraphrase_recall and
    abstention_rate as shares in [0, 1] where measured (teacher-forced exact answers on the eval sample),
    seconds since the start). None on the non-main processes under `accelerate launch`.

    Raises ConfigError for a bad memo.toml (read on every call, even when `config` and `base` are given),
    FileNotFoundError for missing training data or an `init_from` without config.json, ValueError for bad
    training data (file and line named), an `output` that is a file, a base without a chat template, a
    `freeze_layers` the base does not have, or data that leaves nothing to train on (every pair longer than
    `max_length`, or fewer pairs than one batch), and LLMError when `base` is not a local model (an endpoint spec, a directory without config.json,
    the embedded model not installed).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback as HFProgressCallback
    from trl import SFTConfig

    from ..llm import LLMError, resolve_local_model, weights_fingerprint
    from .artifact import write_artifact
    from .trainer import EpochDataset, MemoryTrainer, ProgressCallback, RecallCallback

    settings = load_config()
    cfg = config or settings.train_config()
    base = base or settings.spec_for("memory_base")
    if Path(output).exists() and not Path(output).is_dir():
        raise ValueError(f"{output} is a file, not a memory directory")
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    pairs = dataset.pairs if cfg.answer_context else answer_leads(dataset.pairs)
    try:
        base_dir = resolve_local_model(base)
    except LLMError as exc:
        raise LLMError(f"cannot fine-tune {base!r}: {exc}") from exc
    start_dir = Path(init_from) if init_from else base_dir
    if not (start_dir / "config.json").is_file():
        raise FileNotFoundError(f"no Hugging Face model directory at {start_dir} (config.json missing)")
    started, cpu_started = time.time(), time.process_time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    on_gpu = torch.cuda.is_available()
    precision = cfg.mixed_precision or ("bf16" if on_gpu else "no")

    tokenizer = AutoTokenizer.from_pretrained(start_dir)
    if tokenizer.chat_template is None:
        raise ValueError(f"{start_dir} has no chat template; a memory base must be a chat (instruct) model")
    tokenizer.chat_template = memory_chat_template(tokenizer.chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    replay_data = (replay if isinstance(replay, Dataset) else load_dataset(replay)) if replay else None
    replay_pool = replay_data.pairs if replay_data else []
    if not cfg.answer_context:
        replay_pool = answer_leads(replay_pool)
    run = plan(pairs, cfg, replay_pool)
    epoch_data = EpochDataset(tokenizer, lambda e, known: epoch_pairs(pairs, run, cfg, replay_pool, e, known),
                              cfg.max_length, len(run.train))
    if not epoch_data.slots:
        raise ValueError(f"every pair is longer than max_length={cfg.max_length} tokens; nothing to train on")

    model = AutoModelForCausalLM.from_pretrained(start_dir, dtype=torch.float32)
    layers = _freeze(model, cfg)
    parameters = sum(p.numel() for p in model.parameters())

    output = Path(output)
    run_key = _run_key(dataset.hash + (replay_data.hash if replay_data else ""), weights_fingerprint(start_dir), cfg)
    ckpt_root = output / "checkpoints" / run_key
    gradient_checkpointing = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else on_gpu
    args = SFTConfig(
        output_dir=str(ckpt_root), num_train_epochs=cfg.max_epochs, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.learning_rate(),
        lr_scheduler_type="constant_with_warmup" if cfg.schedule == "constant" else cfg.schedule,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, max_grad_norm=cfg.grad_clip or 0.0,
        # The fused kernel runs AdamW over ~100M weights 4x faster than the per-tensor loop on a CPU (bench --adamw).
        optim="adamw_torch_fused", seed=cfg.seed, data_seed=cfg.seed,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=not on_gpu,
        activation_checkpointing=gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        save_strategy="steps" if cfg.checkpoint_every else "no", save_steps=cfg.checkpoint_every or 500,
        save_total_limit=2, logging_steps=1, report_to=cfg.report_to, disable_tqdm=True, log_level="warning",
        dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False, max_length=None,
        ddp_find_unused_parameters=False, dataloader_num_workers=0,
    )
    hf_data = epoch_data.as_hf_dataset()
    trainer = MemoryTrainer(model=model, args=args, train_dataset=hf_data, processing_class=tokenizer,
                            data_collator=epoch_data.collate,
                            peft_config=_lora_config(cfg, layers) if cfg.method == "lora" else None,
                            epoch_data=epoch_data)
    for callback in (PrinterCallback, HFProgressCallback):
        trainer.remove_callback(callback)
    accelerator = trainer.accelerator
    world = accelerator.num_processes
    batches = len(trainer.get_train_dataloader())
    steps_per_epoch = math.ceil(batches / cfg.grad_accum)
    if batches == 0:
        raise ValueError(f"{len(epoch_data.slots)} pairs are too few for {world} processes x batch {cfg.batch_size} x "
                         f"accumulation {cfg.grad_accum}; lower the batch size")
    progress = or_silent(progress if accelerator.is_main_process else None)
    groups = {"recall": [(p.question, p.answer) for p in run.eval],
              "paraphrase_recall": [(q, p.answer) for p in run.eval for q in p.paraphrases],
              "abstention_rate": [(q, ABSTAIN) for q in run.abstain_eval]}
    recall = RecallCallback(data=epoch_data, tokenizer=tokenizer, groups=groups, cfg=cfg,
                            steps_per_epoch=steps_per_epoch, started=started, progress=progress,
                            accelerator=accelerator)
    trainer.add_callback(recall)
    trainer.add_callback(ProgressCallback(progress, steps_per_epoch * cfg.max_epochs, steps_per_epoch, trainer))

    checkpoint = _complete_checkpoint(ckpt_root) if resume else None
    if checkpoint is None and ckpt_root.exists() and accelerator.is_main_process:
        shutil.rmtree(ckpt_root)
    accelerator.wait_for_everyone()
    if checkpoint is not None:
        recall.resume_from = (checkpoint, accelerator.process_index)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except BaseException:  # an interrupt before the first checkpoint leaves no empty folders behind
        if accelerator.is_main_process:
            for folder in (ckpt_root, ckpt_root.parent):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        raise

    state = recall.state
    recall.restore_best(trainer.model)
    full_state = accelerator.get_state_dict(trainer.model_wrapped)
    lm = accelerator.unwrap_model(trainer.model_wrapped)
    peak = torch.cuda.max_memory_allocated() if on_gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cpu_seconds = accelerator.reduce(torch.tensor(time.process_time() - cpu_started, device=accelerator.device),
                                     reduction="sum").item()
    result = None
    if accelerator.is_main_process:
        wall = time.time() - started
        manifest_training = {
            "method": cfg.method, "config": cfg.as_dict(), "learning_rate": cfg.learning_rate(),
            "trainer": "trl.SFTTrainer", "optimizer_steps": trainer.state.global_step,
            "epochs_run": len(state["history"]), "best_epoch": state["best"]["epoch"],
            "resumed_at_steps": state["resumed_at"], "frozen_layers": cfg.freeze_layers,
            "examples": len(epoch_data.slots), "dropped": {"too_long": epoch_data.dropped_too_long},
            "synthetic_abstentions": run.synthetic_abstentions, "eval_pairs": len(run.eval),
            "replay": {"pairs": len(replay_pool), "share_per_epoch": cfg.replay_share} if replay_pool else None,
            "processes": world, "distributed": accelerator.distributed_type.value, "device": str(accelerator.device),
            "mixed_precision": accelerator.mixed_precision,
            "tokens": trainer.tokens_seen, "wall_seconds": round(wall, 1),
            "build_cost": {
                "optimizer_steps": trainer.state.global_step, "tokens": trainer.tokens_seen,
                "padded_tokens": trainer.padded_tokens, "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu_seconds, 1), "peak_memory_bytes": int(peak),
                "peak_memory": "GPU memory allocated" if on_gpu else "resident set of the main process",
                "h100": gpu_hours_estimate(parameters, trainer.padded_tokens),
            },
        }
        path, manifest = write_artifact(
            output, lm, tokenizer, state_dict=full_state, base_spec=base, base_dir=base_dir, dataset=dataset,
            training=manifest_training, metrics=state["history"], lineage=lineage or [],
            merge_lora=cfg.merge_lora, init_from=str(init_from) if init_from else None,
        )
        result = TrainResult(artifact=path, manifest=manifest, history=state["history"])
        shutil.rmtree(ckpt_root, ignore_errors=True)
        if ckpt_root.parent.is_dir() and not any(ckpt_root.parent.iterdir()):
            ckpt_root.parent.rmdir()
    accelerator.wait_for_everyone()
    return result
