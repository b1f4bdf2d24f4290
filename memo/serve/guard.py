"""The outer layer of every memo server (HTTP and MCP): request ids, bearer-key auth, body-size limit, access log,
and no stack trace ever in a response.

A pure ASGI middleware (it works for streamed responses too). Errors are OpenAI-style JSON bodies:
`{"error": {"message": ..., "type": ..., "param": null, "code": ...}}` (the shape the `openai` client parses).
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import re
import socket
import time
import uuid
from typing import Any

log = logging.getLogger("memo.serve")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; False for 0.0.0.0, any other address or a host name."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bearer_key(api_key: str | None) -> str | None:
    """The key a server checks: `api_key` without surrounding whitespace; None (no key) when it is None or blank."""
    return (api_key or "").strip() or None


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key (a blank key counts as none; ValueError with the
    fix)."""
    if not is_loopback(host) and not bearer_key(api_key):
        raise ValueError(f"refusing to listen on {host} without an API key: anyone who can reach it could use the "
                         "memory. Pass --api-key (or set MEMO_API_KEY), or listen on 127.0.0.1")


def check_port(host: str, port: int) -> None:
    """Refuse a port outside 1-65535, or one this process cannot listen on at `host` (in use, not allowed, an
    address not of this machine), before anything loads: ValueError with the fix. Binds and closes a socket
    with SO_REUSEADDR, as uvicorn does, so a port in TIME_WAIT is not reported; another process may still take
    the port between this check and the server's start."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range: pick one from 1 to 65535 with --port")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ValueError(f"cannot listen on {host}: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ValueError(f"port {port} on {host} is in use; pick another with --port") from exc
            raise ValueError(f"cannot listen on {host} port {port}: {exc.strerror}") from exc


class Guard:
    """ASGI middleware: request id (`X-Request-ID`, taken from the request when sane, else new), bearer key on every
    route when `api_key` is set and not blank (401), request bodies above `max_body_bytes` refused (413), one
    access-log line per request, and a JSON 500 without details for anything that escapes the app."""

    def __init__(self, app, api_key: str | None = None, max_body_bytes: int = 1 << 20):
        self.app, self.api_key, self.max_body_bytes = app, bearer_key(api_key), max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        t0, status, started = time.perf_counter(), 500, False

        async def send_with_id(message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            refusal = self._refusal(headers)
            body = b""
            if refusal is None:
                body, refusal = await self._read_body(receive, headers)
            if refusal is not None:
                code, payload, extra = refusal
                await _send_json(send_with_id, code, payload, extra)
                return
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_id)
        except Exception:  # noqa: BLE001 - logged here with the request id, never shown to the client
            log.exception("request %s failed", rid)
            if not started:
                await _send_json(send_with_id, 500, error_body(
                    f"internal server error (request id {rid})", "server_error", "internal_error"), {})
        finally:
            log.info("%s %s %s -> %d in %.3fs", rid, scope.get("method"), scope.get("path"), status,
                     time.perf_counter() - t0)

    def _refusal(self, headers: dict[str, str]):
        if self.api_key:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
                what = "wrong" if token else "no"
                return 401, error_body(f"{what} API key: send the server's key as 'Authorization: Bearer KEY'",
                                       "invalid_request_error", "invalid_api_key"), {"www-authenticate": "Bearer"}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self):
        return 413, error_body(f"request body larger than {self.max_body_bytes} bytes", "invalid_request_error",
                               "request_too_large"), {}

    async def _read_body(self, receive, headers: dict[str, str]):
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", (499, error_body("client disconnected", "invalid_request_error"), {})
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


async def _send_json(send, status: int, payload: dict, extra_headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra_headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
