"""Unknown symbols: which pieces of a text a tokeniser turns into ``[UNK]``, and an encoder
that refuses them with a message naming the fix. Taught in chapter 1.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast

from labkit.tokenizers.base import _backend
from labkit.tokenizers.files import tokenizer_kind

# --------------------------------------------------------------------------------------------
# Unknown symbols
# --------------------------------------------------------------------------------------------


def find_unknown(tok: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Return the distinct pieces of ``text`` that ``tok`` would turn into ``[UNK]``.

    Taught in chapter 1.
    """
    encoding = _backend(tok).encode(text, add_special_tokens=False)
    unknown = [
        text[start:end]
        for token_id, (start, end) in zip(encoding.ids, encoding.offsets)
        if token_id == tok.unk_token_id and text[start:end] != tok.unk_token
    ]
    return list(dict.fromkeys(unknown))


def encode_strict(tok: PreTrainedTokenizerFast, text: str) -> list[int]:
    """Encode ``text`` like ``tok.encode``, but raise ``ValueError`` instead of using ``[UNK]``.

    The message names the unknown characters (or words) and how to fix it.

    Taught in chapter 1.
    """
    unknown = find_unknown(tok, text)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        kind = tokenizer_kind(tok)
        if kind == "char":
            fix = (
                f"retrain with train_char_tokenizer(text, extra_chars={''.join(unknown)!r}), "
                "or use train_bpe_tokenizer(text) (byte-level BPE never needs [UNK])"
            )
        elif kind == "word":
            fix = (
                "retrain train_word_tokenizer on text that contains them (or with a lower "
                "min_freq), or use train_bpe_tokenizer(text) (byte-level BPE never needs [UNK])"
            )
        else:
            fix = (
                "retrain on text that contains them, "
                "or use train_bpe_tokenizer(text, byte_level=True)"
            )
        raise ValueError(
            f"the tokeniser has no token for {shown}; they would become [UNK]. Fix: {fix}"
        )
    return tok.encode(text)
