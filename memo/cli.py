"""`memo`: a thin command-line shell over the Python API. Each stage registers its own commands."""

from __future__ import annotations

import json
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
    ok = True
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
                ok = False
                seen[spec] = (f"[red]{type(exc).__name__}: {exc}[/]", f"{time.perf_counter() - t0:.1f}")
        roles.add_row(role, spec, *seen[spec])
    console.print(roles)
    if not ok:
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


def main() -> None:  # pragma: no cover - console entry point alias
    app()
