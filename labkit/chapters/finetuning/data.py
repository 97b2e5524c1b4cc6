"""Chapter 5's data: a fixed held-out rule, unlabelled pretraining text, labelled examples.

Taught in chapter 5. Every sentence the grammar can make is either a *test* sentence or a
*training* sentence, decided once by a hash of its text (:func:`is_test_sentence`, about
20 % of the distinct sentences are test sentences). Test sets (:func:`held_out_test`) use
only test sentences; training sets (:func:`training_examples`) and the pretraining text
(:func:`pretraining_corpus`) never contain one. So every set can be drawn independently and
still none of them shares a sentence with any test set.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerFast

from labkit._util import IGNORE_INDEX, check_positive_int
from labkit.data import generate_corpus, generate_labelled
from labkit.data.augment import augment_examples, detokenize

__all__ = [
    "SEQUENCE_TASKS",
    "TEST_SHARE",
    "is_test_sentence",
    "text_of",
    "training_examples",
    "held_out_test",
    "unlabelled_paragraphs",
    "pretraining_corpus",
    "augmented_examples",
    "find_in_text",
    "encode_labelled",
]

#: The labelled tasks with one label per sentence (see :func:`labkit.data.generate_labelled`).
SEQUENCE_TASKS = ("sentiment", "topic")
#: The share of distinct sentences reserved for testing by :func:`is_test_sentence`.
TEST_SHARE = 0.2
_PADDED = {"padding": "max_length", "truncation": True, "return_tensors": "pt"}
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


def is_test_sentence(text: str) -> bool:
    """True for the sentences reserved for test sets: a hash of the text (spaces normalised)
    falls in the lowest :data:`TEST_SHARE` of its range. A fixed rule, independent of seeds
    and of which sets are drawn. Taught in chapter 5."""
    digest = hashlib.sha256(" ".join(text.split()).encode()).digest()
    return int.from_bytes(digest[:4], "big") < TEST_SHARE * 2**32


def text_of(example: dict[str, Any]) -> str:
    """The sentence of a labelled example: ``text``, or the NER ``tokens`` joined.
    Taught in chapter 5."""
    return example["text"] if "text" in example else detokenize(example["tokens"])


def training_examples(task: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` labelled examples of ``task`` (as :func:`labkit.data.generate_labelled`) with
    every test sentence left out. Nested: the first ``k`` of ``n`` are the ``k`` examples
    asked for with the same seed. Taught in chapter 5."""
    check_positive_int(n, "n")
    size = 2 * n
    while True:
        kept = [
            e for e in generate_labelled("en", size, seed, task) if not is_test_sentence(text_of(e))
        ]
        if len(kept) >= n:
            return kept[:n]
        size *= 2


def held_out_test(
    task: str, n: int, seed: int = 10_000, exclude: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """``n`` labelled examples of ``task`` made only of test sentences, each sentence once.

    Test sentences never occur in :func:`training_examples` or :func:`pretraining_corpus`;
    ``exclude`` removes more texts if needed. Taught in chapter 5.
    """
    check_positive_int(n, "n")
    seen = set(exclude)
    out: list[dict[str, Any]] = []
    for attempt in range(20):
        for e in generate_labelled("en", n=8 * n, seed=seed + attempt, task=task):
            text = text_of(e)
            if is_test_sentence(text) and text not in seen:
                seen.add(text)  # no duplicates inside the test set either
                out.append(e)
                if len(out) == n:
                    return out
    raise ValueError(f"could not find {n} distinct test sentences for {task!r}; ask for fewer")


def unlabelled_paragraphs(task: str, n: int, seed: int = 0, sentences: int = 4) -> list[str]:
    """``n`` paragraphs of ``sentences`` training sentences that share one (hidden) label.

    Real text is coherent: a review that starts happy usually stays happy. Masked-LM
    pretraining on such text learns which words go together (``loved`` with ``great``) —
    without ever seeing a label, but the label structure is in the text. The labels are thrown
    away here; test sentences are left out. Taught in chapter 5.
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {task!r}")
    check_positive_int(n, "n")
    check_positive_int(sentences, "sentences")
    rng = random.Random(seed)
    by_label: dict[int, list[str]] = {}
    for e in training_examples(task, n * sentences * 2, seed=seed):
        by_label.setdefault(e["label"], []).append(e["text"])
    labels = sorted(by_label)
    paragraphs = []
    for _ in range(n):
        pool = by_label[rng.choice(labels)]
        paragraphs.append(" ".join(rng.choice(pool) for _ in range(sentences)))
    return paragraphs


def pretraining_corpus(
    n_paragraphs: int = 1500, story_chars: int = 60_000, n_ner: int = 500, seed: int = 0
) -> list[str]:
    """Unlabelled English documents for pretraining a TinyBERT (shuffled).

    ``n_paragraphs`` label-coherent paragraphs for each of sentiment and topic
    (:func:`unlabelled_paragraphs`), ``n_ner`` single sentences of the NER grammar, and the
    stories of ``generate_corpus("en", story_chars)``, one document per story. No test
    sentence (:func:`is_test_sentence`) is in it: the stories lose theirs too. Taught in
    chapter 5.
    """
    docs = unlabelled_paragraphs("sentiment", n_paragraphs, seed=seed + 100)
    docs += unlabelled_paragraphs("topic", n_paragraphs, seed=seed + 200)
    n_ner = check_positive_int(n_ner, "n_ner")
    docs += [text_of(e) for e in training_examples("ner", n_ner, seed=seed + 300)]
    if story_chars:
        for story in generate_corpus("en", story_chars, seed=seed + 400).documents:
            kept = [s for s in _SENTENCE.findall(story) if not is_test_sentence(s.strip(' "'))]
            if "".join(kept).strip():
                docs.append("".join(kept).strip())
    random.Random(seed).shuffle(docs)
    return docs


def augmented_examples(
    examples: Sequence[dict[str, Any]], copies: int, seed: int = 0, **options: Any
) -> list[dict[str, Any]]:
    """:func:`labkit.data.augment.augment_examples`, less the copies that happen to be test
    sentences (a synonym swap can turn a training sentence into one). Taught in chapter 5."""
    data = augment_examples(examples, copies=copies, seed=seed, **options)
    return list(examples) + [e for e in data[len(examples) :] if not is_test_sentence(e["text"])]


def find_in_text(sentences: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The ``sentences`` that occur in any of ``texts`` as a whole sentence (at the start of
    a text or after a space). Used to assert that test sentences are held out. Taught in
    chapter 5."""
    joined = "\n" + "\n".join(texts)
    return [s for s in sentences if f"\n{s}" in joined or f" {s}" in joined]


def encode_labelled(
    tok: PreTrainedTokenizerFast, examples: Sequence[dict[str, Any]], max_length: int = 32
) -> tuple[Tensor, Tensor, Tensor]:
    """Turn :func:`labkit.data.generate_labelled` examples into padded tensors.

    Returns ``(input_ids, attention_mask, labels)``. Sentence tasks (``{"text", "label"}``):
    ``labels`` is ``(N,)``. Token tasks (``{"tokens", "labels"}``, NER): the words are encoded
    with ``is_split_into_words=True`` and each word's label goes to its first sub-token; the
    other sub-tokens, ``[CLS]``, ``[SEP]`` and padding get -100 (ignored by the loss).
    Taught in chapter 5.
    """
    if not examples:
        raise ValueError("examples is empty")
    check_positive_int(max_length, "max_length")
    first = examples[0]
    kw = {"max_length": max_length, **_PADDED}
    if "text" in first:
        enc = tok([e["text"] for e in examples], **kw)
        labels = torch.tensor([e["label"] for e in examples])
        return enc["input_ids"], enc["attention_mask"], labels
    if "tokens" not in first:
        raise ValueError("examples must be dicts with 'text' and 'label', or 'tokens' and 'labels'")
    enc = tok([e["tokens"] for e in examples], is_split_into_words=True, **kw)
    labels = torch.full_like(enc["input_ids"], IGNORE_INDEX)
    for i, e in enumerate(examples):
        previous = None
        for j, word in enumerate(enc.word_ids(i)):
            if word is not None and word != previous:
                labels[i, j] = e["labels"][word]
            previous = word
    return enc["input_ids"], enc["attention_mask"], labels
