"""Project configuration: which model plays each role, where the cache lives, HTTP limits, and each stage's
settings. This module is the one place that turns memo.toml into the stage configs (`Config.reflect_config()`,
`Config.train_config()`, `Config.executive_settings()`); every entry point of the Python API takes those objects
and, when given none, builds them here from memo.toml, so the CLI and the API behave alike.

Precedence, lowest to highest: built-in defaults, `memo.toml` (in the working directory, or the file named by
MEMO_CONFIG), environment variables (MEMO_GENERATOR, MEMO_EXECUTIVE, MEMO_MEMORY_BASE, MEMO_JUDGE, MEMO_CACHE),
then CLI flags.

    [roles]
    generator = "http://127.0.0.1:8000/v1#Qwen/Qwen2.5-32B-Instruct"
    executive = "openai:gpt-4o-mini"
    memory_base = "embedded"
    judge = "embedded"

    [cache]
    path = ".memo/cache.sqlite"   # or enabled = false

    [http]
    concurrency = 8
    timeout = 120
    max_retries = 5

    [models."openai:o3-mini"]    # capabilities declared for one model spec (docs/BACKENDS.md)
    max_tokens_param = "max_completion_tokens"

    [reflect]          # memo.reflect.ReflectConfig fields
    [train]            # memo.memory.TrainConfig fields
    [executive]        # memo.executive.ExecutiveSettings fields
    [eval]             # memo.eval.EvalConfig fields
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .paths import memo_home
from .settings import (EvalConfig, ExecutiveSettings, ReflectConfig, TrainConfig, closest_key, from_table,
                       with_overrides)

Role = Literal["generator", "executive", "memory_base", "judge"]
ROLES: tuple[str, ...] = ("generator", "executive", "memory_base", "judge")


class ConfigError(ValueError):
    pass


class Roles(BaseModel):
    model_config = ConfigDict(extra="forbid")
    generator: str = "embedded"
    executive: str = "embedded"
    memory_base: str = "embedded"
    judge: str = "embedded"


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    path: str | None = None  # default: MEMO_HOME/cache.sqlite


class HTTPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0)


class ModelSettings(BaseModel):
    """Capabilities declared for one model spec, overriding what its backend assumes (`memo.llm.Capabilities`)."""

    model_config = ConfigDict(extra="forbid")
    structured: Literal["grammar", "json_schema", "prompt"] | None = None
    streaming: bool | None = None
    batch_size: int | None = Field(None, ge=1)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] | None = None
    omit_params: list[Literal["temperature", "top_p", "seed", "stop"]] | None = None


class Config(BaseModel):
    """memo.toml, validated when loaded: unknown keys in any section are errors."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    roles: Roles = Roles()
    cache: CacheConfig = CacheConfig()
    http: HTTPConfig = HTTPConfig()
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    reflect: ReflectConfig = Field(default_factory=ReflectConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    executive: ExecutiveSettings = Field(default_factory=ExecutiveSettings)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    source: str | None = None

    @field_validator("reflect", "train", "eval", mode="before")
    @classmethod
    def _stage_table(cls, value: Any, info) -> Any:
        if isinstance(value, dict):
            return from_table({"reflect": ReflectConfig, "train": TrainConfig, "eval": EvalConfig}[info.field_name],
                              value)
        return value

    def cache_path(self) -> Path | None:
        if not self.cache.enabled:
            return None
        return Path(self.cache.path).expanduser() if self.cache.path else memo_home() / "cache.sqlite"

    def spec_for(self, role: str) -> str:
        """The model spec configured for `role`; ConfigError for an unknown role."""
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        return getattr(self.roles, role)

    def reflect_config(self, **overrides: Any) -> ReflectConfig:
        """`[reflect]` with the non-None `overrides` on top, its `generator` this config's generator role unless
        set; ConfigError for a bad value."""
        cfg = _checked("reflect", lambda: with_overrides(self.reflect, **overrides))
        return cfg if cfg.generator else with_overrides(cfg, generator=self.spec_for("generator"))

    def train_config(self, **overrides: Any) -> TrainConfig:
        """`[train]` with the non-None `overrides` on top; ConfigError for a bad value."""
        return _checked("train", lambda: with_overrides(self.train, **overrides))

    def eval_config(self, **overrides: Any) -> EvalConfig:
        """`[eval]` with the non-None `overrides` on top; ConfigError for a bad value."""
        return _checked("eval", lambda: with_overrides(self.eval, **overrides))

    def executive_settings(self, **overrides: Any) -> ExecutiveSettings:
        """`[executive]` with the non-None `overrides` on top; ConfigError for a bad value."""
        update = {k: v for k, v in overrides.items() if v is not None}
        return _checked("executive", lambda: ExecutiveSettings.model_validate({**self.executive.model_dump(), **update}))


def _checked(section: str, build):
    try:
        return build()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}] settings: {exc}") from exc


def _describe(error: dict) -> str:
    """One pydantic error as one line: "[executive] entity_turn: unknown key (did you mean entity_turns?)"."""
    *table, key = [str(part) for part in error["loc"]] or ["?"]
    where = f"[{'.'.join(table)}] {key}" if table else f"[{key}]"
    if error["type"] == "extra_forbidden":
        if not table:  # memo.toml's top level holds only tables
            if isinstance(error.get("input"), dict):
                return f"[{key}]: unknown table" + closest_key(key, Config.model_fields)
            return f"{key}: unknown top-level key, the top level holds tables" + closest_key(key, Config.model_fields)
        model: Any = Config
        for part in table:
            if isinstance(model, dict):  # a table of tables (`[models."spec"]`): the part is a free key
                model = model["value"]
                continue
            model = model.model_fields[part].annotation if part in model.model_fields else None
            if get_origin(model) is dict:
                model = {"value": get_args(model)[1]}
            elif not (isinstance(model, type) and issubclass(model, BaseModel)):
                return f"{where}: unknown key"
        if isinstance(model, dict):
            return f"{where}: unknown key"
        return f"{where}: unknown key" + closest_key(key, model.model_fields)
    message = error["msg"].removeprefix("Value error, ")
    return f"[{key}] {message}" if not table else f"{where}: {message}"


def load_config(path: str | Path | None = None) -> Config:
    """The project configuration, validated: memo.toml's tables over the built-in defaults, then MEMO_* variables.

    Parameters:
        path: the TOML file to read; default the file MEMO_CONFIG names, else `memo.toml` in the working
            directory. When neither names the file, a missing memo.toml gives the built-in defaults.

    Returns a `Config` (pydantic): `roles` (generator, executive, memory_base, judge: model specs, default
    "embedded"), `cache` (enabled, path; `cache_path()` gives the file, default MEMO_HOME/cache.sqlite), `http`
    (concurrency, timeout in seconds, max_retries), `models` (capabilities declared per model spec), the stage
    settings `reflect` / `train` / `executive` / `eval` (`memo.settings`; `reflect_config(**overrides)`,
    `train_config(...)`, `executive_settings(...)`, `eval_config(...)` give them with overrides), and `source`
    (the file read, or None). Environment variables then override: MEMO_GENERATOR, MEMO_EXECUTIVE,
    MEMO_MEMORY_BASE and MEMO_JUDGE set the roles; MEMO_CACHE sets the cache path, or turns the cache off with
    "off", "0", "false" or "none".

    Raises ConfigError (a ValueError) for a file that is not valid UTF-8 TOML, an unknown table or key in any
    table, a value of the wrong type or out of range in [roles] / [cache] / [http] / [models] / [executive]
    (pydantic's message), a value the checks of `ReflectConfig` / `TrainConfig` / `EvalConfig` refuse (their
    `__post_init__`; field types are not checked there), or a file named by `path` or MEMO_CONFIG that does not
    exist.
    """
    path_given = path
    path = Path(path or os.environ.get("MEMO_CONFIG") or "memo.toml")
    data: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif path_arg := (path_given or os.environ.get("MEMO_CONFIG")):
        raise ConfigError(f"config file {path_arg} does not exist")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + "; ".join(_describe(e) for e in exc.errors())) from exc
    cfg.source = str(path) if path.exists() else None
    for role in ROLES:
        value = os.environ.get(f"MEMO_{role.upper()}")
        if value:
            setattr(cfg.roles, role, value)
    cache_env = os.environ.get("MEMO_CACHE")
    if cache_env:
        if cache_env.lower() in {"off", "0", "false", "none"}:
            cfg.cache.enabled = False
        else:
            cfg.cache.path = cache_env
    return cfg
