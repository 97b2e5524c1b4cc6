"""Chapter 1 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import math

import torch

from labkit import exercises
from labkit.exercises import language_models as reference

# ----------------------------------------------------------------------------- bigram_counts

BIGRAM = exercises.get("language_models.bigram_counts")


def test_bigram_reference_passes() -> None:
    assert BIGRAM.check(reference.bigram_counts).passed


def test_bigram_alternative_with_bincount_passes() -> None:
    def bigram_counts(tokens, vocab):
        V = len(vocab)
        ids = torch.tensor([vocab.index(t) for t in tokens], dtype=torch.long)
        flat = ids[:-1] * V + ids[1:]
        return torch.bincount(flat, minlength=V * V).view(V, V).float()

    assert BIGRAM.check(bigram_counts).passed


def test_bigram_transposed_is_named() -> None:
    def bigram_counts(tokens, vocab):
        C = torch.zeros(len(vocab), len(vocab))
        for a, b in zip(tokens, tokens[1:]):
            C[vocab.index(b), vocab.index(a)] += 1
        return C

    assert "Rows and columns are swapped" in BIGRAM.check(bigram_counts).headline


def test_bigram_self_pairs_is_named() -> None:
    def bigram_counts(tokens, vocab):
        C = torch.zeros(len(vocab), len(vocab), dtype=torch.int64)
        for a, b in zip(tokens, tokens):
            C[vocab.index(a), vocab.index(b)] += 1
        return C

    assert "zip(tokens, tokens[1:])" in BIGRAM.check(bigram_counts).headline


def test_bigram_wraparound_is_named() -> None:
    def bigram_counts(tokens, vocab):
        C = torch.zeros(len(vocab), len(vocab), dtype=torch.long)
        for i in range(len(tokens)):
            C[vocab.index(tokens[i - 1]), vocab.index(tokens[i])] += 1 if len(tokens) > 1 else 0
        return C

    assert "wraps around" in BIGRAM.check(bigram_counts).headline


def test_bigram_sorted_vocab_and_probabilities_are_named() -> None:
    def sorted_vocab(tokens, vocab):
        index = {w: i for i, w in enumerate(sorted(set(vocab)))}
        C = torch.zeros(len(vocab), len(vocab), dtype=torch.long)
        for a, b in zip(tokens, tokens[1:]):
            C[index[a], index[b]] += 1
        return C

    def probabilities(tokens, vocab):
        C = torch.zeros(len(vocab), len(vocab))
        for a, b in zip(tokens, tokens[1:]):
            C[vocab.index(a), vocab.index(b)] += 1
        return C / C.sum(-1, keepdim=True).clamp(min=1)

    assert "vocabulary order you were given" in BIGRAM.check(sorted_vocab).headline
    assert "raw counts" in BIGRAM.check(probabilities).headline


# ----------------------------------------------------------------------------- sequence_logprob

LOGPROB = exercises.get("language_models.sequence_logprob")


def test_logprob_reference_passes() -> None:
    assert LOGPROB.check(reference.sequence_logprob).passed


def test_logprob_alternative_loop_passes() -> None:
    def sequence_logprob(probs, ids):
        total = 0.0
        for prev, nxt in zip(ids, ids[1:]):
            p = float(probs[prev][nxt])
            total += math.log(p) if p > 0 else -math.inf
        return total

    assert LOGPROB.check(sequence_logprob).passed


def test_logprob_log2_is_named() -> None:
    def sequence_logprob(probs, ids):
        return sum(torch.log2(probs[a, b]).item() for a, b in zip(ids, ids[1:]))

    assert "not log base 2" in LOGPROB.check(sequence_logprob).headline


def test_logprob_swapped_index_is_named() -> None:
    def sequence_logprob(probs, ids):
        return torch.log(probs[ids[1:], ids[:-1]]).sum().item()

    assert "probs[previous, next]" in LOGPROB.check(sequence_logprob).headline


def test_logprob_mean_and_product_are_named() -> None:
    def mean(probs, ids):
        if len(ids) < 2:
            return 0.0
        return torch.log(probs[ids[:-1], ids[1:]]).mean().item()

    def product(probs, ids):
        return torch.prod(probs[ids[:-1], ids[1:]]).item()

    assert "don't average" in LOGPROB.check(mean).headline
    assert "returned the probability itself" in LOGPROB.check(product).headline


def test_logprob_math_log_on_zero_probability_explains_the_case() -> None:
    def sequence_logprob(probs, ids):
        return sum(math.log(probs[a, b]) for a, b in zip(ids, ids[1:]))

    result = LOGPROB.check(sequence_logprob)
    assert result.status == "incorrect"
    assert "probability 0" in result.headline and "ValueError" in result.details


# ----------------------------------------------------------------------------- bigram_probs

PROBS = exercises.get("language_models.bigram_probs")


def test_bigram_probs_reference_and_alternative_pass() -> None:
    def bigram_probs(counts, alpha=0.0):
        V = counts.shape[1]
        return (counts + alpha) / (counts.sum(1, keepdim=True) + alpha * V)

    assert PROBS.check(reference.bigram_probs).passed
    assert PROBS.check(bigram_probs).passed


def test_bigram_probs_known_mistakes_are_named() -> None:
    def by_column(counts, alpha=0.0):
        c = counts + alpha
        return c / c.sum(0)

    def by_total(counts, alpha=0.0):
        c = counts.double() + alpha
        return c / c.sum()

    def alpha_on_top_only(counts, alpha=0.0):
        return (counts + alpha) / counts.sum(-1, keepdim=True)

    assert "not each column" in PROBS.check(by_column).headline
    assert "not by the total" in PROBS.check(by_total).headline
    assert "denominator too" in PROBS.check(alpha_on_top_only).headline
