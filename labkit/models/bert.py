"""TinyBERT: a bidirectional encoder, its masked-LM head, and two classification heads.

Taught in chapter 3 (the encoder), chapter 4 (masked-language-model pretraining) and
chapter 5 (fine-tuning: :class:`TinyBertForSequenceClassification` for one label per text,
:class:`TinyBertForTokenClassification` for one label per token). All four share
:class:`TinyBertEncoder`, so a pretrained encoder moves into a classifier unchanged.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from labkit._util import model_device
from labkit.models.base import (
    _add_positions,
    _blocks,
    _check_ids,
    _final_ln,
    _layer_norm,
    _positions,
    _TinyModel,
    load,
    run_blocks,
)
from labkit.models.config import BertConfig
from labkit.nn import ACTIVATIONS, padding_mask

__all__ = [
    "TinyBertEncoder",
    "TinyBERT",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
]


class TinyBertEncoder(nn.Module):
    """BERT's body: token + position (+ token-type) embeddings, LayerNorm, and a stack of
    bidirectional (not causal) blocks. Returns one hidden vector per token.

    Taught in chapter 3. Shared by :class:`TinyBERT` and the classification models.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = _positions(config)
        self.tte = (
            nn.Embedding(config.type_vocab_size, config.d_model) if config.type_vocab_size else None
        )
        self.ln_emb = _layer_norm(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = _blocks(config, config.n_layer)
        self.ln_f = _final_ln(config)

    def forward(
        self,
        idx: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Hidden states ``(B, T, d)`` (and attention ``(layers, B, heads, T, T)``).

        ``attention_mask`` ``(B, T)``: 1 = real token, 0 = padding (no token attends to pads).
        ``token_type_ids`` ``(B, T)``: segment ids (0 for sentence A, 1 for sentence B).
        """
        cfg = self.config
        _check_ids(idx, cfg)
        x = _add_positions(self.wte(idx), self.wpe)
        if token_type_ids is not None:
            if self.tte is None:
                raise ValueError(
                    "this model has no token types (type_vocab_size=0); drop token_type_ids"
                )
            if token_type_ids.shape != idx.shape:
                raise ValueError("token_type_ids must have the same shape as idx")
            if int(token_type_ids.min()) < 0 or int(token_type_ids.max()) >= cfg.type_vocab_size:
                raise ValueError(f"token_type_ids must be in 0..{cfg.type_vocab_size - 1}")
            x = x + self.tte(token_type_ids)
        elif self.tte is not None:
            x = x + self.tte.weight[0]  # everything is segment 0
        x = self.drop(self.ln_emb(x))
        mask = None
        if attention_mask is not None:
            if attention_mask.shape != idx.shape:
                raise ValueError(
                    f"attention_mask must have the shape of idx {tuple(idx.shape)} "
                    f"(1 = token, 0 = padding), got {tuple(attention_mask.shape)}"
                )
            mask = padding_mask(attention_mask)
        x, maps = run_blocks(self.blocks, x, return_attention, mask=mask)
        x = self.ln_f(x)
        return (x, maps[0]) if return_attention else x


class _BertModelBase(_TinyModel):
    """What the TinyBERT models share: the encoder ``self.bert`` and the call. Each model adds
    its head, ``_head(hidden states) -> logits``."""

    config_class = BertConfig

    def _head(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Any:
        """Logits from the model's head (see the class docstring), with the loss where
        ``targets`` are given (-100 = ignore); same return contract as
        :class:`~labkit.models.TinyGPT`. ``attention_mask``: 1 = token, 0 = padding."""
        out = self.bert(idx, attention_mask, token_type_ids, return_attention)
        h, attn = out if return_attention else (out, None)
        return self._output(self._head(h), targets, attn, return_attention)


class TinyBERT(_BertModelBase):
    """A bidirectional encoder with BERT's masked-language-model head.

    Taught in chapter 3 (architecture) and chapter 4 (masked-LM training). The MLM head is
    BERT's: dense → activation → LayerNorm → linear decoder tied to the token embedding, plus
    a per-token bias. Train it by replacing some input tokens by [MASK] and setting
    ``targets`` to the original ids at those positions and -100 elsewhere.

    Call: ``model(idx, targets=None, return_attention=False, attention_mask=None,
    token_type_ids=None)``, same return contract as :class:`~labkit.models.TinyGPT`; logits
    ``(B, T, vocab)`` at every position, loss only where targets ≠ -100.
    """

    model_type = "tiny_bert"

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, overrides)
        config = self.config
        self.bert = TinyBertEncoder(config)
        self.mlm_dense = nn.Linear(config.d_model, config.d_model)
        self.mlm_act = ACTIVATIONS[config.activation]
        self.mlm_ln = _layer_norm(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)
        if config.tie_weights:
            self.lm_head.weight = self.bert.wte.weight
        self._init_weights(config.n_layer)

    def _head(self, h: Tensor) -> Tensor:
        return self.lm_head(self.mlm_ln(self.mlm_act(self.mlm_dense(h))))


class _BertClassifierBase(_BertModelBase):
    """Shared constructor for the heads: a TinyBertEncoder, dropout and a linear classifier
    (after BERT's pooler on the first token when ``pooled``)."""

    pooled: ClassVar[bool] = False

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, overrides)
        config = self.config
        self.bert = TinyBertEncoder(config)
        self.drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)
        if self.pooled:
            self.pooler = nn.Linear(config.d_model, config.d_model)
        self._init_weights(config.n_layer)

    @classmethod
    def from_pretrained(
        cls, source: nn.Module | str | os.PathLike, num_labels: int | None = None
    ) -> Any:
        """A classifier whose encoder starts from a pretrained model's encoder weights.

        Taught in chapter 5 (transfer learning). ``source`` is a TinyBERT (or any labkit BERT
        model) or a checkpoint directory; the new head is freshly initialised.
        """
        if not isinstance(source, nn.Module):
            source = load(source)
        if not isinstance(getattr(source, "bert", None), TinyBertEncoder):
            raise TypeError(f"expected a TinyBERT-family model, got {type(source).__name__}")
        config = replace(source.config, num_labels=num_labels or source.config.num_labels)
        model = cls(config)
        model.bert.load_state_dict(source.bert.state_dict())
        return model.to(model_device(source))


class TinyBertForSequenceClassification(_BertClassifierBase):
    """TinyBERT encoder + BERT's pooler (dense + tanh on the first token, [CLS]) + a linear
    classifier: one label per sequence (sentiment, topic).

    Taught in chapter 5. ``logits (B, num_labels)``; ``targets (B,)`` class ids. Same call and
    return contract as :class:`TinyBERT`.
    """

    model_type = "tiny_bert_seq_cls"
    pooled = True

    def _head(self, h: Tensor) -> Tensor:
        return self.classifier(self.drop(torch.tanh(self.pooler(h[:, 0]))))


class TinyBertForTokenClassification(_BertClassifierBase):
    """TinyBERT encoder + a linear classifier on every token (NER, tagging).

    Taught in chapter 5. ``logits (B, T, num_labels)``; ``targets (B, T)``, -100 = ignore
    (padding, sub-word continuations). Same call and return contract as :class:`TinyBERT`.
    """

    model_type = "tiny_bert_token_cls"

    def _head(self, h: Tensor) -> Tensor:
        return self.classifier(self.drop(h))
