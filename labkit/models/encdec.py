"""TinyEncoderDecoder: the encoder–decoder Transformer of "Attention Is All You Need", tiny.

Taught in chapter 8 (translation and summaries with a sequence-to-sequence model). The shared
machinery (input checks, the block loop, save and load) lives in :mod:`labkit.models.base`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from labkit.models.base import _blocks, _check_ids, _final_ln, _TokenLM, run_blocks
from labkit.models.config import EncDecConfig
from labkit.nn import padding_mask

__all__ = ["TinyEncoderDecoder"]


class TinyEncoderDecoder(_TokenLM):
    """A small encoder–decoder Transformer for sequence-to-sequence tasks (translation,
    summarisation), as in "Attention Is All You Need".

    Taught in chapter 8. The encoder reads the whole source bidirectionally; the decoder
    predicts the target one token at a time with causal self-attention plus cross-attention to
    the encoder's output. One embedding matrix serves source, target and the output head.

    Call: ``model(src, tgt_in, targets=None, return_attention=False, src_attention_mask=None)``
    with ``tgt_in = [BOS] y1 .. y(n-1)`` and ``targets = y1 .. yn [EOS]`` (-100 = ignore).
    Returns logits ``(B, T_tgt, vocab)`` [, loss] [, attn] where ``attn`` is a dict with
    ``"encoder"`` ``(layers, B, heads, S, S)``, ``"decoder"`` ``(layers, B, heads, T, T)`` and
    ``"cross"`` ``(layers, B, heads, T, S)``. Source padding (``src == pad_token_id``) is
    masked automatically unless ``src_attention_mask`` is given. :meth:`generate` decodes
    greedily; ``labkit.generate`` covers sampling and beam search for decoder-only models.
    """

    model_type = "tiny_encoder_decoder"
    config_class = EncDecConfig
    scale_embeddings = True  # the paper multiplies the embeddings by √d_model

    def __init__(self, config: EncDecConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, overrides)
        config = self.config
        self._add_embeddings()  # wte, wpe, drop: one embedding for source and target
        self.encoder = _blocks(config, config.n_layer)
        self.enc_ln = _final_ln(config)
        self.decoder = _blocks(config, config.n_layer, cross_attention=True)
        self.dec_ln = _final_ln(config)
        self._add_lm_head()
        self._init_weights(2 * config.n_layer)

    def _src_mask(self, src: Tensor, src_attention_mask: Tensor | None) -> Tensor | None:
        if src_attention_mask is None and self.config.pad_token_id is not None:
            src_attention_mask = (src != self.config.pad_token_id).long()
        if src_attention_mask is None:
            return None
        if src_attention_mask.shape != src.shape:
            raise ValueError("src_attention_mask must have the same shape as src")
        return padding_mask(src_attention_mask)

    def encode(
        self, src: Tensor, src_attention_mask: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The encoder output ("memory") ``(B, S, d)`` [and its attention]. Taught in chapter 8."""
        _check_ids(src, self.config, "src")
        mask = self._src_mask(src, src_attention_mask)
        x, maps = run_blocks(self.encoder, self._embed(src), return_attention, mask=mask)
        x = self.enc_ln(x)
        return (x, maps[0]) if return_attention else x

    def decode(
        self,
        tgt_in: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """Target logits ``(B, T, vocab)`` given the encoder ``memory`` [and self/cross
        attention]. ``memory_mask``: boolean key mask, e.g. ``padding_mask(src_attention_mask)``.

        Taught in chapter 8.
        """
        _check_ids(tgt_in, self.config, "tgt_in")
        x, maps = run_blocks(
            self.decoder,
            self._embed(tgt_in),
            return_attention,
            is_causal=True,
            memory=memory,
            memory_mask=memory_mask,
        )
        logits = self.lm_head(self.dec_ln(x))
        if return_attention:
            self_attn, cross_attn = maps
            return logits, self_attn, cross_attn
        return logits

    def forward(
        self,
        src: Tensor,
        tgt_in: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        src_attention_mask: Tensor | None = None,
    ) -> Any:
        """Teacher-forced logits for ``tgt_in`` given ``src``; see the class docstring."""
        if return_attention:
            memory, enc_attn = self.encode(src, src_attention_mask, return_attention=True)
            memory_mask = self._src_mask(src, src_attention_mask)
            logits, dec_attn, cross_attn = self.decode(tgt_in, memory, memory_mask, True)
            attn = {"encoder": enc_attn, "decoder": dec_attn, "cross": cross_attn}
        else:
            memory = self.encode(src, src_attention_mask)
            memory_mask = self._src_mask(src, src_attention_mask)
            logits, attn = self.decode(tgt_in, memory, memory_mask), None
        return self._output(logits, targets, attn, return_attention)

    @torch.no_grad()
    def generate(
        self,
        src: Tensor,
        max_new_tokens: int | None = None,
        src_attention_mask: Tensor | None = None,
    ) -> Tensor:
        """Greedy decoding: ``[BOS] y1 y2 ...`` until every sequence has produced EOS (later
        positions are filled with the pad id) or ``max_new_tokens`` (default: block_size - 1).

        Taught in chapter 8. Call ``model.eval()`` first so dropout is off.
        """
        cfg = self.config
        if max_new_tokens is None:
            max_new_tokens = cfg.block_size - 1
        if not 1 <= max_new_tokens < cfg.block_size:
            raise ValueError(f"max_new_tokens must be in 1..{cfg.block_size - 1} (block_size - 1)")
        memory = self.encode(src, src_attention_mask)
        memory_mask = self._src_mask(src, src_attention_mask)
        out = torch.full((src.shape[0], 1), cfg.bos_token_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        fill = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
        for _ in range(max_new_tokens):
            next_id = self.decode(out, memory, memory_mask)[:, -1].argmax(dim=-1)
            next_id = torch.where(done, torch.full_like(next_id, fill), next_id)
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == cfg.eos_token_id
            if bool(done.all()):
                break
        return out
