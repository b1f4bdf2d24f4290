"""`memo serve`: a real uvicorn server on 127.0.0.1 serving a tiny memory trained here, asked with the official
`openai` client and with raw HTTP for the limits; hot reload of a version published while it runs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from fastapi import FastAPI, Request
from conftest import make_tiny_llama, serve_on_loopback
from serve_helpers import QUESTION, V1_CODES, V2_CODES, ScriptedExecutive, train_version
from typer.testing import CliRunner

from memo.cli import app as cli
from memo.executive import RemoteMemory
from memo.memory import MemoryModel
from memo.serve import MemoryService, ServeSettings, check_bind, check_port, create_app

KEY = "test-key-123"
ALPHA = "What is the code of vault Alpha?"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, embedded_dir):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-base"), embedded_dir, hidden_size=64)


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_base):
    """A memory store whose v0001 knows the vault codes V1_CODES (trained once for this module)."""
    root = tmp_path_factory.mktemp("served") / "vaults"
    assert train_version(root, tiny_base, V1_CODES) == "v0001"
    return root


@pytest.fixture(scope="module")
def server(store):
    service = MemoryService(store, ServeSettings(watch_interval=0.2), executive=ScriptedExecutive(), protocol="structured")
    with serve_on_loopback(create_app(service, api_key=KEY)) as url:
        yield url, service


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)


def test_openai_client_lists_models_and_gets_memory_answers_streamed_and_not(server):
    url, _ = server
    c = client(url)
    models = {m.id: m for m in c.models.list().data}
    assert set(models) == {"vaults", "memo"}
    assert models["vaults"].model_extra["memo"] == {"kind": "memory", "version": "v0001"}

    reply = c.chat.completions.create(model="vaults", messages=[{"role": "user", "content": ALPHA}])
    assert reply.choices[0].message.content == "red" and reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra["memo"]
    assert extra["version"] == "v0001" and extra["abstained"] is False
    assert extra["citations"][0]["doc_id"] == "doc-alpha" and extra["citations"][0]["chunk_ids"] == ["doc-alpha#0"]
    assert reply.system_fingerprint == "vaults@v0001"
    assert reply.usage.completion_tokens >= 1 and reply.usage.prompt_tokens > reply.usage.completion_tokens

    chunks = list(c.chat.completions.create(
        model="vaults", messages=[{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "What is the code of vault Bravo?"}],
        stream=True, stream_options={"include_usage": True}))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "blue"
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finals[0].choices[0].finish_reason == "stop" and finals[0].model_extra["memo"]["version"] == "v0001"
    assert chunks[-1].usage.completion_tokens >= 1


def test_memo_model_runs_the_protocol_against_the_memory_streamed_and_not(server):
    url, _ = server
    c = client(url)
    reply = c.chat.completions.create(model="memo", messages=[{"role": "user", "content": QUESTION}],
                                      extra_body={"memo": {"settings": {"answer_turns": 1}}})
    assert reply.choices[0].message.content == "red"
    result = reply.model_extra["memo"]
    assert result["memory"] == "vaults@v0001" and result["protocol"] == "structured"
    assert result["settings"]["answer_turns"] == 1
    asked = {e["question"]: e["answer"] for e in result["trace"]["exchanges"]}
    assert asked[ALPHA] == "red"  # the memory's real answer, through the server's batcher
    assert [s["stage"] for s in result["trace"]["steps"]][0] == "grounding"

    chunks = list(c.chat.completions.create(model="memo", messages=[{"role": "user", "content": QUESTION}],
                                            stream=True))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "red"
    assert chunks[-1].model_extra["memo"]["trace"]["exchanges"]

    with pytest.raises(openai.BadRequestError, match="not offered"):
        c.chat.completions.create(model="memo", messages=[{"role": "user", "content": QUESTION}],
                                  extra_body={"memo": {"executive": "openai:gpt-4o"}})
    with pytest.raises(openai.BadRequestError, match="unknown protocol"):
        c.chat.completions.create(model="memo", messages=[{"role": "user", "content": QUESTION}],
                                  extra_body={"memo": {"protocol": "chaotic"}})
    with pytest.raises(openai.BadRequestError, match="answer_turns"):
        c.chat.completions.create(model="memo", messages=[{"role": "user", "content": QUESTION}],
                                  extra_body={"memo": {"settings": {"answer_turns": -1}}})


def test_missing_or_wrong_key_is_401_with_an_openai_error(server):
    url, _ = server
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = httpx.post(f"{url}/chat/completions", headers=headers,
                       json={"model": "vaults", "messages": [{"role": "user", "content": ALPHA}]})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key" and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url.removesuffix("/v1") + "/health").status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()


def test_limits_and_malformed_requests_are_openai_errors_without_traces(server):
    url, service = server
    auth = {"Authorization": f"Bearer {KEY}"}
    ask = {"model": "vaults", "messages": [{"role": "user", "content": ALPHA}]}
    cases = [
        (httpx.post(f"{url}/chat/completions", headers=auth, json={**ask, "messages": [
            {"role": "user", "content": "x" * (service.settings.max_body_bytes + 1)}]}), 413, "request_too_large"),
        (httpx.post(f"{url}/chat/completions", headers=auth,  # chunked: no Content-Length to go by
                    content=iter([b'{"model": "vaults", "messages": [', b"1," * service.settings.max_body_bytes])),
         413, "request_too_large"),
        (httpx.post(f"{url}/chat/completions", headers=auth, json={**ask, "max_tokens": 100_000}), 400,
         "max_tokens_too_large"),
        (httpx.post(f"{url}/chat/completions", headers={**auth, "content-type": "application/json"},
                    content=b'{"model": "vaults", "messages": [}'), 400, "invalid_request"),
        (httpx.post(f"{url}/chat/completions", headers=auth, json={"model": "vaults"}), 400, "invalid_request"),
        (httpx.post(f"{url}/chat/completions", headers=auth, json={**ask, "n": 3}), 400, "invalid_request"),
        (httpx.post(f"{url}/chat/completions", headers=auth, json={**ask, "messages": [
            {"role": "system", "content": "no question here"}]}), 400, None),
        (httpx.post(f"{url}/chat/completions", headers=auth, json={**ask, "model": "gpt-5"}), 404, "model_not_found"),
        (httpx.get(f"{url}/nothing-here", headers=auth), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and error["type"]
        assert "Traceback" not in response.text and 'File "' not in response.text
        assert response.headers["x-request-id"]
    r = httpx.post(f"{url}/chat/completions", headers={**auth, "X-Request-ID": "trace-me-42"}, json=ask)
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-me-42"


class _Slow:
    """A loaded memory whose generation takes `delay` seconds more (to fill the queue deterministically)."""

    def __init__(self, delay: float):
        self.delay = delay

    def __call__(self, path):
        memory = MemoryModel.load(path)
        real = memory.ask

        def slow_ask(*args, **kwargs):
            time.sleep(self.delay)
            return real(*args, **kwargs)

        memory.ask = slow_ask
        return memory


def test_saturation_is_429_with_retry_after_and_nothing_is_lost(store):
    from memo.serve import LiveMemory

    settings = ServeSettings(max_batch=1, batch_window=0, max_queue=2, max_answers=1, answer_queue=0)
    service = MemoryService(LiveMemory(store, load=_Slow(0.5)), settings, executive=ScriptedExecutive(), protocol="structured")
    with serve_on_loopback(create_app(service)) as url:
        results: list[httpx.Response] = []

        def one(model: str) -> None:
            results.append(httpx.post(f"{url}/chat/completions", timeout=60, json={
                "model": model, "messages": [{"role": "user", "content": ALPHA}],
                "memo": {"settings": {"answer_turns": 1}}} if model == "memo" else {
                "model": model, "messages": [{"role": "user", "content": ALPHA}]}))

        threads = [threading.Thread(target=one, args=("vaults",)) for _ in range(8)]
        threads += [threading.Thread(target=one, args=("memo",)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 11  # every request answered or refused, none hung
        codes = sorted(r.status_code for r in results)
        assert set(codes) == {200, 429}, codes
        refused = [r for r in results if r.status_code == 429]
        assert all(int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limit_exceeded"
                   for r in refused)
        assert any(r.json()["model"] == "memo" for r in results if r.status_code == 200)
        assert any("answers are running" in r.json()["error"]["message"] for r in refused)
        assert any("queue is full" in r.json()["error"]["message"] for r in refused)
        assert all(r.json()["choices"][0]["message"]["content"] == "red" for r in results if r.status_code == 200)


def test_a_version_published_while_serving_is_served_afterwards(store, tiny_base, server, monkeypatch):
    url, service = server
    monkeypatch.setenv("MEMO_API_KEY", KEY)  # what endpoint specs send as their bearer key
    c = client(url)
    old = RemoteMemory(f"{url}#vaults")
    assert old.ask([ALPHA])[0].answer == "red"
    asked = service.batcher.questions
    assert old.ask([ALPHA])[0].answer == "red" and service.batcher.questions == asked  # cached for v0001

    assert train_version(store, tiny_base, V2_CODES) == "v0002"  # `memo train` publishes and switches current
    deadline = time.time() + 60
    while c.models.list().data[0].model_extra["memo"]["version"] != "v0002":  # the watcher reloads by itself
        assert time.time() < deadline, "the new version was not picked up"
        time.sleep(0.2)
    reply = c.chat.completions.create(model="vaults", messages=[{"role": "user", "content": ALPHA}])
    assert reply.choices[0].message.content == "teal" and reply.model_extra["memo"]["version"] == "v0002"
    health = httpx.get(url.removesuffix("/v1") + "/health", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert health["version"] == "v0002" and health["queue"]["waiting_requests"] == 0

    # Issue 14 item 10: the remote client asks the new version, not the cache of the old one.
    assert old.ask([ALPHA])[0].answer == "teal"
    # ... also when the switch falls between its look at the version and its question: the server refuses the
    # pinned old version, and the client looks again.
    racing = RemoteMemory(f"{url}#vaults")
    looks = iter(["v0001", "v0002"])
    racing.served_version = lambda: next(looks)
    assert racing.ask(["What is the code of vault Bravo?"])[0].answer == "navy"
    with pytest.raises(openai.NotFoundError, match="not served"):  # a pinned old version is refused
        c.chat.completions.create(model="vaults@v0001", messages=[{"role": "user", "content": ALPHA}])

    # Rolling back is picked up too, and /admin/reload waits for it.
    from memo.memory import MemoryStore

    MemoryStore(store).set_current("v0001")
    r = httpx.post(url.removesuffix("/v1") + "/admin/reload", headers={"Authorization": f"Bearer {KEY}"})
    assert r.json()["version"] == "v0001"
    assert c.chat.completions.create(model="vaults", messages=[{"role": "user", "content": ALPHA}]
                                     ).choices[0].message.content == "red"


def test_one_request_never_mixes_versions(store):
    """A `memo` answer that started on one version keeps asking it when another version is swapped in meanwhile."""
    import asyncio

    from memo.serve import AnswerOptions, Loaded

    class Unusable:
        path = store

        def ask(self, *args, **kwargs):
            raise AssertionError("the answer asked a version it did not start with")

    service = MemoryService(store, ServeSettings(), executive=ScriptedExecutive(), protocol="structured")

    async def run():
        async with service.running():
            started = service.live.current
            task = asyncio.create_task(service.answer(QUESTION, AnswerOptions(settings={"answer_turns": 1})))
            await asyncio.sleep(0)  # the answer has taken its version
            service.live._loaded = Loaded(started.name, "v9999", Unusable())  # as if a reload happened now
            return started, await task

    started, result = asyncio.run(run())
    assert result.memory == f"vaults@{started.version}"
    code = {"v0001": "red", "v0002": "teal"}[started.version]
    assert {e.question: e.answer for e in result.trace.exchanges}[ALPHA] == code


def test_refuses_to_listen_beyond_loopback_without_a_key(store, monkeypatch):
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        with pytest.raises(ValueError, match="refusing to listen"):
            check_bind(host, None)
        check_bind(host, "a-key")
    monkeypatch.delenv("MEMO_API_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve", str(store), "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "refusing to listen on 0.0.0.0" in result.output
    assert "Traceback" not in result.output


def test_a_blank_key_counts_as_no_key(tmp_path, monkeypatch):
    """A whitespace MEMO_API_KEY / --api-key must not open a server to the network (it is refused before loading)."""
    for blank in ("", " ", "\t \n"):
        with pytest.raises(ValueError, match="refusing to listen"):
            check_bind("0.0.0.0", blank)
    monkeypatch.setenv("MEMO_API_KEY", " ")
    missing = str(tmp_path / "no-memory")
    for args in (["serve", missing, "--host", "0.0.0.0"],
                 ["mcp", missing, "--transport", "http", "--host", "0.0.0.0", "--api-key", "  "]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "refusing to listen on 0.0.0.0" in result.output, result.output


def test_a_bad_or_busy_port_is_one_line_before_anything_loads(tmp_path, monkeypatch):
    import socket

    monkeypatch.delenv("MEMO_API_KEY", raising=False)
    missing = str(tmp_path / "no-memory")  # never loaded: the port is checked first
    for port in ("0", "99999", "-1"):
        for command in (["serve", missing], ["mcp", missing, "--transport", "http"]):
            result = CliRunner().invoke(cli, [*command, "--port", port])
            assert result.exit_code == 1 and f"port {port} is out of range" in result.output, result.output
            assert len(result.output.strip().splitlines()) == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ValueError, match="in use"):
            check_port("127.0.0.1", port)
        for command in (["serve", missing], ["mcp", missing, "--transport", "http"]):
            result = CliRunner().invoke(cli, [*command, "--port", str(port)])
            assert result.exit_code == 1, result.output
            assert result.output.strip() == f"error: port {port} on 127.0.0.1 is in use; pick another with --port"
    check_port("127.0.0.1", port)  # free again


@pytest.mark.slow  # a whole process: imports and loading take ~20 s here
def test_memo_serve_command_serves_with_the_key_from_the_environment(store, tmp_path):
    """The real `memo serve` process: MEMO_API_KEY is its key, the openai client gets answers, Ctrl-C stops it."""
    import os
    import signal
    import subprocess
    import sys

    import memo
    from conftest import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(memo.__file__).parents[1]), "MEMO_API_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "memo", "serve", str(store), "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "no start"
            try:
                if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert httpx.get(f"{url}/models").status_code == 401
        reply = client(url).chat.completions.create(model="vaults", messages=[{"role": "user", "content": ALPHA}],
                                                   extra_headers={"X-Request-ID": "cli-request-7"})
        assert reply.choices[0].message.content in ("red", "teal")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "serving vaults" in out and "cli-request-7 POST /v1/chat/completions -> 200" in out
    assert "Traceback" not in out

# -- MCP ------------------------------------------------------------------------------------------------------


def executive_endpoint():
    """An OpenAI-protocol executive on 127.0.0.1 that replies with the script by schema name (tests only)."""
    from serve_helpers import SCRIPT

    fake = FastAPI()

    @fake.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        content = json.dumps(SCRIPT[body["response_format"]["json_schema"]["name"]])
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}]}

    return serve_on_loopback(fake)


async def use_tools(mcp_client) -> dict:
    """List the tools and call each once; the structured results by tool name."""
    tools = await mcp_client.list_tools()
    assert {t.name for t in tools.tools} == {"ask_memory", "answer", "memory_info"}
    out = {}
    for name, args in (("ask_memory", {"question": ALPHA}), ("answer", {"question": QUESTION}),
                       ("memory_info", {})):
        result = await mcp_client.call_tool(name, args)
        assert not result.is_error, result.content
        out[name] = result.structured_content
    bad = await mcp_client.call_tool("answer", {"question": QUESTION, "protocol": "chaotic"})
    assert bad.is_error and "unknown protocol" in bad.content[0].text and "Traceback" not in bad.content[0].text
    return out


def check_tool_results(out: dict, store) -> None:
    from memo.memory import MemoryStore

    version = MemoryStore(store).current_version()
    code = {"v0001": "red", "v0002": "teal"}[version]
    assert out["ask_memory"]["answer"] == code and out["ask_memory"]["version"] == version
    assert out["ask_memory"]["abstained"] is False and out["ask_memory"]["citations"][0]["doc_id"] == "doc-alpha"
    assert out["answer"]["answer"] == "red" and out["answer"]["memory"] == f"vaults@{version}"
    assert "trace" not in out["answer"] and out["answer"]["justification"]
    info = out["memory_info"]
    assert info["name"] == "vaults" and info["version"] == version and info["base"].startswith("hf:")
    assert info["documents"] == {"count": 6, "ids": sorted(f"doc-{v.lower()}" for v in
                                                            "Alpha Bravo Delta Echo Kilo Lima".split())}
    assert info["training"]["epochs_run"] >= 1 and info["training"]["best_metrics"]["recall"] == 1.0


def test_mcp_over_stdio_with_the_sdk_client(store, tmp_path):
    import sys

    import anyio
    from mcp import Client, StdioServerParameters

    import memo

    with executive_endpoint() as executive_url:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "memo", "mcp", str(store), "--executive", f"{executive_url}#exec",
                  "--protocol", "structured"],
            env={"PYTHONPATH": str(Path(memo.__file__).parents[1]),
                 "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MEMO_CACHE": str(tmp_path / "cache.sqlite")},
            cwd=str(tmp_path))

        async def run():
            async with Client(params, read_timeout_seconds=120) as mcp_client:
                return await use_tools(mcp_client)

        check_tool_results(anyio.run(run), store)


def test_mcp_over_streamable_http_with_the_sdk_client_and_a_key(store):
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from memo.serve import create_mcp_http_app

    service = MemoryService(store, ServeSettings(), executive=ScriptedExecutive(), protocol="structured")
    with serve_on_loopback(create_mcp_http_app(service, api_key=KEY)) as url:
        endpoint = url.removesuffix("/v1") + "/mcp"
        assert httpx.post(endpoint, json={}).status_code == 401

        async def run():
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as http:
                async with Client(streamable_http_client(endpoint, http_client=http)) as mcp_client:
                    return await use_tools(mcp_client)

        check_tool_results(anyio.run(run), store)
