"""`memo doctor`, `memo chat` and `memo cache info|clear`: backends, configuration and the response cache."""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib import metadata
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..config import ROLES
from ..llm import Completion, CompletionError, GenParams, ResponseCache, discovery, load_model
from ..paths import memo_home
from ._common import config, console, err_console, fail, run_cli


_PROBE_TOKENS = 4  # the length of the probe request of `memo doctor` (docs/BACKENDS.md): room for "OK."


def doctor(
    probe: Annotated[bool, typer.Option(help=f"Send a {_PROBE_TOKENS}-token request to each role's model.")] = True,
) -> None:
    """Versions, cache location, each role's model and whether it answers, and local OpenAI-compatible servers."""
    cfg = config()
    table = Table(title="memo doctor", show_header=False)
    table.add_row("memo-llm", metadata.version("memo-llm"))
    table.add_row("python", platform.python_version())
    for pkg in ("torch", "transformers", "peft", "accelerate", "xgrammar", "openai", "sentence-transformers"):
        try:
            table.add_row(pkg, metadata.version(pkg))
        except metadata.PackageNotFoundError:
            table.add_row(pkg, "[red]not installed[/]")
    import torch

    table.add_row("accelerator", "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    table.add_row("MEMO_HOME", str(memo_home()))
    table.add_row("config", cfg.source or "(defaults: no memo.toml)")
    table.add_row("response cache", str(cfg.cache_path() or "disabled"))
    console.print(table)

    roles = Table(title="roles")
    for col in ("role", "spec", "status", "seconds"):
        roles.add_column(col)
    problems: list[str] = []
    seen: dict[tuple[str, bool], tuple[str, str]] = {}
    for role in ROLES:
        spec = cfg.spec_for(role)
        if not probe:
            roles.add_row(role, escape(spec), "not probed", "")
            continue
        key = (spec, role == "executive")  # the embedded executive is the embedded model plus its adapter
        if key not in seen:
            t0 = time.perf_counter()
            try:
                model = load_model(spec, cfg, cache=False, role=role)
                [reply] = model.complete_batch(["Say OK."], GenParams(max_tokens=_PROBE_TOKENS))
                status = (f"[green]answers[/] ({escape(repr(reply.text[:20]))})" if isinstance(reply, Completion) else
                          f"[yellow]answers, without text in {_PROBE_TOKENS} tokens[/] ({reply.reason})")
                seen[key] = (status, f"{time.perf_counter() - t0:.1f}")
            except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
                problems.append(escape(f"{spec}: {type(exc).__name__}: {exc}"))
                seen[key] = ("[red]fails[/] (see below)", f"{time.perf_counter() - t0:.1f}")
        roles.add_row(role, escape(spec), *seen[key])
    console.print(roles)
    print_local_servers()
    for problem in problems:
        err_console.print(f"[bold red]error:[/] {problem}", soft_wrap=True, highlight=False)
    if problems:
        raise typer.Exit(1)


def print_local_servers() -> None:
    """List the OpenAI-compatible servers on the usual loopback ports, with the line that makes one the executive."""
    servers = discovery.find_local_servers()
    if not servers:
        ports = ", ".join(f"{port} ({name})" for port, name in discovery.DEFAULT_PORTS.items())
        console.print(f"[dim]no OpenAI-compatible server on 127.0.0.1 ports {ports}[/]", soft_wrap=True)
        return
    for server in servers:  # soft_wrap: the line must stay whole, to be copied
        console.print(f"{server.name}-style server at {server.base_url}: "
                      + ", ".join(server.models[:8]) + (" ..." if len(server.models) > 8 else ""),
                      highlight=False, markup=False, soft_wrap=True)
        console.print("  make it the executive:", highlight=False)
        console.print(f"  {server.executive_line()}", highlight=False, markup=False, soft_wrap=True)


def chat(
    prompt: Annotated[str, typer.Argument(help="What to say; '-' reads standard input.")],
    role: Annotated[str, typer.Option(help=f"Use this role's model ({', '.join(ROLES)}).")] = "executive",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="A model spec; overrides --role.")] = None,
    system: Annotated[Optional[str], typer.Option(help="A system message.")] = None,
    temperature: Annotated[float, typer.Option()] = 0.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 256,
    seed: Annotated[int, typer.Option()] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print usage counters as JSON after the answer.")] = False,
) -> None:
    """Send one prompt to a model and print its answer."""
    cfg = config()
    text = sys.stdin.read() if prompt == "-" else prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    llm = run_cli(load_model, model or run_cli(cfg.spec_for, role), cfg)
    [answer] = run_cli(llm.complete_batch, [messages], GenParams(temperature=temperature, max_tokens=max_tokens, seed=seed))
    if isinstance(answer, CompletionError):
        fail(escape(str(answer)))
    console.print(answer.text, markup=False, highlight=False)
    if answer.truncated:
        err_console.print(f"[yellow]note:[/] the answer was cut at --max-tokens {max_tokens}", highlight=False)
    if as_json:
        console.print_json(json.dumps(llm.usage.as_dict()))


cache_app = typer.Typer(help="Inspect or clear the persistent response cache.", no_args_is_help=True)


def _cache_path():
    path = config().cache_path()
    if path is None:
        fail("the response cache is disabled (MEMO_CACHE=off or [cache] enabled = false)")
    return path


@cache_app.command("info")
def cache_info() -> None:
    """Where the cache is and how many answers it holds."""
    console.print_json(json.dumps(run_cli(ResponseCache, _cache_path()).stats()))


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached answer (a corrupt cache file is removed and recreated)."""
    path = _cache_path()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    ResponseCache(path)
    console.print(f"cleared {path}")
