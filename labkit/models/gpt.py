"""TinyGPT: a decoder-only, causal language model (GPT-2's architecture, tiny).

Taught in chapter 3 (building a GPT from the parts of :mod:`labkit.nn`, counting its
parameters) and chapter 4 (training it). The shared machinery (input checks, save and load)
lives in :mod:`labkit.models.base`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from labkit.models.base import _blocks, _check_ids, _final_ln, _TokenLM, run_blocks
from labkit.models.config import GPTConfig

__all__ = ["TinyGPT"]


class TinyGPT(_TokenLM):
    """A decoder-only, causal language model (GPT-2's architecture, tiny).

    Taught in chapter 3. token embedding + position embedding → ``n_layer`` pre-LN blocks with
    causal self-attention → final LayerNorm → linear head (tied to the token embedding), giving
    next-token logits at every position.

    ``TinyGPT(GPTConfig(vocab_size=65))`` or, shorter, ``TinyGPT(vocab_size=65)``.

    Call: ``model(idx, targets=None, return_attention=False)`` returns ``logits``,
    ``(logits, loss)``, ``(logits, attn)`` or ``(logits, loss, attn)``, with ``attn`` of shape
    ``(layers, batch, heads, T, T)``.
    """

    model_type = "tiny_gpt"
    config_class = GPTConfig
    # Each sequence's loss depends only on that sequence (causal attention never looks across
    # the batch), so the trainer may split a batch between CPU threads and add up the parts.
    batch_rows_independent: ClassVar[bool] = True

    def __init__(self, config: GPTConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, overrides)
        config = self.config
        self._add_embeddings()  # wte, wpe, drop
        self.blocks = _blocks(config, config.n_layer)
        self.ln_f = _final_ln(config)
        self._add_lm_head()
        self._init_weights(config.n_layer)

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, return_attention: bool = False
    ) -> Any:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``; see the class docstring
        for the return contract. ``targets`` ``(B, T)``: next-token ids, -100 = ignore."""
        _check_ids(idx, self.config)
        x, maps = run_blocks(self.blocks, self._embed(idx), return_attention, is_causal=True)
        logits = self.lm_head(self.ln_f(x))
        return self._output(logits, targets, maps[0] if maps else None, return_attention)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Count the parameters (tied weights once). Taught in chapter 3.

        For the default GPT-2-style model (biases, learned positions, d_ff = 4d) with vocabulary
        V, width d, L layers and block size B::

            V·d + B·d            token and position embeddings
          + L · (12·d² + 13·d)   per layer: Q,K,V,O 4d²+4d; FFN 8d²+5d; two LayerNorms 4d
          + 2·d                  final LayerNorm
          (+ V·d                 an untied output head, no bias)

        ``exclude_embeddings=True`` leaves out the embedding tables (and a tied head).
        """
        return super().num_parameters(exclude_embeddings)
