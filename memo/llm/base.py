"""The one chat interface every role (generator, memory base, executive, judge) talks through.

A backend implements `_generate` (text for a batch of conversations) and, when it can constrain decoding,
`_generate_structured`. Everything else (structured output with validation and repair, usage counting)
lives here once, so local models and HTTP endpoints behave the same way.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

Message = dict[str, str]
Conversation = list[Message]
T = TypeVar("T", bound=BaseModel)


class LLMError(RuntimeError):
    """A backend could not produce an answer (unreachable endpoint, bad spec, missing key...)."""


class StructuredOutputError(LLMError):
    """The model's answer did not validate against the schema even after the repair round."""

    def __init__(self, message: str, raw: str = ""):
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters. `seed` is part of the cache key, so a sampled call re-runs identically."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> "GenParams":
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, calls: int = 0, prompt_tokens: int = 0, completion_tokens: int = 0, cache_hits: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.cache_hits += cache_hits

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("calls", "prompt_tokens", "completion_tokens", "cache_hits")}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def parse_json_object(text: str) -> Any:
    """Parse the first JSON value in `text`, tolerating code fences and prose around it."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s[3:]
        s = s.rsplit("```", 1)[0]
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(s):
        if ch in "{[":
            try:
                return decoder.raw_decode(s[i:])[0]
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON value found")


def validate(schema: type[T], raw: str) -> T:
    try:
        return schema.model_validate(parse_json_object(raw))
    except (ValueError, ValidationError) as exc:
        raise StructuredOutputError(f"answer does not match {schema.__name__}: {exc}", raw) from exc


def schema_instruction(schema: type[BaseModel]) -> str:
    return (
        "Reply with one JSON object only, no prose, matching this JSON schema:\n"
        + json.dumps(schema_of(schema), separators=(",", ":"))
    )


class ChatModel(ABC):
    """Chat messages in, text (or a validated pydantic object) out; batched.

    `identity` names the model exactly (spec plus weight fingerprint or endpoint+model) and is what the
    response cache keys on.
    """

    spec: str
    #: True when `_generate_structured` constrains decoding to the schema (no repair round needed).
    constrained: bool = False
    #: How many conversations one backend call handles well (local batch, or HTTP concurrency).
    batch_size: int = 16

    def __init__(self) -> None:
        self.usage = Usage()

    @property
    @abstractmethod
    def identity(self) -> str: ...

    @abstractmethod
    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> list[str]: ...

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> list[str]:
        """Raw JSON text per conversation. Default: ask for JSON in the prompt; validation follows."""
        return self._generate([_with_instruction(c, schema) for c in conversations], params)

    # -- public API -------------------------------------------------------------------------------------

    def chat(self, messages: Conversation | str, params: GenParams | None = None) -> str:
        return self.chat_batch([_as_conversation(messages)], params)[0]

    def chat_batch(self, conversations: Sequence[Conversation | str], params: GenParams | None = None) -> list[str]:
        convs = [_as_conversation(c) for c in conversations]
        return self._generate(convs, params or GenParams()) if convs else []

    def structured(self, messages: Conversation | str, schema: type[T], params: GenParams | None = None) -> T:
        result = self.structured_batch([messages], schema, params)[0]
        if isinstance(result, StructuredOutputError):
            raise result
        return result

    def structured_batch(
        self, conversations: Sequence[Conversation | str], schema: type[T], params: GenParams | None = None
    ) -> list[T | StructuredOutputError]:
        """One validated object per conversation, or the StructuredOutputError that explains why not.

        Unconstrained backends get one repair round: the bad answer and the validation error go back to the
        model, which is asked for a corrected object.
        """
        params = params or GenParams()
        convs = [_as_conversation(c) for c in conversations]
        if not convs:
            return []
        raws = self._generate_structured(convs, schema, params)
        results: list[T | StructuredOutputError] = []
        for raw in raws:
            try:
                results.append(validate(schema, raw))
            except StructuredOutputError as exc:
                results.append(exc)
        bad = [i for i, r in enumerate(results) if isinstance(r, StructuredOutputError)]
        # Constrained decoding only fails by running out of tokens; asking again would fail the same way.
        if bad and not self.constrained:
            repairs = [_repair_conversation(convs[i], schema, raws[i], str(results[i])) for i in bad]
            for i, raw in zip(bad, self._generate_structured(repairs, schema, params)):
                try:
                    results[i] = validate(schema, raw)
                except StructuredOutputError as exc:
                    results[i] = exc
        return results

    def close(self) -> None:
        """Release resources (HTTP clients); a no-op for most backends."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def _as_conversation(c: Conversation | str) -> Conversation:
    if isinstance(c, str):
        return [{"role": "user", "content": c}]
    if not c or not all(isinstance(m, dict) and "role" in m and "content" in m for m in c):
        raise ValueError("a conversation is a non-empty list of {'role': ..., 'content': ...} messages")
    return list(c)


def _with_instruction(conv: Conversation, schema: type[BaseModel], brief: bool = False) -> Conversation:
    """Append the JSON instruction to the last message; `brief` names the fields only (for constrained
    decoding, where the grammar enforces the shape and a full schema would only distract a small model)."""
    last = conv[-1]
    if brief:
        note = "Reply with one JSON object with the fields: " + ", ".join(schema.model_fields) + "."
    else:
        note = schema_instruction(schema)
    return conv[:-1] + [{"role": last["role"], "content": last["content"] + "\n\n" + note}]


def _repair_conversation(conv: Conversation, schema: type[BaseModel], raw: str, error: str) -> Conversation:
    return conv + [
        {"role": "assistant", "content": raw},
        {
            "role": "user",
            "content": f"That reply was not valid: {error[:500]}\nReturn only the corrected JSON object.",
        },
    ]
