"""Byte-pair encoding: train a BPE tokeniser with Hugging Face ``tokenizers``, read its
merges, and run the same merge loop by hand in plain Python (its merges equal the library's).

Taught in chapter 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from labkit.tokenizers.base import BPE_PATTERN, SPECIAL_TOKENS, _backend, _check_text, _split, _wrap

# --------------------------------------------------------------------------------------------
# BPE
# --------------------------------------------------------------------------------------------


def _bpe_pre_tokenizer(byte_level: bool) -> pre_tokenizers.PreTokenizer:
    if byte_level:
        # GPT-2's split, then every byte shown as a printable character (space -> "Ġ").
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return _split(BPE_PATTERN)


def train_bpe_tokenizer(
    text_or_iterator: str | Iterable[str],
    vocab_size: int = 512,
    byte_level: bool = True,
    min_freq: int = 0,
) -> PreTrainedTokenizerFast:
    """Train a BPE tokeniser with the ``tokenizers`` library's ``BpeTrainer``.

    Text is first split GPT-2 style (words keep their leading space), then BPE starts from
    single symbols and repeatedly merges the most frequent adjacent pair until the vocabulary
    (special tokens included) has ``vocab_size`` entries (or no pair is left, or the best
    pair occurs fewer than ``min_freq`` times).

    ``byte_level=True`` (default): the symbols are the 256 bytes of UTF-8, so any text can be
    encoded, nothing is ever ``[UNK]``, and ``vocab_size`` must be at least 263 (7 specials
    + 256 bytes). ``byte_level=False``: the symbols are the characters seen in training;
    an unseen character becomes ``[UNK]``.

    ``text_or_iterator`` is one string or an iterable of strings (e.g. documents or lines;
    keep the newlines in them if you want newlines learned). Training is deterministic.

    Taught in chapter 1.
    """
    if isinstance(text_or_iterator, str):
        texts: Iterable[str] = [_check_text(text_or_iterator)]
    elif isinstance(text_or_iterator, Iterable):
        texts = text_or_iterator
    else:
        raise TypeError(f"give a str or an iterable of str, got {type(text_or_iterator).__name__}")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if byte_level and vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ValueError(
            f"vocab_size={vocab_size} is too small for byte-level BPE: it needs 7 special "
            "tokens + 256 bytes = 263 before any merge; ask for more, or use byte_level=False"
        )
    backend = Tokenizer(models.BPE(unk_token=None if byte_level else "[UNK]"))
    backend.pre_tokenizer = _bpe_pre_tokenizer(byte_level)
    backend.decoder = decoders.ByteLevel() if byte_level else decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_freq,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if byte_level else [],
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    if backend.get_vocab_size() > vocab_size:
        raise ValueError(
            f"the text has {backend.get_vocab_size() - len(SPECIAL_TOKENS)} distinct characters, "
            f"more than vocab_size={vocab_size} allows; ask for a larger vocab_size or use "
            "byte_level=True"
        )
    return _wrap(backend)


def pre_tokenize(tok: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Show the pieces ``tok`` cuts ``text`` into before its model runs (words, spaces...).

    For byte-level BPE the pieces are shown in byte-level form (a space is ``"Ġ"``).

    Taught in chapter 1.
    """
    pre = _backend(tok).pre_tokenizer
    if pre is None:
        return [text]
    return [piece for piece, _ in pre.pre_tokenize_str(text)]


def bpe_merges(tok: PreTrainedTokenizerFast) -> list[tuple[str, str]]:
    """Return a BPE tokeniser's merges in the order they were learned.

    Taught in chapter 1.
    """
    model = json.loads(_backend(tok).to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"this is a {model.get('type')} tokeniser, not BPE: it has no merges")
    # Older `tokenizers` versions store a merge as "a b", newer ones as ["a", "b"].
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every ``a, b`` in ``symbols`` (left to right, no overlaps) by ``a + b``.

    One BPE merge applied to one word. Taught in chapter 1.
    """
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def bpe_merges_by_hand(text: str, n_merges: int, byte_level: bool = False) -> list[tuple[str, str]]:
    """Learn ``n_merges`` BPE merges with plain Python: the algorithm, step by step.

    1. Cut the text into words the same way ``train_bpe_tokenizer`` does and count them.
    2. Write every word as a list of single symbols (characters, or bytes if ``byte_level``).
    3. Count every adjacent pair of symbols over all words (weighted by word count), merge
       the most frequent pair everywhere, remember the merge; repeat.

    Ties go to the pair whose symbols entered the vocabulary first (single symbols in code
    point order, then merged ones in the order they were made) — the rule the ``tokenizers``
    library uses, so this gives the same merges as ``train_bpe_tokenizer`` on the same text.

    Taught in chapter 1.
    """
    _check_text(text)
    if not isinstance(n_merges, int) or n_merges < 0:
        raise ValueError(f"n_merges must be an integer >= 0, got {n_merges!r}")
    words = Counter(piece for piece, _ in _bpe_pre_tokenizer(byte_level).pre_tokenize_str(text))
    splits = {word: list(word) for word in words}
    order = {symbol: i for i, symbol in enumerate(sorted({ch for word in words for ch in word}))}
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            symbols = splits[word]
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += count
        if not pairs:
            break  # every word is a single symbol: nothing left to merge
        best = min(pairs, key=lambda p: (-pairs[p], order[p[0]], order[p[1]]))
        merges.append(best)
        order.setdefault(best[0] + best[1], len(order))
        splits = {word: merge_pair(symbols, best) for word, symbols in splits.items()}
    return merges
