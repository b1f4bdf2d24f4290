"""Read model weights one tensor at a time, and a memory's task vector one tensor at a time.

`Weights` opens a Hugging Face model directory (one `model.safetensors` or a sharded index) lazily with
`safetensors.safe_open`, so a merge holds only the tensors it is working on. `TaskVector` gives theta - base for
a full fine-tune, or the exact scale * B @ A for a PEFT LoRA adapter directory.
"""

from __future__ import annotations

import json
import math
import re
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import safe_open

if TYPE_CHECKING:  # imported where a merge runs: `memo --help` stays fast
    import torch

INDEX = "model.safetensors.index.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class IncompatibleMemoriesError(ValueError):
    """Memories that cannot be merged: different bases, tokenizers or tensor shapes."""


def _weight_files(model_dir: Path) -> dict[str, Path]:
    """tensor name -> file holding it."""
    if (model_dir / INDEX).is_file():
        index = json.loads((model_dir / INDEX).read_text())
        return {name: model_dir / f for name, f in index["weight_map"].items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{model_dir} has no model.safetensors (or {INDEX}); merging needs safetensors weights")
    with safe_open(single, framework="pt") as f:
        return {name: single for name in f.keys()}


class Weights:
    """Lazy, read-only view of a model directory's tensors. Use as a context manager."""

    def __init__(self, model_dir: str | Path):
        self.dir = Path(model_dir)
        self.files = _weight_files(self.dir)
        self._stack = ExitStack()
        self._handles: dict[Path, object] = {}

    def __enter__(self) -> "Weights":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _handle(self, name: str):
        path = self.files[name]
        if path not in self._handles:
            self._handles[path] = self._stack.enter_context(safe_open(path, framework="pt"))
        return self._handles[path]

    def names(self) -> list[str]:
        return list(self.files)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._handle(name).get_slice(name).get_shape())

    def get(self, name: str) -> torch.Tensor:
        return self._handle(name).get_tensor(name)


def is_lora_dir(path: Path) -> bool:
    return (path / ADAPTER_CONFIG).is_file() and (path / ADAPTER_WEIGHTS).is_file()


def _lora_layers(adapter_dir: Path) -> dict[str, tuple[str, str, float]]:
    """base tensor name -> (lora_A key, lora_B key, scale), from a PEFT LoRA adapter directory."""
    cfg = json.loads((adapter_dir / ADAPTER_CONFIG).read_text())
    if cfg.get("peft_type", "LORA") != "LORA":
        raise IncompatibleMemoriesError(f"{adapter_dir}: only LoRA adapters can be merged, not {cfg.get('peft_type')}")
    if cfg.get("use_dora") or cfg.get("fan_in_fan_out"):
        raise IncompatibleMemoriesError(f"{adapter_dir}: DoRA and fan_in_fan_out adapters are not supported")
    layers: dict[str, tuple[str, str, float]] = {}
    with safe_open(adapter_dir / ADAPTER_WEIGHTS, framework="pt") as f:
        keys = list(f.keys())
        for key in keys:
            m = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_A(?:\.[^.]+)?\.weight", key)
            if m is None:
                if ".lora_B" not in key:
                    raise IncompatibleMemoriesError(
                        f"{adapter_dir}: adapter tensor {key!r} is not a LoRA factor (modules_to_save is not supported)"
                    )
                continue
            module = m.group(1)
            b_key = key.replace(".lora_A", ".lora_B")
            if b_key not in keys:
                raise IncompatibleMemoriesError(f"{adapter_dir}: {key} has no matching {b_key}")
            rank = f.get_slice(key).get_shape()[0]
            alpha = _pattern_value(cfg.get("alpha_pattern") or {}, module, cfg.get("lora_alpha", 8))
            scale = alpha / math.sqrt(rank) if cfg.get("use_rslora") else alpha / rank
            layers[f"{module}.weight"] = (key, b_key, scale)
    return layers


def _pattern_value(patterns: dict, module: str, default):
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


class TaskVector:
    """theta_memory - theta_base for one memory, computed tensor by tensor."""

    def __init__(self, source: str | Path, base: Weights):
        self.source = Path(source)
        self.base = base
        self._stack = ExitStack()
        if is_lora_dir(self.source):
            self.lora = _lora_layers(self.source)
            self._adapter = self._stack.enter_context(safe_open(self.source / ADAPTER_WEIGHTS, framework="pt"))
            missing = sorted(set(self.lora) - set(base.names()))
            if missing:
                raise IncompatibleMemoriesError(f"{self.source}: adapter targets tensors the base lacks: {missing[:3]}")
            self.full = None
        else:
            self.lora = None
            self.full = self._stack.enter_context(Weights(self.source))
            self._check_shapes()

    def _check_shapes(self) -> None:
        mine, theirs = set(self.full.names()), set(self.base.names())
        if mine != theirs:
            diff = sorted(mine ^ theirs)
            raise IncompatibleMemoriesError(
                f"{self.source} and the base {self.base.dir} hold different tensors (e.g. {diff[:3]}): not the same architecture"
            )
        for name in theirs:
            if self.full.shape(name) != self.base.shape(name):
                raise IncompatibleMemoriesError(
                    f"{self.source}: tensor {name} has shape {self.full.shape(name)}, the base {self.base.shape(name)}"
                )

    def __enter__(self) -> "TaskVector":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def delta(self, name: str, base_tensor: torch.Tensor) -> torch.Tensor:
        """The memory's change to tensor `name` (float32)."""
        import torch

        if self.full is not None:
            return self.full.get(name).to(torch.float32) - base_tensor.to(torch.float32)
        if name not in self.lora:
            return torch.zeros_like(base_tensor, dtype=torch.float32)
        from .math import lora_delta

        a_key, b_key, scale = self.lora[name]
        return lora_delta(self._adapter.get_tensor(a_key), self._adapter.get_tensor(b_key), scale)
