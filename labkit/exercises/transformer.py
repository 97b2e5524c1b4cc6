"""Exercises for chapter 3 (The Transformer): LayerNorm, the feed-forward block, parameters.

Taught in chapter 3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .cases import Case, Diagnosis, mistakes, seeded
from .core import register
from .exercise import Exercise

# --------------------------------------------------------------------------- layer_norm


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise x over its last dimension, then scale by gamma and shift by beta.

    Taught in chapter 3.
    """
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # the biased variance: divide by n, not n - 1
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def _ln_unbiased(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    var = x.var(dim=-1, keepdim=True, unbiased=True)
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(var + eps) * gamma + beta


def _ln_eps_outside(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    std = x.var(dim=-1, keepdim=True, unbiased=False).sqrt()
    return (x - x.mean(-1, keepdim=True)) / (std + eps) * gamma + beta


def _ln_no_sqrt(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - x.mean(-1, keepdim=True)) / (var + eps) * gamma + beta


def _ln_fixed_eps(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    return layer_norm(x, gamma, beta)


def _ln_no_affine(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    return layer_norm(x, torch.ones_like(gamma), torch.zeros_like(beta), eps)


def _ln_first_dim(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    var = x.var(dim=0, keepdim=True, unbiased=False)
    return (x - x.mean(0, keepdim=True)) / torch.sqrt(var + eps) * gamma + beta


def _ln_cases() -> list[Case]:
    g = seeded(4)

    def params(d: int) -> tuple[Tensor, Tensor]:
        return 1 + 0.5 * torch.randn(d, generator=g), 0.5 * torch.randn(d, generator=g)

    g6, b6 = params(6)
    g8, b8 = params(8)
    small = 0.01 * torch.randn(3, 8, generator=g) + 2.0
    return [
        Case((torch.randn(4, 6, generator=g), g6, b6), label="4 vectors of 6 features"),
        Case((torch.randn(2, 3, 8, generator=g) * 3 + 1, g8, b8), label="a (2, 3, 8) batch"),
        Case(
            (small, g8, b8),
            label="tiny variance (std 0.01): where eps goes matters",
            note="This case has a tiny variance, so where eps goes matters: (x − mean) / "
            "sqrt(var + eps).",
        ),
        Case((small, g8, b8), {"eps": 1e-3}, label="the same with eps=1e-3"),
        Case(
            (torch.full((2, 6), 3.0), g6, b6),
            label="constant rows (variance 0): the output is beta",
        ),
        Case(
            (torch.randn(5, 1, generator=g), torch.tensor([2.0]), torch.tensor([0.5])),
            label="one feature (variance 0)",
            note="This case has one feature: its biased variance is 0 (the unbiased one divides "
            "by n − 1 = 0 and gives NaN).",
        ),
        Case(
            (torch.randn(3, 3, generator=g), torch.ones(3), torch.zeros(3)),
            label="a square 3×3 input",
        ),
    ]


register(
    Exercise(
        id="transformer.layer_norm",
        chapter=3,
        title="Layer normalisation",
        signature="(x, gamma, beta, eps=1e-5) -> Tensor",
        task="Normalise x over its last dimension to mean 0 and variance 1 (the biased variance, "
        "eps inside the "
        "square root), then multiply by gamma and add beta.",
        reference=layer_norm,
        cases=_ln_cases,
        atol=1e-4,
        diagnoses=[
            Diagnosis(
                "Your variance is the unbiased one (divides by n − 1); LayerNorm uses the biased "
                "variance "
                "(divide by n): x.var(dim=-1, keepdim=True, unbiased=False).",
                variant=_ln_unbiased,
            ),
            Diagnosis(
                "Add eps inside the square root: (x − mean) / sqrt(var + eps), not / (sqrt(var) "
                "+ eps).",
                variant=_ln_eps_outside,
            ),
            Diagnosis(
                "Divide by the standard deviation sqrt(var + eps), not by the variance.",
                variant=_ln_no_sqrt,
            ),
            Diagnosis(
                "You ignore the `eps` argument (the case with eps=1e-3 fails): use the value you "
                "are given.",
                variant=_ln_fixed_eps,
            ),
            Diagnosis(
                "After normalising, scale by gamma and shift by beta: … * gamma + beta.",
                variant=_ln_no_affine,
            ),
            Diagnosis(
                "Normalise over the last dimension (the features of each vector, dim=-1), not "
                "over dim 0.",
                variant=_ln_first_dim,
            ),
        ],
        hints=[
            "Each vector (the last dimension) is normalised on its own: subtract its mean, "
            "divide by its "
            "standard deviation, then apply the learned gain gamma and bias beta.",
            "mean = x.mean(-1, keepdim=True); var = x.var(-1, keepdim=True, unbiased=False) — "
            "the biased "
            "variance; eps goes inside the square root.",
            "`(x - mean) / torch.sqrt(var + eps) * gamma + beta`",
        ],
    )
)

# --------------------------------------------------------------------------- ffn


def ffn(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """Position-wise feed-forward: max(0, x W1 + b1) W2 + b2; W1 of shape (d, d_ff), W2 (d_ff, d).

    Taught in chapter 3.
    """
    hidden = torch.relu(x @ W1 + b1)
    return hidden @ W2 + b2


def _ffn_no_relu(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    return (x @ W1 + b1) @ W2 + b2


def _ffn_relu_out(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    return torch.relu(ffn(x, W1, b1, W2, b2))


def _ffn_gelu(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    return F.gelu(x @ W1 + b1) @ W2 + b2


def _ffn_gelu_tanh(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    return F.gelu(x @ W1 + b1, approximate="tanh") @ W2 + b2


def _ffn_bias_after_relu(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    return (torch.relu(x @ W1) + b1) @ W2 + b2


def _ffn_cases() -> list[Case]:
    g = seeded(5)

    def weights(d: int, d_ff: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return (
            torch.randn(d, d_ff, generator=g) / d**0.5,
            torch.randn(d_ff, generator=g) - 0.3,
            torch.randn(d_ff, d, generator=g) / d_ff**0.5,
            torch.randn(d, generator=g),
        )

    w4 = weights(4, 16)
    return [
        Case((torch.randn(5, 4, generator=g), *w4), label="5 positions, d=4, d_ff=16"),
        Case((torch.randn(2, 3, 4, generator=g), *w4), label="a (2, 3, 4) batch"),
        Case(
            (torch.randn(1, 6, generator=g), *weights(6, 10)),
            label="one position, d_ff=10 (not 4·d)",
        ),
        Case(
            (-torch.rand(3, 4, generator=g), *w4),
            label="negative inputs: ReLU clips many hidden units",
        ),
    ]


register(
    Exercise(
        id="transformer.ffn",
        chapter=3,
        title="Position-wise feed-forward network",
        signature="(x, W1, b1, W2, b2) -> Tensor",
        task="Return max(0, x W1 + b1) W2 + b2 (W1 has shape (d, d_ff), W2 has shape (d_ff, d)), "
        "applied to every "
        "position.",
        reference=ffn,
        cases=_ffn_cases,
        diagnoses=[
            Diagnosis(
                "You forgot the ReLU: max(0, ·) between the two layers (torch.relu).",
                variant=_ffn_no_relu,
            ),
            Diagnosis(
                "Apply the ReLU to the hidden layer only, not to the output.", variant=_ffn_relu_out
            ),
            Diagnosis(
                "This exercise asks for ReLU (the original Transformer); you used GELU (as in "
                "GPT-2).",
                variant=_ffn_gelu,
            ),
            Diagnosis(
                "This exercise asks for ReLU (the original Transformer); you used GELU (as in "
                "GPT-2).",
                variant=_ffn_gelu_tanh,
            ),
            Diagnosis("Add b1 before the ReLU: max(0, x W1 + b1).", variant=_ffn_bias_after_relu),
            Diagnosis(
                "W1 has shape (d, d_ff) here, so compute x @ W1 (not W1.T as nn.Linear stores it).",
                error=r"cannot be multiplied|size mismatch|must match the size",
            ),
        ],
        hints=[
            "Two matrix products with a ReLU in between: widen to d_ff, clip the negatives, "
            "project back to d.",
            "hidden = max(0, x @ W1 + b1); the ReLU is torch.relu (or .clamp(min=0)). Then "
            "hidden @ W2 + b2.",
            "`return torch.relu(x @ W1 + b1) @ W2 + b2`",
        ],
    )
)

# --------------------------------------------------------------------------- param_count


def param_count(vocab: int, d: int, n_layers: int, block: int, tied: bool = True) -> int:
    """Parameters of a GPT-2-style model with biases (learned positions, pre-LN, final LayerNorm).

    Taught in chapter 3.
    """
    embeddings = vocab * d + block * d  # token embedding + position embedding
    attention = (3 * d * d + 3 * d) + (d * d + d)  # qkv projection + output projection, with biases
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)  # d -> 4d -> d, with biases
    layer_norms = 2 * (2 * d)  # two LayerNorms per block, each with gain and bias
    per_layer = attention + mlp + layer_norms  # = 12 d² + 13 d
    head = 0 if tied else vocab * d  # a tied head reuses the token embedding; the head has no bias
    return embeddings + n_layers * per_layer + 2 * d + head  # + the final LayerNorm


def _pc(vocab: int, d: int, n_layers: int, block: int, tied: bool, *, mistake: str) -> int:
    """param_count with one known ``mistake`` (the names in its diagnoses)."""
    ln_size = d if mistake == "no_bias_at_all" else 2 * d  # one LayerNorm: gain (and bias)
    linear_biases = 0 if mistake in ("no_linear_bias", "no_bias_at_all") else 9 * d
    layer_norms = 0 if mistake == "no_layer_norms" else 2 * ln_size
    final_ln = 0 if mistake in ("no_layer_norms", "no_final_ln") else ln_size
    positions = 0 if mistake == "no_positions" else block * d
    heads = {"ignores_tied": 0, "head_always": vocab * d}
    heads["head_bias"] = 0 if tied else vocab * d + vocab
    head = heads.get(mistake, 0 if tied else vocab * d)
    per_layer = 12 * d * d + linear_biases + layer_norms
    return vocab * d + positions + n_layers * per_layer + final_ln + head


register(
    Exercise(
        id="transformer.param_count",
        chapter=3,
        title="Count the parameters of a GPT",
        signature="(vocab, d, n_layers, block, tied=True) -> int",
        task="Return the number of parameters of a GPT-2-style model with biases: token and "
        "position embeddings, "
        "n_layers blocks (attention, MLP d→4d→d, two LayerNorms), a final LayerNorm, and an "
        "output head that is "
        "tied to the token embedding unless tied=False (then a V×d matrix without bias).",
        reference=param_count,
        cases=lambda: [
            Case((50257, 768, 12, 1024), label="GPT-2 small (124M)"),
            Case((50257, 768, 12, 1024), {"tied": False}, label="GPT-2 small with an untied head"),
            Case((65, 32, 2, 16), label="a tiny character model"),
            Case((100, 8, 0, 4), label="no layers at all"),
            Case((1000, 64, 3, 128), {"tied": True}, label="tied=True given explicitly"),
            Case((1000, 64, 3, 128), {"tied": False}, label="3 layers, untied"),
        ],
        diagnoses=mistakes(
            param_count,
            _pc,
            {
                "no_linear_bias": "You left out the biases of the linear layers: per block 3d "
                "(qkv) + d (projection) + 4d + d (MLP) = 9d.",
                "no_bias_at_all": "You left out the biases (of the linear layers and of the "
                "LayerNorms): GPT-2 has them.",
                "ignores_tied": "With tied=False the output head has its own V×d matrix; with "
                "tied=True it reuses the token embedding (you ignore `tied`).",
                "head_always": "tied=True means the head *shares* the token-embedding matrix: "
                "count it once.",
                "head_bias": "The untied output head has no bias: it adds V×d parameters, not V×d "
                "+ V.",
                "no_positions": "Don't forget the learned position embedding: block × d "
                "parameters.",
                "no_layer_norms": "You left out the LayerNorms: two per block (2d each: gain and "
                "bias) and a final one (2d).",
                "no_final_ln": "You left out the final LayerNorm after the last block (2d).",
            },
        ),
        hints=[
            "Add up the pieces: embeddings (tokens and positions), n_layers identical blocks, a "
            "final LayerNorm, "
            "and the output head, which is free when tied.",
            "Per block: attention = qkv (d×3d + 3d) + output projection (d×d + d); MLP = d×4d + "
            "4d + 4d×d + d; "
            "two LayerNorms of 2d. That is 12d² + 13d.",
            "`V*d + block*d + n_layers*(12*d*d + 13*d) + 2*d + (0 if tied else V*d)`",
        ],
    )
)
