"""OpenAI-compatible servers already running on this machine, found on their usual loopback ports.

A capable local executive is often one command away: Ollama listens on 11434, vLLM on 8000, llama.cpp's server on
8080, and each lists its models at `GET /v1/models`. `find_local_servers` asks each port briefly (a closed port
answers at once; an open one that does not speak the protocol is skipped), so `memo doctor` and `memo demo` can
print the one line that makes a found model the executive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

#: Port -> the server that usually listens there.
DEFAULT_PORTS: dict[int, str] = {11434: "Ollama", 8000: "vLLM", 8080: "llama.cpp"}


@dataclass
class LocalServer:
    name: str  # what usually listens on that port (a guess from the port, not from the server)
    base_url: str  # http://127.0.0.1:PORT/v1
    models: list[str]

    def spec(self, model: str) -> str:
        """The model spec that names `model` on this server (memo's `http://host:port/v1#MODEL` form)."""
        return f"{self.base_url}#{model}"

    def executive_line(self) -> str:
        """The shell line that makes this server's first model the executive."""
        return f'export MEMO_EXECUTIVE="{self.spec(self.models[0])}"'


def find_local_servers(ports: Mapping[int, str] | None = None, host: str = "127.0.0.1",
                       timeout: float = 0.5) -> list[LocalServer]:
    """The servers answering `GET http://host:PORT/v1/models` with at least one model, in `ports` order.

    ports: port -> server name (default `DEFAULT_PORTS`, read at call time). timeout: seconds per port.
    Never raises for an unreachable or non-conforming port: it is simply not listed.
    """
    import httpx

    found = []
    for port, name in (DEFAULT_PORTS if ports is None else ports).items():
        base_url = f"http://{host}:{port}/v1"
        try:
            response = httpx.get(f"{base_url}/models", timeout=timeout)
            response.raise_for_status()
            models = [str(m["id"]) for m in response.json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            continue
        if models:
            found.append(LocalServer(name=name, base_url=base_url, models=models))
    return found
