"""Exercises for chapter 9 (Challenges and the road ahead): the cost of training, fitting a
scaling law, int8 quantisation, and the exposure of a planted secret.

Taught in chapter 9.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cases import Case, Diagnosis, seeded
from .core import register
from .exercise import Exercise


def training_flops(n_params: float, n_tokens: float) -> float:
    """Approximate training compute: 6 FLOPs per parameter per token (2 forward + 4 backward).

    Taught in chapter 9.
    """
    return 6.0 * n_params * n_tokens


def _flops_forward_only(n_params: float, n_tokens: float) -> float:
    return 2.0 * n_params * n_tokens


def _flops_four(n_params: float, n_tokens: float) -> float:
    return 4.0 * n_params * n_tokens


def _flops_no_factor(n_params: float, n_tokens: float) -> float:
    return float(n_params) * n_tokens


def _flops_three(n_params: float, n_tokens: float) -> float:
    return 3.0 * n_params * n_tokens


def _flops_added(n_params: float, n_tokens: float) -> float:
    return 6.0 * (n_params + n_tokens)


register(
    Exercise(
        id="challenges.training_flops",
        chapter=9,
        title="Training compute: about 6·N·D",
        signature="(n_params: float, n_tokens: float) -> float",
        task="Return the approximate number of floating-point operations needed to train a model "
        "with n_params "
        "parameters on n_tokens tokens.",
        reference=training_flops,
        cases=lambda: [
            Case((175e9, 300e9), label="GPT-3: 175B parameters, 300B tokens"),
            Case((124e6, 1e9), label="GPT-2 small on 1B tokens"),
            Case((1, 1), label="one parameter, one token"),
            Case((50_000, 2_000_000), label="integer arguments"),
        ],
        rtol=1e-9,
        atol=0.0,
        diagnoses=[
            Diagnosis(
                "2·N·D is the forward pass only; the backward pass costs about twice as much "
                "again, so "
                "training is ≈ 6·N·D.",
                variant=_flops_forward_only,
            ),
            Diagnosis(
                "Forward (2·N·D) plus backward (4·N·D) makes 6·N·D, not 4·N·D.", variant=_flops_four
            ),
            Diagnosis(
                "Each parameter costs a multiply and an add per token in the forward pass (2 "
                "FLOPs), and the "
                "backward pass twice that: ≈ 6·N·D, not N·D.",
                variant=_flops_no_factor,
            ),
            Diagnosis(
                "Count FLOPs, not multiply-adds: a multiply-add is 2 FLOPs, so training is ≈ "
                "6·N·D.",
                variant=_flops_three,
            ),
            Diagnosis(
                "Multiply parameters by tokens (every token passes through every parameter), "
                "don't add them.",
                variant=_flops_added,
            ),
        ],
        hints=[
            "Every token passes through every parameter once forward and once backward. How many "
            "FLOPs is one "
            "multiply-add?",
            "Forward: 2 FLOPs per parameter per token (multiply + add). Backward: about twice "
            "the forward.",
            "`return 6 * n_params * n_tokens`",
        ],
    )
)


# --------------------------------------------------------------------------- power_law_fit


def power_law_fit(n: list[float], loss: list[float]) -> tuple[float, float]:
    """Fit ``loss ≈ a · n^(-alpha)`` by least squares on the logarithms; return ``(a, alpha)``.

    Taught in chapter 9.
    """
    import numpy as np

    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)  # log L = log a - alpha · log n
    return float(np.exp(intercept)), float(-slope)


def _fit_sign(n: list[float], loss: list[float]) -> tuple[float, float]:
    a, alpha = power_law_fit(n, loss)
    return a, -alpha


def _fit_log_a(n: list[float], loss: list[float]) -> tuple[float, float]:
    a, alpha = power_law_fit(n, loss)
    return math.log(a), alpha


def _fit_ten_to_the(n: list[float], loss: list[float]) -> tuple[float, float]:
    a, alpha = power_law_fit(n, loss)
    return 10 ** math.log(a), alpha


def _fit_linear(n: list[float], loss: list[float]) -> tuple[float, float]:
    import numpy as np

    slope, intercept = np.polyfit(np.asarray(n, dtype=float), np.asarray(loss, dtype=float), 1)
    return float(intercept), float(-slope)


def _fit_swapped(n: list[float], loss: list[float]) -> tuple[float, float]:
    import numpy as np

    slope, intercept = np.polyfit(
        np.log(loss), np.log(n), 1
    )  # log n against log L: the wrong regression
    return float(np.exp(-intercept / slope)), float(-1.0 / slope)


def _law(a: float, alpha: float, n: list[float], noise: list[float] | None = None) -> list[float]:
    noise = noise or [1.0] * len(n)
    return [a * x ** (-alpha) * e for x, e in zip(n, noise)]


def _fit_cases() -> list[Case]:
    n4 = [10.0, 100.0, 1000.0, 10000.0]
    kaplan = [1e6, 1e7, 1e8, 1e9, 1e10]
    tiny = [3312.0, 12768.0, 25472.0, 56640.0, 100096.0]
    return [
        Case((n4, _law(5.0, 0.5, n4)), label="an exact law: loss = 5 · n^(-0.5)"),
        Case(
            (kaplan, _law(12.0, 0.076, kaplan, [1.01, 0.99, 1.0, 1.02, 0.98])),
            label="Kaplan-like sizes, alpha ≈ 0.076, 2% noise",
        ),
        Case(([2.0, 8.0], [3.0, 1.5]), label="two points: the line through them"),
        Case(
            (tiny, [1.50, 1.05, 1.04, 0.71, 0.59]), label="measured-looking losses of 5 tiny models"
        ),
        Case(
            ([1.0, 2.0, 4.0], [1.0, 2.0, 4.0]),
            label="a loss that grows with n: alpha comes out negative",
        ),
    ]


register(
    Exercise(
        id="challenges.power_law_fit",
        chapter=9,
        title="Fit a scaling law: a straight line in log-log",
        signature="(n: list[float], loss: list[float]) -> tuple[float, float]",
        task="Fit loss ≈ a · n^(-alpha) by ordinary least squares on the logarithms (log loss "
        "against log n) "
        "and return the pair (a, alpha).",
        reference=power_law_fit,
        cases=_fit_cases,
        rtol=1e-6,
        atol=1e-9,
        output_names=("a", "alpha"),
        diagnoses=[
            Diagnosis(
                "alpha has the wrong sign: the slope of the line is -alpha (the loss falls as n "
                "grows).",
                variant=_fit_sign,
            ),
            Diagnosis(
                "That `a` is log(a): the intercept of the line is log a, so a = exp(intercept).",
                variant=_fit_log_a,
            ),
            Diagnosis(
                "With natural logarithms (np.log) the intercept is ln a: undo it with np.exp, "
                "not 10 ** ....",
                variant=_fit_ten_to_the,
            ),
            Diagnosis(
                "A power law is a straight line only after taking logs: fit log(loss) against "
                "log(n), "
                "not loss against n.",
                variant=_fit_linear,
            ),
            Diagnosis(
                "Regress log(loss) on log(n) (y on x), not log(n) on log(loss): with noise the two "
                "lines differ.",
                variant=_fit_swapped,
            ),
        ],
        hints=[
            "Take logs: log loss = log a − alpha · log n. That is a straight line in (log n, log "
            "loss).",
            "`np.polyfit(x, y, 1)` returns (slope, intercept) of the least-squares line y ≈ "
            "slope · x + intercept.",
            "`slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)`, then "
            "`return float(np.exp(intercept)), float(-slope)`",
        ],
    )
)


# --------------------------------------------------------------------------- quantize_int8


def quantize_int8(w: Tensor) -> tuple[Tensor, float]:
    """Symmetric per-tensor int8 quantisation: ``q = round(w / scale)``, ``scale = max|w| / 127``.

    Returns ``(q as int8, scale)``; ``q * scale`` approximates ``w``. A tensor of zeros gets
    scale 1.0. Taught in chapter 9.
    """
    scale = float(w.abs().max()) / 127 if w.numel() and bool((w != 0).any()) else 1.0
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


def _q_128(w: Tensor) -> tuple[Tensor, float]:
    scale = float(w.abs().max()) / 128 if bool((w != 0).any()) else 1.0
    return torch.round(w / scale).clamp(-128, 127).to(torch.int8), scale


def _q_max_not_abs(w: Tensor) -> tuple[Tensor, float]:
    scale = float(w.max()) / 127 if float(w.max()) > 0 else 1.0
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def _q_truncate(w: Tensor) -> tuple[Tensor, float]:
    _, scale = quantize_int8(w)
    return (w / scale).to(torch.int8), scale


def _q_255(w: Tensor) -> tuple[Tensor, float]:
    scale = float(w.abs().max()) / 255 if bool((w != 0).any()) else 1.0
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def _q_cases() -> list[Case]:
    g = seeded(7)
    w = torch.randn(16, 32, generator=g) * 0.05
    negative_peak = torch.randn(40, generator=g)
    negative_peak[3] = -5.0  # the largest magnitude is negative
    return [
        Case((torch.tensor([0.5, -1.0, 0.25, 0.0, 1.27]),), label="five weights"),
        Case((w,), label="a (16, 32) weight matrix of small values"),
        Case((negative_peak,), label="the largest magnitude is a negative weight"),
        Case((torch.randn(2, 3, 4, generator=g) * 100,), label="a 3-D tensor of large values"),
        Case((torch.full((5,), -0.3),), label="every weight the same (negative)"),
        Case((torch.zeros(3, 3),), label="all zeros: scale 1.0, q all 0"),
    ]


register(
    Exercise(
        id="challenges.quantize_int8",
        chapter=9,
        title="Quantise weights to int8",
        signature="(w: Tensor) -> tuple[Tensor, float]",
        task="Symmetric per-tensor int8 quantisation: scale = max|w| / 127 (1.0 when every "
        "weight is 0) and "
        "q = round(w / scale) as a torch.int8 tensor. Return (q, scale).",
        reference=quantize_int8,
        cases=_q_cases,
        rtol=1e-6,
        atol=0.0,
        dtype="exact",
        output_names=("q", "scale"),
        diagnoses=[
            Diagnosis(
                "int8 holds -128..127: with scale = max|w| / 128 the largest weight becomes 128, "
                "which does "
                "not fit. Divide by 127 (symmetric: -127..127).",
                variant=_q_128,
            ),
            Diagnosis(
                "Use the largest *magnitude*, max|w| = w.abs().max(): with w.max() a large "
                "negative weight "
                "falls outside -127..127.",
                variant=_q_max_not_abs,
            ),
            Diagnosis(
                "`.to(torch.int8)` cuts the fraction off (2.7 → 2, -2.7 → -2): round first with "
                "torch.round.",
                variant=_q_truncate,
            ),
            Diagnosis(
                "Symmetric int8 uses the range -127..127, so scale = max|w| / 127, not / 255 "
                "(that is for "
                "an unsigned range of 256 values with a zero point).",
                variant=_q_255,
            ),
        ],
        hints=[
            "One number, the scale, maps the largest weight (in magnitude) to 127; every other "
            "weight is "
            "divided by the same scale and rounded.",
            "`scale = w.abs().max().item() / 127`; then `torch.round(w / scale)`, cast to "
            "`torch.int8`.",
            "`scale = float(w.abs().max()) / 127 if (w != 0).any() else 1.0` and "
            "`return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale`",
        ],
    )
)


# --------------------------------------------------------------------------- canary_exposure


def canary_exposure(secret_score: float, other_scores: list[float]) -> float:
    """Exposure of a canary in bits (Carlini et al. 2019) from the model's scores.

    ``rank = 1 +`` how many other candidates score strictly higher than the secret;
    ``exposure = log2(number of candidates, the secret included) - log2(rank)``. Taught in
    chapter 9.
    """
    rank = 1 + sum(1 for s in other_scores if s > secret_score)
    return math.log2(len(other_scores) + 1) - math.log2(rank)


def _exp_ln(secret_score: float, other_scores: list[float]) -> float:
    rank = 1 + sum(1 for s in other_scores if s > secret_score)
    return math.log(len(other_scores) + 1) - math.log(rank)


def _exp_without_secret(secret_score: float, other_scores: list[float]) -> float:
    rank = 1 + sum(1 for s in other_scores if s > secret_score)
    return math.log2(len(other_scores)) - math.log2(rank)


def _exp_rank_from_bottom(secret_score: float, other_scores: list[float]) -> float:
    rank = 1 + sum(1 for s in other_scores if s < secret_score)
    return math.log2(len(other_scores) + 1) - math.log2(rank)


def _exp_ties_ahead(secret_score: float, other_scores: list[float]) -> float:
    rank = 1 + sum(1 for s in other_scores if s >= secret_score)
    return math.log2(len(other_scores) + 1) - math.log2(rank)


def _exposure_cases() -> list[Case]:
    g = torch.Generator().manual_seed(11)
    scores = (torch.randn(999, generator=g) * 3 - 20).tolist()
    ranked = sorted(scores, reverse=True)
    return [
        Case((-5.0, scores), label="a memorised secret: it beats all 999 random ones"),
        Case((ranked[499], scores[:499] + scores[500:]), label="a secret in the middle of 1,000"),
        Case((ranked[7], [*ranked[:7], *ranked[8:]]), label="7 candidates ahead: rank 8"),
        Case((-60.0, scores), label="the secret scores lowest of all"),
        Case(
            (-1.0, [-1.0, -2.0, -0.5]), label="a tie: a candidate with the same score is not ahead"
        ),
    ]


register(
    Exercise(
        id="challenges.canary_exposure",
        chapter=9,
        title="Canary exposure from the model's scores",
        signature="(secret_score: float, other_scores: list[float]) -> float",
        task="The model scored the real secret (secret_score, a log-probability) and random "
        "secrets of the same length (other_scores). Return the exposure in bits: "
        "rank = 1 + the number of other secrets that score strictly higher, exposure = "
        "log2(number of candidates, the real one included) - log2(rank).",
        reference=canary_exposure,
        cases=_exposure_cases,
        rtol=1e-9,
        atol=1e-12,
        diagnoses=[
            Diagnosis(
                "Exposure is in bits: use math.log2, not the natural logarithm.", variant=_exp_ln
            ),
            Diagnosis(
                "Count the real secret among the candidates: log2(len(other_scores) + 1), so "
                "that a secret ranked first among 1,000 gives log2(1000) ≈ 10 bits.",
                variant=_exp_without_secret,
            ),
            Diagnosis(
                "The rank counts the secrets the model finds *more* likely (higher score), not "
                "less likely: rank 1 means the real secret scored highest.",
                variant=_exp_rank_from_bottom,
            ),
            Diagnosis(
                "A candidate with exactly the same score is not ahead of the secret: count only "
                "scores strictly greater (>), not >=.",
                variant=_exp_ties_ahead,
            ),
        ],
        hints=[
            "First the rank: 1 for the best-scored candidate. How many random secrets did the "
            "model prefer to the real one?",
            "`rank = 1 + sum(s > secret_score for s in other_scores)`; there are "
            "`len(other_scores) + 1` candidates in all.",
            "`return math.log2(len(other_scores) + 1) - math.log2(rank)`",
        ],
    )
)
