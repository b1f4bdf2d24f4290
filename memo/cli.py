"""`memo`: a thin command-line shell over the Python API. Each stage registers its own commands."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import ROLES, ConfigError, load_config
from .llm import GenParams, LLMError, load_model

# Library progress bars (weight loading, GGUF conversion) would drown the CLI's own output.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

app = typer.Typer(
    help="MeMo, Memory as a Model: distil a corpus into a small memory model that any LLM can question.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def run_cli(fn, *args, **kwargs):
    """Call the Python API and turn expected failures into one clear line instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except (LLMError, ConfigError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))


@app.command()
def doctor(
    probe: bool = typer.Option(True, help="Send a one-token request to each role's model."),
    config: Optional[str] = typer.Option(None, help="Path to memo.toml."),
) -> None:
    """Versions, cache location, and each role's model and whether it answers."""
    cfg = run_cli(load_config, config)
    table = Table(title="memo doctor", show_header=False)
    table.add_row("memo-llm", metadata.version("memo-llm"))
    table.add_row("python", platform.python_version())
    for pkg in ("torch", "transformers", "peft", "accelerate", "xgrammar", "openai", "sentence-transformers"):
        try:
            table.add_row(pkg, metadata.version(pkg))
        except metadata.PackageNotFoundError:
            table.add_row(pkg, "[red]not installed[/]")
    try:
        import torch

        table.add_row("accelerator", "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    except ImportError:
        pass
    from .paths import memo_home

    table.add_row("MEMO_HOME", str(memo_home()))
    table.add_row("config", cfg.source or "(defaults: no memo.toml)")
    table.add_row("response cache", str(cfg.cache_path() or "disabled"))
    console.print(table)

    roles = Table(title="roles")
    for col in ("role", "spec", "status", "seconds"):
        roles.add_column(col)
    problems: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for role in ROLES:
        spec = cfg.spec_for(role)
        if not probe:
            roles.add_row(role, spec, "not probed", "")
            continue
        if spec not in seen:
            t0 = time.perf_counter()
            try:
                model = load_model(spec, cfg, cache=False)
                reply = model.chat("Say OK.", GenParams(max_tokens=4))
                seen[spec] = (f"[green]answers[/] ({reply[:20]!r})", f"{time.perf_counter() - t0:.1f}")
            except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
                problems.append(f"{spec}: {type(exc).__name__}: {exc}")
                seen[spec] = ("[red]fails[/] (see below)", f"{time.perf_counter() - t0:.1f}")
        roles.add_row(role, spec, *seen[spec])
    console.print(roles)
    for problem in problems:
        err_console.print(f"[bold red]error:[/] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@app.command()
def chat(
    prompt: str = typer.Argument(..., help="What to say; '-' reads standard input."),
    role: str = typer.Option("executive", help=f"Use this role's model ({', '.join(ROLES)})."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A model spec; overrides --role."),
    system: Optional[str] = typer.Option(None, help="A system message."),
    temperature: float = typer.Option(0.0),
    max_tokens: int = typer.Option(256),
    seed: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json", help="Print usage counters as JSON after the answer."),
    config: Optional[str] = typer.Option(None, help="Path to memo.toml."),
) -> None:
    """Send one prompt to a model and print its answer."""
    cfg = run_cli(load_config, config)
    text = sys.stdin.read() if prompt == "-" else prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    llm = run_cli(load_model, model or cfg.spec_for(role), cfg)
    answer = run_cli(llm.chat, messages, GenParams(temperature=temperature, max_tokens=max_tokens, seed=seed))
    console.print(answer, markup=False, highlight=False)
    if as_json:
        console.print_json(json.dumps(llm.usage.as_dict()))


cache_app = typer.Typer(help="Inspect or clear the persistent response cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _open_cache(config: Optional[str]):
    from .llm import ResponseCache

    path = run_cli(load_config, config).cache_path()
    if path is None:
        fail("the response cache is disabled (MEMO_CACHE=off or [cache] enabled = false)")
    return path, ResponseCache


@cache_app.command("info")
def cache_info(config: Optional[str] = typer.Option(None, help="Path to memo.toml.")) -> None:
    """Where the cache is and how many answers it holds."""
    path, ResponseCache = _open_cache(config)
    console.print_json(json.dumps(run_cli(ResponseCache, path).stats()))


@cache_app.command("clear")
def cache_clear(config: Optional[str] = typer.Option(None, help="Path to memo.toml.")) -> None:
    """Delete every cached answer (a corrupt cache file is removed and recreated)."""
    path, ResponseCache = _open_cache(config)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    ResponseCache(path)
    console.print(f"cleared {path}")


from .executive.cli import register as register_executive  # noqa: E402
register_executive(app)

from .reflect.cli import register as register_reflect  # noqa: E402
register_reflect(app)

from .merge.cli import register as register_merge  # noqa: E402
register_merge(app)

from .memory.cli import register as register_memory  # noqa: E402
register_memory(app)
