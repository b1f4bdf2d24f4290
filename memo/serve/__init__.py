"""Serving: a memory behind an OpenAI-compatible HTTP API and an MCP server, secure by default.

    from memo.serve import MemoryService, ServeSettings, create_app, serve_http
    service = MemoryService("mem/", ServeSettings(max_batch=16), executive="openai:gpt-4o-mini")
    serve_http(create_app(service, api_key=None), host="127.0.0.1", port=8000)

Models: the memory itself (id = its name) and `memo` (the whole answerer). Endpoints, extra response fields,
limits, hot reload and MCP setup: docs/SERVING.md.
"""

from __future__ import annotations

from typing import Any

from .batching import DynamicBatcher, MemoryResult, Saturated
from .guard import bearer_key, check_bind, check_port, is_loopback
from .live import LiveMemory, Loaded
from .mcp_server import create_mcp_http_app, create_mcp_server, run_stdio
from .openai_api import create_app
from .service import ANSWERER_MODEL, AnswerOptions, MemoryService, ServeSettings, VersionNotServed

__all__ = [
    "ANSWERER_MODEL", "AnswerOptions", "DynamicBatcher", "LiveMemory", "Loaded", "MemoryResult", "MemoryService",
    "Saturated", "ServeSettings", "VersionNotServed", "bearer_key", "check_bind", "check_port",
    "create_app", "create_mcp_http_app", "create_mcp_server", "is_loopback", "run_stdio", "serve_http",
]


def serve_http(app: Any, host: str, port: int, api_key: str | None = None, log_level: str = "info") -> None:
    """Run an app of this package (`create_app`, `create_mcp_http_app`) with uvicorn until interrupted.

    host / port: where to listen (e.g. "127.0.0.1", 8000). api_key: the key the app was built with; only checked
    here against `host`: a non-loopback `host` without a key raises ValueError before anything listens
    (`check_bind`); a port out of range or one that cannot be bound (in use) raises ValueError (`check_port`).
    log_level: uvicorn's ("info", "warning", ...). uvicorn's own access log is off: access lines come from the
    app's log (`memo.serve`), with request ids.
    """
    import uvicorn

    check_bind(host, api_key)
    check_port(host, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
