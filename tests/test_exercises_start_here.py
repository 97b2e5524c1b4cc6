"""Chapter 0 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import math

import numpy as np
import torch

from labkit import exercises
from labkit.exercises import start_here as reference

# ----------------------------------------------------------------------------- mean_surprise

SURPRISE = exercises.get("start_here.mean_surprise")


def test_mean_surprise_is_a_chapter_0_exercise() -> None:
    assert SURPRISE.chapter == 0 and "chapter 0: Start here" in repr(SURPRISE)
    assert {r.id for r in exercises.catalog(chapter=0)} == {
        "start_here.mean_surprise",
        "start_here.entropy",
    }


def test_mean_surprise_reference_passes() -> None:
    assert SURPRISE.check(reference.mean_surprise).passed


def test_mean_surprise_alternatives_pass() -> None:
    def with_torch(probs):
        return -torch.log(torch.tensor(probs, dtype=torch.float64)).mean().item()

    def with_numpy(probs):
        return float(np.mean(-np.log(probs)))

    def loop(probs):
        total = 0.0
        for p in probs:
            total = total - math.log(p)
        return total / len(probs)

    for fn in (with_torch, with_numpy, loop):
        assert SURPRISE.check(fn).passed, fn.__name__


def test_mean_surprise_bits_and_log10_are_named() -> None:
    def bits(probs):
        return sum(-math.log2(p) for p in probs) / len(probs)

    def log10(probs):
        return -float(np.log10(probs).mean())

    result = SURPRISE.check(bits)
    assert result.status == "incorrect" and "bits (log base 2)" in result.headline
    assert "log base 10" in SURPRISE.check(log10).headline


def test_mean_surprise_sign_sum_log_of_mean_and_perplexity_are_named() -> None:
    def no_minus(probs):
        return sum(math.log(p) for p in probs) / len(probs)

    def total(probs):
        return -sum(math.log(p) for p in probs)

    def log_of_mean(probs):
        return -math.log(sum(probs) / len(probs))

    def perplexity(probs):
        return math.exp(-sum(math.log(p) for p in probs) / len(probs))

    assert "minus sign" in SURPRISE.check(no_minus).headline
    assert "total surprise" in SURPRISE.check(total).headline
    assert "not −ln of the mean" in SURPRISE.check(log_of_mean).headline
    assert "perplexity" in SURPRISE.check(perplexity).headline


def test_mean_surprise_stub_is_not_attempted() -> None:
    def mean_surprise(probs): ...  # your code here

    assert SURPRISE.check(mean_surprise).status == "not_attempted"


# ----------------------------------------------------------------------------- entropy

ENTROPY = exercises.get("start_here.entropy")


def test_entropy_reference_passes() -> None:
    assert ENTROPY.check(reference.entropy).passed


def test_entropy_alternatives_pass() -> None:
    def with_torch(probs):
        p = torch.tensor(probs, dtype=torch.float64)
        return -torch.special.xlogy(p, p).sum().item()  # xlogy(0, 0) = 0

    def as_expected_surprise(probs):
        return sum(p * -math.log(p) if p else 0.0 for p in probs)

    assert ENTROPY.check(with_torch).passed
    assert ENTROPY.check(as_expected_surprise).passed


def test_entropy_known_mistakes_are_named() -> None:
    def bits(probs):
        return -sum(p * math.log2(p) for p in probs if p > 0)

    def no_minus(probs):
        return sum(p * math.log(p) for p in probs if p > 0)

    def unweighted_mean(probs):
        used = [p for p in probs if p]
        return sum(-math.log(p) for p in used) / len(used)

    def unweighted_sum(probs):
        return sum(-math.log(p) for p in probs if p)

    assert "bits (log base 2)" in ENTROPY.check(bits).headline
    assert "needs the minus sign" in ENTROPY.check(no_minus).headline
    assert "as if they were equally likely" in ENTROPY.check(unweighted_mean).headline
    assert "without weighting" in ENTROPY.check(unweighted_sum).headline


def test_entropy_zero_probability_is_named_for_math_and_torch() -> None:
    def with_math(probs):
        return -sum(p * math.log(p) for p in probs)  # math.log(0) raises

    def with_torch(probs):
        p = torch.tensor(probs)
        return -(p * torch.log(p)).sum().item()  # 0 * -inf = nan

    for fn in (with_math, with_torch):
        result = ENTROPY.check(fn)
        assert result.status == "incorrect", fn.__name__
        assert "skip p = 0" in result.headline, (fn.__name__, result.headline)
