"""Exercises for chapter 1 (Language models): bigram counts and sequence log-probability.

Taught in chapter 1. Each exercise below has a reference solution (what ``solution()``
shows), cases, known mistakes and graded hints.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .cases import Case, Diagnosis, seeded
from .core import register
from .exercise import Exercise

# --------------------------------------------------------------------------- bigram_counts


def bigram_counts(tokens: list[str], vocab: list[str]) -> Tensor:
    """C[i, j] = how many times vocab[j] directly follows vocab[i] in tokens.

    Taught in chapter 1.
    """
    index = {token: i for i, token in enumerate(vocab)}
    counts = torch.zeros(len(vocab), len(vocab), dtype=torch.long)
    for prev, nxt in zip(tokens, tokens[1:]):
        counts[index[prev], index[nxt]] += 1
    return counts


def _bigram_transposed(tokens: list[str], vocab: list[str]) -> Tensor:
    return bigram_counts(tokens, vocab).T


def _bigram_self_pairs(tokens: list[str], vocab: list[str]) -> Tensor:
    index = {t: i for i, t in enumerate(vocab)}
    counts = torch.zeros(len(vocab), len(vocab), dtype=torch.long)
    for t in tokens:
        counts[index[t], index[t]] += 1
    return counts


def _bigram_wraparound(tokens: list[str], vocab: list[str]) -> Tensor:
    counts = bigram_counts(tokens, vocab)
    if len(tokens) > 1:
        index = {t: i for i, t in enumerate(vocab)}
        counts[index[tokens[-1]], index[tokens[0]]] += 1
    return counts


def _bigram_sorted_vocab(tokens: list[str], vocab: list[str]) -> Tensor:
    return bigram_counts(tokens, sorted(vocab))


def _rows_are_distributions(got: object, expected: Tensor) -> bool:
    if not isinstance(got, Tensor) or not got.is_floating_point() or got.shape != expected.shape:
        return False
    sums = got.sum(-1)
    used = expected.sum(-1) > 0
    return bool(used.any()) and bool(
        torch.allclose(sums[used], torch.ones_like(sums[used]), atol=1e-4)
    )


def _bigram_cases() -> list[Case]:
    text = "the cat sat on the mat the end".split()
    vocab = ["the", "cat", "sat", "on", "mat", "end"]
    chars = list("abracadabra")
    return [
        Case((text, vocab), label="a short sentence"),
        Case(
            (chars, ["r", "a", "d", "c", "b"]), label="characters, vocab not in alphabetical order"
        ),
        Case((list("aaaa"), ["b", "a"]), label="a repeated token (a a a a)"),
        Case(
            (["cat"], vocab),
            label="a single token: no pairs at all",
            note="This case has a single token: there is no (previous, next) pair, so all counts "
            "are 0.",
        ),
        Case((list("xy"), ["x", "y", "z"]), label="a vocabulary word that never occurs"),
    ]


register(
    Exercise(
        id="language_models.bigram_counts",
        chapter=1,
        title="Count bigrams",
        signature="(tokens: list[str], vocab: list[str]) -> Tensor[V,V]",
        task="Return a V×V tensor C where C[i, j] = times vocab[j] follows vocab[i] in tokens.",
        reference=bigram_counts,
        cases=_bigram_cases,
        dtype="any",
        diagnoses=[
            Diagnosis(
                "Rows and columns are swapped: C[i, j] counts vocab[j] *following* vocab[i] — "
                "row = previous token, column = next token.",
                variant=_bigram_transposed,
            ),
            Diagnosis(
                "You paired every token with itself. Pair each token with the next one: "
                "zip(tokens, tokens[1:]).",
                variant=_bigram_self_pairs,
            ),
            Diagnosis(
                "You counted a pair that wraps around from the last token back to the first; "
                "the last token has no successor.",
                variant=_bigram_wraparound,
            ),
            Diagnosis(
                "Use the vocabulary order you were given (position of each word in `vocab`); "
                "don't sort it or build your own.",
                variant=_bigram_sorted_vocab,
            ),
            Diagnosis(
                "You returned probabilities (rows sum to 1); this exercise wants the raw counts.",
                detect=_rows_are_distributions,
            ),
        ],
        hints=[
            "Walk over neighbouring pairs (previous, next) and add 1 to the right cell. "
            "You need the row/column number of each word in `vocab`.",
            "Build `index = {w: i for i, w in enumerate(vocab)}`, start from "
            "`torch.zeros(V, V, dtype=torch.long)`, and loop over `zip(tokens, tokens[1:])`.",
            "`for a, b in zip(tokens, tokens[1:]): C[index[a], index[b]] += 1`",
        ],
    )
)

# --------------------------------------------------------------------------- bigram_probs


def bigram_probs(counts: Tensor, alpha: float = 0.0) -> Tensor:
    """Add-alpha smoothed bigram probabilities.

    P[i, j] = (C[i, j] + alpha) / (sum_j C[i, j] + alpha·V).

    Taught in chapter 1.
    """
    smoothed = counts.float() + alpha
    return smoothed / smoothed.sum(dim=-1, keepdim=True)


def _probs_columns(counts: Tensor, alpha: float = 0.0) -> Tensor:
    smoothed = counts.float() + alpha
    return smoothed / smoothed.sum(dim=0, keepdim=True)


def _probs_global(counts: Tensor, alpha: float = 0.0) -> Tensor:
    smoothed = counts.float() + alpha
    return smoothed / smoothed.sum()


def _probs_alpha_numerator_only(counts: Tensor, alpha: float = 0.0) -> Tensor:
    return (counts.float() + alpha) / counts.float().sum(dim=-1, keepdim=True)


def _probs_cases() -> list[Case]:
    c = torch.tensor([[0, 2, 1], [3, 0, 1], [1, 1, 4]])
    g = seeded(3)
    big = torch.randint(0, 9, (6, 6), generator=g)
    return [
        Case((c,), label="a 3×3 count table, no smoothing"),
        Case((c,), {"alpha": 1.0}, label="add-one (Laplace) smoothing"),
        Case((big,), {"alpha": 0.5}, label="a 6×6 table, alpha=0.5"),
        Case(
            (torch.tensor([[0, 0], [2, 3]]),),
            {"alpha": 1.0},
            label="a word that is never followed by anything (a row of zeros), alpha=1",
            note="This case has a row of zeros: with alpha > 0 it becomes a uniform distribution.",
        ),
        Case((torch.tensor([[5]]),), {"alpha": 0.1}, label="a 1×1 table"),
    ]


register(
    Exercise(
        id="language_models.bigram_probs",
        chapter=1,
        title="Bigram probabilities with add-alpha smoothing",
        signature="(counts: Tensor[V,V], alpha: float = 0.0) -> Tensor[V,V]",
        task="Turn bigram counts into conditional probabilities P[i, j] = P(next = j | previous "
        "= i), adding alpha "
        "to every count first (alpha = 1 is Laplace smoothing). Each row sums to 1.",
        reference=bigram_probs,
        cases=_probs_cases,
        diagnoses=[
            Diagnosis(
                "Normalise each row (the previous token), not each column: P[i, j] is P(next = j "
                "| previous = i), "
                "so sum over j (dim=-1).",
                variant=_probs_columns,
            ),
            Diagnosis(
                "Normalise each row separately (sum over dim=-1 with keepdim=True), not by the "
                "total of the table.",
                variant=_probs_global,
            ),
            Diagnosis(
                "Add alpha to the denominator too: (C[i, j] + alpha) / (row sum + alpha·V), "
                "otherwise the "
                "rows no longer sum to 1.",
                variant=_probs_alpha_numerator_only,
            ),
        ],
        hints=[
            "Each row i is a distribution over the next token: add alpha to every count, then "
            "make the row sum to 1.",
            "Convert to float, add alpha, then divide by the row sums (sum over dim=-1, "
            "keepdim=True).",
            "`smoothed = counts.float() + alpha`; `return smoothed / smoothed.sum(dim=-1, "
            "keepdim=True)`",
        ],
    )
)

# --------------------------------------------------------------------------- sequence_logprob


def sequence_logprob(probs: Tensor, ids: list[int]) -> float:
    """Natural-log probability of ids[1:] given ids[0] under the bigram table probs[prev, next].

    Taught in chapter 1.
    """
    prev, nxt = ids[:-1], ids[1:]
    return torch.log(probs[prev, nxt]).sum().item()


def _logprob_transposed(probs: Tensor, ids: list[int]) -> float:
    return sequence_logprob(probs.T, ids)


def _logprob_base2(probs: Tensor, ids: list[int]) -> float:
    return sequence_logprob(probs, ids) / math.log(2)


def _logprob_base10(probs: Tensor, ids: list[int]) -> float:
    return sequence_logprob(probs, ids) / math.log(10)


def _logprob_product(probs: Tensor, ids: list[int]) -> float:
    return math.exp(sequence_logprob(probs, ids))


def _logprob_mean(probs: Tensor, ids: list[int]) -> float:
    if len(ids) < 2:
        return 0.0
    return sequence_logprob(probs, ids) / (len(ids) - 1)


def _random_bigram_table(v: int, seed: int) -> Tensor:
    g = seeded(seed)
    return torch.softmax(torch.randn(v, v, generator=g) * 1.5, dim=-1)


def _logprob_cases() -> list[Case]:
    table = _random_bigram_table(5, 0)
    skewed = _random_bigram_table(4, 1)
    with_zero = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    return [
        Case((table, [0, 3, 1, 1, 4, 2]), label="six tokens, 5-word vocabulary"),
        Case((skewed, [2, 0]), label="two tokens: one transition"),
        Case(
            (skewed, [3]),
            label="a single token: nothing to predict",
            note="This case has a single token: there are no transitions, so the log-probability "
            "is 0.",
        ),
        Case((skewed, [1, 2, 3, 0, 1, 2, 3, 0, 1]), label="a longer sequence"),
        Case(
            (with_zero, [0, 1, 2, 0]), label="all probabilities non-zero in a table that has zeros"
        ),
        Case(
            (with_zero, [0, 2, 0]),
            label="a transition with probability 0",
            note="This case has a transition with probability 0: its log-probability is -inf "
            "(math.log(0) raises; "
            "torch.log(torch.tensor(0.)) is -inf). Smoothing, later in the chapter, avoids it.",
        ),
    ]


register(
    Exercise(
        id="language_models.sequence_logprob",
        chapter=1,
        title="Log-probability of a sequence under a bigram model",
        signature="(probs: Tensor[V,V], ids: list[int]) -> float",
        task="Return the natural-log probability of ids[1:] given ids[0], where probs[i, j] = "
        "P(next = j | previous = i).",
        reference=sequence_logprob,
        cases=_logprob_cases,
        rtol=1e-5,
        diagnoses=[
            Diagnosis(
                "probs[i, j] is P(next = j | previous = i): index it as probs[previous, next]; "
                "you swapped them.",
                variant=_logprob_transposed,
            ),
            Diagnosis(
                "Use the natural log (torch.log or math.log), not log base 2.",
                variant=_logprob_base2,
            ),
            Diagnosis(
                "Use the natural log (torch.log or math.log), not log base 10.",
                variant=_logprob_base10,
            ),
            Diagnosis(
                "You returned the probability itself; return its natural log — a sum of "
                "log-probabilities.",
                variant=_logprob_product,
            ),
            Diagnosis(
                "Sum the log-probabilities (log of a product = sum of logs); don't average them.",
                variant=_logprob_mean,
            ),
        ],
        hints=[
            "Chain rule: P(w2..wn | w1) is a product of bigram probabilities, so its log is a "
            "sum of logs.",
            "Look up probs[ids[t-1], ids[t]] for t = 1 .. len(ids)-1 and add up their natural "
            "logs.",
            "`torch.log(probs[ids[:-1], ids[1:]]).sum().item()` — a one-token sequence gives 0.0.",
        ],
    )
)

# --------------------------------------------------------------------------- bpe_merge


def bpe_merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Apply one BPE merge: every ``a, b`` next to each other in ``symbols`` becomes ``a + b``.

    Scans left to right; a merged piece is not looked at again in the same pass, so
    ``["a", "a", "a"]`` with the pair ``("a", "a")`` gives ``["aa", "a"]``.

    Taught in chapter 1.
    """
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _merge_right_to_left(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    return [
        s[::-1] for s in bpe_merge([s[::-1] for s in symbols[::-1]], (pair[1][::-1], pair[0][::-1]))
    ][::-1]


def _merge_first_only(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    for i in range(len(symbols) - 1):
        if (symbols[i], symbols[i + 1]) == tuple(pair):
            return symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2 :]
    return list(symbols)


def _merge_ignoring_boundaries(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    # glue the word back together, replace the string a+b, and cut the rest into characters
    text = "".join(symbols)
    joined = pair[0] + pair[1]
    out: list[str] = []
    for k, chunk in enumerate(text.split(joined)):
        if k:
            out.append(joined)
        out += list(chunk)
    return out


def _merge_cases() -> list[Case]:
    return [
        Case((["t", "h", "e"], ("h", "e")), label="' the' without its space: t h e, merge h+e"),
        Case(([" ", "t", "h", "e"], (" ", "t")), label="a word with its leading space"),
        Case(
            (["a", "a", "a"], ("a", "a")),
            label="three a's and the pair (a, a)",
            note="This case has an overlapping pair: scan left to right and do not look at a "
            "merged piece again in the same pass, so a a a gives ['aa', 'a'].",
        ),
        Case(
            (["h", "e", "l", "l", "o", "h", "e"], ("h", "e")),
            label="the pair occurs twice",
            note="This case has the pair twice: merge every occurrence, not only the first.",
        ),
        Case(
            (["ab", "c", "a", "bc"], ("ab", "c")),
            label="pieces already merged: ab c a bc",
            note="This case has 'abc' twice as text but the pair ('ab', 'c') only once as "
            "neighbouring symbols: compare symbols, not the glued-together string.",
        ),
        Case((["x", "y"], ("y", "x")), label="the pair does not occur: nothing changes"),
        Case((["b", "a", "a", "a", "a"], ("a", "a")), label="b a a a a, merge a+a"),
    ]


register(
    Exercise(
        id="language_models.bpe_merge",
        chapter=1,
        title="One BPE merge",
        signature="(symbols: list[str], pair: tuple[str, str]) -> list[str]",
        task="Return a new list where every `pair[0], pair[1]` standing next to each other in "
        "`symbols` is replaced by the one symbol `pair[0] + pair[1]`, scanning left to right "
        "(a merged piece is not merged again in the same pass).",
        reference=bpe_merge,
        cases=_merge_cases,
        dtype="any",
        diagnoses=[
            Diagnosis(
                "You merged only the first occurrence of the pair; BPE replaces every "
                "occurrence in the word.",
                variant=_merge_first_only,
            ),
            Diagnosis(
                "IndexError: you shortened the list while looping over `range(len(symbols) - "
                "1)`. Build a new list instead, with a while loop over i.",
                error=r"IndexError",
            ),
            Diagnosis(
                "You scanned right to left (a a a → ['a', 'aa']); BPE scans left to right.",
                variant=_merge_right_to_left,
            ),
            Diagnosis(
                "You compared glued-together text, not symbols: the pair must be two "
                "neighbouring *symbols* equal to pair[0] and pair[1], and the other symbols "
                "must stay as they were.",
                variant=_merge_ignoring_boundaries,
            ),
        ],
        hints=[
            "Walk along `symbols` with an index i. If symbols[i] and symbols[i + 1] are the "
            "pair, output their concatenation and jump two ahead; otherwise output symbols[i] "
            "and move one ahead.",
            "`out, i = [], 0` and `while i < len(symbols):` — check `i + 1 < len(symbols)` "
            "before you look at symbols[i + 1].",
            "`if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == tuple(pair): "
            "out.append(symbols[i] + symbols[i + 1]); i += 2` else `out.append(symbols[i]); "
            "i += 1`",
        ],
    )
)

# --------------------------------------------------------------------------- perplexity


def perplexity(log_probs: Tensor) -> float:
    """Perplexity from the natural-log probabilities the model gave each token: exp(-mean).

    Taught in chapter 1.
    """
    return math.exp(-log_probs.double().mean().item())


def _ppl_sum(log_probs: Tensor) -> float:
    return math.exp(-log_probs.double().sum().item())


def _ppl_no_minus(log_probs: Tensor) -> float:
    return math.exp(log_probs.double().mean().item())


def _ppl_base2(log_probs: Tensor) -> float:
    return 2.0 ** (-log_probs.double().mean().item())


def _ppl_mean_of_inverse(log_probs: Tensor) -> float:
    return (1.0 / log_probs.double().exp()).mean().item()


def _ppl_loss_only(log_probs: Tensor) -> float:
    return -log_probs.double().mean().item()


def _ppl_cases() -> list[Case]:
    g = seeded(11)
    probs = torch.rand(20, generator=g) * 0.9 + 0.05
    return [
        Case((torch.log(torch.full((8,), 0.25)),), label="8 tokens, each with P = 1/4: PPL 4"),
        Case((torch.log(torch.tensor([0.5, 0.1, 0.9, 0.3])),), label="four different P's"),
        Case((torch.log(probs),), label="20 random probabilities"),
        Case((torch.tensor([-2.0]),), label="a single token with log P = -2"),
        Case(
            (torch.log(torch.tensor([1.0, 1.0, 1.0])),),
            label="a model that is always sure and right: PPL 1",
        ),
    ]


register(
    Exercise(
        id="language_models.perplexity",
        chapter=1,
        title="Perplexity from log-probabilities",
        signature="(log_probs: Tensor[N]) -> float",
        task="`log_probs[i]` is the natural log of the probability the model gave the i-th "
        "token of a held-out text. Return the perplexity: exp of the average surprise "
        "-log P per token.",
        reference=perplexity,
        cases=_ppl_cases,
        rtol=1e-5,
        diagnoses=[
            Diagnosis(
                "You summed the log-probabilities; perplexity uses their *mean*, so that it "
                "does not grow with the length of the text.",
                variant=_ppl_sum,
            ),
            Diagnosis(
                "The surprise is -log P (log P is negative): exponentiate minus the mean, "
                "exp(-mean), so that the perplexity is >= 1.",
                variant=_ppl_no_minus,
            ),
            Diagnosis(
                "These are natural logs: undo them with exp (math.exp / torch.exp), not 2**x.",
                variant=_ppl_base2,
            ),
            Diagnosis(
                "You averaged 1/P per token; perplexity is exp of the average -log P (a "
                "geometric mean of 1/P, not an arithmetic one).",
                variant=_ppl_mean_of_inverse,
            ),
            Diagnosis(
                "You returned the average surprise (the loss, in nats); the perplexity is "
                "exp of it.",
                variant=_ppl_loss_only,
            ),
        ],
        hints=[
            "Average surprise per token = -mean(log_probs) (the loss, in nats); perplexity "
            "turns it back into 'as unsure as a uniform choice among N'.",
            "Compute the mean of `log_probs`, negate it and exponentiate.",
            "`math.exp(-log_probs.mean().item())`",
        ],
    )
)
