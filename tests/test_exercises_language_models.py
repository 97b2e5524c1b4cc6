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


# ----------------------------------------------------------------------------- bpe_merge

MERGE = exercises.get("language_models.bpe_merge")


def test_bpe_merge_reference_passes() -> None:
    assert MERGE.check(reference.bpe_merge).passed


def test_bpe_merge_alternative_with_a_for_loop_and_a_skip_flag_passes() -> None:
    def bpe_merge(symbols, pair):
        out, skip = [], False
        for i, s in enumerate(symbols):
            if skip:
                skip = False
                continue
            if i + 1 < len(symbols) and s == pair[0] and symbols[i + 1] == pair[1]:
                out.append(s + symbols[i + 1])
                skip = True
            else:
                out.append(s)
        return out

    assert MERGE.check(bpe_merge).passed


def test_bpe_merge_known_mistakes_are_named() -> None:
    def first_only(symbols, pair):
        for i in range(len(symbols) - 1):
            if symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
                return symbols[:i] + [pair[0] + pair[1]] + symbols[i + 2 :]
        return symbols

    def right_to_left(symbols, pair):
        out, i = [], len(symbols) - 1
        while i >= 0:
            if i >= 1 and symbols[i - 1] == pair[0] and symbols[i] == pair[1]:
                out.insert(0, symbols[i - 1] + symbols[i])
                i -= 2
            else:
                out.insert(0, symbols[i])
                i -= 1
        return out

    def glued(symbols, pair):
        text, joined, out = "".join(symbols), pair[0] + pair[1], []
        for k, chunk in enumerate(text.split(joined)):
            out += ([joined] if k else []) + list(chunk)
        return out

    def shrinking_in_a_for_loop(symbols, pair):
        symbols = list(symbols)
        for i in range(len(symbols) - 1):
            if symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
                symbols[i : i + 2] = [pair[0] + pair[1]]
        return symbols

    assert "only the first occurrence" in MERGE.check(first_only).headline
    assert "right to left" in MERGE.check(right_to_left).headline
    assert "not symbols" in MERGE.check(glued).headline
    assert "shortened the list" in MERGE.check(shrinking_in_a_for_loop).headline


# ----------------------------------------------------------------------------- perplexity

PPL = exercises.get("language_models.perplexity")


def test_perplexity_reference_passes() -> None:
    assert PPL.check(reference.perplexity).passed


def test_perplexity_alternative_geometric_mean_passes() -> None:
    def perplexity(log_probs):
        probs = [math.exp(float(x)) for x in log_probs]
        product = math.prod(probs)
        return product ** (-1 / len(probs))

    assert PPL.check(perplexity).passed


def test_perplexity_known_mistakes_are_named() -> None:
    def summed(log_probs):
        return math.exp(-float(log_probs.sum()))

    def no_minus(log_probs):
        return torch.exp(log_probs.mean()).item()

    def base2(log_probs):
        return 2 ** (-log_probs.mean().item())

    def mean_inverse(log_probs):
        return (1 / log_probs.exp()).mean().item()

    def loss(log_probs):
        return -log_probs.mean().item()

    assert "*mean*" in PPL.check(summed).headline
    assert "exp(-mean)" in PPL.check(no_minus).headline
    assert "not 2**x" in PPL.check(base2).headline
    assert "geometric mean" in PPL.check(mean_inverse).headline
    assert "the loss, in nats" in PPL.check(loss).headline
