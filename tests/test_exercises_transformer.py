"""Chapter 3 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import transformer as reference

# ----------------------------------------------------------------------------- layer_norm

LN = exercises.get("transformer.layer_norm")


def test_layer_norm_reference_matches_pytorch() -> None:
    x, gamma, beta = torch.randn(3, 7), torch.randn(7), torch.randn(7)
    expected = F.layer_norm(x, (7,), gamma, beta, eps=1e-5)
    assert torch.allclose(reference.layer_norm(x, gamma, beta), expected, atol=1e-5)


def test_layer_norm_reference_and_alternatives_pass() -> None:
    def with_torch(x, gamma, beta, eps=1e-5):
        return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)

    def by_hand(x, gamma, beta, eps=1e-5):
        centred = x - x.mean(-1, keepdim=True)
        var = (centred**2).mean(-1, keepdim=True)
        return gamma * centred * torch.rsqrt(var + eps) + beta

    assert LN.check(reference.layer_norm).passed
    assert LN.check(with_torch).passed
    assert LN.check(by_hand).passed


@pytest.mark.filterwarnings("ignore:var\\(\\)")
def test_layer_norm_unbiased_variance_is_named() -> None:
    def layer_norm(x, gamma, beta, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(
            x.var(-1, keepdim=True) + eps
        ) * gamma + beta

    result = LN.check(layer_norm)
    assert result.headline.startswith("Your variance is the unbiased one")


def test_layer_norm_eps_outside_and_wrong_dim_are_named() -> None:
    def eps_outside(x, gamma, beta, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / (
            x.std(-1, keepdim=True, unbiased=False) + eps
        ) * gamma + beta

    def over_dim0(x, gamma, beta, eps=1e-5):
        mean, var = x.mean(0, keepdim=True), x.var(0, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps) * gamma + beta

    assert "inside the square root" in LN.check(eps_outside).headline
    assert "not over dim 0" in LN.check(over_dim0).headline


def test_layer_norm_forgotten_gamma_beta_and_fixed_eps_are_named() -> None:
    def no_affine(x, gamma, beta, eps=1e-5):
        return F.layer_norm(x, x.shape[-1:], eps=eps)

    def fixed_eps(x, gamma, beta, eps=1e-5):
        return F.layer_norm(x, x.shape[-1:], gamma, beta, 1e-5)

    assert "gamma" in LN.check(no_affine).headline
    assert "ignore the `eps` argument" in LN.check(fixed_eps).headline


# ----------------------------------------------------------------------------- ffn

FFN = exercises.get("transformer.ffn")


def test_ffn_reference_and_alternative_pass() -> None:
    def with_linear(x, W1, b1, W2, b2):
        return F.linear(F.linear(x, W1.T, b1).clamp(min=0), W2.T, b2)

    assert FFN.check(reference.ffn).passed
    assert FFN.check(with_linear).passed


def test_ffn_known_mistakes_are_named() -> None:
    def no_relu(x, W1, b1, W2, b2):
        return (x @ W1 + b1) @ W2 + b2

    def gelu(x, W1, b1, W2, b2):
        return F.gelu(x @ W1 + b1) @ W2 + b2

    def relu_everywhere(x, W1, b1, W2, b2):
        return F.relu(F.relu(x @ W1 + b1) @ W2 + b2)

    def bias_after(x, W1, b1, W2, b2):
        return (F.relu(x @ W1) + b1) @ W2 + b2

    def linear_layout(x, W1, b1, W2, b2):
        return F.relu(x @ W1.T + b1) @ W2.T + b2

    assert "forgot the ReLU" in FFN.check(no_relu).headline
    assert "you used GELU" in FFN.check(gelu).headline
    assert "hidden layer only" in FFN.check(relu_everywhere).headline
    assert "before the ReLU" in FFN.check(bias_after).headline
    assert "compute x @ W1" in FFN.check(linear_layout).headline


# ----------------------------------------------------------------------------- param_count

PC = exercises.get("transformer.param_count")


def test_param_count_reference_matches_hugging_face_gpt2() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    for tied in (True, False):
        config = GPT2Config(
            vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=16, tie_word_embeddings=tied
        )
        model = GPT2LMHeadModel(config)
        n = sum(p.numel() for p in model.parameters())
        assert reference.param_count(50, 32, 2, 16, tied=tied) == n


def test_param_count_reference_and_alternative_pass() -> None:
    def param_count(vocab, d, n_layers, block, tied=True):
        parts = {
            "wte": vocab * d,
            "wpe": block * d,
            "attn": n_layers * (d * 3 * d + 3 * d + d * d + d),
            "mlp": n_layers * (2 * 4 * d * d + 4 * d + d),
            "ln": n_layers * 4 * d + 2 * d,
            "head": 0 if tied else d * vocab,
        }
        return sum(parts.values())

    assert PC.check(reference.param_count).passed
    assert PC.check(param_count).passed


def test_param_count_known_mistakes_are_named() -> None:
    def no_biases(vocab, d, n_layers, block, tied=True):
        return (
            vocab * d
            + block * d
            + n_layers * (12 * d * d + 4 * d)
            + 2 * d
            + (0 if tied else vocab * d)
        )

    def ignores_tied(vocab, d, n_layers, block, tied=True):
        return vocab * d + block * d + n_layers * (12 * d * d + 13 * d) + 2 * d

    def no_positions(vocab, d, n_layers, block, tied=True):
        return vocab * d + n_layers * (12 * d * d + 13 * d) + 2 * d + (0 if tied else vocab * d)

    def head_bias(vocab, d, n_layers, block, tied=True):
        return (
            vocab * d
            + block * d
            + n_layers * (12 * d * d + 13 * d)
            + 2 * d
            + (0 if tied else vocab * d + vocab)
        )

    assert "biases of the linear layers" in PC.check(no_biases).headline
    assert "you ignore `tied`" in PC.check(ignores_tied).headline
    assert "position embedding" in PC.check(no_positions).headline
    result = PC.check(head_bias)
    assert "no bias" in result.headline and "off by +50,257" in result.details
