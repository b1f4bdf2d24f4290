"""Local Hugging Face models: batched generation with left padding, JSON-schema constrained decoding.

The `local` backend takes the specs `embedded`, `hf:/path/to/model` and a bare path to a model directory.
Structured output uses xgrammar's logits processor, so even the 135M embedded model always returns JSON that
parses against the schema (string contents are the model's own; semantic checks stay with the caller).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from pydantic import BaseModel

from .base import Capabilities, ChatModel, Completion, Conversation, GenParams, LLMError, _with_instruction, schema_of
from .registry import Backend, parse_spec
from .specs import ModelSpec, weights_fingerprint

if TYPE_CHECKING:
    from ..config import Config

_LOAD_LOCK = threading.Lock()
_LOADED: dict[str, tuple[object, object]] = {}


def load_hf(model_dir: str | Path, device: str | None = None):
    """(model, tokenizer) for a local model directory, shared within the process. fp32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(Path(model_dir).resolve())
    with _LOAD_LOCK:
        if path not in _LOADED:
            if not (Path(path) / "config.json").exists():
                raise LLMError(f"no Hugging Face model directory at {path} (config.json missing)")
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            tok = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            _LOADED[path] = (model, tok)
        return _LOADED[path]


class LocalChatModel(ChatModel):
    structured_modes = ("grammar", "prompt")

    def __init__(self, model_dir: str | Path, spec: str | None = None, batch_size: int = 16, device: str | None = None):
        super().__init__()
        self.model_dir = Path(model_dir)
        self.spec = spec or f"hf:{self.model_dir}"
        self.capabilities = Capabilities(structured="grammar", streaming=False, batch_size=batch_size)
        self.model, self.tokenizer = load_hf(self.model_dir, device)
        self._identity = f"hf:{self.model_dir.name}@{weights_fingerprint(self.model_dir)}"
        self._lock = threading.Lock()
        self._grammar_compiler = None
        self._grammars: dict[str, object] = {}

    @property
    def identity(self) -> str:
        return self._identity

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, conversations: Sequence[Conversation]):
        texts = [
            self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations
        ]
        self.tokenizer.padding_side = "left"
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _run(self, conversations: Sequence[Conversation], params: GenParams, processor_for=None) -> list[Completion]:
        import torch

        # Similar lengths together: less padding, faster batches. Results go back in input order.
        order = sorted(range(len(conversations)), key=lambda i: len(json.dumps(conversations[i])))
        out: list[Completion] = [Completion("")] * len(conversations)
        eos = self.model.generation_config.eos_token_id
        eos_ids = {self.tokenizer.eos_token_id, *(eos if isinstance(eos, list) else [eos])} - {None}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self._encode([conversations[i] for i in idx]).to(self.model.device)
            kwargs = dict(
                max_new_tokens=params.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                do_sample=params.temperature > 0,
            )
            if params.temperature > 0:
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
                torch.manual_seed(params.seed)
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            if processor_for is not None:
                kwargs["logits_processor"] = [processor_for(len(idx))]
            with self._lock, torch.inference_mode():
                gen = self.model.generate(**enc, **kwargs)
            new = gen[:, enc["input_ids"].shape[1] :]
            prompt_tokens = int(enc["attention_mask"].sum())
            completion_tokens = 0
            for row, i in zip(new, idx):
                text = self.tokenizer.decode(row, skip_special_tokens=True)
                stopped = any(int(t) in eos_ids for t in row)
                for s in params.stop:
                    stopped = stopped or s in text
                    text = text.split(s, 1)[0]
                out[i] = Completion(text.strip(), "stop" if stopped or len(row) < params.max_tokens else "length")
                completion_tokens += int((row != self.tokenizer.pad_token_id).sum())
            self.usage.add(calls=len(idx), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return out

    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[Completion]:
        return self._run(conversations, params)

    def _grammar(self, schema: type[BaseModel]):
        import xgrammar as xgr

        key = json.dumps(schema_of(schema), sort_keys=True)
        if key not in self._grammars:
            if self._grammar_compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.model.config.vocab_size)
                self._grammar_compiler = xgr.GrammarCompiler(info)
            # Compile the schema in its declared field order: the model writes fields in that order, so a schema
            # can make it reason (earlier fields) before it decides (later ones).
            self._grammars[key] = self._grammar_compiler.compile_json_schema(
                json.dumps(schema_of(schema)), any_whitespace=False
            )
        return self._grammars[key]

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[Completion]:
        if self.capabilities.structured != "grammar":
            return super()._generate_structured(conversations, schema, params)
        import xgrammar as xgr

        grammar = self._grammar(schema)
        # The field names also go into the prompt: the grammar guarantees the shape, the prompt tells the model
        # what to put where.
        prompted = [_with_instruction(c, schema, brief=True) for c in conversations]
        return self._run(prompted, params, lambda n: xgr.contrib.hf.LogitsProcessor([grammar] * n))


def parse_local(spec: str) -> ModelSpec | None:
    """`embedded`, `hf:/path`, or an existing directory; None for anything else."""
    if spec == "embedded":
        return ModelSpec("local", spec)  # path resolved lazily: materialising the model takes seconds
    if spec.startswith("hf:"):
        return ModelSpec("local", spec, path=Path(spec[3:]).expanduser())
    if spec and "://" not in spec and Path(spec).expanduser().is_dir():
        return ModelSpec("local", spec, path=Path(spec).expanduser())
    return None


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


def _load(spec: ModelSpec, config: "Config") -> ChatModel:
    if spec.role == "executive" and spec.spec == "embedded":
        from .embedded import embedded_executive_dir

        return LocalChatModel(embedded_executive_dir(), spec=spec.spec)
    return LocalChatModel(resolve_local_model(spec.spec), spec=spec.spec)


BACKEND = Backend("local", ("embedded", "hf:/path/to/model", "/path/to/model"), parse_local, _load)
