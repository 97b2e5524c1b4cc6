"""Chapter 8's scores: BLEU (written out; equals ``sacrebleu``), exact match, SQuAD's token F1,
and entity-level F1 for named-entity tagging. Taught in chapter 8.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from labkit._util import check_positive_int
from labkit.evaluate import entity_f1, entity_spans

__all__ = [
    "BleuScore",
    "bleu",
    "entity_f1",
    "entity_spans",
    "exact_match",
    "ngrams",
    "token_f1",
]


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """Count the n-grams (runs of ``n`` consecutive tokens) of a token list. Taught in chapter 8."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class BleuScore:
    """A corpus BLEU score and its parts, as ``sacrebleu`` reports them. Taught in chapter 8.

    ``score`` and ``precisions`` are percentages; ``counts[n-1]`` / ``totals[n-1]`` are the
    matched / proposed n-grams; ``sys_len`` and ``ref_len`` count tokens.
    """

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    counts: tuple[int, ...]
    totals: tuple[int, ...]
    sys_len: int
    ref_len: int

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {precisions} (BP = {self.brevity_penalty:.3f} "
            f"ratio = {self.sys_len / max(self.ref_len, 1):.3f} hyp_len = {self.sys_len} "
            f"ref_len = {self.ref_len})"
        )


_WORD_TOKENS = re.compile(r"\w+|[^\w\s]")


def _tokenizer(tokenize: str | Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    if callable(tokenize):
        return tokenize
    if tokenize == "words":
        return _WORD_TOKENS.findall
    if tokenize == "chars":
        return lambda text: [ch for ch in text if not ch.isspace()]
    if tokenize == "none":
        return str.split
    raise ValueError(f'tokenize must be "words", "chars", "none" or a function, got {tokenize!r}')


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    max_n: int = 4,
    tokenize: str | Callable[[str], list[str]] = "words",
) -> BleuScore:
    """Corpus BLEU-``max_n`` of ``hypotheses`` against one reference each (Papineni et al., 2002).

    1. Cut each sentence into tokens: ``"words"`` (words and punctuation marks, what
       sacrebleu's default ``13a`` does to simple English), ``"chars"`` (every non-space
       character: sacrebleu's ``zh`` for Chinese), ``"none"`` (split at spaces) or a function.
    2. For n = 1..max_n, over the whole corpus: the *clipped* matches (an n-gram of the
       hypothesis counts at most as often as it occurs in the reference) divided by the
       n-grams the hypotheses propose. These are the n-gram precisions p_n.
    3. The geometric mean of the p_n, times the brevity penalty
       ``BP = exp(1 - ref_len / sys_len)`` when the hypotheses are shorter in total than the
       references (precision alone would reward saying little), else 1.

    ``BLEU = 100 · BP · exp(mean(log p_n))``; 0 when some p_n is 0 (no smoothing). Equals
    ``sacrebleu.corpus_bleu(hypotheses, [references], smooth_method="none")`` with the
    matching ``tokenize``. Taught in chapter 8.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError(
            "pass lists of sentences, e.g. bleu(['a cat sat.'], ['the cat sat.']), not one string"
        )
    if len(hypotheses) != len(references):
        raise ValueError(
            f"there are {len(hypotheses)} hypotheses but {len(references)} references; "
            "give one reference per hypothesis"
        )
    if not hypotheses:
        raise ValueError("no sentences: BLEU needs at least one hypothesis and its reference")
    check_positive_int(max_n, "max_n")
    split = _tokenizer(tokenize)
    counts, totals = [0] * max_n, [0] * max_n
    sys_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        h, r = split(hyp), split(ref)
        sys_len, ref_len = sys_len + len(h), ref_len + len(r)
        for n in range(1, max_n + 1):
            hyp_grams, ref_grams = ngrams(h, n), ngrams(r, n)
            counts[n - 1] += sum(min(c, ref_grams[g]) for g, c in hyp_grams.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    precisions = [100.0 * c / t if t else 0.0 for c, t in zip(counts, totals)]
    if sys_len == 0:
        bp = 0.0
    else:
        bp = 1.0 if sys_len >= ref_len else math.exp(1 - ref_len / sys_len)
    if min(counts) == 0:
        score = 0.0
    else:
        mean_log = sum(math.log(c / t) for c, t in zip(counts, totals)) / max_n
        score = bp * math.exp(mean_log) * 100
    return BleuScore(score, tuple(precisions), bp, tuple(counts), tuple(totals), sys_len, ref_len)


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of predictions equal to their reference (after stripping spaces at the
    ends). Taught in chapter 8."""
    if len(predictions) != len(references) or not predictions:
        raise ValueError("give as many predictions as references (at least one)")
    return sum(p.strip() == r.strip() for p, r in zip(predictions, references)) / len(predictions)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD's F1 of two answers: the harmonic mean of word precision and recall (word
    overlap counted with multiplicity, case-insensitive). Taught in chapter 8."""
    p, r = prediction.lower().split(), reference.lower().split()
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return float(p == r)
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)
