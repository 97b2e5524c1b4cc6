"""labkit.nn checked against PyTorch's own implementations and against the formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from labkit.nn import (
    FeedForward,
    LayerNorm,
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    causal_mask,
    combine_masks,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    set_fused,
    sinusoidal_encoding,
    split_heads,
)

ATOL = 1e-5


def close(a: torch.Tensor, b: torch.Tensor, atol: float = ATOL) -> bool:
    return torch.allclose(a, b, atol=atol, rtol=0)


# ---------------------------------------------------------------- scaled dot-product attention


def test_sdpa_matches_pytorch_without_mask() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert close(out, F.scaled_dot_product_attention(q, k, v))
    assert w.shape == (2, 3, 5, 7)
    assert close(w.sum(-1), torch.ones(2, 3, 5))
    # the formula, spelled out
    assert close(w, torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1))


def test_sdpa_dk_different_from_dv_and_extra_batch_dims() -> None:
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 2, 3, 4, 6), torch.randn(2, 2, 3, 5, 6), torch.randn(2, 2, 3, 5, 10)
    out = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 2, 3, 4, 10)
    assert close(out, F.scaled_dot_product_attention(q, k, v))


def test_sdpa_causal_matches_pytorch_is_causal() -> None:
    torch.manual_seed(2)
    q, k, v = (torch.randn(3, 4, 9, 8) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(9), return_weights=True)
    assert close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.all(w.triu(diagonal=1) == 0)  # nothing attends to the future
    assert close(w[..., 0, 0], torch.ones(3, 4))  # the first token can only see itself


def test_sdpa_padding_and_random_masks_match_pytorch() -> None:
    torch.manual_seed(3)
    q, k, v = (torch.randn(2, 4, 6, 8) for _ in range(3))
    am = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    for mask in (padding_mask(am), combine_masks(causal_mask(6), padding_mask(am))):
        out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
        assert close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
        assert torch.all(w[1, :, :, 3:] == 0)  # padded keys get no weight
    rand = torch.rand(2, 1, 6, 6) > 0.5
    assert close(
        scaled_dot_product_attention(q, k, v, rand),
        F.scaled_dot_product_attention(q, k, v, attn_mask=rand),
    )


def test_fully_masked_row_gives_zeros_like_pytorch_and_finite_gradients() -> None:
    torch.manual_seed(4)
    q, k, v = (torch.randn(1, 2, 4, 8, requires_grad=True) for _ in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[2] = False  # query 2 may attend to nothing
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.all(out[..., 2, :] == 0) and torch.all(w[..., 2, :] == 0)
    assert close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_sdpa_rejects_bad_masks_and_shapes() -> None:
    q = k = v = torch.randn(1, 4, 8)
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="d_k"):
        scaled_dot_product_attention(q, torch.randn(1, 4, 5), v)
    with pytest.raises(ValueError, match="positions"):
        scaled_dot_product_attention(q, k, torch.randn(1, 3, 8))


def test_masks() -> None:
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m[2].tolist() == [True, True, True, False]
    assert all(bool(m[i, j]) == (j <= i) for i in range(4) for j in range(4))
    pm = padding_mask(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert pm.shape == (2, 1, 1, 3) and pm[1, 0, 0].tolist() == [True, False, False]
    both = combine_masks(causal_mask(3), None, pm)
    assert both.shape == (2, 1, 3, 3)
    assert both[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert combine_masks(None, None) is None
    with pytest.raises(ValueError):
        padding_mask(torch.ones(3))
    with pytest.raises(ValueError):
        causal_mask(0)


# ---------------------------------------------------------------- multi-head attention


def test_split_and_merge_heads_round_trip() -> None:
    x = torch.randn(2, 5, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    assert torch.equal(h[:, 1], x[..., 4:8])  # head 1 owns features 4..7
    assert torch.equal(merge_heads(h), x)
    with pytest.raises(ValueError, match="divisible"):
        split_heads(x, 5)


def copy_to_torch_mha(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.d_model, ours.n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        ref.out_proj.bias.copy_(ours.w_o.bias)
    return ref.eval()


@pytest.mark.parametrize("fused", [False, True])
def test_mha_matches_torch_multihead_attention(fused: bool) -> None:
    torch.manual_seed(5)
    ours = MultiHeadAttention(16, 4, fused=fused).eval()
    ref = copy_to_torch_mha(ours)
    x = torch.randn(3, 7, 16)
    am = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 2 + [0] * 5])

    # plain self-attention, with weights per head
    out, w = ours(x, return_attention=True)
    ref_out, ref_w = ref(x, x, x, average_attn_weights=False)
    assert close(out, ref_out) and close(w, ref_w)
    assert close(ours(x), ref_out)

    # padding + causal: nn.MultiheadAttention's masks mean True = NOT allowed
    mask = combine_masks(causal_mask(7), padding_mask(am))
    out, w = ours(x, mask=padding_mask(am), is_causal=True, return_attention=True)
    ref_out, ref_w = ref(
        x, x, x, key_padding_mask=~am.bool(), attn_mask=~causal_mask(7), average_attn_weights=False
    )
    assert close(out, ref_out) and close(w, ref_w)
    assert close(ours(x, mask=mask), ref_out)

    # cross-attention: 7 queries attend to 4 memory positions
    mem = torch.randn(3, 4, 16)
    out, w = ours(x, kv=mem, return_attention=True)
    ref_out, ref_w = ref(x, mem, mem, average_attn_weights=False)
    assert w.shape == (3, 4, 7, 4)
    assert close(out, ref_out) and close(w, ref_w)
    assert close(ours(x, kv=mem), ref_out)


def test_scratch_and_fused_mha_agree_including_gradients() -> None:
    torch.manual_seed(6)
    mha = MultiHeadAttention(32, 4)
    x, mem = torch.randn(2, 6, 32), torch.randn(2, 5, 32)
    pad = padding_mask(torch.tensor([[1] * 6, [1] * 4 + [0] * 2]))
    cases = [
        dict(is_causal=True),
        dict(mask=pad),
        dict(mask=pad, is_causal=True),
        dict(kv=mem, mask=padding_mask(torch.tensor([[1] * 5, [1] * 3 + [0] * 2]))),
    ]
    for kwargs in cases:
        outs, grads = [], []
        for fused in (False, True):
            mha.fused = fused
            mha.zero_grad()
            out = mha(x, **kwargs)
            out.pow(2).sum().backward()
            outs.append(out)
            grads.append(torch.cat([p.grad.flatten() for p in mha.parameters()]))
        assert close(outs[0], outs[1]), kwargs
        assert close(grads[0], grads[1], atol=1e-4), kwargs
        # asking for weights on the fused path still returns them (computed explicitly)
        out_w, w = mha(x, return_attention=True, **kwargs)
        assert close(out_w, outs[0]) and w.shape[:2] == (2, 4)


def test_set_fused_switches_every_attention_module() -> None:
    block = TransformerBlock(16, 2, cross_attention=True)
    assert set_fused(block, True) is block
    assert block.attn.fused and block.cross_attn.fused and block.ln1.fused
    set_fused(block, False)
    assert not block.attn.fused and not block.cross_attn.fused and not block.ln_cross.fused


def test_mha_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="batch, time"):
        mha(torch.randn(4, 8))
    with pytest.raises(ValueError, match="batch, time, 8"):
        mha(torch.randn(1, 4, 6))
    with pytest.raises(ValueError, match="is_causal"):
        mha(torch.randn(1, 3, 8), kv=torch.randn(1, 4, 8), is_causal=True)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    heads=st.sampled_from([1, 2, 4]),
    d_head=st.sampled_from([1, 3, 8]),
    t_q=st.integers(1, 6),
    t_k=st.integers(1, 6),
    mask_kind=st.sampled_from(["none", "random", "padding", "causal"]),
    seed=st.integers(0, 10_000),
)
def test_attention_property(
    batch: int, heads: int, d_head: int, t_q: int, t_k: int, mask_kind: str, seed: int
) -> None:
    """Random shapes, head counts and masks: from scratch == PyTorch, scratch MHA == fused."""
    g = torch.Generator().manual_seed(seed)
    d = heads * d_head
    is_causal = mask_kind == "causal"
    if is_causal:
        t_k = t_q
    mask = None
    if mask_kind == "random":  # may block whole rows: both must give zeros there
        mask = torch.rand(batch, 1, t_q, t_k, generator=g) > 0.4
    elif mask_kind == "padding":
        lengths = torch.randint(1, t_k + 1, (batch,), generator=g)
        mask = padding_mask((torch.arange(t_k)[None] < lengths[:, None]).long())
    q = torch.randn(batch, heads, t_q, d_head, generator=g)
    k = torch.randn(batch, heads, t_k, d_head, generator=g)
    v = torch.randn(batch, heads, t_k, d_head + 1, generator=g)
    full = combine_masks(mask, causal_mask(t_q) if is_causal else None)
    assert close(
        scaled_dot_product_attention(q, k, v, full),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal),
    )

    torch.manual_seed(seed)
    mha = MultiHeadAttention(d, heads).eval()
    x = torch.randn(batch, t_q, d, generator=g)
    kv = None if is_causal else torch.randn(batch, t_k, d, generator=g)
    slow = mha(x, kv=kv, mask=mask, is_causal=is_causal)
    mha.fused = True
    fast = mha(x, kv=kv, mask=mask, is_causal=is_causal)
    assert close(slow, fast)
    assert torch.isfinite(fast).all()


# ---------------------------------------------------------------- positions


def test_sinusoidal_values_follow_the_formula() -> None:
    d = 16
    pe = sinusoidal_encoding(50, d)
    assert pe.shape == (50, d)
    assert torch.equal(pe[0, 0::2], torch.zeros(8)) and torch.equal(pe[0, 1::2], torch.ones(8))
    for pos in (1, 7, 49):
        for i in (0, 3, 7):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    module = SinusoidalPositionalEncoding(50, d)
    assert torch.equal(module(torch.arange(5)), pe[:5])
    assert "pe" not in module.state_dict()  # fixed, not saved
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match="crop"):
        module(torch.arange(51))


def test_learned_positions_are_trainable_and_range_checked() -> None:
    emb = LearnedPositionalEmbedding(8, 4)
    assert emb(torch.arange(3)).shape == (3, 4)
    assert emb.weight.requires_grad
    with pytest.raises(ValueError, match="block size"):
        emb(torch.arange(9))


def test_rope_preserves_norms_and_depends_only_on_relative_position() -> None:
    torch.manual_seed(7)
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 3, 10, 8)
    rx = rope(x)
    assert close(rx.norm(dim=-1), x.norm(dim=-1))
    assert close(rx[..., 0, :], x[..., 0, :])  # position 0 is not rotated
    assert not close(rx[..., 5, :], x[..., 5, :])

    q, k = torch.randn(8), torch.randn(8)

    def score(m: int, n: int) -> float:
        rq = rope(q[None], torch.tensor([m]))[0]
        rk = rope(k[None], torch.tensor([n]))[0]
        return float(rq @ rk)

    for m, n in [(3, 1), (7, 7), (2, 9)]:
        for shift in (1, 5, 20):
            assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-4)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(5)


def test_mha_with_rope_scratch_equals_fused_and_changes_attention() -> None:
    torch.manual_seed(8)
    mha = MultiHeadAttention(16, 2, rope=True).eval()
    x = torch.randn(1, 6, 16)
    slow, w = mha(x, is_causal=True, return_attention=True)
    mha.fused = True
    assert close(mha(x, is_causal=True), slow)
    plain = MultiHeadAttention(16, 2).eval()
    plain.load_state_dict(mha.state_dict())  # same weights, no rotation
    _, w_plain = plain(x, is_causal=True, return_attention=True)
    assert not close(w, w_plain)


# ---------------------------------------------------------------- FFN, LayerNorm, blocks


def test_layernorm_matches_pytorch() -> None:
    torch.manual_seed(9)
    for eps in (1e-5, 1e-12):
        ours, ref = LayerNorm(12, eps), nn.LayerNorm(12, eps=eps)
        with torch.no_grad():
            for p in (ours.weight, ours.bias):
                p.normal_()
            ref.weight.copy_(ours.weight)
            ref.bias.copy_(ours.bias)
        x = torch.randn(4, 5, 12) * 3 + 1
        assert close(ours(x), ref(x))
        ours.fused = True
        assert close(ours(x), ref(x))
    y = LayerNorm(12)(x)
    assert close(y.mean(-1), torch.zeros(4, 5)) and close(
        y.var(-1, unbiased=False), torch.ones(4, 5), 1e-4
    )


def test_feedforward_formula_and_activations() -> None:
    torch.manual_seed(10)
    x = torch.randn(2, 3, 8)
    ffn = FeedForward(8, 32, activation="relu")
    manual = torch.clamp(x @ ffn.w1.weight.T + ffn.w1.bias, min=0) @ ffn.w2.weight.T + ffn.w2.bias
    assert close(ffn(x), manual)
    assert FeedForward(8).w1.out_features == 32  # default d_ff = 4 * d_model
    g = FeedForward(8, 16, activation="gelu_tanh")
    h = g.w1(x)
    tanh_gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    assert close(g(x), g.w2(tanh_gelu))
    with pytest.raises(ValueError, match="activation"):
        FeedForward(8, activation="swish")


@pytest.mark.parametrize("pre_ln", [True, False])
def test_block_matches_torch_transformer_encoder_layer(pre_ln: bool) -> None:
    torch.manual_seed(11)
    ours = TransformerBlock(16, 4, 32, pre_ln=pre_ln, activation="relu").eval()
    ref = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation="relu", batch_first=True, norm_first=pre_ln
    ).eval()
    a = ours.attn
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.w_q.weight, a.w_k.weight, a.w_v.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.w_q.bias, a.w_k.bias, a.w_v.bias]))
        ref.self_attn.out_proj.weight.copy_(a.w_o.weight)
        ref.self_attn.out_proj.bias.copy_(a.w_o.bias)
        for mine, theirs in [
            (ours.ffn.w1, ref.linear1),
            (ours.ffn.w2, ref.linear2),
            (ours.ln1, ref.norm1),
            (ours.ln2, ref.norm2),
        ]:
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    x = torch.randn(2, 5, 16)
    am = torch.tensor([[1] * 5, [1, 1, 1, 0, 0]])
    expected = ref(x, src_mask=~causal_mask(5), src_key_padding_mask=~am.bool(), is_causal=True)
    got, w = ours(x, mask=padding_mask(am), is_causal=True, return_attention=True)
    assert close(got, expected, 1e-4)
    assert w.shape == (2, 4, 5, 5)
    set_fused(ours, True)
    assert close(ours(x, mask=padding_mask(am), is_causal=True), expected, 1e-4)


def test_pre_ln_block_is_two_residual_sublayers_in_sequence() -> None:
    torch.manual_seed(12)
    block = TransformerBlock(8, 2, activation="gelu").eval()
    x = torch.randn(1, 4, 8)
    h = x + block.attn(block.ln1(x), is_causal=True)
    expected = h + block.ffn(block.ln2(h))
    assert close(block(x, is_causal=True), expected)


def test_decoder_block_with_cross_attention() -> None:
    torch.manual_seed(13)
    block = TransformerBlock(16, 2, cross_attention=True).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    mem_mask = padding_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]))
    y, self_w, cross_w = block(
        x, is_causal=True, memory=memory, memory_mask=mem_mask, return_attention=True
    )
    assert y.shape == x.shape and self_w.shape == (2, 2, 5, 5) and cross_w.shape == (2, 2, 5, 3)
    assert torch.all(cross_w[1, :, :, 2] == 0)
    assert close(y, block(x, is_causal=True, memory=memory, memory_mask=mem_mask))
    # the output depends on the memory
    assert not close(y, block(x, is_causal=True, memory=memory + 1, memory_mask=mem_mask))
    with pytest.raises(ValueError, match="memory"):
        block(x)
