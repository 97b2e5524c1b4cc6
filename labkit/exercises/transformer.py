"""Exercises for chapter 3 (The Transformer): LayerNorm, the FFN, parameters, the GPT, RMSNorm.

Taught in chapter 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

# --------------------------------------------------------------------------- block_forward
#
# The next three exercises compose into a whole GPT: chapter 3's notebook builds its own
# Block and GPT classes whose forward methods call them (with layer_norm and ffn above).


def block_forward(
    x: Tensor,
    ln1: torch.nn.Module,
    attn: torch.nn.Module,
    ln2: torch.nn.Module,
    mlp: torch.nn.Module,
) -> Tensor:
    """One pre-LN Transformer block: ``h = x + attn(ln1(x))``, then ``h + mlp(ln2(h))``.

    Taught in chapter 3. ``attn`` is causal self-attention, ``mlp`` the feed-forward network;
    each of the four is a module or any function ``(B, T, d) -> (B, T, d)``.
    """
    h = x + attn(ln1(x))  # sub-layer 1: attention, with a residual connection
    return h + mlp(ln2(h))  # sub-layer 2: the FFN reads what attention gathered


def _bf(x: Tensor, ln1: Any, attn: Any, ln2: Any, mlp: Any, *, mistake: str) -> Tensor:
    """block_forward with one known ``mistake`` (the names in its diagnoses)."""
    if mistake == "post_ln":
        h = ln1(x + attn(x))
        return ln2(h + mlp(h))
    if mistake == "parallel":
        return x + attn(ln1(x)) + mlp(ln2(x))
    if mistake == "no_residual":
        h = attn(ln1(x))
        return mlp(ln2(h))
    if mistake == "normed_residual":
        h = ln1(x) + attn(ln1(x))
        return ln2(h) + mlp(ln2(h))
    if mistake == "one_norm":
        h = x + attn(ln1(x))
        return h + mlp(ln1(h))
    h = x + mlp(ln1(x))  # "mlp_first": the sub-layers in the wrong order
    return h + attn(ln2(h))


def _affine(g: torch.Generator, d: int) -> Callable[[Tensor], Tensor]:
    """A LayerNorm with random gain and bias (so ln1 and ln2 differ)."""
    gamma, beta = 1 + 0.5 * torch.randn(d, generator=g), 0.5 * torch.randn(d, generator=g)
    return lambda x: F.layer_norm(x, (d,), gamma, beta)


def _mixer(g: torch.Generator, d: int) -> Callable[[Tensor], Tensor]:
    """A stand-in for causal attention: each position averages the earlier ones, then a matrix."""
    w = torch.randn(d, d, generator=g) / d**0.5

    def attn(x: Tensor) -> Tensor:
        T = x.shape[-2]
        weights = torch.ones(T, T).tril()
        return (weights / weights.sum(-1, keepdim=True)) @ x @ w

    return attn


def _mlp(g: torch.Generator, d: int) -> Callable[[Tensor], Tensor]:
    w1, w2 = torch.randn(d, 3 * d, generator=g) / d**0.5, torch.randn(3 * d, d, generator=g) / d
    return lambda x: torch.relu(x @ w1) @ w2


def _bf_cases() -> list[Case]:
    g = seeded(6)

    def parts(d: int) -> tuple[Any, ...]:
        return _affine(g, d), _mixer(g, d), _affine(g, d), _mlp(g, d)

    p8 = parts(8)
    return [
        Case((torch.randn(2, 5, 8, generator=g), *p8), label="a (2, 5, 8) batch"),
        Case((3 * torch.randn(1, 7, 8, generator=g) + 1, *p8), label="a large-scale input"),
        Case((torch.randn(3, 4, 6, generator=g), *parts(6)), label="d = 6, other weights"),
        Case((torch.randn(1, 1, 6, generator=g), *parts(6)), label="one position"),
    ]


register(
    Exercise(
        id="transformer.block_forward",
        chapter=3,
        title="The pre-LN Transformer block",
        signature="(x, ln1, attn, ln2, mlp) -> Tensor",
        task="Run one pre-LN block on x (B, T, d): first x + attn(ln1(x)), then, on that "
        "result h, h + mlp(ln2(h)). ln1, attn, ln2 and mlp are functions (B, T, d) -> "
        "(B, T, d).",
        reference=block_forward,
        cases=_bf_cases,
        diagnoses=mistakes(
            block_forward,
            _bf,
            {
                "post_ln": "This is the post-LN block, LN(x + Sublayer(x)); the pre-LN block "
                "normalises only the sub-layer's input: x + Sublayer(LN(x)).",
                "parallel": "The two sub-layers must run in sequence: the FFN reads h = x + "
                "attn(ln1(x)), not x (this is the articles' Attention(x) + FeedForward(x)).",
                "no_residual": "Add each sub-layer's output to its input (the residual "
                "connection): h = x + attn(ln1(x)).",
                "normed_residual": "The residual path carries x itself, not LN(x): h = x + "
                "attn(ln1(x)).",
                "one_norm": "Each sub-layer has its own LayerNorm: use ln2 before the FFN.",
                "mlp_first": "Attention comes first, then the FFN.",
            },
        ),
        hints=[
            "Two sub-layers, one after the other. Each one: normalise, apply the sub-layer, add "
            "the result to what went in.",
            "h = x + attn(ln1(x)); then the FFN works on h, with ln2.",
            "`h = x + attn(ln1(x)); return h + mlp(ln2(h))`",
        ],
    )
)

# --------------------------------------------------------------------------- gpt_forward


def gpt_forward(
    idx: Tensor,
    wte: torch.nn.Module,
    wpe: torch.nn.Module,
    blocks: list[torch.nn.Module],
    ln_f: torch.nn.Module,
    lm_head: torch.nn.Module,
) -> Tensor:
    """A GPT's forward pass: token + position embeddings → the blocks → final LN → head.

    Taught in chapter 3. ``idx`` ``(B, T)`` token ids; returns logits ``(B, T, vocab)``. Each
    part is a module (or any function of the right shape); ``blocks`` is a list of them.
    """
    x = wte(idx) + wpe(torch.arange(idx.shape[1], device=idx.device))  # (B, T, d)
    for block in blocks:
        x = block(x)  # each block reads the previous block's output
    return lm_head(ln_f(x))


def _gf(
    idx: Tensor, wte: Any, wpe: Any, blocks: Any, ln_f: Any, lm_head: Any, *, mistake: str
) -> Tensor:
    """gpt_forward with one known ``mistake`` (the names in its diagnoses)."""
    T = idx.shape[1]
    if mistake == "no_positions":
        x = wte(idx)
    elif mistake == "positions_by_token":
        x = wte(idx) + wpe(idx)
    else:
        x = wte(idx) + wpe(torch.arange(T))
    if mistake == "blocks_not_chained":
        x = [block(x) for block in blocks][-1] if blocks else x
    else:
        for block in blocks:
            x = block(x)
            x = ln_f(x) if mistake == "ln_in_loop" else x
    if mistake in ("no_final_ln", "ln_in_loop"):
        return lm_head(x)
    return lm_head(ln_f(x))


def _embedding(table: Tensor) -> torch.nn.Embedding:
    return torch.nn.Embedding.from_pretrained(table, freeze=True)


def _head(weight: Tensor) -> torch.nn.Linear:
    with torch.random.fork_rng():  # building a Linear draws random numbers; keep yours
        head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    head.weight = torch.nn.Parameter(weight, requires_grad=False)
    return head


def _gf_cases() -> list[Case]:
    g = seeded(7)

    def model(V: int, n_ctx: int, d: int, n_blocks: int) -> tuple[Any, ...]:
        tokens = torch.randn(V, d, generator=g)
        blocks = []
        for _ in range(n_blocks):
            parts = _affine(g, d), _mixer(g, d), _affine(g, d), _mlp(g, d)
            blocks.append(lambda x, p=parts: block_forward(x, *p))
        return (
            _embedding(tokens),
            _embedding(torch.randn(n_ctx, d, generator=g)),
            blocks,
            _affine(g, d),
            _head(tokens),  # tied: the head's matrix is the token embedding
        )

    m = model(11, 8, 6, 2)
    return [
        Case((torch.randint(0, 11, (2, 5), generator=g), *m), label="2 sequences of 5 tokens"),
        Case((torch.tensor([[3, 3, 3, 3]]), *m), label="one token repeated"),
        Case((torch.randint(0, 11, (1, 8), generator=g), *m), label="a full context of 8"),
        Case(
            (torch.randint(0, 13, (3, 4), generator=g), *model(13, 6, 4, 3)),
            label="3 blocks, d = 4",
        ),
    ]


register(
    Exercise(
        id="transformer.gpt_forward",
        chapter=3,
        title="A GPT's forward pass",
        signature="(idx, wte, wpe, blocks, ln_f, lm_head) -> Tensor",
        task="Turn token ids idx (B, T) into logits (B, T, vocab): the token embedding wte(idx) "
        "plus the position embedding of positions 0..T-1, then every block in turn, then the "
        "final LayerNorm ln_f, then the output head lm_head.",
        reference=gpt_forward,
        cases=_gf_cases,
        diagnoses=[
            *mistakes(
                gpt_forward,
                _gf,
                {
                    "no_positions": "Add the position embedding: x = wte(idx) + "
                    "wpe(torch.arange(T)).",
                    "positions_by_token": "wpe is indexed by the positions 0..T-1 "
                    "(torch.arange(T)), not by the token ids.",
                    "blocks_not_chained": "Each block must read the previous block's output: "
                    "x = block(x) inside the loop.",
                    "ln_in_loop": "The final LayerNorm ln_f runs once, after the last block (each "
                    "block has its own LayerNorms inside).",
                    "no_final_ln": "Apply the final LayerNorm before the head: lm_head(ln_f(x)).",
                },
            ),
            Diagnosis(
                "Call the embeddings on the ids (wte(idx)); use wpe on torch.arange(T).",
                error=r"IndexError|index out of range",
            ),
        ],
        hints=[
            "Embeddings in, a stack of blocks, one LayerNorm, the head out. The position "
            "embedding needs the positions 0, 1, …, T−1.",
            "x = wte(idx) + wpe(torch.arange(idx.shape[1])); then `for block in blocks: x = "
            "block(x)`.",
            "`return lm_head(ln_f(x))` after the loop",
        ],
    )
)

# --------------------------------------------------------------------------- causal_lm_loss


def causal_lm_loss(logits: Tensor, idx: Tensor) -> Tensor:
    """Mean cross-entropy of next-token predictions: position t predicts token t + 1.

    Taught in chapter 3 (and used by chapter 4's training loop). ``logits`` ``(B, T, V)``
    from ``idx`` ``(B, T)``; the last position has no target, the first token no prediction.
    """
    predictions = logits[:, :-1]  # (B, T-1, V): the predictions that have a target
    targets = idx[:, 1:]  # (B, T-1): the token after each position
    return F.cross_entropy(predictions.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _lm(logits: Tensor, idx: Tensor, *, mistake: str) -> Tensor:
    """causal_lm_loss with one known ``mistake`` (the names in its diagnoses)."""
    V = logits.shape[-1]
    if mistake == "no_shift":
        return F.cross_entropy(logits.reshape(-1, V), idx.reshape(-1))
    if mistake == "shift_backwards":
        return F.cross_entropy(logits[:, 1:].reshape(-1, V), idx[:, :-1].reshape(-1))
    pred, target = logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1)
    if mistake == "sum":
        return F.cross_entropy(pred, target, reduction="sum")
    if mistake == "softmax_first":
        return F.cross_entropy(pred.softmax(-1), target)
    return F.nll_loss(pred, target)  # "no_log_softmax"


def _lm_cases() -> list[Case]:
    g = seeded(8)
    return [
        Case((torch.randn(2, 5, 7, generator=g), torch.randint(0, 7, (2, 5), generator=g))),
        Case(
            (3 * torch.randn(1, 9, 4, generator=g), torch.randint(0, 4, (1, 9), generator=g)),
            label="sharp predictions",
        ),
        Case((torch.randn(3, 2, 5, generator=g), torch.tensor([[0, 1], [2, 3], [4, 0]]))),
        Case(
            (torch.randn(4, 6, 10, generator=g), torch.randint(0, 10, (4, 6), generator=g)),
            label="a (4, 6) batch, vocabulary 10",
        ),
    ]


register(
    Exercise(
        id="transformer.causal_lm_loss",
        chapter=3,
        title="The causal language-model loss",
        signature="(logits, idx) -> Tensor",
        task="logits (B, T, V) were computed from the token ids idx (B, T). Return the mean "
        "cross-entropy of predicting each next token: the logits at position t score the "
        "token at position t + 1 (so the last position has no target).",
        reference=causal_lm_loss,
        cases=_lm_cases,
        diagnoses=mistakes(
            causal_lm_loss,
            _lm,
            {
                "no_shift": "Shift by one: position t predicts token t + 1, so compare "
                "logits[:, :-1] with idx[:, 1:] (yours asks each position to copy its own token).",
                "shift_backwards": "The shift goes the other way: logits[:, :-1] against "
                "idx[:, 1:] (yours predicts the previous token).",
                "sum": "Take the mean over the predictions (F.cross_entropy's default), not "
                "the sum.",
                "softmax_first": "F.cross_entropy takes raw logits (it applies log-softmax "
                "itself); do not apply softmax first.",
                "no_log_softmax": "F.nll_loss expects log-probabilities: use F.cross_entropy "
                "on the logits (or log_softmax first).",
            },
        ),
        hints=[
            "Every position predicts the token that comes after it; the last position has "
            "nothing to predict in this window.",
            "predictions = logits[:, :-1], targets = idx[:, 1:]; F.cross_entropy wants "
            "(N, V) and (N,).",
            "`F.cross_entropy(logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1))`",
        ],
    )
)

# --------------------------------------------------------------------------- rms_norm


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    """RMSNorm (Llama, Qwen, SmolLM2): ``x / sqrt(mean(x²) + eps) * weight``.

    Taught in chapter 3. No mean is subtracted and there is no bias: LayerNorm without the
    centring.
    """
    rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    return x / rms * weight


def _rms(x: Tensor, weight: Tensor, eps: float = 1e-6, *, mistake: str) -> Tensor:
    """rms_norm with one known ``mistake`` (the names in its diagnoses)."""
    if mistake == "centred":
        return F.layer_norm(x, x.shape[-1:], weight, None, eps)
    if mistake == "eps_outside":
        return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight
    if mistake == "no_sqrt":
        return x / (x.pow(2).mean(-1, keepdim=True) + eps) * weight
    if mistake == "no_weight":
        return rms_norm(x, torch.ones_like(weight), eps)
    if mistake == "fixed_eps":
        return rms_norm(x, weight)
    return x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight  # "sum"


def _rms_cases() -> list[Case]:
    g = seeded(9)
    w8 = 1 + 0.5 * torch.randn(8, generator=g)
    small = 1e-3 * torch.randn(2, 8, generator=g)
    return [
        Case((torch.randn(4, 8, generator=g) + 2, w8), label="4 vectors with mean 2"),
        Case((torch.randn(2, 3, 8, generator=g) * 3, w8), label="a (2, 3, 8) batch"),
        Case((small, w8), label="tiny values (rms 0.001): where eps goes matters"),
        Case((small, w8), {"eps": 1e-5}, label="the same with eps=1e-5"),
        Case((torch.randn(3, 5, generator=g), torch.rand(5, generator=g)), label="d = 5"),
    ]


register(
    Exercise(
        id="transformer.rms_norm",
        chapter=3,
        title="RMSNorm, the modern LayerNorm",
        signature="(x, weight, eps=1e-6) -> Tensor",
        task="Divide each vector x[..., :] by its root mean square sqrt(mean(x²) + eps) (over "
        "the last dimension) and multiply by weight. No mean is subtracted and there is no bias.",
        reference=rms_norm,
        cases=_rms_cases,
        diagnoses=mistakes(
            rms_norm,
            _rms,
            {
                "centred": "That is LayerNorm: RMSNorm does not subtract the mean (and has no "
                "bias); it divides by sqrt(mean(x²) + eps).",
                "eps_outside": "Put eps inside the square root: x / sqrt(mean(x²) + eps).",
                "no_sqrt": "Divide by the root mean square, sqrt(mean(x²) + eps), not the mean "
                "square.",
                "no_weight": "Multiply by the learned gain `weight` at the end.",
                "fixed_eps": "You ignore the `eps` argument (the case with eps=1e-5 fails): use "
                "the value you are given.",
                "sum": "Take the mean of x² over the last dimension, not the sum.",
            },
        ),
        hints=[
            "Like LayerNorm, each vector is rescaled on its own, but nothing is subtracted: "
            "only its size (root mean square) is divided out.",
            "rms = sqrt(mean of x² over dim -1, keepdim=True, + eps).",
            "`x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight`",
        ],
    )
)
