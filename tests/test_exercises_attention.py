"""Chapter 2 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import attention as reference

# ----------------------------------------------------------------------------- softmax

SOFTMAX = exercises.get("attention.softmax")


def test_softmax_reference_and_alternatives_pass() -> None:
    def via_logsumexp(x, dim=-1):
        return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))

    def via_moveaxis(x, dim=-1):
        y = x.movedim(dim, -1)
        y = y - y.amax(-1, keepdim=True)
        e = torch.exp(y)
        return (e / e.sum(-1, keepdim=True)).movedim(-1, dim)

    assert SOFTMAX.check(reference.softmax).passed
    assert SOFTMAX.check(via_logsumexp).passed
    assert SOFTMAX.check(via_moveaxis).passed


def test_softmax_without_max_subtraction_is_named() -> None:
    def softmax(x, dim=-1):
        return torch.exp(x) / torch.sum(torch.exp(x), dim=dim, keepdim=True)

    result = SOFTMAX.check(softmax)
    assert result.headline.startswith("Your softmax overflows on large inputs")
    assert "large logits" in result.details and "got nan" in result.details


def test_softmax_global_max_and_ignored_dim_are_named() -> None:
    def global_max(x, dim=-1):
        e = torch.exp(x - x.max())
        return e / e.sum(dim, keepdim=True)

    def last_dim_only(x, dim=-1):
        e = torch.exp(x - x.max(-1, keepdim=True).values)
        return e / e.sum(-1, keepdim=True)

    assert "max of the whole tensor" in SOFTMAX.check(global_max).headline
    assert "ignore the `dim` argument" in SOFTMAX.check(last_dim_only).headline


def test_softmax_missing_keepdim_and_max_tuple_are_named() -> None:
    def no_keepdim(x, dim=-1):
        e = torch.exp(x - x.max(dim, keepdim=True).values)
        return e / e.sum(dim)

    def max_tuple(x, dim=-1):
        e = torch.exp(x - torch.max(x, dim))
        return e / e.sum(dim, keepdim=True)

    assert "keepdim=True" in SOFTMAX.check(no_keepdim).headline
    assert ".values" in SOFTMAX.check(max_tuple).headline


# ----------------------------------------------------------------------------- scaled_dot_product

SDP = exercises.get("attention.scaled_dot_product")


def test_attention_reference_matches_pytorch() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g) for _ in range(3))
    mask = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    out, weights = reference.scaled_dot_product(q, k, v, mask)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5))


def test_attention_reference_and_alternative_pass() -> None:
    def einsum_attention(q, k, v, mask=None):
        q = q / q.shape[-1] ** 0.5
        scores = torch.einsum("...qd,...kd->...qk", q, k)
        if mask is not None:
            scores = torch.where(mask, scores, torch.tensor(-1e9))
        weights = scores.softmax(dim=-1)
        return torch.einsum("...qk,...kd->...qd", weights, v), weights

    assert SDP.check(reference.scaled_dot_product).passed
    assert SDP.check(einsum_attention).passed


def test_attention_without_scaling_is_named() -> None:
    def attention(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, -1)
        return w @ v, w

    assert (
        SDP.check(attention).headline
        == "Looks like you forgot to divide the scores by √d_k (d_k = q.size(-1))."
    )


def test_attention_inverted_mask_and_wrong_softmax_dim_are_named() -> None:
    def inverted(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        w = torch.softmax(scores, -1)
        return w @ v, w

    def wrong_dim(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        w = torch.softmax(scores, dim=-2)
        return w @ v, w

    def dim_one(q, k, v, mask=None):  # right for 2-D inputs, dim=-2 for 3-D ones
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, dim=1)
        return w @ v, w

    def dim_zero(q, k, v, mask=None):  # normalises over the batch for most cases
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, -1e9)
        w = torch.softmax(scores, dim=0)
        return w @ v, w

    assert "mask is inverted" in SDP.check(inverted).headline
    assert "not dim=-2" in SDP.check(wrong_dim).headline
    assert "softmax over the last dim (dim=-1)" in SDP.check(dim_one).headline
    assert "must sum to 1 over the keys" in SDP.check(dim_zero).headline


def test_attention_with_matrix_transpose_on_batches_is_named() -> None:
    def attention(q, k, v, mask=None):
        scores = q @ k.t() / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, -1)
        return w @ v, w

    result = SDP.check(attention)
    assert "k.transpose(-2, -1)" in result.headline and "RuntimeError" in result.details


def test_attention_scaled_by_dv_and_single_output_are_named() -> None:
    def by_dv(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, -1)
        return w @ v, w

    def only_out(q, k, v, mask=None):
        return reference.scaled_dot_product(q, k, v, mask)[0]

    assert "not by √d_v" in SDP.check(by_dv).headline
    assert "`return out, weights`" in SDP.check(only_out).headline


# ----------------------------------------------------------------------------- causal_mask

CAUSAL = exercises.get("attention.causal_mask")


def test_causal_mask_reference_and_alternative_pass() -> None:
    def by_comparison(T):
        pos = torch.arange(T)
        return pos[None, :] <= pos[:, None]

    assert CAUSAL.check(reference.causal_mask).passed
    assert CAUSAL.check(by_comparison).passed


def test_causal_mask_known_mistakes_are_named() -> None:
    def strict(T):
        pos = torch.arange(T)
        return pos[None, :] < pos[:, None]

    def inverted(T):
        return torch.ones(T, T).triu(1).bool()

    def transposed(T):
        pos = torch.arange(T)
        return pos[:, None] <= pos[None, :]

    def as_float(T):
        return torch.tril(torch.ones(T, T))

    assert "excludes the diagonal" in CAUSAL.check(strict).headline
    assert "mask is inverted" in CAUSAL.check(inverted).headline
    assert "transposed" in CAUSAL.check(transposed).headline
    assert "dtype=torch.bool" in CAUSAL.check(as_float).headline


# ------------------------------------------------------------------------ split_heads / merge_heads

SPLIT = exercises.get("attention.split_heads")
MERGE = exercises.get("attention.merge_heads")


def test_split_heads_reference_and_alternative_pass() -> None:
    def by_chunks(x, n_heads):
        return torch.stack(x.chunk(n_heads, dim=-1), dim=1)

    assert SPLIT.check(reference.split_heads).passed
    assert SPLIT.check(by_chunks).passed


def test_split_heads_known_mistakes_are_named() -> None:
    def wrong_order(x, n_heads):
        B, T, D = x.shape
        return x.view(B, n_heads, T, D // n_heads)

    def interleaved(x, n_heads):
        B, T, D = x.shape
        return x.view(B, T, -1, n_heads).permute(0, 3, 1, 2)

    def no_transpose(x, n_heads):
        B, T, D = x.shape
        return x.view(B, T, n_heads, -1)

    assert "mixes positions and features" in SPLIT.check(wrong_order).headline
    assert "every H-th feature" in SPLIT.check(interleaved).headline
    assert "missing the transpose" in SPLIT.check(no_transpose).headline


def test_merge_heads_reference_and_alternative_pass() -> None:
    def by_cat(x):
        return torch.cat(x.unbind(dim=1), dim=-1)

    def contiguous_view(x):
        B, H, T, d = x.shape
        return x.permute(0, 2, 1, 3).contiguous().view(B, T, H * d)

    assert MERGE.check(reference.merge_heads).passed
    assert MERGE.check(by_cat).passed
    assert MERGE.check(contiguous_view).passed


def test_merge_heads_known_mistakes_are_named() -> None:
    def no_transpose(x):
        B, H, T, d = x.shape
        return x.reshape(B, T, H * d)

    def interleaved(x):
        B, H, T, d = x.shape
        return x.permute(0, 2, 3, 1).reshape(B, T, -1)

    def view_after_transpose(x):
        B, H, T, d = x.shape
        return x.transpose(1, 2).view(B, T, H * d)

    assert "without moving the head axis back" in MERGE.check(no_transpose).headline
    assert "side by side" in MERGE.check(interleaved).headline
    result = MERGE.check(view_after_transpose)
    assert "not contiguous" in result.headline and "RuntimeError" in result.details


def test_split_then_merge_is_the_identity() -> None:
    x = torch.randn(2, 5, 12)
    assert torch.equal(reference.merge_heads(reference.split_heads(x, 3)), x)


# ----------------------------------------------------------------------------- sinusoidal_positions

PE = exercises.get("attention.sinusoidal_positions")


def test_positions_reference_and_alternative_pass() -> None:
    def with_loops(T, d):
        rows = []
        for pos in range(T):
            row = []
            for i in range(d // 2):
                angle = pos / 10000 ** (2 * i / d)
                row += [math.sin(angle), math.cos(angle)]
            rows.append(row)
        return torch.tensor(rows)

    def with_exp_log(T, d):
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2) / d)
        angles = torch.arange(T)[:, None] * freq
        return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(T, d)

    assert PE.check(reference.sinusoidal_positions).passed
    assert PE.check(with_loops).passed
    assert PE.check(with_exp_log).passed


def test_positions_known_mistakes_are_named() -> None:
    def halves(T, d):
        angles = torch.arange(T)[:, None] / 10000 ** (torch.arange(0, d, 2) / d)
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    def swapped(T, d):
        angles = torch.arange(T)[:, None] / 10000 ** (torch.arange(0, d, 2) / d)
        pe = torch.zeros(T, d)
        pe[:, 0::2], pe[:, 1::2] = angles.cos(), angles.sin()
        return pe

    def column_exponent(T, d):
        pe = torch.zeros(T, d)
        for j in range(d):
            angle = torch.arange(T) / 10000 ** (j / d)
            pe[:, j] = angle.sin() if j % 2 == 0 else angle.cos()
        return pe

    assert "interleaved" in PE.check(halves).headline
    assert "you swapped them" in PE.check(swapped).headline
    assert "exponent j/d" in PE.check(column_exponent).headline


# ----------------------------------------------------------------------------- padding_mask

PAD = exercises.get("attention.padding_mask")


def test_padding_mask_reference_and_alternative_pass() -> None:
    def padding_mask(lengths, T):
        mask = torch.zeros(len(lengths), T, dtype=torch.bool)
        for b, n in enumerate(lengths.tolist()):
            mask[b, :n] = True
        return mask

    assert PAD.check(reference.padding_mask).passed
    assert PAD.check(padding_mask).passed


def test_padding_mask_known_mistakes_are_named() -> None:
    def inclusive(lengths, T):
        return torch.arange(T)[None] <= lengths[:, None]

    def inverted(lengths, T):
        return ~(torch.arange(T)[None] < lengths[:, None])

    def as_int(lengths, T):
        return (torch.arange(T)[None] < lengths[:, None]).long()

    assert "not ≤" in PAD.check(inclusive).headline
    assert "mask is inverted" in PAD.check(inverted).headline
    assert "boolean mask" in PAD.check(as_int).headline
