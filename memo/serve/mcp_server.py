"""The memory as MCP tools (the official `mcp` Python SDK, `MCPServer`), over stdio or streamable HTTP.

    ask_memory(question, max_tokens=128)        one question to the memory: answer, abstained, version, citations
    answer(question, protocol=None, include_trace=False)   the whole answerer (executive protocol + memory)
    memory_info()                               name, version, base, documents, training figures

`memo mcp MEMORY` runs it over stdio (what agent hosts launch); `memo mcp MEMORY --transport http` serves it at
`http://HOST:PORT/mcp` behind the same guard as `memo serve` (API key, body limit, request ids). Config snippet
for an agent host: docs/SERVING.md.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, AsyncIterator

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette
from starlette.routing import Mount

from ..llm import LLMError
from .batching import Saturated
from .guard import Guard
from .service import AnswerOptions, MemoryService


def create_mcp_server(service: MemoryService) -> MCPServer:
    """An MCPServer with the three tools over `service` (run it inside `service.running()`)."""
    server = MCPServer(
        name=f"memo-{service.name}",
        instructions=(f"Tools over the memory {service.name!r}, a small model fine-tuned on a document collection. "
                      "ask_memory asks it one short factual question (it says \"I don't know.\" when it does not "
                      "know); answer runs the full question-answering protocol over it for complex questions."),
        log_level="WARNING",
    )

    @server.tool(description="Ask the memory one short, self-contained factual question. Returns its answer, "
                             "whether it abstained (\"I don't know.\"), the memory version and the source "
                             "documents of the nearest training facts.")
    async def ask_memory(question: str, max_tokens: int = 128) -> dict[str, Any]:
        result = (await _tool(service.ask_memory([question], max_tokens)))[0]
        return {"answer": result.answer.answer, "abstained": result.answer.abstained, "memory": service.name,
                "version": result.version, "citations": [asdict(c) for c in result.answer.citations]}

    @server.tool(description="Answer a question (multi-hop too) with the full MeMo protocol: an executive model "
                             "questions the memory step by step. Returns the answer, its justification, citations "
                             "and, with include_trace, every step.")
    async def answer(question: str, protocol: str | None = None, include_trace: bool = False) -> dict[str, Any]:
        result = await _tool(service.answer(question, AnswerOptions(protocol=protocol)))
        return result.model_dump(mode="json", exclude=None if include_trace else {"trace"})

    @server.tool(description="What this memory is: name, served version, base model, documents it was trained "
                             "on, training figures.")
    def memory_info() -> dict[str, Any]:
        return service.live.info()

    return server


async def _tool(work):
    """Await the service; expected failures become tool errors with a clear message (no stack trace)."""
    try:
        return await work
    except Saturated as exc:
        raise ToolError(f"{exc}; retry after {exc.retry_after} s") from None
    except (ValueError, LLMError) as exc:
        raise ToolError(str(exc)) from None
    except (TimeoutError, asyncio.TimeoutError):
        raise ToolError("no answer within the server's time limit") from None


async def run_stdio(service: MemoryService) -> None:
    """Serve the tools over stdin/stdout until the client closes them."""
    server = create_mcp_server(service)
    async with service.running():
        await server.run_stdio_async()


def create_mcp_http_app(service: MemoryService, api_key: str | None = None, host: str = "127.0.0.1") -> Guard:
    """The tools over streamable HTTP at `/mcp`, as an ASGI app (run it with uvicorn); `host` is the address it
    will listen on (loopback turns on the SDK's DNS-rebinding protection)."""
    server = create_mcp_server(service)
    inner = server.streamable_http_app(host=host)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with service.running(), server.session_manager.run():
            yield

    app = Starlette(routes=[Mount("/", app=inner)], lifespan=lifespan)
    return Guard(app, api_key=api_key, max_body_bytes=service.settings.max_body_bytes)
