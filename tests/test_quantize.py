"""Tests for labkit.quantize (chapter 9, reused in chapter 7): int8 copies and their size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.env import seed_everything
from labkit.models import TinyGPT
from labkit.nn import MultiHeadAttention
from labkit.quantize import quantize_dynamic_int8, serialized_bytes


def tiny_gpt(vocab: int = 40, block: int = 16, layers: int = 2, d: int = 64, heads: int = 4):
    seed_everything(0)
    return TinyGPT(vocab_size=vocab, block_size=block, n_layer=layers, n_head=heads, d_model=d)


def test_int8_copy_is_close_smaller_and_leaves_the_original_alone() -> None:
    model = tiny_gpt().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_dynamic_int8(model)
    assert isinstance(model.lm_head, nn.Linear) and type(model.blocks[0].ffn.w1) is nn.Linear
    assert all(type(m) is not nn.Linear for m in q.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.fused for m in model.modules() if isinstance(m, MultiHeadAttention))
    idx = torch.randint(0, 40, (2, 16))
    with torch.no_grad():
        full, small = model(idx), q(idx)
    assert (full - small).abs().max() < 0.05 * full.abs().max()
    assert not torch.equal(full, small)  # it really is a different computation

    n_params = model.num_parameters()
    n_linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    float_bytes, int8_bytes = serialized_bytes(model), serialized_bytes(q)
    # the tied head is counted once; a small header
    assert 4 * n_params <= float_bytes < 4 * n_params + 20_000
    # every int8 weight is there (1 byte each) and the float parts stay float32
    assert int8_bytes >= n_linear + 4 * (n_params - n_linear + 40 * 64)
    assert float_bytes / int8_bytes > 2.5


def test_int8_weight_is_the_rounded_weight_over_one_scale() -> None:
    seed_everything(0)
    layer = nn.Sequential(nn.Linear(32, 16))
    q = quantize_dynamic_int8(layer)
    weight = q[0].weight()  # PyTorch's int8 weight: int8 values + one scale
    w = layer[0].weight.detach()
    by_hand = torch.round(w / weight.q_scale()).clamp(-128, 127)
    assert (by_hand - weight.int_repr().float()).abs().max() <= 1
    assert weight.int_repr().dtype == torch.int8


def test_serialized_bytes_counts_a_shared_weight_once() -> None:
    first = nn.Linear(64, 64, bias=False)
    shared = nn.Sequential(first, nn.Linear(64, 64, bias=False))
    shared[1].weight = first.weight
    separate = nn.Sequential(nn.Linear(64, 64, bias=False), nn.Linear(64, 64, bias=False))
    assert serialized_bytes(separate) - serialized_bytes(shared) >= 64 * 64 * 4


def test_quantize_helpers_reject_what_is_not_a_module() -> None:
    with pytest.raises(TypeError, match="nn.Module"):
        quantize_dynamic_int8(lambda x: x)
    with pytest.raises(TypeError, match="nn.Module"):
        serialized_bytes({"w": torch.zeros(2)})
