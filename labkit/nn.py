"""The Transformer's parts, written from scratch so that every formula maps to a line of code.

Taught in chapter 2 (attention, masks, multi-head attention, positions) and chapter 3
(feed-forward, LayerNorm, Transformer blocks).

Conventions used everywhere in labkit:

* Tensors are batch-first: ``(batch, time, d_model)``; per-head tensors are
  ``(batch, heads, time, d_head)``.
* A boolean attention mask is **True where a query may attend to a key** (the convention of
  ``torch.nn.functional.scaled_dot_product_attention``). Note that ``nn.MultiheadAttention``
  uses the opposite convention (True = blocked) for its ``attn_mask`` / ``key_padding_mask``.
* Every attention module can return its attention weights (``return_attention=True``), so the
  course can draw them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit.env import apply_thread_policy

apply_thread_policy()  # one torch thread for tiny models unless you chose (labkit.env)

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "combine_masks",
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
    "set_fused",
    "sinusoidal_encoding",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "FeedForward",
    "LayerNorm",
    "TransformerBlock",
    "ACTIVATIONS",
]


# --------------------------------------------------------------------------------------------
# Scaled dot-product attention and masks (chapter 2)
# --------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    return_weights: bool = False,
    dropout_p: float = 0.0,
) -> Tensor | tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, step by step.

    Taught in chapter 2.

    Args:
        q: queries ``(..., T_q, d_k)``; any number of leading (batch, head) dimensions.
        k: keys ``(..., T_k, d_k)``.
        v: values ``(..., T_k, d_v)``; ``d_v`` may differ from ``d_k``.
        mask: optional **boolean** mask broadcastable to ``(..., T_q, T_k)``;
            True = the query may attend to that key.
        return_weights: also return the attention weights ``(..., T_q, T_k)``
            (before dropout).
        dropout_p: dropout probability applied to the weights (always applied when > 0,
            like ``F.scaled_dot_product_attention``; modules pass 0 in eval mode).

    A query row whose mask allows no key at all gets all-zero weights and a zero output,
    exactly like ``F.scaled_dot_product_attention`` (no NaN).

    Returns:
        the output ``(..., T_q, d_v)``, or ``(output, weights)`` when ``return_weights``.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys need the same last dimension d_k, got q {tuple(q.shape)} and "
            f"k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values need the same number of positions, got k {tuple(k.shape)} and "
            f"v {tuple(v.shape)}"
        )
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:
        _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # A row with no allowed key is softmax(-inf, ..., -inf) = 0/0 = NaN; make it zeros.
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    out = dropped @ v
    return (out, weights) if return_weights else out


def _check_mask(mask: Tensor, scores_shape: torch.Size) -> None:
    if mask.dtype != torch.bool:
        raise TypeError(
            f"the attention mask must be boolean (True = may attend), got dtype {mask.dtype}; "
            "convert a 0/1 mask with `mask.bool()`"
        )
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores "
            f"{tuple(scores_shape)} (batch..., T_q, T_k); a padding mask should be (B, 1, 1, T_k), "
            "a causal mask (T_q, T_k)"
        ) from None


def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``(T, T)`` look-ahead mask: True where key position ≤ query position.

    Taught in chapter 2. Row ``i`` lets query ``i`` see keys ``0..i`` and hides the future.
    """
    if T < 1:
        raise ValueError(f"causal_mask needs T >= 1, got {T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a tokenizer's ``attention_mask`` ``(B, T)`` (1 = real token, 0 = pad) into a
    boolean key mask ``(B, 1, 1, T)`` that broadcasts over heads and queries.

    Taught in chapter 2. Queries may look at real tokens only; padded *queries* still produce
    outputs (they are ignored later by the loss).
    """
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be (batch, time) with 1 = token and 0 = padding, "
            f"got shape {tuple(attention_mask.shape)}"
        )
    return attention_mask.bool()[:, None, None, :]


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """AND together boolean masks (None entries are skipped); None if all are None.

    Taught in chapter 2: e.g. ``combine_masks(causal_mask(T), padding_mask(am))`` lets a
    decoder attend only to earlier, non-padding tokens.
    """
    result = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise TypeError(f"masks must be boolean (True = may attend), got dtype {m.dtype}")
        result = m if result is None else result & m
    return result


# --------------------------------------------------------------------------------------------
# Multi-head attention (chapter 2)
# --------------------------------------------------------------------------------------------


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """``(B, T, d_model)`` → ``(B, n_heads, T, d_head)``: each head gets its own slice.

    Taught in chapter 2.
    """
    B, T, d = x.shape
    if d % n_heads != 0:
        raise ValueError(f"d_model={d} is not divisible by n_heads={n_heads}")
    return x.view(B, T, n_heads, d // n_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """``(B, n_heads, T, d_head)`` → ``(B, T, n_heads * d_head)``: Concat(head_1..head_h).

    Taught in chapter 2.
    """
    B, H, T, d_head = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d_head)


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) Wᴼ,  head_i = Attention(Q W_iᵠ, K W_iᴷ, V W_iⱽ).

    Taught in chapter 2.

    The four projections are separate ``nn.Linear`` layers ``w_q``, ``w_k``, ``w_v``, ``w_o``
    (``W_iᵠ`` is the i-th block of d_head columns of ``Wᵠ = w_q.weight.T``). Two code paths share
    these same weights and give the same numbers:

    * ``fused=False`` (the readable path): three projections, :func:`split_heads`,
      :func:`scaled_dot_product_attention` from scratch, :func:`merge_heads`, ``w_o``.
    * ``fused=True`` (the fast path, the default in labkit's models): one matrix multiply
      with the concatenated Q/K/V weights and PyTorch's ``F.scaled_dot_product_attention``.
      When attention weights are requested it computes them explicitly.

    Args:
        d_model: model width; must be divisible by ``n_heads``.
        n_heads: number of heads h (each of width d_model / h).
        dropout: dropout on the attention weights (training mode only).
        bias: whether the projections have biases (GPT-2 and BERT do).
        fused: use the fast path (see above); switch later with :func:`set_fused`.
        rope: apply rotary position embeddings to queries and keys (self-attention only).
        rope_base: the RoPE frequency base.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = False,
        rope: bool = False,
        rope_base: float = 10000.0,
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads} "
                "(each head gets d_model / n_heads dimensions)"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout, self.fused = dropout, fused
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.rope = RotaryEmbedding(self.d_head, base=rope_base) if rope else None

    def forward(
        self,
        x: Tensor,
        kv: Tensor | None = None,
        mask: Tensor | None = None,
        is_causal: bool = False,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Attend from ``x`` (B, T_q, d) to ``kv`` (B, T_k, d); ``kv=None`` is self-attention.

        ``mask``: boolean, True = may attend, broadcastable to (B, heads, T_q, T_k).
        ``is_causal``: also hide future positions (self-attention, T_q == T_k).
        Returns the output (B, T_q, d), and the weights (B, heads, T_q, T_k) when
        ``return_attention``.
        """
        self_attention = kv is None
        if kv is None:
            kv = x
        if (
            x.dim() != 3
            or kv.dim() != 3
            or x.shape[-1] != self.d_model
            or kv.shape[-1] != self.d_model
        ):
            raise ValueError(
                f"expected (batch, time, {self.d_model}) inputs, got {tuple(x.shape)} and "
                f"{tuple(kv.shape)}"
            )
        if is_causal and x.shape[1] != kv.shape[1]:
            raise ValueError("is_causal needs as many queries as keys (use it for self-attention)")

        # 1. project: Q = x Wᵠ, K = kv Wᴷ, V = kv Wⱽ
        if self.fused:
            q, k, v = self._fused_projections(x, kv, self_attention)
        else:
            q, k, v = self.w_q(x), self.w_k(kv), self.w_v(kv)
        # 2. split into heads: (B, T, d) -> (B, h, T, d_head)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))
        if self.rope is not None and self_attention:
            q, k = self.rope(q), self.rope(k)
        # 3. attention in every head at once
        p = self.dropout if self.training else 0.0
        weights = None
        if self.fused and not return_attention:
            if is_causal and mask is not None:
                mask, is_causal = combine_masks(mask, causal_mask(x.shape[1], x.device)), False
            if mask is not None:
                _check_mask(mask, torch.Size((*q.shape[:-1], k.shape[-2])))
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal
            )
        else:
            if is_causal:
                mask = combine_masks(mask, causal_mask(x.shape[1], x.device))
            out, weights = scaled_dot_product_attention(
                q, k, v, mask, return_weights=True, dropout_p=p
            )
        # 4. concatenate the heads and mix them with Wᴼ
        out = self.w_o(merge_heads(out))
        return (out, weights) if return_attention else out

    def _fused_projections(
        self, x: Tensor, kv: Tensor, self_attention: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Q, K, V with one matrix multiply (two for cross-attention), same weights."""
        if self_attention:
            layers = (self.w_q, self.w_k, self.w_v)
            qkv = F.linear(x, torch.cat([m.weight for m in layers]), _cat_bias(layers))
            return qkv.split(self.d_model, dim=-1)
        layers = (self.w_k, self.w_v)
        k, v = F.linear(kv, torch.cat([m.weight for m in layers]), _cat_bias(layers)).split(
            self.d_model, dim=-1
        )
        return self.w_q(x), k, v


def _cat_bias(layers: tuple[nn.Linear, ...]) -> Tensor | None:
    if layers[0].bias is None:
        return None
    return torch.cat([m.bias for m in layers])


def set_fused(module: nn.Module, fused: bool) -> nn.Module:
    """Switch every :class:`MultiHeadAttention` and :class:`LayerNorm` inside ``module`` to
    the fused (fast) or the from-scratch path. The weights are the same, so the outputs do
    not change (up to rounding).

    Taught in chapter 2. Returns ``module``.
    """
    for m in module.modules():
        if isinstance(m, (MultiHeadAttention, LayerNorm)):
            m.fused = fused
    return module


# --------------------------------------------------------------------------------------------
# Positions (chapter 2)
# --------------------------------------------------------------------------------------------


def sinusoidal_encoding(num_positions: int, d_model: int) -> Tensor:
    """The fixed sinusoidal table ``(num_positions, d_model)`` of "Attention Is All You Need".

    Taught in chapter 2. Interleaved: ``PE[pos, 2i] = sin(pos / 10000^(2i/d))`` and
    ``PE[pos, 2i+1] = cos(pos / 10000^(2i/d))``.
    """
    if d_model % 2 != 0:
        raise ValueError(f"sinusoidal encodings need an even d_model, got {d_model}")
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (P, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # 0, 2, 4, ...
    angles = pos / 10000 ** (two_i / d_model)  # (P, d/2)
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed (not learned) sinusoidal positions; ``forward(positions)`` → ``(T, d_model)``.

    Taught in chapter 2. The table is a non-persistent buffer: it moves with ``.to(device)``
    and is not saved in checkpoints.
    """

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        """Look up the encodings of integer ``positions`` (any shape)."""
        _check_positions(positions, self.max_len)
        return self.pe[positions]


class LearnedPositionalEmbedding(nn.Embedding):
    """Learned positions (GPT-2, BERT): one trainable vector per position.

    Taught in chapter 2. ``forward(positions)`` → ``(..., d_model)``.
    """

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__(max_len, d_model)

    def forward(self, positions: Tensor) -> Tensor:
        """Look up the vectors of integer ``positions`` (any shape)."""
        _check_positions(positions, self.num_embeddings)
        return super().forward(positions)


def _check_positions(positions: Tensor, max_len: int) -> None:
    if positions.numel() and int(positions.max()) >= max_len:
        raise ValueError(
            f"position {int(positions.max())} is beyond the {max_len} positions this model "
            "knows; use shorter inputs (crop to the block size)"
        )


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021), applied to queries and keys.

    Taught in chapter 2. Each pair of features ``(x[2i], x[2i+1])`` at position ``m`` is
    rotated by the angle ``m·θ_i`` with ``θ_i = base^(-2i/d)``. A rotation keeps lengths, and
    the dot product of a query rotated by ``m`` with a key rotated by ``n`` depends only on
    ``m - n``: relative position comes for free. (The interleaved pairing of the RoFormer
    paper; Llama-style models pair feature ``i`` with ``i + d/2`` instead.)
    """

    def __init__(self, d_head: int, base: float = 10000.0) -> None:
        super().__init__()
        if d_head % 2 != 0:
            raise ValueError(
                f"RoPE rotates pairs of features, so d_head must be even, got {d_head}"
            )
        inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor, positions: Tensor | None = None) -> Tensor:
        """Rotate ``x`` ``(..., T, d_head)``; ``positions`` default to ``0..T-1``."""
        if positions is None:
            positions = torch.arange(x.shape[-2], device=x.device)
        angles = positions.to(self.inv_freq.dtype)[:, None] * self.inv_freq  # (T, d/2)
        cos, sin = angles.cos(), angles.sin()
        x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()
        rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
        return rotated.flatten(-2).type_as(x)


# --------------------------------------------------------------------------------------------
# Feed-forward, LayerNorm, the block (chapter 3)
# --------------------------------------------------------------------------------------------

#: activation name -> function. "gelu" is the exact (erf) GELU used by BERT; "gelu_tanh" is
#: the tanh approximation GPT-2 uses (Hugging Face calls it "gelu_new").
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class FeedForward(nn.Module):
    """Position-wise feed-forward network ``FFN(x) = act(x W1 + b1) W2 + b2``.

    Taught in chapter 3. With ``activation="relu"`` this is the paper's
    ``max(0, x W1 + b1) W2 + b2``; GPT-2 uses ``"gelu_tanh"``, BERT ``"gelu"``.
    """

    def __init__(
        self, d_model: int, d_ff: int | None = None, activation: str = "relu", bias: bool = True
    ) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.activation = activation
        self.act = _activation(activation)
        self.w1 = nn.Linear(d_model, d_ff, bias=bias)
        self.w2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the same two-layer MLP to every position independently."""
        return self.w2(self.act(self.w1(x)))


class LayerNorm(nn.Module):
    """Layer normalisation from scratch: ``γ · (x − mean) / √(var + eps) + β``.

    Taught in chapter 3. Mean and (biased) variance are taken over the last dimension of each
    position separately; matches ``nn.LayerNorm(d, eps)``. ``fused=True`` computes the same
    thing with PyTorch's one-kernel ``F.layer_norm`` (labkit's models use it: it makes a
    training step about 15% faster on a CPU).
    """

    def __init__(self, d_model: int, eps: float = 1e-5, fused: bool = False) -> None:
        super().__init__()
        self.eps, self.fused = eps, fused
        self.weight = nn.Parameter(torch.ones(d_model))  # γ
        self.bias = nn.Parameter(torch.zeros(d_model))  # β

    def forward(self, x: Tensor) -> Tensor:
        """Normalise each position's feature vector, then scale and shift."""
        if self.fused:
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias


class TransformerBlock(nn.Module):
    """One Transformer layer: self-attention, optional cross-attention, feed-forward; each
    sub-layer wrapped in a residual connection and a LayerNorm.

    Taught in chapter 3. The two sub-layers run *in sequence*:

    * ``pre_ln=True`` (GPT-2, most modern models): ``x = x + Sublayer(LN(x))``
    * ``pre_ln=False`` (the original Transformer, BERT): ``x = LN(x + Sublayer(x))``

    A decoder block of an encoder–decoder (``cross_attention=True``) has a second attention
    whose keys and values come from the encoder output ``memory``.

    Call: ``y = block(x)``; ``y, attn = block(x, return_attention=True)``; a block with
    cross-attention returns ``y, attn, cross_attn`` when asked for attention. ``fused=True``
    uses the fast attention and LayerNorm kernels (see :func:`set_fused`).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        pre_ln: bool = True,
        activation: str = "relu",
        cross_attention: bool = False,
        bias: bool = True,
        fused: bool = False,
        rope: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.pre_ln = pre_ln
        self.ln1 = LayerNorm(d_model, eps, fused)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout, bias, fused, rope)
        self.cross_attn = self.ln_cross = None
        if cross_attention:
            self.ln_cross = LayerNorm(d_model, eps, fused)
            self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, bias, fused)
        self.ln2 = LayerNorm(d_model, eps, fused)
        self.ffn = FeedForward(d_model, d_ff, activation, bias)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        is_causal: bool = False,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, ...]:
        """Run the block on ``x`` (B, T, d).

        ``mask`` / ``is_causal`` apply to self-attention; ``memory`` (B, S, d) and
        ``memory_mask`` (e.g. a padding mask (B, 1, 1, S)) to cross-attention.
        """
        # 1. self-attention sub-layer
        h = self.ln1(x) if self.pre_ln else x
        h = self.attn(h, mask=mask, is_causal=is_causal, return_attention=return_attention)
        h, attn = h if return_attention else (h, None)
        x = x + self.drop(h)
        if not self.pre_ln:
            x = self.ln1(x)

        # 2. cross-attention sub-layer (decoder of an encoder–decoder only)
        cross = None
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError(
                    "this block has cross-attention: pass the encoder output as memory="
                )
            h = self.ln_cross(x) if self.pre_ln else x
            h = self.cross_attn(h, kv=memory, mask=memory_mask, return_attention=return_attention)
            h, cross = h if return_attention else (h, None)
            x = x + self.drop(h)
            if not self.pre_ln:
                x = self.ln_cross(x)

        # 3. position-wise feed-forward sub-layer
        h = self.ln2(x) if self.pre_ln else x
        x = x + self.drop(self.ffn(h))
        if not self.pre_ln:
            x = self.ln2(x)

        if not return_attention:
            return x
        return (x, attn) if self.cross_attn is None else (x, attn, cross)
