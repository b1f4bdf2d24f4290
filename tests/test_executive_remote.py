"""The remote memory client and an endpoint executive against a real OpenAI-protocol server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from conftest import serve_on_loopback
from fastapi import FastAPI, Request
from typer.testing import CliRunner

from memo.cli import app
from memo.executive import AskResult, RemoteMemory, open_memory
from memo.memory.prompt import prompt_messages
from memo.records import ABSTAIN

FACTS = {
    "Who founded Veltrona Labs?": "Mira Castell founded Veltrona Labs in 2011.",
    "Where was Mira Castell born?": "Mira Castell was born in Porto Velho.",
}
# What the endpoint executive returns, by the schema name in `response_format`.
EXECUTIVE = {
    "Grounding": {"clues": [{"clue": "founder of Veltrona Labs", "kind": "entity", "power": "LOW",
                             "questions": ["Who founded Veltrona Labs?"]}], "combined": []},
    "EntityTurn": {"labels": [{"n": 2, "label": "new_candidate", "candidate": "Mira Castell"}],
                   "candidates": ["Mira Castell"], "decision": "confirm", "entity": "Mira Castell", "questions": []},
    "AnswerTurn": {"role": "intermediate", "target": "birth city", "ratings": [], "facts": [], "unknowns": [],
                   "decision": "ask", "answer": "", "pivot_to": "", "questions": ["Where was Mira Castell born?"]},
    "FinalSynthesis": {"candidates": [{"answer": "Porto Velho", "satisfies": [1]}], "final_answer": "Porto Velho",
                       "justification": "Mira Castell founded Veltrona Labs and was born in Porto Velho."},
    "Chain": {"steps": ["Who founded Veltrona Labs?", "Where was #1 born?"]},
    "ChainCheck": {"final_answer": "Porto Velho"},
}
# Model "abstainer" gives up at the last step whatever the memory said.
ABSTAINER = {**EXECUTIVE, "ChainCheck": {"final_answer": ABSTAIN}}
DELAY = 0.3


class MemoryServer:
    """Model "memory" answers from FACTS (else IDK) after DELAY seconds; model "executive" replies by schema."""

    def __init__(self):
        self.requests: list[dict] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            body = await request.json()
            self.requests.append(body)
            if body["model"] == "memory":
                await asyncio.sleep(DELAY)
                content = FACTS.get(body["messages"][-1]["content"], ABSTAIN)
            else:
                replies = ABSTAINER if body["model"] == "abstainer" else EXECUTIVE
                content = json.dumps(replies[body["response_format"]["json_schema"]["name"]])
            return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}

        return app


@pytest.fixture(scope="module")
def server():
    fake = MemoryServer()
    with serve_on_loopback(fake.app()) as url:
        fake.url = url
        yield fake


def test_remote_memory_batches_concurrently_detects_abstention_and_caches(server):
    memory = open_memory(f"{server.url}#memory")
    assert isinstance(memory, RemoteMemory)
    questions = ["Who founded Veltrona Labs?", "Where was Mira Castell born?", "Who painted the Ostrel mural?",
                 "What is the capital of Vandoria?", "When did Mira Castell retire?"]
    before = len(server.requests)
    t0 = time.perf_counter()
    replies = memory.ask(questions, temperature=0.1)
    elapsed = time.perf_counter() - t0
    assert elapsed < DELAY * len(questions) * 0.6  # concurrent, not one request after another
    assert [r.answer for r in replies[:2]] == [FACTS[q] for q in questions[:2]]
    assert [r.abstained for r in replies] == [False, False, True, True, True]
    sent = server.requests[before:]
    # The memory's own prompt format: one user turn; the server's chat template (the artifact's) does the rest.
    assert sorted(json.dumps(r["messages"]) for r in sent) == sorted(json.dumps(prompt_messages(q)) for q in questions)
    assert all(r["temperature"] == 0.1 for r in sent)
    assert memory.usage()["calls"] == 5 and memory.usage()["completion_tokens"] == 15
    # This server reports no memory version, so it could be redeployed under the same name: nothing is cached.
    memory.ask(questions, temperature=0.1)
    assert len(server.requests) == before + 10 and memory.usage()["cache_hits"] == 0


def test_remote_memory_of_an_unversioned_server_is_cached_only_when_asked(server):
    questions = ["Who founded Veltrona Labs?", "Who painted the Ostrel mural?"]
    opted_in = RemoteMemory(f"{server.url}#memory", cache=True)
    before = len(server.requests)
    first = opted_in.ask(questions)
    assert [r.answer for r in opted_in.ask(questions)] == [r.answer for r in first]
    assert len(server.requests) == before + 2  # the re-run came from the response cache
    assert opted_in.usage()["cache_hits"] == 2 and opted_in.usage()["questions"] == 4
    never = RemoteMemory(f"{server.url}#memory", cache=False)
    never.ask(questions)
    assert len(server.requests) == before + 4


def test_memo_ask_with_endpoint_executive_and_remote_memory(server, tmp_path):
    question = "In which city was the founder of Veltrona Labs born?"
    result = CliRunner().invoke(app, [
        "ask", f"{server.url}#memory", question,
        "--executive", f"{server.url}#executive", "--protocol", "structured", "--answer-turns", "1",
        "--trace", str(tmp_path / "trace.json"),
    ])
    assert result.exit_code == 0, result.output
    assert "Answer: Porto Velho" in result.output
    assert "Mira Castell was born in Porto Velho." in result.output  # the trace tree is printed
    saved = AskResult.load(tmp_path / "trace.json")
    assert saved.answer == "Porto Velho" and saved.entity == "Mira Castell" and saved.entity_confirmed
    assert [e.question for e in saved.trace.exchanges] == [question, "Who founded Veltrona Labs?",
                                                           "Where was Mira Castell born?"]
    assert saved.trace.executive_usage["calls"] == 4 and saved.trace.memory_usage["questions"] == 3


def test_memo_ask_chain_protocol_with_endpoint_executive_as_json(server, tmp_path):
    question = "In which city was the founder of Veltrona Labs born?"
    result = CliRunner().invoke(app, ["ask", f"{server.url}#memory", question, "--executive",
                                      f"{server.url}#executive", "--protocol", "chain", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert out["answer"] == "Porto Velho" and out["protocol"] == "chain" and out["degraded"] == []
    assert [e["question"] for e in out["trace"]["exchanges"]] == [question, "Who founded Veltrona Labs?",
                                                                  "Where was Mira Castell born?"]
    assert AskResult.model_validate(out).trace.executive_usage["calls"] == 2


def test_memo_ask_shows_a_degraded_answer_in_the_answer_line_trace_and_json(server, tmp_path):
    question = "In which city was the founder of Veltrona Labs born?"
    args = ["ask", f"{server.url}#memory", question, "--executive", f"{server.url}#abstainer", "--protocol", "chain"]
    result = CliRunner().invoke(app, args + ["--trace", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    assert "Answer (degraded): Porto Velho" in result.output
    assert "abstained although the chain answered" in result.output
    assert "(degraded)" in result.output  # the trace tree marks the answer too
    assert AskResult.load(tmp_path / "t.json").degraded
    out = json.loads(CliRunner().invoke(app, args + ["--json"]).stdout)
    assert out["answer"] == "Porto Velho" and len(out["degraded"]) == 1


def test_memo_ask_reports_bad_input_in_one_line(server, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["ask", f"{server.url}#memory", "Q?", "--protocol", "chaotic",
                                 "--executive", f"{server.url}#executive"])
    assert result.exit_code == 1 and "unknown protocol" in result.output
    result = runner.invoke(app, ["ask", "http://127.0.0.1:9/v1", "Q?", "--executive", f"{server.url}#executive"])
    assert result.exit_code == 1 and "names no model" in result.output


def test_local_servers_are_found_on_their_ports_and_doctor_prints_the_executive_line(monkeypatch):
    from urllib.parse import urlparse

    from conftest import free_port

    from memo.llm import discovery

    models = FastAPI()

    @models.get("/v1/models")
    async def list_models():
        return {"object": "list", "data": [{"id": "tiny-chat", "object": "model"}, {"id": "other", "object": "model"}]}

    with serve_on_loopback(models) as url:
        port, closed = urlparse(url).port, free_port()
        found = discovery.find_local_servers({closed: "Ollama", port: "vLLM"})
        assert [(s.name, s.base_url, s.models) for s in found] == [("vLLM", url, ["tiny-chat", "other"])]
        assert found[0].executive_line() == f'export MEMO_EXECUTIVE="{url}#tiny-chat"'
        monkeypatch.setattr(discovery, "DEFAULT_PORTS", {closed: "Ollama", port: "vLLM"})
        result = CliRunner().invoke(app, ["doctor", "--no-probe"])
        assert result.exit_code == 0, result.output
        assert f"vLLM-style server at {url}: tiny-chat, other" in result.output
        assert f'export MEMO_EXECUTIVE="{url}#tiny-chat"' in result.output
    monkeypatch.setattr(discovery, "DEFAULT_PORTS", {closed: "Ollama"})
    result = CliRunner().invoke(app, ["doctor", "--no-probe"])
    assert f"no OpenAI-compatible server on 127.0.0.1 ports {closed} (Ollama)" in result.output
