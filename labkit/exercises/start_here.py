"""Exercises for chapter 0 (Start here): two tiny functions that teach how exercises work.

Taught in chapter 0. The ideas are the ones chapter 0 introduces with the corpus: the
*surprise* of an outcome of probability p is −ln p (in nats: natural-log units), a model's
loss is its average surprise on the text, and the *entropy* of a distribution is the
average surprise of its own outcomes, the floor no model can beat. Each exercise has a
reference solution (what ``solution()`` shows), cases, known mistakes and graded hints.
"""

from __future__ import annotations

import math
from typing import Any

from .cases import Case, Diagnosis, mistakes
from .core import register
from .exercise import Exercise

# --------------------------------------------------------------------------- mean_surprise


def mean_surprise(probs: list[float]) -> float:
    """The average surprise −ln p over the probabilities a model gave what actually came next.

    In nats (natural-log units; 1 bit = ln 2 ≈ 0.693 nats). Taught in chapter 0.
    """
    return sum(-math.log(p) for p in probs) / len(probs)


def _surprise(probs: list[float], mistake: str) -> float:
    """``mean_surprise`` with one known mistake made (see :func:`~.cases.variant`)."""
    n = len(probs)
    if mistake == "log_of_mean":
        return -math.log(sum(probs) / n)
    if mistake == "perplexity":
        return math.exp(mean_surprise(probs))
    logs = {"bits": math.log2, "log10": math.log10}.get(mistake, math.log)
    total = sum(-logs(p) for p in probs)
    if mistake == "no_minus":
        return -total / n
    if mistake == "sum":
        return total
    return total / n


def _surprise_cases() -> list[Case]:
    return [
        Case(([0.5, 0.25, 0.125],), label="three characters: p = 1/2, 1/4, 1/8"),
        Case(([0.9, 0.6, 0.05, 0.7],), label="a confident model that is once badly wrong"),
        Case(
            ([1.0],),
            label="one character the model was sure of (p = 1)",
            note="This case has p = 1: a certain outcome is no surprise at all, −ln 1 = 0.",
        ),
        Case(([1 / 66] * 5,), label="a uniform guess over 66 characters"),
        Case(([0.99, 0.999, 0.2, 0.4, 0.8, 0.95],), label="six characters"),
    ]


register(
    Exercise(
        id="start_here.mean_surprise",
        chapter=0,
        title="Average surprise, in nats",
        signature="(probs: list[float]) -> float",
        task="probs holds the probability a model gave to each character that actually came "
        "next. Return the average surprise −ln p over them, in nats (use the natural log).",
        reference=mean_surprise,
        cases=_surprise_cases,
        diagnoses=mistakes(
            mean_surprise,
            _surprise,
            {
                "bits": "You measured in bits (log base 2). The course measures surprise in nats, "
                "with the natural log (math.log): 1 bit = ln 2 ≈ 0.693 nats.",
                "log10": "You used log base 10. The course measures surprise in nats, with the "
                "natural log (math.log).",
                "no_minus": "Your surprises are negative: ln p ≤ 0 for a probability, so the "
                "surprise is −ln p (with a minus sign), which is ≥ 0.",
                "sum": "You returned the total surprise; divide it by the number of characters "
                "to get the average.",
                "log_of_mean": "You took −ln of the average probability. Average the surprises "
                "instead: the mean of −ln p, not −ln of the mean of p.",
                "perplexity": "You returned e^(average surprise), the perplexity (chapter 1). "
                "Return the average surprise itself.",
            },
        ),
        hints=[
            "The surprise of one character is −ln p: 0 when p = 1, large when p is small. "
            "Compute it for every p and average.",
            "`math.log` is the natural log (nats); `math.log2` would give bits. Add up "
            "`-math.log(p)` over probs, then divide by `len(probs)`.",
            "`return sum(-math.log(p) for p in probs) / len(probs)`",
        ],
    )
)

# --------------------------------------------------------------------------- entropy


def entropy(probs: list[float]) -> float:
    """The entropy H = −Σ p·ln p of a distribution, in nats; outcomes with p = 0 add nothing.

    The average surprise of the distribution's own outcomes. Taught in chapter 0.
    """
    return -sum(p * math.log(p) for p in probs if p > 0)


def _entropy(probs: list[float], mistake: str) -> float:
    """``entropy`` with one known mistake made (see :func:`~.cases.variant`)."""
    used = [p for p in probs if p > 0]
    if mistake == "bits":
        return -sum(p * math.log2(p) for p in used)
    if mistake == "no_minus":
        return sum(p * math.log(p) for p in used)
    if mistake == "unweighted_mean":
        return -sum(math.log(p) for p in used) / len(used)
    if mistake == "unweighted_sum":
        return -sum(math.log(p) for p in used)
    return entropy(probs)


def _is_nan(got: Any, expected: Any) -> bool:
    try:
        return math.isnan(float(got))
    except (TypeError, ValueError):
        return False


_ZERO_MESSAGE = (
    "An outcome with p = 0 broke your sum: ln 0 is −inf (math.log(0) raises, and 0 · −inf is "
    "NaN). Outcomes that never happen add nothing to the entropy: skip p = 0 (0 · ln 0 = 0)."
)


def _entropy_cases() -> list[Case]:
    return [
        Case(([0.5, 0.5],), label="a fair coin"),
        Case(([0.7, 0.2, 0.1],), label="three outcomes, 0.7 / 0.2 / 0.1"),
        Case(([1 / 6] * 6,), label="a fair die"),
        Case(
            ([1.0],),
            label="a certain outcome",
            note="This case has a single outcome with p = 1: no uncertainty, entropy 0.",
        ),
        Case(
            ([0.5, 0.25, 0.25, 0.0],),
            label="an outcome with probability 0",
            note="This case has an outcome with p = 0: it never happens, so it adds nothing "
            "(0 · ln 0 is taken as 0).",
        ),
        Case(([0.97, 0.01, 0.01, 0.01],), label="an almost certain outcome"),
    ]


register(
    Exercise(
        id="start_here.entropy",
        chapter=0,
        title="Entropy of a distribution, in nats",
        signature="(probs: list[float]) -> float",
        task="probs is a probability distribution (it sums to 1). Return its entropy "
        "H = −Σ p·ln p in nats: the average surprise of its own outcomes. An outcome with "
        "p = 0 adds nothing.",
        reference=entropy,
        cases=_entropy_cases,
        diagnoses=[
            *mistakes(
                entropy,
                _entropy,
                {
                    "bits": "You measured in bits (log base 2). The course measures entropy in "
                    "nats, with the natural log (math.log): 1 bit = ln 2 ≈ 0.693 nats.",
                    "no_minus": "Your entropy is negative: ln p ≤ 0, so H = −Σ p·ln p needs the "
                    "minus sign.",
                    "unweighted_mean": "You averaged −ln p over the outcomes as if they were "
                    "equally likely. Weight each surprise by its probability: −Σ p·ln p.",
                    "unweighted_sum": "You added up −ln p without weighting. Weight each "
                    "surprise by its probability: −Σ p·ln p.",
                },
            ),
            Diagnosis(_ZERO_MESSAGE, error=r"math domain error"),
            Diagnosis(_ZERO_MESSAGE, detect=_is_nan),
        ],
        hints=[
            "The entropy is the average surprise −ln p, where each outcome counts as often as "
            "it happens: weight its surprise by p.",
            "Add up `p * math.log(p)` over the outcomes, change the sign, and skip p = 0 "
            "(math.log(0) raises).",
            "`return -sum(p * math.log(p) for p in probs if p > 0)`",
        ],
    )
)
