"""The OpenAI-compatible HTTP API of a memory server (FastAPI): /v1/models, /v1/chat/completions, /health, reload.

    app = create_app(MemoryService("mem/"), api_key=None)      # then: uvicorn.run(app, host="127.0.0.1")

Two models: the memory (id = its name; `NAME@VERSION` pins a version) and `memo` (the whole answerer). The
question is the last user message; the memory was trained on bare single-turn questions (docs/MEMORY.md), so
system turns and earlier turns are not shown to it. Formats and limits: docs/SERVING.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, AsyncIterator, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..llm import LLMError
from .batching import Saturated
from .guard import Guard, error_body
from .service import ANSWERER_MODEL, AnswerOptions, MemoryService, VersionNotServed

log = logging.getLogger("memo.serve")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat request this server reads; others are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    temperature: float | None = Field(None, ge=0, le=2, description="accepted; the memory decodes greedily")
    memo: AnswerOptions | None = Field(None, description="overrides of the `memo` model: executive, protocol, settings")


class APIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.body, self.headers = status, error_body(message, type_, code, param), headers or {}


def create_app(service: MemoryService, api_key: str | None = None) -> Guard:
    """The ASGI app serving `service` over an OpenAI-compatible API: FastAPI routes inside the `Guard` (request
    ids, bearer-key auth, body limit, JSON 500s). Routes: `GET /v1/models` (the memory and the answerer `memo`),
    `POST /v1/chat/completions` (the last user message is the question; `model` NAME or NAME@VERSION asks the
    memory, `memo` the executive + memory; `stream` gives server-sent events; the reply's `memo` field holds
    abstention, citations, version or the trace), `GET /health` and `POST /admin/reload`. Errors come as
    OpenAI-style error bodies: 400 bad request, 401 missing or wrong key, 404 unknown model or version, 413 body
    over `max_body_bytes`, 429 queue full (with Retry-After), 502 the executive failed, 504 over
    `request_timeout`. The service's `running()` is entered by the app's lifespan. docs/SERVING.md.

    api_key: every request must carry `Authorization: Bearer KEY` when set (None: no auth). Binding checks
    (`check_bind`) are the caller's: this app can be mounted anywhere. Run it with `serve_http` or any ASGI
    server (uvicorn).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with service.running():
            yield

    app = FastAPI(title=f"memo: {service.name}", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = "the body is not valid JSON" if err.get("type") == "json_invalid" else \
            f"{where + ': ' if where else ''}{err.get('msg')}"
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_request", where or None), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error", code), exc.status_code)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        loaded = service.live.current
        created = int(loaded.loaded_at)
        return {"object": "list", "data": [
            {"id": loaded.name, "object": "model", "created": created, "owned_by": "memo",
             "memo": {"kind": "memory", "version": loaded.version}},
            {"id": ANSWERER_MODEL, "object": "model", "created": created, "owned_by": "memo",
             "memo": {"kind": "answerer", "memory": loaded.name, "version": loaded.version,
                      "executives": service.executives(), "protocol": service.protocol}},
        ]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request):
        rid = request.state.request_id
        question = _question(body)
        max_tokens = body.max_completion_tokens or body.max_tokens
        if max_tokens is not None and max_tokens > service.settings.max_tokens_limit:
            raise APIError(400, f"max_tokens is {max_tokens}; this server allows at most "
                                f"{service.settings.max_tokens_limit}", code="max_tokens_too_large",
                           param="max_tokens")
        name, _, version = body.model.partition("@")
        if body.model == ANSWERER_MODEL:
            reply = await _call(rid, service.answer(question, body.memo))
            content, finish, fingerprint = reply.answer, "stop", reply.memory
            usage = _usage(reply.trace.executive_usage.get("prompt_tokens", 0),
                           reply.trace.executive_usage.get("completion_tokens", 0))
            extra = reply.model_dump(mode="json")
        elif name == service.name:
            if body.memo is not None:
                raise APIError(400, f"the `memo` field applies to the {ANSWERER_MODEL!r} model only", param="memo")
            result = (await _call(rid, service.ask_memory([question], max_tokens, version=version or None)))[0]
            limit = max_tokens or service.settings.default_max_tokens
            content = result.answer.answer
            finish = "length" if result.completion_tokens >= limit else "stop"
            fingerprint = f"{name}@{result.version}"
            usage = _usage(result.prompt_tokens, result.completion_tokens)
            extra = {"memory": name, "version": result.version, "abstained": result.answer.abstained,
                     "citations": [asdict(c) for c in result.answer.citations]}
        else:
            raise APIError(404, f"model {body.model!r} is not served here; models: {service.name}, "
                                f"{ANSWERER_MODEL}", code="model_not_found", param="model")
        base = {"id": f"chatcmpl-{rid}", "created": int(time.time()), "model": body.model,
                "system_fingerprint": fingerprint}
        if not body.stream:
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "logprobs": None, "finish_reason": finish}],
                    "usage": usage, "memo": extra}
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_sse(base, content, finish, usage, extra, include_usage),
                                 media_type="text/event-stream", headers={"cache-control": "no-cache"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return service.health()

    @app.post("/admin/reload")
    async def reload() -> dict[str, Any]:
        changed = await service.reload()
        return {"changed": changed, "version": service.live.current.version,
                "reload_error": service.live.reload_error}

    return Guard(app, api_key=api_key, max_body_bytes=service.settings.max_body_bytes)


def _question(body: ChatRequest) -> str:
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise APIError(400, "no user message: the question is the last user message", param="messages")
    content = users[-1].content
    if isinstance(content, list):
        if any(part.type != "text" for part in content):
            raise APIError(400, "only text content is supported", param="messages")
        content = "\n".join(part.text or "" for part in content)
    if not content or not content.strip():
        raise APIError(400, "the last user message is empty", param="messages")
    return content.strip()


async def _call(rid: str, work):
    """Await the service and turn its expected failures into OpenAI-style errors."""
    try:
        return await work
    except Saturated as exc:
        raise APIError(429, f"{exc}; retry after {exc.retry_after} s", "rate_limit_error", "rate_limit_exceeded",
                       headers={"retry-after": str(exc.retry_after)}) from None
    except VersionNotServed as exc:
        raise APIError(404, str(exc), code="model_not_found", param="model") from None
    except ValueError as exc:
        raise APIError(400, str(exc)) from None
    except (TimeoutError, asyncio.TimeoutError):
        raise APIError(504, f"no answer within the server's time limit (request id {rid})", "server_error",
                       "timeout") from None
    except LLMError as exc:
        log.error("request %s: the executive failed: %s", rid, exc)
        raise APIError(502, f"the executive model failed (request id {rid})", "server_error",
                       "upstream_error") from None


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _sse(base: dict, content: str, finish: str, usage: dict, extra: dict,
               include_usage: bool) -> AsyncIterator[str]:
    """The answer as OpenAI chat.completion.chunk events: role, content, finish (with the `memo` field), [DONE]."""
    chunk = {**base, "object": "chat.completion.chunk"}

    def event(choices: list, **more: Any) -> str:
        return f"data: {json.dumps({**chunk, 'choices': choices, **more})}\n\n"

    yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])
    yield event([{"index": 0, "delta": {"content": content}, "logprobs": None, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}], memo=extra)
    if include_usage:
        yield event([], usage=usage)
    yield "data: [DONE]\n\n"
