"""Merge math on one tensor at a time: task vectors in, one merged task vector out.

The methods themselves are `peft.utils.merge_utils` (maintained, used by PEFT's adapter merging); this module
only names them, normalises weights, makes DARE's random drop reproducible, and computes exact LoRA deltas.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # torch and peft are imported where a merge runs: `memo --help` stays fast
    import torch

#: method name -> (needs a density, is random). "linear" is a weighted mean, "task_arithmetic" a weighted sum.
METHODS: dict[str, tuple[bool, bool]] = {
    "linear": (False, False),
    "task_arithmetic": (False, False),
    "magnitude_prune": (True, False),
    "ties": (True, False),
    "dare_linear": (True, True),
    "dare_ties": (True, True),
}


def check_method(method: str, density: float) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown merge method {method!r}; choose one of {', '.join(METHODS)}")
    if METHODS[method][0] and not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")


def merge_task_vectors(
    deltas: Sequence[torch.Tensor],
    method: str = "ties",
    weights: Sequence[float] | None = None,
    density: float = 0.3,
    seed: int = 0,
) -> torch.Tensor:
    """Combine task vectors (theta_k - theta_base) of one tensor into one.

    `linear` divides by the weights' sum (a weighted mean); every other method uses the weights as given, as
    the TIES and DARE papers do. DARE's random mask comes from `seed` alone, so a merge is reproducible.
    """
    import torch

    check_method(method, density)
    if not deltas:
        raise ValueError("nothing to merge")
    w = torch.tensor(list(weights) if weights is not None else [1.0] * len(deltas), dtype=deltas[0].dtype)
    if len(w) != len(deltas):
        raise ValueError(f"{len(w)} weights for {len(deltas)} task vectors")
    tensors = list(deltas)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The density .* no pruning")  # density 1 = no trim: intended
        return _merge(tensors, method, w, density, seed)


def _merge(tensors: list[torch.Tensor], method: str, w: torch.Tensor, density: float, seed: int) -> torch.Tensor:
    import torch
    from peft.utils import merge_utils

    if method == "linear":
        return merge_utils.task_arithmetic(tensors, w / w.sum())
    if method == "task_arithmetic":
        return merge_utils.task_arithmetic(tensors, w)
    if method == "magnitude_prune":
        return merge_utils.magnitude_prune(tensors, w, density)
    if method == "ties":
        return merge_utils.ties(tensors, w, density)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if method == "dare_linear":
            return merge_utils.dare_linear(tensors, w, density)
        return merge_utils.dare_ties(tensors, w, density)


def lora_delta(lora_a: torch.Tensor, lora_b: torch.Tensor, scale: float) -> torch.Tensor:
    """The exact weight change of one LoRA layer: scale * B @ A (never merged factor by factor)."""
    import torch

    return scale * (lora_b.to(torch.float32) @ lora_a.to(torch.float32))
