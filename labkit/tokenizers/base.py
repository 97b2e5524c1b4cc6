"""What every labkit tokeniser shares: the seven special tokens with fixed ids, the
pre-tokenisation patterns, the wrapper into ``transformers``, and the character tokeniser.

Taught in chapter 1 (tokenisation), reused by every chapter that trains a model.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from labkit._util import SPECIAL_TOKENS  # [PAD]=0, [UNK]=1, ... [SEP]=6, one home for all

_SPECIAL_KWARGS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "bos_token": "[BOS]",
    "eos_token": "[EOS]",
    "mask_token": "[MASK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
}

# Pre-tokenisation patterns (Oniguruma regexes run by the `tokenizers` library).
# Every character of the input is matched by exactly one piece, so nothing is lost.
CHAR_PATTERN = r"[\s\S]"  # any single character, newline included
EN_WORD_PATTERN = r"\w+|[^\w\s]|\s"  # a run of letters/digits, one punctuation mark, one space
# GPT-2's split: words keep their leading space (" cat"), spaces before a word stay with it.
BPE_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError(f"{name} is empty: give the tokeniser some training text")
    return text


def _split(pattern: str) -> pre_tokenizers.PreTokenizer:
    """A pre-tokeniser that cuts text into the regex's matches and keeps every character."""
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    """Register the special tokens and wrap a ``tokenizers.Tokenizer`` for ``transformers``."""
    for i, token in enumerate(SPECIAL_TOKENS):
        if backend.token_to_id(token) != i:
            raise AssertionError(f"{token} must have id {i}")  # a bug in this module, not yours
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, clean_up_tokenization_spaces=False, **_SPECIAL_KWARGS
    )


def _word_level(vocab: Iterable[str], pattern: str) -> PreTrainedTokenizerFast:
    """A WordLevel tokeniser: specials first, then ``vocab`` in the given order."""
    ids = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for token in vocab:
        ids.setdefault(token, len(ids))
    backend = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    backend.pre_tokenizer = _split(pattern)
    backend.decoder = decoders.Fuse()  # join the tokens with nothing in between
    return _wrap(backend)


# --------------------------------------------------------------------------------------------
# Character level
# --------------------------------------------------------------------------------------------


def train_char_tokenizer(text: str, extra_chars: str = "") -> PreTrainedTokenizerFast:
    """Build a character tokeniser: one token per character of ``text`` (and ``extra_chars``).

    Spaces, tabs and newlines are characters too. The vocabulary is the special tokens
    followed by the distinct characters sorted by code point, so the same text always gives
    the same ids. A character not in the vocabulary becomes ``[UNK]``; add it with
    ``extra_chars=`` (or use ``encode_strict`` to fail loudly instead).

    Taught in chapter 1.
    """
    _check_text(text)
    if not isinstance(extra_chars, str):
        raise TypeError(
            f"extra_chars must be a str of characters, got {type(extra_chars).__name__}"
        )
    return _word_level(sorted(set(text) | set(extra_chars)), CHAR_PATTERN)


def _backend(tok: object) -> Tokenizer:
    if not isinstance(tok, PreTrainedTokenizerFast):
        raise TypeError(
            f"expected a transformers.PreTrainedTokenizerFast (from labkit.tokenizers), "
            f"got {type(tok).__name__}"
        )
    return tok.backend_tokenizer
