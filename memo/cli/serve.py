"""`memo serve` and `memo mcp`: thin shells over `memo.serve` (the memory as an OpenAI-compatible API / MCP tools)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..executive import DEFAULT_PROTOCOL, PROTOCOLS
from ._common import OPTIONS, config, err_console, fail, run_cli

_KEY_HELP = "Bearer key every request must carry (default: MEMO_API_KEY); required to listen beyond 127.0.0.1."


def _service(memory: Path, name: Optional[str], executive: Optional[list[str]], protocol: str, **limits):
    """The MemoryService of a command (limits: ServeSettings fields; their defaults otherwise)."""
    from ..serve import MemoryService, ServeSettings

    settings = run_cli(ServeSettings, **limits)
    cfg = config()
    with err_console.status(f"loading {memory}…"):
        return run_cli(MemoryService, memory, settings, executive=executive or None, protocol=protocol,
                       config=cfg, name=name)


def _log_to_stderr() -> None:
    """Request lines (with request ids) on stderr; stdout stays free (it is the MCP channel under stdio)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("memo.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if OPTIONS.verbosity < 0 else logging.INFO)
    logger.propagate = False


MemoryArg = Annotated[Path, typer.Argument(help="A memory directory (store: follows its current version) or one "
                                                "of its versions.")]
HostOpt = Annotated[str, typer.Option(help="Address to listen on; anything but loopback needs an API key.")]
KeyOpt = Annotated[Optional[str], typer.Option("--api-key", envvar="MEMO_API_KEY", show_envvar=False,
                                               help=_KEY_HELP)]
NameOpt = Annotated[Optional[str], typer.Option(help="Model id of the memory (default: the directory name).")]
ExecutiveOpt = Annotated[Optional[list[str]], typer.Option(
    "--executive", "-e", help="Executive spec(s) the `memo` model may use; the first is the default (default: "
                              "the config's executive role). Repeat to offer several.")]
ProtocolOpt = Annotated[str, typer.Option(help=f"Default protocol of the `memo` model: {' | '.join(PROTOCOLS)}.")]
BatchOpt = Annotated[int, typer.Option(help="Most memory questions in one batched generation (1: no batching).")]
WindowOpt = Annotated[float, typer.Option(help="Milliseconds a request waits for others to batch with.")]
QueueOpt = Annotated[int, typer.Option(help="Memory requests waiting at most; more are refused with 429.")]
AnswersOpt = Annotated[int, typer.Option(help="`memo` answers running at once.")]
TokensOpt = Annotated[int, typer.Option(help="Largest max_tokens a request may ask for (400 above).")]
BodyOpt = Annotated[int, typer.Option(help="Largest request body in KiB (413 above).")]


def serve(
    memory: MemoryArg,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    api_key: KeyOpt = None,
    name: NameOpt = None,
    executive: ExecutiveOpt = None,
    protocol: ProtocolOpt = DEFAULT_PROTOCOL,
    max_batch: BatchOpt = 16,
    batch_window_ms: WindowOpt = 10.0,
    max_queue: QueueOpt = 256,
    max_answers: AnswersOpt = 2,
    max_tokens_limit: TokensOpt = 1024,
    max_body_kb: BodyOpt = 1024,
) -> None:
    """Serve a memory over an OpenAI-compatible API: the memory itself and `memo` (the whole answerer)."""
    from ..serve import bearer_key, check_bind, check_port, create_app, serve_http

    api_key = bearer_key(api_key)
    run_cli(check_bind, host, api_key)
    run_cli(check_port, host, port)
    service = _service(memory, name, executive, protocol, max_batch=max_batch, batch_window=batch_window_ms / 1000,
                       max_queue=max_queue, max_answers=max_answers, max_tokens_limit=max_tokens_limit,
                       max_body_bytes=max_body_kb * 1024)
    _log_to_stderr()
    err_console.print(f"serving [bold]{service.name}[/] ({service.live.current.version}) and [bold]memo[/] at "
                      f"http://{host}:{port}/v1" + ("" if api_key else " (no API key: loopback only)"),
                      highlight=False)
    run_cli(serve_http, create_app(service, api_key=api_key), host, port, api_key)


def mcp(
    memory: MemoryArg,
    transport: Annotated[str, typer.Option(help="stdio (agent hosts launch it) | http (streamable HTTP at /mcp).")]
    = "stdio",
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (http).")] = 8001,
    api_key: KeyOpt = None,
    name: NameOpt = None,
    executive: ExecutiveOpt = None,
    protocol: ProtocolOpt = DEFAULT_PROTOCOL,
) -> None:
    """Serve a memory as MCP tools (ask_memory, answer, memory_info) over stdio or streamable HTTP (default limits
    and batching: see `memo serve`)."""
    import anyio

    from ..serve import bearer_key, check_bind, check_port, create_mcp_http_app, run_stdio, serve_http

    api_key = bearer_key(api_key)
    if transport not in ("stdio", "http"):
        fail(f"unknown transport {transport!r}; choose stdio or http")
    if transport == "http":
        run_cli(check_bind, host, api_key)
        run_cli(check_port, host, port)
    service = _service(memory, name, executive, protocol)
    _log_to_stderr()
    if transport == "stdio":
        anyio.run(run_stdio, service)
        return
    err_console.print(f"MCP tools of [bold]{service.name}[/] at http://{host}:{port}/mcp", highlight=False)
    run_cli(serve_http, create_mcp_http_app(service, api_key=api_key, host=host), host, port, api_key)
