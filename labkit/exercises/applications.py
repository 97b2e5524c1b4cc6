"""Exercises for chapter 8 (Applications): top-k and top-p filtering of logits, BLEU's clipped
n-gram precision, and top-k search by cosine similarity.

Taught in chapter 8.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cases import Case, Diagnosis, mistakes, seeded
from .core import register
from .exercise import Exercise

NEG_INF = float("-inf")


# --------------------------------------------------------------------------- top_k_filter


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits along the last dim; set the others to -inf. Taught in chapter 8."""
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, NEG_INF)


def _topk_keep(logits: Tensor, k: int) -> Tensor:
    k = max(1, min(k, logits.size(-1)))
    return top_k_filter(logits, k)


def _topk_plus_one(logits: Tensor, k: int) -> Tensor:
    return _topk_keep(logits, k + 1)


def _topk_minus_one(logits: Tensor, k: int) -> Tensor:
    return _topk_keep(logits, k - 1)


def _topk_zero_fill(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


def _topk_global(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits.flatten(), k).values[-1]
    return logits.masked_fill(logits < kth, NEG_INF)


def _topk_smallest(logits: Tensor, k: int) -> Tensor:
    kth = torch.topk(logits, k, dim=-1, largest=False).values[..., -1:]
    return logits.masked_fill(logits > kth, NEG_INF)


def _topk_cases() -> list[Case]:
    g = seeded(20)
    return [
        Case((torch.tensor([1.0, 3.0, -2.0, 0.5, 2.0, -1.0]), 3), label="6 logits, k=3"),
        Case(
            (torch.randn(2, 8, generator=g), 2),
            label="a batch of 2 rows, k=2 (each row on its own)",
        ),
        Case((torch.randn(10, generator=g), 1), label="k=1 (greedy)"),
        Case((torch.randn(5, generator=g), 5), label="k = vocabulary size: nothing is removed"),
        Case(
            (torch.randn(2, 3, 6, generator=g) * 4 + torch.arange(6.0), 4),
            label="a (2, 3, 6) batch, k=4",
        ),
        Case((torch.tensor([[0.0, NEG_INF, 1.0, -3.0]]), 2), label="a row that already holds -inf"),
    ]


register(
    Exercise(
        id="applications.top_k_filter",
        chapter=8,
        title="Top-k filtering",
        signature="(logits: Tensor, k: int) -> Tensor",
        task="Return a copy of logits where everything outside the k largest values of each row "
        "(last dim) "
        "is -inf.",
        reference=top_k_filter,
        cases=_topk_cases,
        diagnoses=[
            Diagnosis(
                "Off by one: exactly k logits must survive; you kept k + 1 (the k-th largest "
                "value itself "
                "stays, everything below it goes).",
                variant=_topk_plus_one,
            ),
            Diagnosis(
                "Off by one: exactly k logits must survive; you kept only k − 1 (keep values ≥ "
                "the k-th "
                "largest, remove those strictly below).",
                variant=_topk_minus_one,
            ),
            Diagnosis(
                "Set the filtered logits to -inf (so that softmax gives them probability 0), not "
                "0.",
                variant=_topk_zero_fill,
            ),
            Diagnosis(
                "Filter each row separately (along the last dim); you took the top k of the "
                "whole tensor.",
                variant=_topk_global,
            ),
            Diagnosis(
                "You kept the k smallest logits; keep the k largest.", variant=_topk_smallest
            ),
        ],
        hints=[
            "Find the k-th largest value of each row; anything below it is removed (set to -inf).",
            "torch.topk(logits, k, dim=-1).values[..., -1:] is the k-th largest value with a "
            "dimension kept for "
            "broadcasting; logits.masked_fill(condition, float('-inf')) returns a new tensor.",
            "`kth = torch.topk(logits, k, dim=-1).values[..., -1:]`; "
            "`return logits.masked_fill(logits < kth, float('-inf'))`",
        ],
    )
)

# --------------------------------------------------------------------------- top_p_filter


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probabilities add up to ≥ p (at least one).

    Taught in chapter 8.
    """
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    # the probability of the tokens ranked above each one
    mass_before = torch.cumsum(probs, dim=-1) - probs
    remove = mass_before >= p  # the token that crosses p has mass_before < p, so it stays
    remove[..., 0] = False  # always keep the most likely token
    sorted_logits = sorted_logits.masked_fill(remove, NEG_INF)
    return torch.empty_like(logits).scatter(-1, order, sorted_logits)  # back to the original order


def _topp(logits: Tensor, p: float, *, mistake: str) -> Tensor:
    """top_p_filter with one known ``mistake`` (the names in its diagnoses)."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    cum = torch.cumsum(probs, dim=-1)
    drop_crossing = mistake in ("drop_crossing", "drop_crossing_and_first")
    remove = (cum >= p) if drop_crossing else (cum - probs >= p)
    if mistake != "drop_crossing_and_first":
        remove[..., 0] = False
    if mistake == "probs":
        values = probs.masked_fill(remove, 0.0)
    else:
        values = sorted_logits.masked_fill(remove, 0.0 if mistake == "zero_fill" else NEG_INF)
    if mistake == "sorted":
        return values
    return torch.empty_like(logits).scatter(-1, order, values)


def _topp_cases() -> list[Case]:
    g = seeded(21)
    probs = torch.tensor([0.05, 0.5, 0.15, 0.3])  # sorted: 0.5, 0.3, 0.15, 0.05
    peaked_and_flat = torch.stack([torch.tensor([4.0, 1.0, 0.0, -1.0, 0.5]), torch.zeros(5)])
    return [
        Case(
            (probs.log(), 0.7),
            label="probabilities (0.05, 0.5, 0.15, 0.3), p=0.7: keep 0.5 and 0.3",
            note="This case tests the token that crosses p: keep tokens until the cumulative "
            "probability "
            "reaches p, including that one — with p=0.7, 0.5 alone is not enough, 0.5 + 0.3 = "
            "0.8 ≥ 0.7.",
        ),
        Case((probs.log(), 0.1), label="p=0.1: the most likely token alone"),
        Case((probs.log(), 0.96), label="p=0.96: all four tokens"),
        Case(
            (peaked_and_flat, 0.9),
            label="two rows, one peaked and one flat, p=0.9 (each row on its own)",
        ),
        Case((torch.randn(2, 3, 10, generator=g) * 2, 0.8), label="a (2, 3, 10) batch, p=0.8"),
        Case(
            (torch.tensor([[2.0, NEG_INF, 1.0, NEG_INF]]), 0.5),
            label="a row that already holds -inf",
        ),
    ]


register(
    Exercise(
        id="applications.top_p_filter",
        chapter=8,
        title="Top-p (nucleus) filtering",
        signature="(logits: Tensor, p: float) -> Tensor",
        task="Return a copy of logits where only the smallest set of most likely tokens whose "
        "probabilities add "
        "up to ≥ p (at least one token) survives, per row; the others are -inf. Keep the "
        "original order.",
        reference=top_p_filter,
        cases=_topp_cases,
        diagnoses=mistakes(
            top_p_filter,
            _topp,
            {
                "drop_crossing": "You dropped the token that crosses p: keep tokens until the "
                "cumulative probability reaches p, including the one that crosses it (remove a "
                "token only if the mass *before* it is already ≥ p).",
                "drop_crossing_and_first": "You dropped the token that crosses p (and sometimes "
                "every token): remove a token only if the mass *before* it is already ≥ p; the "
                "most likely token always stays.",
                "sorted": "You returned the logits in sorted order: scatter them back to their "
                "original positions with the indices from torch.sort.",
                "zero_fill": "Set the filtered logits to -inf (so that softmax gives them "
                "probability 0), not 0.",
                "probs": "Return the filtered *logits* (the kept ones unchanged), not "
                "probabilities.",
            },
        ),
        hints=[
            "Sort the tokens from most to least likely and walk down the list, adding "
            "probabilities, until the "
            "total reaches p; the token that gets you there is kept.",
            "After torch.sort(descending=True) and softmax, `cumsum(probs) - probs` is the mass "
            "*before* each "
            "token: remove it where that is ≥ p. Then undo the sort with scatter.",
            "`remove = torch.cumsum(probs, -1) - probs >= p`; `sorted_logits.masked_fill(remove, "
            "-inf)`; "
            "`torch.empty_like(logits).scatter(-1, order, sorted_logits)`",
        ],
    )
)

# --------------------------------------------------------------------------- ngram_precision


def ngram_precision(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    """BLEU's clipped n-gram matches: ``(matches, total)`` for one hypothesis and one reference.

    ``total`` is the number of n-grams in the hypothesis; an n-gram counts as a match at most
    as often as it occurs in the reference. Taught in chapter 8.
    """
    from collections import Counter

    def grams(tokens: list[str]) -> Counter:
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    hyp, ref = grams(hypothesis), grams(reference)
    matches = sum(min(count, ref[gram]) for gram, count in hyp.items())
    return matches, max(len(hypothesis) - n + 1, 0)


def _grams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _ngram_unclipped(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    ref = set(_grams(reference, n))
    hyp = _grams(hypothesis, n)
    return sum(g in ref for g in hyp), len(hyp)


def _ngram_reference_total(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    return ngram_precision(hypothesis, reference, n)[0], max(len(reference) - n + 1, 0)


def _ngram_negative_total(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    return ngram_precision(hypothesis, reference, n)[0], len(hypothesis) - n + 1


def _ngram_cases() -> list[Case]:
    ref = "the cat sat on the mat".split()
    return [
        Case(("the cat sat on a mat".split(), ref, 1), label="one word differs, n=1"),
        Case(("the cat sat on a mat".split(), ref, 2), label="one word differs, n=2"),
        Case(
            ("the the the the the the".split(), ref, 1),
            label='"the" six times against a reference with two "the"',
            note="Clip: an n-gram of the hypothesis counts at most as often as it occurs in the "
            "reference "
            '("the" twice here), or a hypothesis that repeats one common word gets a perfect '
            "score.",
        ),
        Case((ref, ref, 4), label="identical sentences, n=4"),
        Case(
            ("on the mat the cat sat".split(), ref, 3), label="the same words in another order, n=3"
        ),
        Case((["the", "cat"], ref, 3), label="a hypothesis of 2 tokens has no 3-grams: (0, 0)"),
        Case((["cat"], ref, 4), label="a hypothesis of 1 token has no 4-grams: (0, 0)"),
        Case(("a b a b a b".split(), "a b a b".split(), 2), label="repeated bigrams, n=2"),
    ]


register(
    Exercise(
        id="applications.ngram_precision",
        chapter=8,
        title="BLEU's clipped n-gram precision",
        signature="(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]",
        task="Return (matches, total): total = the number of n-grams (runs of n tokens) in the "
        "hypothesis; "
        "matches = how many of them occur in the reference, each n-gram counted at most as often "
        "as it occurs "
        "in the reference (clipping).",
        reference=ngram_precision,
        cases=_ngram_cases,
        output_names=("matches", "total"),
        diagnoses=[
            Diagnosis(
                "You did not clip: an n-gram of the hypothesis may only be matched as often as "
                "it occurs in "
                "the reference (count each n-gram with a Counter and take min(hypothesis count, "
                "reference count)).",
                variant=_ngram_unclipped,
            ),
            Diagnosis(
                "total counts the n-grams of the *hypothesis* (precision: what share of what the "
                "system said "
                "is right), not of the reference.",
                variant=_ngram_reference_total,
            ),
            Diagnosis(
                "A sentence shorter than n has no n-grams: total must be 0, not negative "
                "(max(len - n + 1, 0)).",
                variant=_ngram_negative_total,
            ),
        ],
        hints=[
            "List the hypothesis's n-grams as tuples tokens[i:i+n]; do the same for the "
            "reference; count both.",
            "collections.Counter counts them; a match for n-gram g is min(hyp_count[g], "
            "ref_count[g]) -- that "
            "is the clipping.",
            "`hyp = Counter(tuple(h[i:i+n]) for i in range(len(h)-n+1))`, the same for the "
            "reference; "
            "`matches = sum(min(c, ref[g]) for g, c in hyp.items())`; `total = max(len(h)-n+1, 0)`",
        ],
    )
)

# --------------------------------------------------------------------------- cosine_top_k


def cosine_top_k(query: Tensor, documents: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` documents most similar to ``query`` by cosine similarity, best first.

    ``query`` is ``(d,)``, ``documents`` ``(N, d)``; returns a LongTensor ``(k,)``. Taught in
    chapter 8.
    """
    q = query / query.norm()
    docs = documents / documents.norm(dim=-1, keepdim=True)
    return torch.topk(docs @ q, k).indices


def _cos_dot(query: Tensor, documents: Tensor, k: int) -> Tensor:
    return torch.topk(documents @ query, k).indices


def _cos_worst(query: Tensor, documents: Tensor, k: int) -> Tensor:
    q = query / query.norm()
    docs = documents / documents.norm(dim=-1, keepdim=True)
    return torch.topk(docs @ q, k, largest=False).indices


def _cos_wrong_dim(query: Tensor, documents: Tensor, k: int) -> Tensor:
    q = query / query.norm()
    docs = documents / documents.norm(dim=0, keepdim=True)
    return torch.topk(docs @ q, k).indices


def _cos_distance(query: Tensor, documents: Tensor, k: int) -> Tensor:
    return torch.topk(-(documents - query).norm(dim=-1), k).indices


def _cosine_cases() -> list[Case]:
    g = seeded(22)
    short_close = torch.tensor([[10.0, 0.5], [0.3, 0.0], [0.0, 4.0], [-3.0, -3.0]])
    return [
        Case(
            (torch.tensor([1.0, 0.0]), short_close, 2),
            label="2-d vectors: a long vector pointing a little off, a short one pointing the "
            "same way",
            note="Cosine similarity ignores length: normalise the query and every document to "
            "length 1 "
            "before taking dot products.",
        ),
        Case(
            (torch.randn(16, generator=g), torch.randn(10, 16, generator=g), 3),
            label="10 documents, d=16, k=3",
        ),
        Case(
            (
                torch.randn(8, generator=g),
                torch.randn(5, 8, generator=g) * torch.arange(1.0, 6.0)[:, None],
                5,
            ),
            label="documents of very different lengths, k = N (a full ranking)",
        ),
        Case(
            (torch.randn(384, generator=g), torch.randn(30, 384, generator=g), 1),
            label="d=384 as in MiniLM, k=1",
        ),
    ]


register(
    Exercise(
        id="applications.cosine_top_k",
        chapter=8,
        title="Semantic search: top-k by cosine similarity",
        signature="(query: Tensor, documents: Tensor, k: int) -> Tensor",
        task="query is (d,), documents (N, d). Return a LongTensor of the indices of the k "
        "documents with the "
        "highest cosine similarity to the query, most similar first.",
        reference=cosine_top_k,
        cases=_cosine_cases,
        diagnoses=[
            Diagnosis(
                "You ranked by the plain dot product: long document vectors win whatever their "
                "direction. "
                "Divide the query and each document by its length first (cosine similarity).",
                variant=_cos_dot,
            ),
            Diagnosis(
                "You returned the *least* similar documents; take the largest similarities.",
                variant=_cos_worst,
            ),
            Diagnosis(
                "Normalise each document (each row: dim=-1), not each feature across the "
                "documents (dim=0).",
                variant=_cos_wrong_dim,
            ),
            Diagnosis(
                "You ranked by Euclidean distance; cosine similarity compares directions only "
                "(normalise, then dot product).",
                variant=_cos_distance,
            ),
        ],
        hints=[
            "Cosine similarity = dot product of the two vectors after each is scaled to length 1.",
            "documents / documents.norm(dim=-1, keepdim=True) normalises every row; then one "
            "matrix-vector "
            "product gives all N similarities; torch.topk picks the best.",
            "`sims = (documents / documents.norm(dim=-1, keepdim=True)) @ (query / query.norm())`; "
            "`return torch.topk(sims, k).indices`",
        ],
    )
)
