"""Exercises for chapter 7 (Challenges and the road ahead): the cost of training.

Taught in chapter 7.
"""

from __future__ import annotations

from .core import Case, Diagnosis, Exercise, register


def training_flops(n_params: float, n_tokens: float) -> float:
    """Approximate training compute: 6 FLOPs per parameter per token (2 forward + 4 backward).

    Taught in chapter 7.
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
        chapter=7,
        title="Training compute: about 6·N·D",
        signature="(n_params: float, n_tokens: float) -> float",
        task="Return the approximate number of floating-point operations needed to train a model with n_params "
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
                "2·N·D is the forward pass only; the backward pass costs about twice as much again, so "
                "training is ≈ 6·N·D.",
                variant=_flops_forward_only,
            ),
            Diagnosis(
                "Forward (2·N·D) plus backward (4·N·D) makes 6·N·D, not 4·N·D.", variant=_flops_four
            ),
            Diagnosis(
                "Each parameter costs a multiply and an add per token in the forward pass (2 FLOPs), and the "
                "backward pass twice that: ≈ 6·N·D, not N·D.",
                variant=_flops_no_factor,
            ),
            Diagnosis(
                "Count FLOPs, not multiply-adds: a multiply-add is 2 FLOPs, so training is ≈ 6·N·D.",
                variant=_flops_three,
            ),
            Diagnosis(
                "Multiply parameters by tokens (every token passes through every parameter), don't add them.",
                variant=_flops_added,
            ),
        ],
        hints=[
            "Every token passes through every parameter once forward and once backward. How many FLOPs is one "
            "multiply-add?",
            "Forward: 2 FLOPs per parameter per token (multiply + add). Backward: about twice the forward.",
            "`return 6 * n_params * n_tokens`",
        ],
    )
)
