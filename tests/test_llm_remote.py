"""OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (a small OpenAI-protocol app).

The fake server behaves like the endpoints users meet: rate limits with Retry-After, reasoning models that
return `content: null` with `finish_reason: "length"`, content filters that answer `choices: []`, a 400 for an
over-long prompt, a 400 for `response_format`, and models that refuse `max_tokens` or `temperature`.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import free_port, serve_on_loopback
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from typer.testing import CliRunner

from memo.cli import app as cli_app
from memo.llm import (CompletionError, EndpointError, GenParams, LLMError, StructuredOutputError, load_model)
from memo.llm.remote import OpenAIChatModel

FAST_RETRY = {"retry-after-ms": "10"}  # the openai client waits what the server asks (0.5 s and more otherwise)


class Person(BaseModel):
    name: str
    age: int


def _error(status: int, message: str, param: str | None = None, code: str | None = None, headers=None):
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                   "code": code}}, status_code=status, headers=headers or {})


class FakeOpenAI:
    """Answers chat completions. `failures`: (status, headers) pairs to return first; `delay` stalls; the model
    name picks a behaviour (see `completions`); a prompt containing "TOO LONG" exceeds the context."""

    def __init__(self):
        self.failures: list[tuple[int, dict]] = []
        self.delay = 0.0
        self.schema_support = True
        self.reply = "pong"
        self.finish_reason = "stop"
        self.requests: list[dict] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    def app(self):
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            body = await request.json()
            with self.lock:
                self.requests.append(body)
                self.times.append(time.monotonic())
                status, headers = self.failures.pop(0) if self.failures else (200, {})
            if self.delay:
                import asyncio

                await asyncio.sleep(self.delay)
            if status != 200:
                return _error(status, f"injected {status}", headers=headers)
            model, last = body["model"], body["messages"][-1]["content"]
            if model.startswith("reasoner"):  # an o1/o3/gpt-5-like model: no max_tokens, no temperature
                if "max_tokens" in body:
                    return _error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                                       "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
                if body.get("temperature", 1) != 1:
                    return _error(400, "Unsupported value: 'temperature' does not support 0.0 with this model. "
                                       "Only the default (1) value is supported.", "temperature", "unsupported_value")
            if "TOO LONG" in last:
                return _error(400, "This model's maximum context length is 8192 tokens. However, your messages "
                                   "resulted in 9120 tokens.", "messages", "context_length_exceeded")
            if "response_format" in body and not self.schema_support:
                return _error(400, "response_format is not supported by this server", "response_format")
            content, finish = self.reply, self.finish_reason
            if "response_format" in body or "JSON schema" in last:
                content = json.dumps({"name": "Ada", "age": 36})
            if model == "thinker":  # spent the whole budget reasoning
                content, finish = None, "length"
            choices = [] if model == "filtered" else [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]
            if body.get("stream"):
                words = (content or "").split(" ")
                events = [{"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": {"content": (" " if i else "") + w},
                                        "finish_reason": None}]} for i, w in enumerate(words)]
                stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                return StreamingResponse(iter([stream]), media_type="text/event-stream")
            return {
                "id": "x", "object": "chat.completion", "created": 0, "model": model, "choices": choices,
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            }

        return app


@pytest.fixture(scope="module")
def server():
    fake = FakeOpenAI()
    with serve_on_loopback(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture(autouse=True)
def reset(server):
    server.failures.clear()
    server.delay = 0.0
    server.schema_support = True
    server.reply = "pong"
    server.finish_reason = "stop"
    server.requests.clear()
    server.times.clear()


def test_chat_and_batch_through_spec(server):
    model = load_model(f"{server.url}#tiny")
    assert model.chat("ping") == "pong"
    assert model.chat_batch(["a", "b", "c"]) == ["pong"] * 3
    assert model.usage.calls == 4 and model.usage.prompt_tokens == 20
    sent = server.requests[0]
    assert sent["model"] == "tiny" and sent["seed"] == 0 and sent["temperature"] == 0.0 and sent["max_tokens"] == 256


# -- retries: the openai client's own, with its final error wrapped (item 9) -----------------------------------


def test_the_clients_retries_cover_500_429_503(server):
    server.failures[:] = [(500, FAST_RETRY), (429, FAST_RETRY), (503, FAST_RETRY)]
    model = OpenAIChatModel(server.url, "tiny", "k", max_retries=5)
    assert model.chat("ping") == "pong"
    assert len(server.requests) == 4


def test_retry_after_is_honoured(server):
    server.failures[:] = [(429, {"retry-after": "1"})]
    model = OpenAIChatModel(server.url, "tiny", "k", max_retries=2)
    assert model.chat("ping") == "pong"
    assert len(server.times) == 2 and server.times[1] - server.times[0] >= 0.95


def test_gives_up_with_the_endpoint_named(server):
    server.failures[:] = [(500, FAST_RETRY)] * 10
    model = OpenAIChatModel(server.url, "tiny", "k", max_retries=2)
    with pytest.raises(EndpointError, match=r"127\.0\.0\.1.*HTTP 500 after 3 attempts") as info:
        model.chat("ping")
    assert info.value.status == 500 and len(server.requests) == 3


def test_timeout_is_retried_then_reported(server):
    server.delay = 1.0
    model = OpenAIChatModel(server.url, "tiny", "k", timeout=0.2, max_retries=1)
    t0 = time.time()
    with pytest.raises(EndpointError, match="timed out after 2 attempts"):
        model.chat("ping")
    assert time.time() - t0 < 5


def test_unreachable_endpoint_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIChatModel(url, "tiny", "k", max_retries=1)
    with pytest.raises(EndpointError, match=f"endpoint {url}.*unreachable.*Connection"):
        model.chat("ping")


# -- empty, truncated and filtered completions (items 5, 6) -----------------------------------------------------


def test_an_empty_answer_at_max_tokens_is_an_error_and_never_cached(server):
    model = load_model(f"{server.url}#thinker")
    with pytest.raises(CompletionError, match="no text within max_tokens=256.*raise max_tokens") as info:
        model.chat("What is 17 * 23?")
    assert info.value.reason == "empty"
    again = load_model(f"{server.url}#thinker")
    with pytest.raises(CompletionError):
        again.chat("What is 17 * 23?")
    assert len(server.requests) == 2 and again.usage.cache_hits == 0  # asked again, not replayed


def test_a_truncated_answer_is_returned_but_never_cached(server):
    server.reply, server.finish_reason = "The answer is", "length"
    model = load_model(f"{server.url}#tiny")
    [result] = model.complete_batch(["Tell me a long story."])
    assert result.text == "The answer is" and result.truncated
    assert model.chat("Tell me a long story.") == "The answer is"
    assert len(server.requests) == 2  # the second call was not served from the cache
    [structured] = load_model(f"{server.url}#tiny").structured_batch(["who?"], Person)
    assert isinstance(structured, StructuredOutputError) and structured.reason == "truncated"
    assert len(server.requests) == 3  # no repair round: it would be cut the same way
    result = CliRunner().invoke(cli_app, ["chat", "--model", f"{server.url}#tiny", "--max-tokens", "3", "Go on"])
    assert result.exit_code == 0 and "The answer is" in result.output and "cut at --max-tokens 3" in result.output


def test_no_choices_is_a_clear_error(server):
    model = load_model(f"{server.url}#filtered")
    with pytest.raises(CompletionError, match="no choices") as info:
        model.chat("ping")
    assert info.value.reason == "filtered"
    [result] = model.structured_batch(["who?"], Person)
    assert isinstance(result, StructuredOutputError) and result.reason == "filtered"


# -- one failing item fails alone; only a response_format error switches the mode (item 7) --------------------


def test_an_over_long_prompt_fails_alone_and_keeps_json_schema_mode(server):
    model = load_model(f"{server.url}#tiny")
    results = model.structured_batch(["who?", "TOO LONG " * 3, "who else?"], Person)
    assert results[0] == results[2] == Person(name="Ada", age=36)
    assert isinstance(results[1], StructuredOutputError) and results[1].reason == "rejected"
    assert "maximum context length" in str(results[1])
    assert model.capabilities.structured == "json_schema"
    assert all("response_format" in r for r in server.requests) and len(server.requests) == 3
    later = model.structured_batch(["TOO LONG"], Person)[0]  # a later one is an error item too, never raised
    assert isinstance(later, StructuredOutputError) and later.reason == "rejected"
    with pytest.raises(CompletionError, match="refused this request"):
        model.chat_batch(["fine", "TOO LONG"])


def test_a_response_format_refusal_switches_to_prompting_with_repair(server):
    server.schema_support = False
    model = OpenAIChatModel(server.url, "tiny", "k")
    assert model.structured_batch(["who?", "who else?"], Person) == [Person(name="Ada", age=36)] * 2
    assert model.capabilities.structured == "prompt"
    # An answer that never validates is reported, not raised, in a batch; one repair round was tried.
    server.reply = "not json"
    server.requests.clear()

    class Other(BaseModel):
        city: str

    [result] = model.structured_batch(["where?"], Other)
    assert "does not match Other" in str(result) and result.reason == "invalid"
    assert len(server.requests) == 2 and server.requests[1]["messages"][-1]["content"].startswith("That reply")


def test_reflect_counts_a_failed_generator_call_apart_from_invalid_answers(server):
    from memo.reflect.context import RunContext
    from memo.settings import ReflectConfig

    model = load_model(f"{server.url}#tiny")
    ctx = RunContext(None, ReflectConfig(), "full", lambda: model)
    out = ctx.ask("direct", ["who?", "TOO LONG", "who?"], Person, GenParams())
    assert out[0] == out[2] == Person(name="Ada", age=36) and out[1] is None
    assert ctx.stats["direct"].dropped == {"generator call rejected": 1}


# -- models that refuse max_tokens (item 8) -----------------------------------------------------------------------


def test_a_model_that_refuses_max_tokens_and_temperature_is_detected_from_the_error(server):
    model = load_model(f"{server.url}#reasoner-2")
    assert model.chat("ping", GenParams(max_tokens=50)) == "pong"
    assert model.capabilities.max_tokens_param == "max_completion_tokens"
    assert model.capabilities.omit_params == {"temperature"}
    final = server.requests[-1]
    assert final["max_completion_tokens"] == 50 and "max_tokens" not in final and "temperature" not in final
    server.requests.clear()
    model.chat("again")
    assert len(server.requests) == 1  # learnt once, not rediscovered on every call


def test_reasoning_models_are_declared_by_name_and_per_model_in_memo_toml(server, tmp_path):
    assert OpenAIChatModel(server.url, "o3-mini", "k").capabilities.max_tokens_param == "max_completion_tokens"
    assert OpenAIChatModel(server.url, "gpt-4o-mini", "k").capabilities.max_tokens_param == "max_tokens"
    spec = f"{server.url}#reasoner-custom"
    (tmp_path / "memo.toml").write_text(f'[models."{spec}"]\nmax_tokens_param = "max_completion_tokens"\n'
                                        'omit_params = ["temperature"]\nstructured = "prompt"\n')
    model = load_model(spec)
    assert model.structured("who?", Person) == Person(name="Ada", age=36)
    [sent] = server.requests  # declared: right on the first request, no error round trip
    assert "max_completion_tokens" in sent and "response_format" not in sent and "temperature" not in sent
    (tmp_path / "memo.toml").write_text(f'[models."{spec}"]\nstructured = "grammar"\n')
    with pytest.raises(LLMError, match="grammar.*not possible"):
        load_model(spec)


# -- errors reach the CLI user as one line ------------------------------------------------------------------------


@pytest.mark.parametrize("model, expected", [("thinker", "no text within max_tokens"), ("filtered", "no choices"),
                                             ("tiny", "maximum context length")])
def test_cli_shows_endpoint_errors_as_one_line(server, model, expected):
    prompt = "TOO LONG" if model == "tiny" else "hi"
    result = CliRunner().invoke(cli_app, ["chat", "--model", f"{server.url}#{model}", prompt])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(" ".join(lines)) and lines[0].startswith("error:") and expected in " ".join(lines)
    assert "Traceback" not in result.output


def test_cli_reports_a_dead_endpoint_in_one_line(tmp_path):
    (tmp_path / "memo.toml").write_text("[http]\nmax_retries = 0\n")
    result = CliRunner().invoke(cli_app, ["chat", "--model", f"http://127.0.0.1:{free_port()}/v1#x", "hi"])
    assert result.exit_code == 1 and "unreachable" in result.output and "Traceback" not in result.output


# -- declared capabilities, streaming, the cached wrapper (issue 14 item 15, issue 16 item 6) -------------------


def test_the_cached_wrapper_shows_the_inner_models_capabilities(server, tmp_path):
    (tmp_path / "memo.toml").write_text("[http]\nconcurrency = 3\n")
    model = load_model(f"{server.url}#tiny")
    assert type(model).__name__ == "CachedChatModel"
    assert model.batch_size == 3 and model.capabilities.batch_size == 3
    assert model.capabilities.structured == "json_schema" and model.capabilities.streaming
    server.schema_support = False
    model.structured("who?", Person)
    assert model.capabilities.structured == "prompt"  # what the inner model learnt shows through the wrapper


def test_streaming(server):
    server.reply = "Paris is the capital of France."
    model = load_model(f"{server.url}#tiny")
    pieces = list(model.stream("Capital of France?"))
    assert len(pieces) > 1 and "".join(pieces) == "Paris is the capital of France."
    assert server.requests[0]["stream"] is True


def test_missing_api_key_for_remote_endpoint(monkeypatch):
    for var in ("MEMO_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        load_model("openai:gpt-4o-mini")
    with pytest.raises(LLMError, match="MEMO_API_KEY"):
        load_model("https://models.example.com/v1#big")
    with pytest.raises(LLMError, match="names no model"):
        load_model("http://127.0.0.1:9/v1")


def test_cached_endpoint_rerun_makes_no_requests(server):
    first = load_model(f"{server.url}#tiny")
    first.chat_batch(["x", "y"])
    again = load_model(f"{server.url}#tiny")
    server.requests.clear()
    assert again.chat_batch(["x", "y"]) == ["pong", "pong"]
    assert server.requests == [] and again.usage.calls == 0 and again.usage.cache_hits == 2
