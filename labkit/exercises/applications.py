"""Exercises for chapter 6 (Applications): top-k and top-p (nucleus) filtering of logits.

Taught in chapter 6.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .core import Case, Diagnosis, Exercise, register

NEG_INF = float("-inf")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- top_k_filter


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits along the last dim; set the others to -inf. Taught in chapter 6."""
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, NEG_INF)


def _topk_keep(logits: Tensor, k: int) -> Tensor:
    k = max(1, min(k, logits.size(-1)))
    return top_k_filter(logits, k)


def _topk_plus_one(logits: Tensor, k: int) -> Tensor:
    return _topk_keep(logits, k + 1)


def _topk_minus_one(logits: Tensor, k: int) -> Tensor:
    return _topk_keep(logits, k - 1)


def _topk_zero_fill(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


def _topk_global(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits.flatten(), k).values[-1]
    return logits.masked_fill(logits < kth, NEG_INF)


def _topk_smallest(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits, k, dim=-1, largest=False).values[..., -1:]
    return logits.masked_fill(logits > kth, NEG_INF)


def _topk_cases() -> list[Case]:
    g = _gen(20)
    return [
        Case((torch.tensor([1.0, 3.0, -2.0, 0.5, 2.0, -1.0]), 3), label="6 logits, k=3"),
        Case(
            (torch.randn(2, 8, generator=g), 2),
            label="a batch of 2 rows, k=2 (each row on its own)",
        ),
        Case((torch.randn(10, generator=g), 1), label="k=1 (greedy)"),
        Case((torch.randn(5, generator=g), 5), label="k = vocabulary size: nothing is removed"),
        Case(
            (torch.randn(2, 3, 6, generator=g) * 4 + torch.arange(6.0), 4),
            label="a (2, 3, 6) batch, k=4",
        ),
        Case((torch.tensor([[0.0, NEG_INF, 1.0, -3.0]]), 2), label="a row that already holds -inf"),
    ]


register(
    Exercise(
        id="applications.top_k_filter",
        chapter=6,
        title="Top-k filtering",
        signature="(logits: Tensor, k: int) -> Tensor",
        task="Return a copy of logits where everything outside the k largest values of each row (last dim) "
        "is -inf.",
        reference=top_k_filter,
        cases=_topk_cases,
        diagnoses=[
            Diagnosis(
                "Off by one: exactly k logits must survive; you kept k + 1 (the k-th largest value itself "
                "stays, everything below it goes).",
                variant=_topk_plus_one,
            ),
            Diagnosis(
                "Off by one: exactly k logits must survive; you kept only k − 1 (keep values ≥ the k-th "
                "largest, remove those strictly below).",
                variant=_topk_minus_one,
            ),
            Diagnosis(
                "Set the filtered logits to -inf (so that softmax gives them probability 0), not 0.",
                variant=_topk_zero_fill,
            ),
            Diagnosis(
                "Filter each row separately (along the last dim); you took the top k of the whole tensor.",
                variant=_topk_global,
            ),
            Diagnosis(
                "You kept the k smallest logits; keep the k largest.", variant=_topk_smallest
            ),
        ],
        hints=[
            "Find the k-th largest value of each row; anything below it is removed (set to -inf).",
            "torch.topk(logits, k, dim=-1).values[..., -1:] is the k-th largest value with a dimension kept for "
            "broadcasting; logits.masked_fill(condition, float('-inf')) returns a new tensor.",
            "`kth = torch.topk(logits, k, dim=-1).values[..., -1:]`; "
            "`return logits.masked_fill(logits < kth, float('-inf'))`",
        ],
    )
)

# --------------------------------------------------------------------------- top_p_filter


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probabilities add up to ≥ p (at least one).

    Taught in chapter 6.
    """
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    # the probability of the tokens ranked above each one
    mass_before = torch.cumsum(probs, dim=-1) - probs
    remove = mass_before >= p  # the token that crosses p has mass_before < p, so it stays
    remove[..., 0] = False  # always keep the most likely token
    sorted_logits = sorted_logits.masked_fill(remove, NEG_INF)
    return torch.empty_like(logits).scatter(-1, order, sorted_logits)  # back to the original order


def _topp(
    logits: Tensor,
    p: float,
    *,
    keep_crossing: bool = True,
    unsort: bool = True,
    fill: float = NEG_INF,
    keep_first: bool = True,
    as_probs: bool = False,
) -> Tensor:
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    cum = torch.cumsum(probs, dim=-1)
    remove = (cum - probs >= p) if keep_crossing else (cum >= p)
    if keep_first:
        remove[..., 0] = False
    values = probs if as_probs else sorted_logits
    values = values.masked_fill(remove, 0.0 if as_probs else fill)
    return torch.empty_like(logits).scatter(-1, order, values) if unsort else values


def _topp_drop_crossing(logits: Tensor, p: float) -> Tensor:
    return _topp(logits, p, keep_crossing=False)


def _topp_drop_crossing_empty(logits: Tensor, p: float) -> Tensor:
    return _topp(logits, p, keep_crossing=False, keep_first=False)


def _topp_sorted(logits: Tensor, p: float) -> Tensor:
    return _topp(logits, p, unsort=False)


def _topp_zero(logits: Tensor, p: float) -> Tensor:
    return _topp(logits, p, fill=0.0)


def _topp_probs(logits: Tensor, p: float) -> Tensor:
    return _topp(logits, p, as_probs=True)


def _topp_cases() -> list[Case]:
    g = _gen(21)
    probs = torch.tensor([0.05, 0.5, 0.15, 0.3])  # sorted: 0.5, 0.3, 0.15, 0.05
    peaked_and_flat = torch.stack([torch.tensor([4.0, 1.0, 0.0, -1.0, 0.5]), torch.zeros(5)])
    return [
        Case(
            (probs.log(), 0.7),
            label="probabilities (0.05, 0.5, 0.15, 0.3), p=0.7: keep 0.5 and 0.3",
            note="This case tests the token that crosses p: keep tokens until the cumulative probability "
            "reaches p, including that one — with p=0.7, 0.5 alone is not enough, 0.5 + 0.3 = 0.8 ≥ 0.7.",
        ),
        Case((probs.log(), 0.1), label="p=0.1: the most likely token alone"),
        Case((probs.log(), 0.96), label="p=0.96: all four tokens"),
        Case(
            (peaked_and_flat, 0.9),
            label="two rows, one peaked and one flat, p=0.9 (each row on its own)",
        ),
        Case((torch.randn(2, 3, 10, generator=g) * 2, 0.8), label="a (2, 3, 10) batch, p=0.8"),
        Case(
            (torch.tensor([[2.0, NEG_INF, 1.0, NEG_INF]]), 0.5),
            label="a row that already holds -inf",
        ),
    ]


register(
    Exercise(
        id="applications.top_p_filter",
        chapter=6,
        title="Top-p (nucleus) filtering",
        signature="(logits: Tensor, p: float) -> Tensor",
        task="Return a copy of logits where only the smallest set of most likely tokens whose probabilities add "
        "up to ≥ p (at least one token) survives, per row; the others are -inf. Keep the original order.",
        reference=top_p_filter,
        cases=_topp_cases,
        diagnoses=[
            Diagnosis(
                "You dropped the token that crosses p: keep tokens until the cumulative probability reaches "
                "p, including the one that crosses it (remove a token only if the mass *before* it is "
                "already ≥ p).",
                variant=_topp_drop_crossing,
            ),
            Diagnosis(
                "You dropped the token that crosses p (and sometimes every token): remove a token only if "
                "the mass *before* it is already ≥ p; the most likely token always stays.",
                variant=_topp_drop_crossing_empty,
            ),
            Diagnosis(
                "You returned the logits in sorted order: scatter them back to their original positions "
                "with the indices from torch.sort.",
                variant=_topp_sorted,
            ),
            Diagnosis(
                "Set the filtered logits to -inf (so that softmax gives them probability 0), not 0.",
                variant=_topp_zero,
            ),
            Diagnosis(
                "Return the filtered *logits* (the kept ones unchanged), not probabilities.",
                variant=_topp_probs,
            ),
        ],
        hints=[
            "Sort the tokens from most to least likely and walk down the list, adding probabilities, until the "
            "total reaches p; the token that gets you there is kept.",
            "After torch.sort(descending=True) and softmax, `cumsum(probs) - probs` is the mass *before* each "
            "token: remove it where that is ≥ p. Then undo the sort with scatter.",
            "`remove = torch.cumsum(probs, -1) - probs >= p`; `sorted_logits.masked_fill(remove, -inf)`; "
            "`torch.empty_like(logits).scatter(-1, order, sorted_logits)`",
        ],
    )
)
