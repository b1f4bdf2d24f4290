"""The one chat interface every role (generator, memory base, executive, judge) talks through.

A backend implements `_generate` (a Completion or CompletionError per conversation of a batch) and, when it can
constrain decoding or use an endpoint's JSON mode, `_generate_structured`; it declares what it can do in
`Capabilities`. Everything else (structured output with validation and repair, per-item errors, usage counting)
lives here once, so local models and HTTP endpoints behave the same way.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterator, Literal, Sequence, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema

Message = dict[str, str]
Conversation = list[Message]
T = TypeVar("T", bound=BaseModel)


class LLMError(RuntimeError):
    """A backend could not produce an answer (bad spec, missing key, unreachable endpoint...). The CLI prints
    any LLMError as one line; its subclasses say what kind of failure it was."""


class EndpointError(LLMError):
    """An endpoint failed as a whole: unreachable, timing out, still rate-limited or failing (5xx) after the
    `openai` client's retries, refusing the key, or not serving the model. Raised, since every request to it
    would fail the same way. `endpoint`, `model` and `status` (HTTP status or None) say where and how."""

    def __init__(self, message: str, *, endpoint: str = "", model: str = "", status: int | None = None):
        super().__init__(message)
        self.endpoint, self.model, self.status = endpoint, model, status


class CompletionError(LLMError):
    """One request got no usable completion, while the other requests of its batch may have.

    `reason`: "rejected" (the endpoint refused this request, e.g. a prompt over the context length),
    "filtered" (a content filter: no choices, `finish_reason` "content_filter", or a refusal), "empty" (no text,
    e.g. a reasoning model that spent `max_tokens` thinking), "truncated" (cut at `max_tokens` where a whole
    answer is needed), "invalid" (structured output that does not validate). `partial` is whatever text came.
    The batch methods return it per item (`complete_batch`, `structured_batch`); `chat` and `chat_batch` raise it.
    Never cached.
    """

    def __init__(self, message: str, *, reason: str, partial: str = ""):
        super().__init__(message)
        self.reason, self.partial = reason, partial


class StructuredOutputError(CompletionError):
    """No validated object for one conversation of a structured call: its answer did not match the schema even
    after the repair round (`reason` "invalid"), or the completion itself failed (any other `reason`).
    `raw` is the model's last answer."""

    def __init__(self, message: str, raw: str = "", *, reason: str = "invalid"):
        super().__init__(message, reason=reason, partial=raw)
        self.raw = raw

    @classmethod
    def of(cls, error: CompletionError) -> "StructuredOutputError":
        return error if isinstance(error, cls) else cls(str(error), error.partial, reason=error.reason)


@dataclass(frozen=True)
class Completion:
    """One model answer: its text and why generation stopped ("stop": the model ended it or a stop sequence
    did; "length": cut at `max_tokens`)."""

    text: str
    finish_reason: str = "stop"

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


StructuredMode = Literal["grammar", "json_schema", "prompt"]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared rather than discovered by catching errors (docs/BACKENDS.md).

    structured: how structured output is obtained: "grammar" (decoding constrained to the schema, local models),
    "json_schema" (the endpoint's `response_format`), "prompt" (the schema in the prompt, then validation and
    one repair round). streaming: `stream()` yields text as it is generated (otherwise in one piece).
    batch_size: conversations one backend call handles well (local batch, or HTTP concurrency).
    max_tokens_param: the request field that caps the completion ("max_tokens", or "max_completion_tokens" for
    OpenAI's reasoning models). omit_params: sampling fields the model refuses (o1/o3/gpt-5 take no
    `temperature`), never sent. A memo.toml `[models."SPEC"]` table overrides any of them per model.
    """

    structured: StructuredMode = "prompt"
    streaming: bool = False
    batch_size: int = 16
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    omit_params: frozenset[str] = frozenset()

    def with_(self, **changes: Any) -> "Capabilities":
        changes = {k: v for k, v in changes.items() if v is not None}
        if "omit_params" in changes:
            changes["omit_params"] = frozenset(changes["omit_params"])
        return replace(self, **changes)


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


#: The characters `str.strip()` removes (what pydantic's `strip_whitespace` strips), as a regex class body.
_STRIPPED = "".join(f"\\u{c:04x}" for c in range(0x3001) if chr(c).isspace())
_LONGEST_BOUNDED = 512  # longer bounded strings get the unbounded pattern (bounded repeats grow the grammar)


def trimmed_pattern(min_length: int | None, max_length: int | None) -> tuple[str, bool]:
    """A JSON-schema `pattern` for a string that is already stripped of leading and trailing whitespace, with
    the given lengths; and whether the pattern encodes the lengths too (then minLength/maxLength can go: xgrammar
    ignores them next to a pattern). `.` never matches a newline or a JSON escape in xgrammar, so such strings
    hold neither."""
    lo, ws, ch = min_length or 0, f"[{_STRIPPED}]", f"[^{_STRIPPED}]"
    if max_length is not None and max_length <= _LONGEST_BOUNDED:
        if max_length == 0:
            return "^$", True
        middle = f"{ch}(?:.{{{max(lo - 2, 0)},{max_length - 2}}}{ch})" if max_length >= 2 else ch
        if lo <= 1:
            middle = f"{ch}(?:.{{0,{max_length - 2}}}{ch})?" if max_length >= 2 else ch
        return (f"^(?:{middle})?$" if lo == 0 else f"^{middle}$"), True
    body = f"{ch}+(?:{ws}+{ch}+)*"
    return (f"^(?:{body})?$" if lo == 0 else f"^{body}$"), lo <= 1 and max_length is None


class GrammarSafeJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema, plus what its validator checks that the plain schema leaves out, so a grammar
    built from the schema (xgrammar, an endpoint's json_schema mode) only allows answers that validate: a
    `strip_whitespace` string gets a pattern without leading or trailing whitespace (else "   " passes the
    grammar and fails `min_length=1` after stripping)."""

    def str_schema(self, schema: Any) -> dict[str, Any]:
        out = super().str_schema(schema)
        lo, hi = schema.get("min_length") or 0, schema.get("max_length")
        if schema.get("strip_whitespace") and "pattern" not in out and (hi is None or lo <= hi):
            out["pattern"], exact = trimmed_pattern(schema.get("min_length"), schema.get("max_length"))
            if exact:
                out.pop("minLength", None)
                out.pop("maxLength", None)
        return out


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent to grammars, endpoints and prompts (and part of the cache key)."""
    return model.model_json_schema(schema_generator=GrammarSafeJsonSchema)


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


Result = Completion | CompletionError


def as_result(item: "str | Completion | CompletionError") -> Result:
    """A backend's answer for one conversation as a Completion (a plain string counts as a finished one) or the
    CompletionError it was; empty text is an error, never an answer."""
    if isinstance(item, str):
        item = Completion(item)
    if isinstance(item, Completion) and not item.text.strip():
        if item.truncated:
            return CompletionError("the model returned no text before reaching max_tokens (a reasoning model may "
                                   "have spent the whole budget thinking): raise max_tokens", reason="empty")
        return CompletionError("the model returned an empty answer", reason="empty")
    return item


class ChatModel(ABC):
    """Chat messages in, text (or a validated pydantic object) out; batched.

    A backend implements `_generate` (and `_generate_structured` when it can constrain decoding or use an
    endpoint's JSON mode), returning per conversation a `Completion` (a plain `str` counts as a finished one)
    or a `CompletionError`; a failure of the whole backend is raised (EndpointError). It declares what it can do
    in `capabilities`. `identity` names the model exactly (spec plus weight fingerprint or endpoint+model) and
    is what the response cache keys on.
    """

    spec: str
    capabilities: Capabilities = Capabilities()
    #: The structured-output modes this backend can run (a memo.toml declaration must pick one of them).
    structured_modes: tuple[str, ...] = ("prompt",)

    def __init__(self) -> None:
        self.usage = Usage()

    @property
    def batch_size(self) -> int:
        return self.capabilities.batch_size

    def declare(self, **capabilities: Any) -> None:
        """Override declared capabilities (memo.toml `[models."SPEC"]`); LLMError for a mode this backend lacks."""
        new = self.capabilities.with_(**capabilities)
        if new.structured not in self.structured_modes:
            raise LLMError(f"{self.spec}: structured = {new.structured!r} is not possible with this backend "
                           f"(it can do {', '.join(self.structured_modes)})")
        self.capabilities = new

    @property
    @abstractmethod
    def identity(self) -> str: ...

    @abstractmethod
    def _generate(self, conversations: Sequence[Conversation], params: GenParams) -> "list[str | Result]": ...

    def _generate_structured(
        self, conversations: Sequence[Conversation], schema: type[BaseModel], params: GenParams
    ) -> "list[str | Result]":
        """Raw JSON text per conversation. Default: ask for JSON in the prompt; validation follows."""
        return self._generate([_with_instruction(c, schema) for c in conversations], params)

    # -- public API -------------------------------------------------------------------------------------

    def complete_batch(self, conversations: Sequence[Conversation | str], params: GenParams | None = None
                       ) -> list[Result]:
        """One Completion (text and finish reason) or CompletionError per conversation: a failing request fails
        alone. Raises EndpointError when the backend fails as a whole."""
        convs = [_as_conversation(c) for c in conversations]
        return [as_result(r) for r in self._generate(convs, params or GenParams())] if convs else []

    def chat(self, messages: Conversation | str, params: GenParams | None = None) -> str:
        """The answer's text; raises CompletionError (empty, filtered, rejected) or EndpointError. A text cut at
        `max_tokens` is returned as it is (use `complete_batch` to see the finish reason)."""
        return self.chat_batch([_as_conversation(messages)], params)[0]

    def chat_batch(self, conversations: Sequence[Conversation | str], params: GenParams | None = None) -> list[str]:
        """Texts in input order. The whole batch runs (and its good answers are cached) before the first failed
        conversation's CompletionError is raised."""
        results = self.complete_batch(conversations, params)
        for r in results:
            if isinstance(r, CompletionError):
                raise r
        return [r.text for r in results]  # type: ignore[union-attr]

    def stream(self, messages: Conversation | str, params: GenParams | None = None) -> Iterator[str]:
        """The answer in pieces as it is generated where `capabilities.streaming`, else in one piece."""
        yield self.chat(messages, params)

    def structured(self, messages: Conversation | str, schema: type[T], params: GenParams | None = None) -> T:
        result = self.structured_batch([messages], schema, params)[0]
        if isinstance(result, StructuredOutputError):
            raise result
        return result

    def structured_batch(
        self, conversations: Sequence[Conversation | str], schema: type[T], params: GenParams | None = None
    ) -> list[T | StructuredOutputError]:
        """One validated object per conversation, or the StructuredOutputError that explains why not (its
        `reason` tells an invalid answer from a rejected, filtered, empty or truncated completion).

        An answer that does not validate gets one repair round, whatever the structured mode (a grammar cannot
        express every validator): the bad answer and the validation error go back to the model, which is asked
        for a corrected object. Completions cut at `max_tokens` get none: a repair would be cut the same way.
        """
        params = params or GenParams()
        convs = [_as_conversation(c) for c in conversations]
        if not convs:
            return []
        results = [self._checked(schema, r) for r in self._generate_structured(convs, schema, params)]
        bad = [i for i, r in enumerate(results) if isinstance(r, StructuredOutputError) and r.reason == "invalid"]
        if bad:
            repairs = [_repair_conversation(convs[i], schema, results[i].raw, str(results[i])) for i in bad]
            for i, r in zip(bad, self._generate_structured(repairs, schema, params)):
                results[i] = self._checked(schema, r)
        return results

    @staticmethod
    def _checked(schema: type[T], item: "str | Result") -> T | StructuredOutputError:
        result = as_result(item)
        if isinstance(result, CompletionError):
            return StructuredOutputError.of(result)
        if result.truncated:
            return StructuredOutputError(f"the answer was cut at max_tokens before the {schema.__name__} object "
                                         "was complete: raise max_tokens", result.text, reason="truncated")
        try:
            return validate(schema, result.text)
        except StructuredOutputError as exc:
            return exc

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
