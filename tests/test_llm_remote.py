"""OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (a small OpenAI-protocol app)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import free_port, serve_on_loopback
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from memo.llm import LLMError, load_model
from memo.llm.remote import OpenAIChatModel


class Person(BaseModel):
    name: str
    age: int


class FakeOpenAI:
    """Answers chat completions; `failures` is a queue of status codes to return first; `delay` stalls."""

    def __init__(self):
        self.failures: list[int] = []
        self.delay = 0.0
        self.schema_support = True
        self.reply = "pong"
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def app(self):
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            body = await request.json()
            with self.lock:
                self.requests.append(body)
                status = self.failures.pop(0) if self.failures else 200
            if self.delay:
                import asyncio

                await asyncio.sleep(self.delay)
            if status != 200:
                return JSONResponse({"error": {"message": f"injected {status}"}}, status_code=status)
            if "response_format" in body and not self.schema_support:
                return JSONResponse({"error": {"message": "response_format not supported"}}, status_code=400)
            content = self.reply
            if "response_format" in body or "JSON schema" in body["messages"][-1]["content"]:
                content = json.dumps({"name": "Ada", "age": 36})
            return {
                "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
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
    server.requests.clear()


def test_chat_and_batch_through_spec(server):
    model = load_model(f"{server.url}#tiny")
    assert model.chat("ping") == "pong"
    assert model.chat_batch(["a", "b", "c"]) == ["pong"] * 3
    assert model.usage.calls == 4 and model.usage.prompt_tokens == 20
    sent = server.requests[0]
    assert sent["model"] == "tiny" and sent["seed"] == 0 and sent["temperature"] == 0.0


def test_retries_after_500_and_429(server):
    server.failures[:] = [500, 429, 503]
    model = OpenAIChatModel(server.url, "tiny", "k", max_retries=5, backoff=0.01)
    assert model.chat("ping") == "pong"
    assert len(server.requests) == 4


def test_gives_up_with_the_endpoint_named(server):
    server.failures[:] = [500] * 10
    model = OpenAIChatModel(server.url, "tiny", "k", max_retries=2, backoff=0.01)
    with pytest.raises(LLMError, match=r"127\.0\.0\.1.*after 3 attempts"):
        model.chat("ping")


def test_timeout_is_retried_then_reported(server):
    server.delay = 1.0
    model = OpenAIChatModel(server.url, "tiny", "k", timeout=0.2, max_retries=1, backoff=0.01)
    t0 = time.time()
    with pytest.raises(LLMError, match="Timeout"):
        model.chat("ping")
    assert time.time() - t0 < 5


def test_unreachable_endpoint_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIChatModel(url, "tiny", "k", max_retries=1, backoff=0.01)
    with pytest.raises(LLMError, match=f"endpoint {url}.*Connection"):
        model.chat("ping")


def test_structured_with_response_format(server):
    model = OpenAIChatModel(server.url, "tiny", "k")
    assert model.structured("who?", Person) == Person(name="Ada", age=36)
    assert "response_format" in server.requests[0] and model.supports_json_schema is True


def test_structured_falls_back_to_prompting_and_repair(server):
    server.schema_support = False
    model = OpenAIChatModel(server.url, "tiny", "k")
    assert model.structured_batch(["who?", "who else?"], Person) == [Person(name="Ada", age=36)] * 2
    assert model.supports_json_schema is False
    # An answer that never validates is reported, not raised, in a batch; one repair round was tried.
    server.reply = "not json"
    server.requests.clear()

    class Other(BaseModel):
        city: str

    [result] = model.structured_batch(["where?"], Other)
    assert "does not match Other" in str(result)
    assert len(server.requests) == 2 and server.requests[1]["messages"][-1]["content"].startswith("That reply")


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
