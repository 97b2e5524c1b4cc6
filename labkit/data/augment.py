"""Data augmentation for labelled sentences: synonyms, word drops and swaps (EDA).

Taught in chapter 5 (data augmentation when labels are few). :func:`synonyms` reads
label-preserving word classes from the English grammar (:func:`labkit.data.grammar`),
:func:`augment` makes one noisy copy of a sentence and :func:`augment_examples` a whole
augmented training set. :func:`detokenize` joins word tokens back into text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from labkit._util import check_non_negative_int
from labkit.data.corpus import grammar

__all__ = ["SYNONYM_GROUPS", "detokenize", "synonyms", "augment", "augment_examples"]

#: Grammar word classes whose words can replace each other without changing a sentence's
#: sentiment, topic or entities (``<feeling>`` is left out: it mixes "happy" and "sad").
SYNONYM_GROUPS = ("<good>", "<bad>", "<glad>", "<unhappy>", "<person>", "<friend>", "<animal>")
SYNONYM_GROUPS += ("<food>", "<toy>", "<place>", "<weather>", "<sky>")
_WORD = re.compile(r"\w+|[^\w\s]")


def detokenize(tokens: Sequence[str]) -> str:
    """Join word tokens with spaces, but no space before punctuation.

    ``detokenize(["Tom", "ran", "."])`` is ``"Tom ran."``. Taught in chapter 5.
    """
    out = ""
    for t in tokens:
        out += t if (not out or not (t[0].isalnum() or t[0] == "_")) else " " + t
    return out


def synonyms(groups: Sequence[str] = SYNONYM_GROUPS) -> dict[str, list[str]]:
    """``word -> the other words of its class`` for the English grammar's word classes
    ``groups`` (e.g. ``"great"`` -> ``["lovely", "nice", ...]``). A word that belongs to two of
    the classes is left out, so a replacement never changes the label.

    A stand-in for the synonym dictionaries (WordNet) of real augmentation; ours is exact
    because the text comes from a known grammar. Taught in chapter 5.
    """
    rules = grammar("en").rules
    members: dict[str, set[str]] = {}
    for group in groups:
        if group not in rules:
            raise ValueError(f"{group!r} is not a word class of the English grammar")
        for _, pieces in rules[group]:
            if len(pieces) == 1 and _WORD.fullmatch(pieces[0]):
                members.setdefault(pieces[0], set()).add(group)
    single = {word for word, owners in members.items() if len(owners) == 1}
    out = {}
    for word in single:
        (group,) = members[word]
        alternatives = [p[0] for _, p in rules[group] if len(p) == 1]
        out[word] = [w for w in alternatives if w != word and w in single]
    return {w: alts for w, alts in sorted(out.items()) if alts}


def augment(
    text: str,
    rng: random.Random,
    *,
    p_synonym: float = 0.0,
    synonym_dict: dict[str, list[str]] | None = None,
    p_drop: float = 0.0,
    n_swaps: int = 0,
) -> str:
    """A noisy copy of ``text`` (EDA-style data augmentation, Wei & Zou 2019).

    Each word with an entry in ``synonym_dict`` (default :func:`synonyms`) is replaced by a
    random synonym with probability ``p_synonym``; then each word is dropped with probability
    ``p_drop``; then ``n_swaps`` random swaps of two neighbouring words. Punctuation is never
    dropped or moved. The label is assumed unchanged — true for synonyms, false for some drops
    (dropping "not" flips "did not feel sad"), which is the risk of augmentation. Taught in
    chapter 5.
    """
    for name, value in (("p_synonym", p_synonym), ("p_drop", p_drop)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    check_non_negative_int(n_swaps, "n_swaps")
    if p_synonym and synonym_dict is None:
        synonym_dict = synonyms()
    tokens = _WORD.findall(text)
    is_word = [t[0].isalnum() or t[0] == "_" for t in tokens]
    if p_synonym:
        assert synonym_dict is not None
        tokens = [
            rng.choice(synonym_dict[t])
            if w and t in synonym_dict and rng.random() < p_synonym
            else t
            for t, w in zip(tokens, is_word)
        ]
    if p_drop:
        keep = [not w or rng.random() >= p_drop for w in is_word]
        if any(k and w for k, w in zip(keep, is_word)):  # keep at least one word
            tokens = [t for t, k in zip(tokens, keep) if k]
            is_word = [w for w, k in zip(is_word, keep) if k]
    words = [i for i, w in enumerate(is_word) if w]
    for _ in range(n_swaps):
        pairs = [(a, b) for a, b in zip(words, words[1:]) if b == a + 1]
        if pairs:
            a, b = rng.choice(pairs)
            tokens[a], tokens[b] = tokens[b], tokens[a]
    return detokenize(tokens)


def augment_examples(
    examples: Sequence[dict[str, Any]], copies: int, seed: int = 0, **options: Any
) -> list[dict[str, Any]]:
    """The ``examples`` (sentence tasks: ``{"text", "label"}``) followed by ``copies``
    augmented copies of each (``options`` go to :func:`augment`); labels are kept.

    Taught in chapter 5.
    """
    check_non_negative_int(copies, "copies")
    if examples and "text" not in examples[0]:
        raise ValueError(
            "augment_examples works on sentence examples ({'text', 'label'}), not NER tokens"
        )
    rng = random.Random(seed)
    options.setdefault("synonym_dict", synonyms() if options.get("p_synonym") else None)
    out = list(examples)
    for _ in range(copies):
        out += [{**e, "text": augment(e["text"], rng, **options)} for e in examples]
    return out
