"""Chapter 7 exercises: the reference passes, known-wrong answers are named, other correct answers pass."""

from __future__ import annotations

from labkit import exercises

FLOPS = exercises.get("challenges.training_flops")


def test_flops_reference_gives_the_gpt3_figure() -> None:
    assert FLOPS._reference(175e9, 300e9) == 3.15e23


def test_flops_reference_and_alternative_pass() -> None:
    def training_flops(n_params, n_tokens):
        forward = 2 * n_params * n_tokens
        backward = 2 * forward
        return float(forward + backward)

    assert FLOPS.check(FLOPS._reference).passed
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
