"""Tokenisers: characters, words and BPE, all as Hugging Face ``PreTrainedTokenizerFast``.

Taught in chapter 1 (tokenisation: characters vs words vs BPE, and Chinese text); the BERT-style
word tokeniser in chapter 5; ``task_tokenizer`` and the chat template in chapter 8.

One module per concept: ``base`` (special tokens, patterns, the character tokeniser),
``words`` (word, Chinese, task and BERT-style tokenisers), ``bpe``, ``unknown`` (``[UNK]``),
``files`` (kind, save, load) and ``chat`` (the chat template).

Every tokeniser here is built from the Hugging Face ``tokenizers`` library (a ``Tokenizer``
with a model, a pre-tokeniser and a decoder) and wrapped in a
``transformers.PreTrainedTokenizerFast``, so it works with ``tok(text)``, ``tok.decode``,
``save_pretrained`` / ``from_pretrained`` and ``transformers.pipeline``.

Shared rules:

* Seven special tokens with fixed ids: ``[PAD]``=0, ``[UNK]``=1, ``[BOS]``=2, ``[EOS]``=3,
  ``[MASK]``=4, ``[CLS]``=5, ``[SEP]``=6 (``tok.pad_token_id`` etc. all work).
* Encoding adds nothing: ``tok.encode(s)`` / ``tok(s)["input_ids"]`` are the text's own
  tokens, with no ``[BOS]``/``[EOS]`` (language-model training wants the raw ids).
* Decoding is exact: ``tok.decode(tok.encode(s)) == s`` for English and Chinese, spaces,
  tabs and newlines included, as long as every piece of ``s`` is in the vocabulary.
* Unknown symbols: the character and word tokenisers map a character (or word) they never
  saw to ``[UNK]``, so decoding cannot give it back. ``find_unknown(tok, s)`` lists such
  pieces and ``encode_strict(tok, s)`` raises a ``ValueError`` naming them and the fix.
  Byte-level BPE (the default BPE) never needs ``[UNK]``: any UTF-8 text is a byte sequence.
* Text is taken as it is: no lower-casing, no Unicode normalisation.
"""

from __future__ import annotations

from labkit.tokenizers.base import (
    BPE_PATTERN,
    CHAR_PATTERN,
    EN_WORD_PATTERN,
    SPECIAL_TOKENS,
    train_char_tokenizer,
)
from labkit.tokenizers.bpe import (
    bpe_merges,
    bpe_merges_by_hand,
    merge_pair,
    pre_tokenize,
    train_bpe_tokenizer,
)
from labkit.tokenizers.chat import CHATML_TEMPLATE, chat_prompt
from labkit.tokenizers.files import load_tokenizer, save_tokenizer, tokenizer_kind
from labkit.tokenizers.unknown import encode_strict, find_unknown
from labkit.tokenizers.words import (
    DEFAULT_ZH_LEXICON,
    segment_chinese,
    task_tokenizer,
    train_bert_tokenizer,
    train_word_tokenizer,
)

__all__ = [
    "SPECIAL_TOKENS",
    "CHAR_PATTERN",
    "EN_WORD_PATTERN",
    "BPE_PATTERN",
    "train_char_tokenizer",
    "DEFAULT_ZH_LEXICON",
    "segment_chinese",
    "train_word_tokenizer",
    "task_tokenizer",
    "train_bert_tokenizer",
    "train_bpe_tokenizer",
    "pre_tokenize",
    "bpe_merges",
    "bpe_merges_by_hand",
    "merge_pair",
    "find_unknown",
    "encode_strict",
    "tokenizer_kind",
    "save_tokenizer",
    "load_tokenizer",
    "CHATML_TEMPLATE",
    "chat_prompt",
]
