"""The embedded executive's LoRA adapter: how it is built, and where it ships.

The embedded SmolLM2-135M cannot decompose a question from a prompt alone. `build_adapter` trains a LoRA adapter
for it on synthetic examples of the `chain` protocol's steps (`memo.executive.synthetic`), through the project's
own training entry point (`memo.memory.train`, `TrainConfig(method="lora")`: the examples are ordinary
question/answer pairs whose question is the executive's prompt and whose answer is the JSON it should write),
then saves the adapter in fp16 as package data:

    memo/data/executive_adapter/
      adapter_model.safetensors   LoRA weights, fp16
      adapter_config.json         peft's config (base: the embedded model)
      chat_template.jinja         the prompt format it was trained with (the memory's: no default system turn)
      manifest.json               format "memo-executive-adapter/1": data, seed, training config, metrics, sizes

`memo.llm.embedded.embedded_executive_dir()` merges it into the embedded model once (under MEMO_HOME) whenever
the embedded model plays the executive. Rebuild with `scripts/build_executive_adapter.py` (same seed, same data,
same training config: the same adapter up to floating-point non-determinism of the CPU kernels).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from ..formats import CHAT_TEMPLATE_FILE, EXECUTIVE_ADAPTER_FORMAT
from ..llm.embedded import executive_adapter_dir
from ..paths import atomic_dir, atomic_write_json, atomic_write_jsonl
from ..progress import Progress, or_silent
from ..settings import TrainConfig
from .synthetic import generate

#: The recipe of the shipped adapter (docs/EXECUTIVE.md, "The embedded executive").
EXAMPLES = 3000
SEED = 0
TRAIN = TrainConfig(
    method="lora", lora_r=8, lora_alpha=16, lora_dropout=0.0, freeze_layers=10, max_epochs=1, batch_size=8,
    abstention_ratio=0.0, eval_size=64, target_recall=1.0, patience=1, checkpoint_every=100, seed=SEED,
)


def build_adapter(output: str | Path | None = None, examples: int = EXAMPLES, seed: int = SEED,
                  config: TrainConfig = TRAIN, work: str | Path | None = None,
                  progress: Progress | None = None) -> dict:
    """Generate `examples` synthetic steps with `seed`, train the LoRA adapter, and write it to `output`.

    output: the adapter directory (default: the package data directory). work: where the training data and
    the trained artifact go (default: a temporary directory); a kept `work` lets an interrupted run resume from
    its last checkpoint. Returns the manifest written next to the weights.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from ..memory import train

    progress = or_silent(progress)
    output = Path(output) if output else executive_adapter_dir()
    with tempfile.TemporaryDirectory(prefix="memo-executive-adapter-") as tmp:
        work_dir = Path(work) if work else Path(tmp)
        rows = generate(examples, seed)
        data = work_dir / "pairs.jsonl"
        atomic_write_jsonl(data, [{"question": r["question"], "answer": r["answer"]} for r in rows])
        progress.log(f"{len(rows)} synthetic examples ({', '.join(f'{n} {t}' for t, n in Counter(r['task'] for r in rows).items())})")
        result = train(data, work_dir / "artifact", base="embedded", config=config, progress=progress)
        artifact = result.artifact
        weights = {k: v.to(torch.float16).contiguous() for k, v in load_file(artifact / "adapter_model.safetensors").items()}
        adapter_config = json.loads((artifact / "adapter_config.json").read_text())
        adapter_config["base_model_name_or_path"] = "embedded"
        with atomic_dir(output, "manifest.json", EXECUTIVE_ADAPTER_FORMAT) as out:
            save_file(weights, out / "adapter_model.safetensors", metadata={"format": "pt"})
            atomic_write_json(out / "adapter_config.json", adapter_config)
            shutil.copyfile(artifact / CHAT_TEMPLATE_FILE, out / CHAT_TEMPLATE_FILE)
            training = result.manifest["training"]
            manifest = {
                "format": EXECUTIVE_ADAPTER_FORMAT,
                "base": {"spec": "embedded", "weights_hash": result.manifest["base"]["weights_hash"]},
                "data": {"generator": "memo.executive.synthetic", "examples": len(rows), "seed": seed,
                         "tasks": dict(Counter(r["task"] for r in rows)),
                         "sha256": hashlib.sha256(data.read_bytes()).hexdigest(), "tokens_seen": training["tokens"]},
                "training": {k: training[k] for k in ("config", "learning_rate", "optimizer_steps", "epochs_run",
                                                      "best_epoch", "wall_seconds", "device")},
                "metrics": result.manifest["metrics"],
                "parameters": sum(v.numel() for v in weights.values()),
                "files": {},
            }
            for f in sorted(out.iterdir()):
                manifest["files"][f.name] = {"bytes": f.stat().st_size,
                                             "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
            atomic_write_json(out / "manifest.json", manifest)
    return manifest
