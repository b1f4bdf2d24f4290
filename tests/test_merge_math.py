"""Merge math against hand-computed results, and exact LoRA deltas through the streaming merge."""

from __future__ import annotations

import pytest
import torch

from memo.merge.math import lora_delta, merge_task_vectors
from memo.merge.merging import merge_weights

T1 = torch.tensor([1.0, -2.0, 0.5, 0.1])
T2 = torch.tensor([3.0, 1.0, -0.2, -0.05])


def test_ties_trims_elects_sign_and_takes_disjoint_mean():
    # density 0.5 keeps the two largest |entries| of each: T1 -> [1, -2, 0, 0], T2 -> [3, 1, 0, 0].
    # Elected signs from the sum [4, -1, 0, 0]: +, -, (+, +). Entry 0: mean(1, 3) = 2; entry 1: only T1 agrees -> -2.
    merged = merge_task_vectors([T1, T2], "ties", density=0.5)
    assert torch.equal(merged, torch.tensor([2.0, -2.0, 0.0, 0.0]))


def test_ties_without_trimming_keeps_agreeing_entries_only():
    # Sum [4, -1, 0.3, 0.05] -> signs +, -, +, +. Entry 2: T1 (0.5) agrees, T2 (-0.2) not -> 0.5; entry 3: 0.1.
    merged = merge_task_vectors([T1, T2], "ties", density=1.0)
    assert torch.allclose(merged, torch.tensor([2.0, -2.0, 0.5, 0.1]))


def test_ties_weights_scale_the_agreeing_entries():
    merged = merge_task_vectors([T1, T2], "ties", weights=[2.0, 2.0], density=0.5)
    assert torch.equal(merged, torch.tensor([4.0, -4.0, 0.0, 0.0]))


def test_task_arithmetic_is_a_weighted_sum_and_linear_a_weighted_mean():
    assert torch.allclose(merge_task_vectors([T1, T2], "task_arithmetic", weights=[0.5, 2.0]), 0.5 * T1 + 2.0 * T2)
    assert torch.allclose(merge_task_vectors([T1, T2], "linear", weights=[1.0, 3.0]), 0.25 * T1 + 0.75 * T2)
    assert torch.allclose(merge_task_vectors([T1, T2], "linear"), (T1 + T2) / 2)


def test_magnitude_prune_sums_the_trimmed_vectors():
    merged = merge_task_vectors([T1, T2], "magnitude_prune", density=0.5)
    assert torch.equal(merged, torch.tensor([4.0, -1.0, 0.0, 0.0]))


def test_dare_drops_at_random_rescales_and_is_reproducible():
    t = torch.full((10_000,), 0.5)
    zero = torch.zeros_like(t)
    a = merge_task_vectors([t, zero], "dare_linear", density=0.25, seed=7)
    # Each kept entry is rescaled by 1/density; dropped ones are 0.
    assert set(a.unique().tolist()) == {0.0, 2.0}
    assert abs((a != 0).float().mean().item() - 0.25) < 0.03
    assert abs(a.mean().item() - 0.5) < 0.05  # the expectation is preserved
    assert torch.equal(a, merge_task_vectors([t, zero], "dare_linear", density=0.25, seed=7))
    assert not torch.equal(a, merge_task_vectors([t, zero], "dare_linear", density=0.25, seed=8))
    ties = merge_task_vectors([t, -t], "dare_ties", density=0.5, seed=3)
    assert torch.equal(ties, merge_task_vectors([t, -t], "dare_ties", density=0.5, seed=3))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown merge method"):
        merge_task_vectors([T1, T2], "slerp")
    with pytest.raises(ValueError, match="density"):
        merge_task_vectors([T1, T2], "ties", density=0.0)
    with pytest.raises(ValueError, match="weights"):
        merge_task_vectors([T1, T2], "linear", weights=[1.0])


def test_lora_delta_is_scale_times_b_at_a():
    a, b = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0], [-1.0]])
    assert torch.equal(lora_delta(a, b, 2.0), torch.tensor([[2.0, 4.0, 6.0], [-2.0, -4.0, -6.0]]))


def test_streaming_lora_merge_equals_peft_merge_and_unload(tiny_model_dir, tmp_path):
    """Two LoRA adapters merged with task arithmetic give exactly base + both adapters' B @ A deltas."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapters = []
    for i, (r, alpha, rslora) in enumerate([(4, 8, False), (2, 16, True)]):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, use_rslora=rslora, target_modules="all-linear"))
        torch.manual_seed(i)
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.data.normal_(0, 0.5)  # B starts at zero: make the adapter actually change something
        peft_model.save_pretrained(tmp_path / f"adapter{i}")
        adapters.append(peft_model)
    expected = {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict().items()}
    for peft_model in adapters:
        base_state = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
        merged_state = peft_model.merge_and_unload().state_dict()
        for k in expected:
            expected[k] += merged_state[k] - base_state[k]

    merge_weights(tiny_model_dir, [tmp_path / "adapter0", tmp_path / "adapter1"], tmp_path / "out",
                  method="task_arithmetic")
    got = AutoModelForCausalLM.from_pretrained(tmp_path / "out").state_dict()
    base_state = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    for k, v in expected.items():
        assert torch.allclose(got[k], v, atol=1e-6), k
    assert not torch.allclose(got["model.layers.0.self_attn.q_proj.weight"], base_state["model.layers.0.self_attn.q_proj.weight"])
