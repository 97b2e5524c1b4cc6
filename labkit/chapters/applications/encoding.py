"""The steps every encoder of chapter 8 shares: a text's ids, padded rows, a block-size check,
and words in running text (``["Tom", "ran", "."]`` ↔ ``"Tom ran."``). Taught in chapter 8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "check_fits",
    "join_words",
    "left_padded",
    "pad_rows",
    "spaced_words",
    "split_words",
    "token_ids",
]


def token_ids(tokenizer: Any, text: str) -> list[int]:
    """The ids ``tokenizer`` gives ``text`` (what ``tokenizer(text)["input_ids"]`` holds).

    Taught in chapter 8.
    """
    return list(tokenizer(text)["input_ids"])


def pad_rows(rows: Sequence[Sequence[int]], length: int, pad: int) -> Tensor:
    """Rows of ids as one ``(len(rows), length)`` long tensor, each row filled up with ``pad``.

    Taught in chapter 8.
    """
    return torch.tensor([list(r) + [pad] * (length - len(r)) for r in rows], dtype=torch.long)


def check_fits(longest: int, block_size: int | None, what: str) -> None:
    """Raise a ``ValueError`` naming the fix when ``longest`` tokens exceed ``block_size``.

    Taught in chapter 8.
    """
    if block_size is not None and longest > block_size:
        raise ValueError(
            f"the longest {what} has {longest} tokens but block_size is {block_size}; "
            "use a model with a larger block_size or shorter texts"
        )


def spaced_words(words: Sequence[str]) -> list[str]:
    """Each word with the space that precedes it in running text: none before the first
    word or before a punctuation mark (``["Tom", "ran", "."]`` → ``["Tom", " ran", "."]``).

    Taught in chapter 8.
    """
    return [
        w if i == 0 or not (w[:1].isalnum() or w[:1] == "_") else " " + w
        for i, w in enumerate(words)
    ]


def join_words(words: Sequence[str]) -> str:
    """Words and punctuation marks back to running text: ``["Tom", "ran", "."]`` →
    ``"Tom ran."``. Taught in chapter 8."""
    return "".join(spaced_words(words))


_WORD = re.compile(r"\w+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Words and punctuation marks, as in ``generate_labelled(task="ner")``:
    ``"In New York, Tom ran."`` → ``["In", "New", "York", ",", "Tom", "ran", "."]``
    (:func:`join_words` undoes it). Taught in chapter 8."""
    return _WORD.findall(text)


def left_padded(tokenizer: Any, texts: Sequence[str]) -> Any:
    """``tokenizer(texts)`` as one batch padded on the **left**, with its attention mask.

    Left padding makes every row end at its last real token, so a causal LM's last position
    (the next-token prediction, or where ``generate`` continues) belongs to each text. A
    tokenizer without a pad token pads with its end-of-text token. The tokenizer is left as it
    was. Taught in chapter 8.
    """
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        return tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = None
