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


# ----------------------------------------------------------------------------- the GPT, composed

BF = exercises.get("transformer.block_forward")
GF = exercises.get("transformer.gpt_forward")
LM = exercises.get("transformer.causal_lm_loss")
RMS = exercises.get("transformer.rms_norm")


def test_block_forward_reference_matches_labkit_block_and_alternative_passes() -> None:
    from labkit.nn import TransformerBlock

    torch.manual_seed(0)
    block = TransformerBlock(16, n_heads=4, pre_ln=True).eval()
    x = torch.randn(2, 6, 16)
    mine = reference.block_forward(
        x, block.ln1, lambda h: block.attn(h, is_causal=True), block.ln2, block.ffn
    )
    assert torch.allclose(mine, block(x, is_causal=True), atol=1e-5)

    def two_steps(x, ln1, attn, ln2, mlp):
        x = x + attn(ln1(x))
        x = x + mlp(ln2(x))
        return x

    assert BF.check(reference.block_forward).passed
    assert BF.check(two_steps).passed


def test_block_forward_known_mistakes_are_named() -> None:
    def post_ln(x, ln1, attn, ln2, mlp):
        h = ln1(x + attn(x))
        return ln2(h + mlp(h))

    def parallel(x, ln1, attn, ln2, mlp):
        return x + attn(ln1(x)) + mlp(ln2(x))

    def no_residual(x, ln1, attn, ln2, mlp):
        return mlp(ln2(attn(ln1(x))))

    def one_norm(x, ln1, attn, ln2, mlp):
        h = x + attn(ln1(x))
        return h + mlp(ln1(h))

    assert "post-LN" in BF.check(post_ln).headline
    assert "in sequence" in BF.check(parallel).headline
    assert "residual connection" in BF.check(no_residual).headline
    assert "own LayerNorm" in BF.check(one_norm).headline


def test_gpt_forward_reference_matches_tiny_gpt_and_alternative_passes() -> None:
    from labkit.models import TinyGPT

    torch.manual_seed(0)
    model = TinyGPT(vocab_size=20, block_size=8, n_layer=2, n_head=2, d_model=16).eval()
    idx = torch.randint(0, 20, (3, 7))
    blocks = [lambda x, b=b: b(x, is_causal=True) for b in model.blocks]
    with torch.no_grad():
        mine = reference.gpt_forward(idx, model.wte, model.wpe, blocks, model.ln_f, model.lm_head)
        assert torch.allclose(mine, model(idx), atol=1e-5)

    def by_tables(idx, wte, wpe, blocks, ln_f, lm_head):
        x = wte.weight[idx] + wpe.weight[: idx.shape[1]]
        for block in blocks:
            x = block(x)
        return ln_f(x) @ wte.weight.T  # the head is tied to the token embedding

    assert GF.check(reference.gpt_forward).passed
    assert GF.check(by_tables).passed


def test_gpt_forward_known_mistakes_are_named() -> None:
    def no_positions(idx, wte, wpe, blocks, ln_f, lm_head):
        x = wte(idx)
        for block in blocks:
            x = block(x)
        return lm_head(ln_f(x))

    def by_token(idx, wte, wpe, blocks, ln_f, lm_head):
        x = wte(idx) + wpe(idx)
        for block in blocks:
            x = block(x)
        return lm_head(ln_f(x))

    def not_chained(idx, wte, wpe, blocks, ln_f, lm_head):
        x = wte(idx) + wpe(torch.arange(idx.shape[1]))
        out = x
        for block in blocks:
            out = block(x)
        return lm_head(ln_f(out))

    def no_final_ln(idx, wte, wpe, blocks, ln_f, lm_head):
        x = wte(idx) + wpe(torch.arange(idx.shape[1]))
        for block in blocks:
            x = block(x)
        return lm_head(x)

    assert "Add the position embedding" in GF.check(no_positions).headline
    headline = GF.check(by_token).headline
    assert "not by the token ids" in headline or "torch.arange" in headline
    assert "previous block's output" in GF.check(not_chained).headline
    assert "final LayerNorm before the head" in GF.check(no_final_ln).headline


def test_causal_lm_loss_reference_matches_tiny_gpt_and_alternative_passes() -> None:
    from labkit.models import TinyGPT

    torch.manual_seed(0)
    model = TinyGPT(vocab_size=20, block_size=8, n_layer=1, n_head=2, d_model=16).eval()
    idx = torch.randint(0, 20, (3, 8))
    with torch.no_grad():
        _, loss = model(idx[:, :-1], targets=idx[:, 1:])
        assert torch.allclose(reference.causal_lm_loss(model(idx), idx), loss, atol=1e-6)

    def by_log_probs(logits, idx):
        logp = logits.log_softmax(-1)[:, :-1]
        return -logp.gather(-1, idx[:, 1:, None]).mean()

    assert LM.check(reference.causal_lm_loss).passed
    assert LM.check(by_log_probs).passed


def test_causal_lm_loss_known_mistakes_are_named() -> None:
    def no_shift(logits, idx):
        return F.cross_entropy(logits.flatten(0, 1), idx.flatten())

    def backwards(logits, idx):
        return F.cross_entropy(logits[:, 1:].flatten(0, 1), idx[:, :-1].flatten())

    def summed(logits, idx):
        return F.cross_entropy(logits[:, :-1].flatten(0, 1), idx[:, 1:].flatten(), reduction="sum")

    def softmax_first(logits, idx):
        return F.cross_entropy(logits[:, :-1].softmax(-1).flatten(0, 1), idx[:, 1:].flatten())

    assert "Shift by one" in LM.check(no_shift).headline
    assert "the other way" in LM.check(backwards).headline
    assert "not the sum" in LM.check(summed).headline
    assert "do not apply softmax" in LM.check(softmax_first).headline


def test_rms_norm_reference_matches_llama_and_alternative_passes() -> None:
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    norm = LlamaRMSNorm(8, eps=1e-6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(3, 8)
    assert torch.allclose(reference.rms_norm(x, norm.weight, 1e-6), norm(x), atol=1e-6)

    def with_rsqrt(x, weight, eps=1e-6):
        return weight * x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)

    assert RMS.check(reference.rms_norm).passed
    assert RMS.check(with_rsqrt).passed


def test_rms_norm_known_mistakes_are_named() -> None:
    def layer_norm_instead(x, weight, eps=1e-6):
        return F.layer_norm(x, x.shape[-1:], weight, None, eps)

    def eps_outside(x, weight, eps=1e-6):
        return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight

    def no_weight(x, weight, eps=1e-6):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)

    assert "That is LayerNorm" in RMS.check(layer_norm_instead).headline
    assert "inside the square root" in RMS.check(eps_outside).headline
    assert "weight" in RMS.check(no_weight).headline
