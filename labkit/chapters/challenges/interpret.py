"""Interpretability, a first step: where does each attention head look, and does it matter?

* :func:`previous_token_scores`: for every head, the mean attention on the previous token;
* :func:`ablate_head`: a context in which one head outputs zeros (an *ablation*).

For labkit models (they return their attention weights). Taught in chapter 9 (section 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from labkit._util import model_device

__all__ = ["ablate_head", "previous_token_scores"]


def previous_token_scores(model: nn.Module, idx: Tensor) -> Tensor:
    """For every (layer, head): the mean attention weight from each position to the one just
    before it. Close to 1 marks a *previous-token head*. Returns ``(layers, heads)``.

    Uses labkit's contract ``logits, attn = model(idx, return_attention=True)``, with ``attn``
    of shape ``(layers, batch, heads, T, T)``. Taught in chapter 9.
    """
    idx = torch.as_tensor(idx)
    if idx.dim() == 1:
        idx = idx[None]
    if idx.shape[1] < 2:
        raise ValueError("idx needs at least 2 tokens per row")
    with torch.no_grad():
        out = model(idx.to(model_device(model)), return_attention=True)
    attn = out[-1]
    if attn.dim() != 5:
        raise ValueError(
            f"expected attention of shape (layers, batch, heads, T, T), got {tuple(attn.shape)}"
        )
    T = attn.shape[-1]
    previous = attn[..., torch.arange(1, T), torch.arange(0, T - 1)]  # (layers, batch, heads, T-1)
    return previous.mean(dim=(1, 3)).cpu()


@contextmanager
def ablate_head(model: nn.Module, layer: int, head: int) -> Iterator[None]:
    """Inside the ``with`` block, attention head ``head`` of block ``layer`` outputs zeros.

    A forward pre-hook on the block's output projection ``w_o`` zeroes that head's slice of
    the concatenated heads, so the rest of the model runs unchanged. Comparing a loss with and
    without a head measures what the head contributes (an *ablation*). For labkit models
    (``model.blocks[layer].attn``). Taught in chapter 9.
    """
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise TypeError("ablate_head needs a labkit model with .blocks (TinyGPT, TinyBERT)")
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer must be between 0 and {len(blocks) - 1}, got {layer}")
    attn = blocks[layer].attn
    if not 0 <= head < attn.n_heads:
        raise ValueError(f"head must be between 0 and {attn.n_heads - 1}, got {head}")
    lo, hi = head * attn.d_head, (head + 1) * attn.d_head

    def zero_head(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0].clone()
        x[..., lo:hi] = 0.0
        return (x, *args[1:])

    handle = attn.w_o.register_forward_pre_hook(zero_head)
    try:
        yield
    finally:
        handle.remove()
