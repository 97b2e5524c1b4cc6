"""Tiny Transformer models built from :mod:`labkit.nn`: TinyGPT, TinyBERT and an encoder–decoder.

Taught in chapter 3 (building a GPT from parts, counting parameters), chapter 4 (training),
chapter 5 (classification heads on a pretrained TinyBERT) and chapter 8 (translation with the
encoder–decoder). One file per model:

=====================  =====================================================================
``models.gpt``         :class:`TinyGPT` (start here)
``models.bert``        :class:`TinyBertEncoder`, :class:`TinyBERT` and two classification heads
``models.encdec``      :class:`TinyEncoderDecoder`
``models.lora``        :class:`LoRALinear`, :func:`add_lora`, :func:`merge_lora`, :func:`freeze`
``models.multitask``   :class:`MultiTaskBert`: one encoder, one head per task (chapter 5)
``models.config``      :class:`GPTConfig`, :class:`BertConfig`, :class:`EncDecConfig`
``models.base``        what they share: input checks, the block loop, init, save / :func:`load`
=====================  =====================================================================

Every model follows the same call contract (targets equal to -100 are ignored by the loss)::

    logits = model(idx)
    logits, loss = model(idx, targets)
    logits, attn = model(idx, return_attention=True)      # attn: (layers, batch, heads, T, T)
    logits, loss, attn = model(idx, targets, return_attention=True)

and the same checkpoint format: ``model.save(dir)`` writes ``config.json`` +
``model.safetensors``; ``TinyGPT.load(dir)`` or :func:`load` (any model type) reads them back.
Loading never unpickles. Hugging Face interop lives in :mod:`labkit.hf`
(``labkit.hf.to_hf(model)``); the real pretrained models in :mod:`labkit.real_models`.
"""

from __future__ import annotations

from labkit.models.base import MODEL_TYPES, PICKLE_SUFFIXES, load, run_blocks
from labkit.models.bert import (
    TinyBERT,
    TinyBertEncoder,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
)
from labkit.models.config import POSITION_KINDS, BertConfig, EncDecConfig, GPTConfig
from labkit.models.encdec import TinyEncoderDecoder
from labkit.models.gpt import TinyGPT
from labkit.models.lora import (
    LoRALinear,
    add_lora,
    freeze,
    lora_from_peft,
    merge_lora,
    trainable_parameters,
)
from labkit.models.multitask import MultiTaskBert

__all__ = [
    "GPTConfig",
    "BertConfig",
    "EncDecConfig",
    "TinyGPT",
    "TinyBERT",
    "TinyBertEncoder",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyEncoderDecoder",
    "MultiTaskBert",
    "LoRALinear",
    "add_lora",
    "merge_lora",
    "lora_from_peft",
    "freeze",
    "trainable_parameters",
    "load",
    "run_blocks",
    "MODEL_TYPES",
    "PICKLE_SUFFIXES",
    "POSITION_KINDS",
]
