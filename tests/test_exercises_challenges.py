"""Chapter 9 exercises: the reference passes, known-wrong answers are named; other answers pass.

The references are the public functions of ``labkit.exercises.challenges``."""

from __future__ import annotations

import math

import numpy as np
import torch

from labkit import exercises
from labkit.exercises import challenges as reference

FLOPS = exercises.get("challenges.training_flops")


def test_flops_reference_gives_the_gpt3_figure() -> None:
    assert reference.training_flops(175e9, 300e9) == 3.15e23


def test_flops_reference_and_alternative_pass() -> None:
    def training_flops(n_params, n_tokens):
        forward = 2 * n_params * n_tokens
        backward = 2 * forward
        return float(forward + backward)

    assert FLOPS.check(reference.training_flops).passed
    assert FLOPS.check(training_flops).passed


def test_flops_known_mistakes_are_named() -> None:
    def forward_only(n_params, n_tokens):
        return 2 * n_params * n_tokens

    def no_factor(n_params, n_tokens):
        return n_params * n_tokens

    def four(n_params, n_tokens):
        return 4.0 * n_params * n_tokens

    def added(n_params, n_tokens):
        return 6 * (n_params + n_tokens)

    assert FLOPS.check(forward_only).headline.startswith("2·N·D is the forward pass only")
    assert "not N·D" in FLOPS.check(no_factor).headline
    assert "not 4·N·D" in FLOPS.check(four).headline
    assert "don't add them" in FLOPS.check(added).headline


def test_flops_result_details_show_the_numbers() -> None:
    result = FLOPS.check(lambda n_params, n_tokens: 2 * n_params * n_tokens)
    assert "expected 3.15e+23, got 1.05e+23" in result.details


# --------------------------------------------------------------------------- power_law_fit

FIT = exercises.get("challenges.power_law_fit")


def test_fit_reference_recovers_an_exact_law() -> None:
    a, alpha = reference.power_law_fit(
        [10.0, 100.0, 1000.0], [5 * 10**-0.5, 5 * 100**-0.5, 5 * 1000**-0.5]
    )
    assert abs(a - 5.0) < 1e-9 and abs(alpha - 0.5) < 1e-12


def test_fit_other_correct_solutions_pass() -> None:
    def by_hand(n, loss):  # the normal equations, no numpy
        xs, ys = [math.log(v) for v in n], [math.log(v) for v in loss]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return math.exp(my - slope * mx), -slope

    def with_torch(n, loss):
        x, y = (
            torch.log(torch.tensor(n, dtype=torch.float64)),
            torch.log(torch.tensor(loss, dtype=torch.float64)),
        )
        design = torch.stack([x, torch.ones_like(x)], dim=1)
        slope, intercept = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
        return torch.exp(intercept), -slope

    assert FIT.check(reference.power_law_fit).passed
    assert FIT.check(by_hand).passed
    assert FIT.check(with_torch).passed


def test_fit_known_mistakes_are_named() -> None:
    def wrong_sign(n, loss):
        slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
        return np.exp(intercept), slope

    def log_a(n, loss):
        slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
        return intercept, -slope

    def linear(n, loss):
        slope, intercept = np.polyfit(n, loss, 1)
        return intercept, -slope

    def stub(n, loss): ...  # your code here

    assert "wrong sign" in FIT.check(wrong_sign).headline
    assert "exp(intercept)" in FIT.check(log_a).headline
    assert "after taking logs" in FIT.check(linear).headline
    result = FIT.check(stub)
    assert result.status == "not_attempted"


def test_fit_use_falls_back_to_the_reference() -> None:
    def stub(n, loss): ...

    fit = FIT.use(stub)
    assert fit([1.0, 10.0], [2.0, 1.0])[1] == reference.power_law_fit([1.0, 10.0], [2.0, 1.0])[1]


# --------------------------------------------------------------------------- quantize_int8

QUANT = exercises.get("challenges.quantize_int8")


def test_quantize_reference_matches_torch_per_tensor_quantisation() -> None:
    w = torch.randn(64, 48, generator=torch.Generator().manual_seed(0))
    q, scale = reference.quantize_int8(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127
    theirs = torch.fake_quantize_per_tensor_affine(w, scale, 0, -127, 127)  # PyTorch's round trip
    assert torch.equal(q.float() * scale, theirs)
    assert float((q.float() * scale - w).abs().max()) <= scale / 2 + 1e-7


def test_quantize_other_correct_solutions_pass() -> None:
    def tensor_scale(w):
        scale = w.abs().max() / 127
        if scale == 0:
            scale = torch.tensor(1.0)
        return (w / scale).round().to(torch.int8), scale

    def with_torch(w):
        scale = float(w.abs().max()) / 127 or 1.0
        return (torch.fake_quantize_per_tensor_affine(w, scale, 0, -127, 127) / scale).round().to(
            torch.int8
        ), scale

    assert QUANT.check(reference.quantize_int8).passed
    assert QUANT.check(tensor_scale).passed
    assert QUANT.check(with_torch).passed


def test_quantize_known_mistakes_are_named() -> None:
    def by_128(w):
        scale = float(w.abs().max()) / 128 or 1.0
        return torch.round(w / scale).clamp(-128, 127).to(torch.int8), scale

    def plain_max(w):
        scale = float(w.max()) / 127 or 1.0
        return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale

    def truncate(w):
        scale = float(w.abs().max()) / 127 or 1.0
        return (w / scale).to(torch.int8), scale

    def float_q(w):
        scale = float(w.abs().max()) / 127 or 1.0
        return torch.round(w / scale), scale

    def zeros_give_nan(w):
        scale = float(w.abs().max()) / 127
        return torch.round(w / scale).to(torch.int8), scale

    assert "Divide by 127" in QUANT.check(by_128).headline
    assert "largest *magnitude*" in QUANT.check(plain_max).headline
    assert "round first" in QUANT.check(truncate).headline
    result = QUANT.check(float_q)
    assert not result.passed and "torch.int8" in result.details
    result = QUANT.check(zeros_give_nan)
    assert not result.passed and "zeros" in result.details


# --------------------------------------------------------------------------- canary_exposure

EXPOSURE = exercises.get("challenges.canary_exposure")


def test_exposure_reference_gives_the_two_ends() -> None:
    others = [-30.0 - i for i in range(999)]
    assert math.isclose(reference.canary_exposure(-1.0, others), math.log2(1000))
    assert reference.canary_exposure(-2000.0, others) == 0.0


def test_exposure_reference_and_alternative_pass() -> None:
    def canary_exposure(secret_score, other_scores):
        scores = np.asarray(other_scores)
        rank = 1 + int(np.count_nonzero(scores > secret_score))
        return float(np.log2((len(scores) + 1) / rank))

    assert EXPOSURE.check(reference.canary_exposure).passed
    assert EXPOSURE.check(canary_exposure).passed


def test_exposure_known_mistakes_are_named() -> None:
    def natural_log(secret_score, other_scores):
        rank = 1 + sum(s > secret_score for s in other_scores)
        return math.log(len(other_scores) + 1) - math.log(rank)

    def secret_not_counted(secret_score, other_scores):
        rank = 1 + sum(s > secret_score for s in other_scores)
        return math.log2(len(other_scores)) - math.log2(rank)

    def from_the_bottom(secret_score, other_scores):
        rank = 1 + sum(s < secret_score for s in other_scores)
        return math.log2(len(other_scores) + 1) - math.log2(rank)

    def ties_ahead(secret_score, other_scores):
        rank = 1 + sum(s >= secret_score for s in other_scores)
        return math.log2(len(other_scores) + 1) - math.log2(rank)

    assert "use math.log2" in EXPOSURE.check(natural_log).headline
    assert "Count the real secret" in EXPOSURE.check(secret_not_counted).headline
    assert "*more* likely" in EXPOSURE.check(from_the_bottom).headline
    assert "strictly greater" in EXPOSURE.check(ties_ahead).headline


def test_exposure_matches_the_chapter_helper() -> None:
    from labkit.chapters.challenges.risks import CanaryResult

    others = [-3.0, -1.0, -2.5, -0.2]
    result = CanaryResult(None, -2.0, 3, 4, "")  # two of the four score higher: rank 3
    assert math.isclose(reference.canary_exposure(-2.0, others), result.exposure)
