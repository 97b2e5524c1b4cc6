"""Exercises for chapter 2 (Attention, the math): softmax, attention, masks, heads, positions.

Taught in chapter 2. Conventions: PyTorch tensors; boolean masks with True = may attend.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cases import Case, Diagnosis, mistakes, seeded
from .core import register
from .exercise import Exercise

# --------------------------------------------------------------------------- softmax


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Numerically stable softmax of x along dim. Taught in chapter 2."""
    # softmax(x) = softmax(x - c) for any c; with c = the max, exp never overflows
    shifted = x - x.max(dim=dim, keepdim=True).values
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_naive(x: Tensor, dim: int = -1) -> Tensor:
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_global_max(x: Tensor, dim: int = -1) -> Tensor:
    e = (x - x.max()).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_global_sum(x: Tensor, dim: int = -1) -> Tensor:
    e = (x - x.max(dim=dim, keepdim=True).values).exp()
    return e / e.sum()


def _softmax_last_dim_only(x: Tensor, dim: int = -1) -> Tensor:
    return softmax(x, dim=-1)


def _softmax_cases() -> list[Case]:
    g = seeded(0)
    m = torch.randn(3, 5, generator=g)
    return [
        Case((torch.tensor([1.0, 2.0, 3.0]),), label="a small vector"),
        Case((m,), label="a 3×5 matrix, default dim"),
        Case((m,), {"dim": 0}, label="the same matrix with dim=0"),
        Case((torch.randn(2, 3, 4, generator=g),), {"dim": 1}, label="a 2×3×4 batch with dim=1"),
        Case((torch.randn(4, 4, generator=g),), label="a square 4×4 matrix"),
        Case(
            (torch.tensor([[1000.0, 999.0, 998.0], [-1000.0, -999.0, -1001.0]]),),
            label="large logits (±1000)",
            note="This case has large logits: exp(1000) overflows to inf (and exp(-1000) "
            "underflows to 0), giving "
            "NaN unless you subtract the maximum along `dim` first — softmax(x) = softmax(x − "
            "max(x)).",
        ),
        Case((torch.tensor([7.0]),), label="a length-1 input (answer: [1.])"),
        Case(
            (torch.tensor([[0.0, float("-inf"), 2.0]]),),
            label="a masked (-inf) entry gets probability 0",
        ),
        Case((torch.zeros(2, 4),), label="all-equal inputs give a uniform distribution"),
        Case((m.double(),), {"dim": 0}, label="float64 input"),
    ]


register(
    Exercise(
        id="attention.softmax",
        chapter=2,
        title="Numerically stable softmax",
        signature="(x: Tensor, dim: int = -1) -> Tensor",
        task="Return softmax(x) along `dim`: exp(x) / sum(exp(x)), computed so that large inputs "
        "don't overflow.",
        reference=softmax,
        cases=_softmax_cases,
        diagnoses=[
            Diagnosis(
                "Your softmax overflows on large inputs (exp(1000) = inf, and inf / inf = NaN): "
                "subtract the "
                "maximum along `dim` before exp — softmax(x) = softmax(x − max(x)).",
                variant=_softmax_naive,
            ),
            Diagnosis(
                "You subtract the max of the whole tensor; subtract the max of each slice along "
                "`dim` "
                "(x.max(dim=dim, keepdim=True).values), or a row far below the global max "
                "underflows to 0 / 0.",
                variant=_softmax_global_max,
            ),
            Diagnosis(
                "You divided by the sum over the whole tensor; sum along `dim` (with "
                "keepdim=True) so that "
                "each slice sums to 1.",
                variant=_softmax_global_sum,
            ),
            Diagnosis(
                "You ignore the `dim` argument (the cases with dim=0 or dim=1 fail): use it in "
                "max and sum.",
                variant=_softmax_last_dim_only,
            ),
            Diagnosis(
                "x.max(dim) returns a pair (values, indices): use x.max(dim=dim, "
                "keepdim=True).values.",
                error=r"return_types\.max|unsupported operand type.*max",
            ),
            Diagnosis(
                "The shapes don't line up: keep the reduced dimension with keepdim=True "
                "(e.sum(dim=dim, keepdim=True)) so that broadcasting divides each slice by its "
                "own sum.",
                error=r"must match the size of tensor",
            ),
        ],
        hints=[
            "softmax(x) = exp(x) / sum(exp(x)). What happens to exp(1000) in float32? "
            "Subtracting the same "
            "constant from every entry of a slice does not change the softmax.",
            "Subtract the max of each slice (`x.max(dim=dim, keepdim=True).values`), "
            "exponentiate, then "
            "divide by the sum along the same dim with `keepdim=True`.",
            "`e = (x - x.max(dim=dim, keepdim=True).values).exp()` then `return e / "
            "e.sum(dim=dim, keepdim=True)`",
        ],
    )
)

# --------------------------------------------------------------------------- scaled_dot_product


def scaled_dot_product(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ / √d_k) v over the last two dims, and the weights.

    mask (bool, True = may attend) broadcasts to the scores. Taught in chapter 2.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # each query's weights over the keys sum to 1
    return weights @ v, weights


def _sdp(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, *, mistake: str
) -> tuple[Tensor, Tensor]:
    """scaled_dot_product with one known ``mistake`` (the names in its diagnoses)."""
    scales = {"no_scale": 1.0, "by_dk": q.size(-1), "by_dv": math.sqrt(v.size(-1))}
    scores = q @ k.transpose(-2, -1) / scales.get(mistake, math.sqrt(q.size(-1)))
    if mask is not None and mistake != "mask_after":
        fill = 0.0 if mistake == "zero_fill" else float("-inf")
        scores = scores.masked_fill(mask if mistake == "inverted_mask" else ~mask, fill)
    weights = torch.softmax(scores, dim=-2 if mistake == "wrong_dim" else -1)
    if mask is not None and mistake == "mask_after":
        weights = weights * mask
    return weights @ v, weights


def _weights_not_normalised(got: object, expected: tuple[Tensor, Tensor]) -> bool:
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], Tensor)):
        return False
    weights = got[1]
    if weights.shape != expected[1].shape:
        return False
    return not torch.allclose(weights.sum(-1), expected[1].sum(-1), atol=1e-4)


def _sdp_cases() -> list[Case]:
    g = seeded(1)

    def r(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g)

    # (B=2, 1, T_k=5): the second sequence has 2 padding positions at the end
    pad = torch.tensor([[True] * 5, [True, True, True, False, False]]).unsqueeze(1)
    return [
        Case((r(3, 4), r(3, 4), r(3, 4)), label="one sequence (T=3, d=4)"),
        Case((r(2, 4, 8), r(2, 4, 8), r(2, 4, 8)), label="a batch (B=2, T=4, d=8)"),
        Case((r(2, 2, 5, 4), r(2, 2, 5, 4), r(2, 2, 5, 4)), label="batch × heads (2, 2, 5, 4)"),
        Case((r(2, 3, 4), r(2, 3, 4), r(2, 3, 6)), label="d_k = 4 ≠ d_v = 6"),
        Case((r(2, 3, 4), r(2, 5, 4), r(2, 5, 2)), label="3 queries over 5 keys (cross-attention)"),
        Case(
            (r(2, 4, 8), r(2, 4, 8), r(2, 4, 8)),
            {"mask": torch.tril(torch.ones(4, 4, dtype=torch.bool))},
            label="a causal mask (4×4, broadcast over the batch)",
        ),
        Case(
            (r(2, 3, 4), r(2, 5, 4), r(2, 5, 4)),
            {"mask": pad},
            label="a padding mask of shape (2, 1, 5)",
        ),
        Case((r(1, 1, 4), r(1, 1, 4), r(1, 1, 4)), label="a length-1 sequence"),
        Case((3 * r(2, 4, 64), 3 * r(2, 4, 64), r(2, 4, 64)), label="d_k = 64 with large scores"),
    ]


register(
    Exercise(
        id="attention.scaled_dot_product",
        chapter=2,
        title="Scaled dot-product attention",
        signature="(q, k, v, mask=None) -> (out, weights)",
        task="Return (softmax(q kᵀ / √d_k) v, the softmax weights) over the last two dims, for "
        "any leading "
        "batch dims; where the boolean mask is False a query may not attend to that key.",
        reference=scaled_dot_product,
        cases=_sdp_cases,
        output_names=("out", "weights"),
        diagnoses=[
            *mistakes(
                scaled_dot_product,
                _sdp,
                {
                    "no_scale": "Looks like you forgot to divide the scores by √d_k (d_k = "
                    "q.size(-1)).",
                    "by_dk": "You divided the scores by d_k; divide by √d_k (math.sqrt(d_k)).",
                    "by_dv": "Scale by √d_k, the size of the queries and keys (q.size(-1)), not "
                    "by √d_v (v.size(-1)).",
                    "wrong_dim": "Normalise each query's scores over the keys: softmax over the "
                    "last dim (dim=-1), not dim=-2.",
                    "inverted_mask": "Your mask is inverted: True means *may attend*, so fill "
                    "-inf where the mask is False (scores.masked_fill(~mask, float('-inf'))).",
                    "zero_fill": "Fill the masked scores with -inf (or a very negative number), "
                    "not 0: a score of 0 still gets weight exp(0) after the softmax.",
                    "mask_after": "Apply the mask to the scores *before* the softmax (fill with "
                    "-inf); zeroing weights after the softmax leaves rows that no longer sum to 1.",
                },
            ),
            Diagnosis(
                "For batched inputs transpose only the last two dims of k: k.transpose(-2, -1) "
                "(k.T and k.t() are meant for matrices).",
                error=r"t\(\) expects a tensor with <= 2 dimensions|must match the size of tensor",
            ),
            Diagnosis(
                "Return both the output and the weights: `return out, weights`.",
                detect=lambda got, expected: isinstance(got, Tensor),
            ),
            Diagnosis(
                "Each query's weights must sum to 1 over the keys: take the softmax over the "
                "last dim "
                "(dim=-1) of scores shaped (..., T_q, T_k).",
                detect=_weights_not_normalised,
            ),
        ],
        hints=[
            "Scores are dot products of every query with every key; scale them, turn each "
            "query's row into "
            "probabilities, then average the values with those probabilities.",
            "scores = q @ kᵀ over the last two dims (k.transpose(-2, -1)), divided by √d_k with "
            "d_k = q.size(-1). "
            "Mask with scores.masked_fill(~mask, -inf) before a softmax over dim=-1.",
            "`scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))`; mask; "
            "`weights = torch.softmax(scores, dim=-1)`; `return weights @ v, weights`",
        ],
    )
)

# --------------------------------------------------------------------------- causal_mask


def causal_mask(T: int) -> Tensor:
    """A (T, T) bool mask: True where key position ≤ query position (row = query, column = key).

    Taught in chapter 2.
    """
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def _causal_strict(T: int) -> Tensor:
    return torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)


def _causal_future(T: int) -> Tensor:
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def _causal_transposed(T: int) -> Tensor:
    return torch.triu(torch.ones(T, T, dtype=torch.bool))


def _causal_one_ahead(T: int) -> Tensor:
    return torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def _right_values_not_bool(got: object, expected: Tensor) -> bool:
    """The learner's mask has the right True/False pattern but is stored as numbers."""
    return (
        isinstance(got, Tensor)
        and got.dtype != torch.bool
        and got.shape == expected.shape
        and torch.equal(got != 0, expected)
    )


register(
    Exercise(
        id="attention.causal_mask",
        chapter=2,
        title="Causal (look-ahead) mask",
        signature="(T: int) -> BoolTensor[T,T]",
        task="Return a (T, T) boolean tensor that is True where key position ≤ query position "
        "(row = query, column = key).",
        reference=causal_mask,
        cases=lambda: [Case((t,), label=f"T = {t}") for t in (1, 2, 5, 8)],
        diagnoses=[
            Diagnosis(
                "Your mask excludes the diagonal: a position may attend to itself (key ≤ query, "
                "not key < query).",
                variant=_causal_strict,
            ),
            Diagnosis(
                "Your mask is inverted: True must mean *may attend* (key ≤ query); you marked the "
                "future positions instead.",
                variant=_causal_future,
            ),
            Diagnosis(
                "Your mask is transposed: rows are queries and columns are keys, so query i may "
                "attend "
                "to keys 0..i — the lower triangle.",
                variant=_causal_transposed,
            ),
            Diagnosis(
                "Off by one: your mask lets each position see one token into the future; keep the "
                "main diagonal (torch.tril with diagonal=0).",
                variant=_causal_one_ahead,
            ),
            Diagnosis(
                "Return a boolean mask (dtype=torch.bool), e.g. torch.ones(T, T, "
                "dtype=torch.bool); "
                "masks use True = may attend.",
                detect=_right_values_not_bool,
            ),
        ],
        hints=[
            "Draw the T×T grid with queries as rows and keys as columns: which cells may a query "
            "see?",
            "It is the lower triangle including the diagonal: torch.tril keeps it.",
            "`torch.tril(torch.ones(T, T, dtype=torch.bool))`",
        ],
    )
)

# --------------------------------------------------------------------------- padding_mask


def padding_mask(lengths: Tensor, T: int) -> Tensor:
    """A (B, T) bool mask: True at the real tokens (position < length), False at the padding.

    Taught in chapter 2.
    """
    positions = torch.arange(T, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def _padding_inclusive(lengths: Tensor, T: int) -> Tensor:
    return torch.arange(T).unsqueeze(0) <= lengths.unsqueeze(1)


def _padding_inverted(lengths: Tensor, T: int) -> Tensor:
    return torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1)


register(
    Exercise(
        id="attention.padding_mask",
        chapter=2,
        title="Padding mask",
        signature="(lengths: Tensor[B], T: int) -> BoolTensor[B,T]",
        task="Sequences of different lengths are padded to length T. Return a (B, T) boolean "
        "tensor that is True "
        "at real tokens (position < lengths[b]) and False at padding.",
        reference=padding_mask,
        cases=lambda: [
            Case(
                (torch.tensor([3, 1, 4]), 4), label="three sequences of lengths 3, 1, 4 padded to 4"
            ),
            Case((torch.tensor([2]), 2), label="one sequence without padding"),
            Case((torch.tensor([0, 5]), 5), label="an empty sequence (length 0)"),
            Case((torch.tensor([1, 1]), 1), label="T = 1"),
        ],
        diagnoses=[
            Diagnosis(
                "Off by one: positions 0 … length − 1 are real tokens, so use position < length, "
                "not ≤.",
                variant=_padding_inclusive,
            ),
            Diagnosis(
                "Your mask is inverted: True must mark the real tokens (which may be attended to), "
                "False the padding.",
                variant=_padding_inverted,
            ),
            Diagnosis(
                "Return a boolean mask (a comparison gives one directly); masks use True = may "
                "attend.",
                detect=_right_values_not_bool,
            ),
        ],
        hints=[
            "Compare every position 0 … T − 1 with the length of each sequence.",
            "torch.arange(T) as a row (1, T) against lengths as a column (B, 1): broadcasting "
            "gives (B, T).",
            "`return torch.arange(T)[None, :] < lengths[:, None]`",
        ],
    )
)

# ------------------------------------------------------------------------ split_heads / merge_heads


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H); head h holds features h·D/H … (h+1)·D/H − 1.

    Taught in chapter 2.
    """
    B, T, D = x.shape
    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)


def _split_wrong_order(x: Tensor, n_heads: int) -> Tensor:
    B, T, D = x.shape
    return x.reshape(B, n_heads, T, D // n_heads)


def _split_interleaved(x: Tensor, n_heads: int) -> Tensor:
    B, T, D = x.shape
    return x.reshape(B, T, D // n_heads, n_heads).permute(0, 3, 1, 2)


def _split_no_transpose(x: Tensor, n_heads: int) -> Tensor:
    B, T, D = x.shape
    return x.reshape(B, T, n_heads, D // n_heads)


def _split_cases() -> list[Case]:
    g = seeded(2)
    return [
        Case((torch.randn(2, 3, 8, generator=g), 2), label="B=2, T=3, D=8, 2 heads"),
        Case(
            (torch.randn(2, 2, 4, generator=g), 2), label="T equals the number of heads (2, 2, 4)"
        ),
        Case((torch.randn(1, 1, 4, generator=g), 4), label="one token, 4 heads of size 1"),
        Case((torch.randn(2, 5, 12, generator=g), 3), label="3 heads of size 4"),
        Case((torch.randn(3, 4, 6, generator=g), 1), label="a single head"),
    ]


register(
    Exercise(
        id="attention.split_heads",
        chapter=2,
        title="Split the features into heads",
        signature="(x: Tensor[B,T,D], n_heads: int) -> Tensor[B,H,T,D/H]",
        task="Reshape (B, T, D) to (B, H, T, D/H), where head h holds the features h·D/H … "
        "(h+1)·D/H − 1.",
        reference=split_heads,
        cases=_split_cases,
        diagnoses=[
            Diagnosis(
                "You reshaped straight to (B, H, T, D/H), which mixes positions and features: "
                "view as "
                "(B, T, H, D/H) first, then .transpose(1, 2).",
                variant=_split_wrong_order,
            ),
            Diagnosis(
                "Head h must hold the contiguous features h·D/H … (h+1)·D/H − 1; you took every "
                "H-th "
                "feature. View as (B, T, H, D/H), not (B, T, D/H, H).",
                variant=_split_interleaved,
            ),
            Diagnosis(
                "You're missing the transpose: (B, T, H, D/H) → (B, H, T, D/H) with "
                ".transpose(1, 2).",
                variant=_split_no_transpose,
            ),
        ],
        hints=[
            "The last dimension D is H blocks of D/H features. Split it into two axes, then move "
            "the head "
            "axis in front of the time axis.",
            "x.view(B, T, H, D // H) splits the features; .transpose(1, 2) gives (B, H, T, D // "
            "H).",
            "`B, T, D = x.shape; return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)`",
        ],
    )
)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, d) -> (B, T, H·d): the inverse of split_heads. Taught in chapter 2."""
    B, H, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d)  # reshape copies when x is not contiguous


def _merge_no_transpose(x: Tensor) -> Tensor:
    B, H, T, d = x.shape
    return x.reshape(B, T, H * d)


def _merge_interleaved(x: Tensor) -> Tensor:
    B, H, T, d = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, d * H)


def _merge_cases() -> list[Case]:
    g = seeded(3)
    split = torch.randn(2, 3, 8, generator=g).view(2, 3, 2, 4).transpose(1, 2)
    return [
        Case((torch.randn(2, 2, 3, 4, generator=g),), label="B=2, H=2, T=3, d=4"),
        Case((split,), label="a non-contiguous input, as returned by split_heads"),
        Case((torch.randn(1, 4, 1, 2, generator=g),), label="one token, 4 heads"),
        Case((torch.randn(3, 1, 5, 6, generator=g),), label="a single head"),
        Case((torch.randn(2, 3, 3, 2, generator=g),), label="H equals T (2, 3, 3, 2)"),
    ]


register(
    Exercise(
        id="attention.merge_heads",
        chapter=2,
        title="Merge the heads back",
        signature="(x: Tensor[B,H,T,d]) -> Tensor[B,T,H·d]",
        task="Reshape (B, H, T, d) to (B, T, H·d): the inverse of split_heads (heads side by "
        "side).",
        reference=merge_heads,
        cases=_merge_cases,
        diagnoses=[
            Diagnosis(
                "You reshaped without moving the head axis back: .transpose(1, 2) to (B, T, H, "
                "d) first, "
                "then reshape to (B, T, H·d).",
                variant=_merge_no_transpose,
            ),
            Diagnosis(
                "Heads must sit side by side as blocks [head 0 | head 1 | …], not interleaved "
                "feature by "
                "feature: transpose to (B, T, H, d), not (B, T, d, H).",
                variant=_merge_interleaved,
            ),
            Diagnosis(
                "After .transpose the tensor is not contiguous, so .view fails: use "
                ".reshape(...) or "
                ".contiguous().view(...).",
                error=r"view size is not compatible|contiguous",
            ),
        ],
        hints=[
            "Undo split_heads step by step, in the reverse order.",
            "Move the time axis back in front of the heads with .transpose(1, 2), then join the "
            "last two axes.",
            "`B, H, T, d = x.shape; return x.transpose(1, 2).reshape(B, T, H * d)`",
        ],
    )
)

# --------------------------------------------------------------------------- sinusoidal_positions


def sinusoidal_positions(T: int, d: int) -> Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); shape (T, d).

    Taught in chapter 2.
    """
    pos = torch.arange(T, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    two_i = torch.arange(0, d, 2, dtype=torch.float32)  # 0, 2, 4, ...
    angles = pos / 10000 ** (two_i / d)  # (T, d/2): one angle per pair of columns
    pairs = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1)  # (T, d/2, 2)
    return pairs.reshape(T, d)  # sin, cos, sin, cos, ...: interleaved


def _angles(T: int, d: int, exponent: Tensor) -> Tensor:
    return torch.arange(T, dtype=torch.float32).unsqueeze(1) / 10000**exponent


def _interleave(sin: Tensor, cos: Tensor) -> Tensor:
    return torch.stack([sin, cos], dim=-1).flatten(-2)


def _pe_halves(T: int, d: int) -> Tensor:
    a = _angles(T, d, torch.arange(0, d, 2) / d)
    return torch.cat([a.sin(), a.cos()], dim=-1)


def _pe_swapped(T: int, d: int) -> Tensor:
    a = _angles(T, d, torch.arange(0, d, 2) / d)
    return _interleave(a.cos(), a.sin())


def _pe_column_exponent(T: int, d: int) -> Tensor:
    a = _angles(T, d, torch.arange(d) / d)
    pe = a.sin()
    pe[:, 1::2] = a[:, 1::2].cos()
    return pe


def _pe_pair_exponent(T: int, d: int) -> Tensor:
    a = _angles(T, d, torch.arange(d // 2) / d)
    return _interleave(a.sin(), a.cos())


def _pe_times(T: int, d: int) -> Tensor:
    a = torch.arange(T, dtype=torch.float32).unsqueeze(1) * 10000 ** (torch.arange(0, d, 2) / d)
    return _interleave(a.sin(), a.cos())


register(
    Exercise(
        id="attention.sinusoidal_positions",
        chapter=2,
        title="Sinusoidal positional encodings",
        signature="(T: int, d: int) -> Tensor[T,d]",
        task="Return the (T, d) table PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = "
        "cos(pos / 10000^(2i/d)) "
        "(sin and cos interleaved; d is even).",
        reference=sinusoidal_positions,
        cases=lambda: [
            Case((1, 4), label="one position, d=4"),
            Case((5, 8), label="T=5, d=8"),
            Case((3, 2), label="d=2: a single sin/cos pair"),
            Case((16, 32), label="T=16, d=32"),
            Case((50, 6), label="T=50, d=6"),
        ],
        atol=1e-4,
        diagnoses=[
            Diagnosis(
                "Your sin and cos are concatenated as two halves; here they are interleaved: "
                "even columns "
                "sin, odd columns cos (PE[:, 0::2] = sin, PE[:, 1::2] = cos).",
                variant=_pe_halves,
            ),
            Diagnosis(
                "sin goes in the even columns (2i) and cos in the odd columns (2i+1); you "
                "swapped them.",
                variant=_pe_swapped,
            ),
            Diagnosis(
                "Columns 2i and 2i+1 share one frequency, 1 / 10000^(2i/d); you gave column j "
                "its own "
                "exponent j/d.",
                variant=_pe_column_exponent,
            ),
            Diagnosis(
                "The exponent is 2i/d, where 2i is the even column index (0, 2, 4, …); you used "
                "i/d.",
                variant=_pe_pair_exponent,
            ),
            Diagnosis("Divide the position by 10000^(2i/d); you multiplied.", variant=_pe_times),
        ],
        hints=[
            "Each pair of columns (2i, 2i+1) is a sine and a cosine of the same angle pos · ω_i, "
            "with frequencies "
            "ω_i = 1 / 10000^(2i/d) that fall from 1 to about 1/10000.",
            "Build positions as a (T, 1) column and 2i = torch.arange(0, d, 2) as a row; their "
            "ratio "
            "pos / 10000 ** (2i / d) is a (T, d/2) table of angles.",
            "`pe = torch.zeros(T, d); pe[:, 0::2] = torch.sin(angles); pe[:, 1::2] = "
            "torch.cos(angles)`",
        ],
    )
)
