"""Sequence to sequence in chapter 8: encode (source, target) pairs, train a tiny
encoder–decoder on them, and decode its greedy outputs back to text (translation,
summarisation, code generation). Taught in chapter 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from labkit._util import check_positive_int, eval_mode, model_device
from labkit.chapters.applications.datasets import ZH_WORDS
from labkit.chapters.applications.encoding import check_fits, pad_rows, token_ids
from labkit.models import TinyEncoderDecoder
from labkit.tokenizers import task_tokenizer
from labkit.train import Seq2SeqTask, TrainConfig, TrainResult, train

__all__ = ["encode_pairs", "seq2seq_generate", "train_seq2seq"]


def encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Turn (source, target) texts into the padded id tensors of
    :class:`labkit.train.Seq2SeqTask`: ``src`` ``(N, S)`` and ``tgt`` ``(N, T+1)`` whose rows
    are ``[BOS] y1 .. yn [EOS] [PAD] ..``. With ``block_size``, a ``ValueError`` says when a
    sequence would not fit the model. Taught in chapter 8.
    """
    if not pairs:
        raise ValueError("pairs is empty: give at least one (source, target) pair")
    src = [token_ids(tokenizer, s) for s, _ in pairs]
    tgt = [
        [tokenizer.bos_token_id, *token_ids(tokenizer, t), tokenizer.eos_token_id] for _, t in pairs
    ]
    check_fits(max(map(len, src)), block_size, "source")
    check_fits(max(map(len, tgt)) - 1, block_size, "target (with [BOS] or [EOS])")
    pad = tokenizer.pad_token_id
    return pad_rows(src, max(map(len, src)), pad), pad_rows(tgt, max(map(len, tgt)), pad)


def seq2seq_generate(
    model: Any,
    tokenizer: Any,
    sources: Sequence[str],
    max_new_tokens: int | None = None,
    batch_size: int = 256,
) -> list[str]:
    """Greedy outputs of an encoder–decoder (:meth:`TinyEncoderDecoder.generate`) for a list
    of source texts, decoded to text without the special tokens. Taught in chapter 8."""
    if isinstance(sources, str):
        raise TypeError("sources must be a list of texts, e.g. [text]")
    out: list[str] = []
    device = model_device(model)
    with eval_mode(model):
        for i in range(0, len(sources), batch_size):
            chunk = [token_ids(tokenizer, s) for s in sources[i : i + batch_size]]
            check_fits(max(map(len, chunk)), model.config.block_size, "source")
            src = pad_rows(chunk, max(map(len, chunk)), tokenizer.pad_token_id)
            ids = model.generate(src.to(device), max_new_tokens)
            for row in ids.tolist():
                row = row[1:]  # drop [BOS]
                if tokenizer.eos_token_id in row:
                    row = row[: row.index(tokenizer.eos_token_id)]
                out.append(tokenizer.decode(row, skip_special_tokens=True))
    return out


def train_seq2seq(
    pairs: Sequence[tuple[str, str]],
    *,
    steps: int = 300,
    d_model: int = 128,
    n_layer: int = 1,
    n_head: int = 4,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    **train_options: Any,
) -> tuple[TinyEncoderDecoder, Any, TrainResult]:
    """Train a :class:`~labkit.models.TinyEncoderDecoder` on (source, target) text pairs.

    Builds a :func:`labkit.tokenizers.task_tokenizer` on the pairs (Chinese cut by
    :data:`ZH_WORDS`), encodes them (:func:`encode_pairs`), makes a model with room for
    sources 8 tokens longer than the longest seen (one layer each side, width 128: on these
    tasks a wide layer learns to copy words from the source in fewer steps than two narrow
    ones), seeds it with ``seed`` and trains it for ``steps`` steps with
    :func:`labkit.train.train` (teacher forcing, AdamW, cosine schedule, a quiet
    :meth:`~labkit.train.TrainConfig.quiet` run). ``train_options`` go to ``train`` (e.g.
    ``time_budget=20``, ``callbacks=[LossPlot()]``, ``progress=True``). Returns
    ``(model in eval mode, tokenizer, TrainResult)``; decode with :func:`seq2seq_generate`.
    Taught in chapter 8 (translation, summarisation, code generation).
    """
    if isinstance(pairs, str) or not pairs:
        raise ValueError("pairs must be a non-empty list of (source, target) texts")
    check_positive_int(steps, "steps")
    tokenizer = task_tokenizer([text for pair in pairs for text in pair], lexicon=ZH_WORDS)
    src, tgt = encode_pairs(tokenizer, pairs)
    torch.manual_seed(seed)
    model = TinyEncoderDecoder(
        vocab_size=len(tokenizer),
        block_size=max(src.shape[1], tgt.shape[1]) + 8,
        n_layer=n_layer,
        n_head=n_head,
        d_model=d_model,
    )
    config = TrainConfig.quiet(
        steps, warmup_steps=max(1, min(20, steps // 10)), batch_size=batch_size, lr=lr, seed=seed
    )
    result = train(model, Seq2SeqTask(src, tgt), config, **train_options)
    return model.eval(), tokenizer, result
