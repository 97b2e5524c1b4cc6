"""Chapter 8 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import torch

from labkit import exercises
from labkit.exercises import applications as reference

NEG_INF = float("-inf")

# ----------------------------------------------------------------------------- top_k_filter

TOPK = exercises.get("applications.top_k_filter")


def test_top_k_reference_and_alternative_pass() -> None:
    def by_scatter(logits, k):
        values, index = logits.topk(k, dim=-1)
        return torch.full_like(logits, NEG_INF).scatter(-1, index, values)

    def by_sorting(logits, k):
        kth = logits.sort(dim=-1, descending=True).values[..., k - 1 : k]
        return torch.where(logits >= kth, logits, torch.tensor(NEG_INF))

    assert TOPK.check(reference.top_k_filter).passed
    assert TOPK.check(by_scatter).passed
    assert TOPK.check(by_sorting).passed


def test_top_k_known_mistakes_are_named() -> None:
    def zero_fill(logits, k):
        kth = logits.topk(k).values[..., -1:]
        return torch.where(logits >= kth, logits, torch.zeros_like(logits))

    def whole_tensor(logits, k):
        kth = logits.flatten().topk(k).values[-1]
        return logits.masked_fill(logits < kth, NEG_INF)

    def strictly_above(logits, k):
        kth = logits.topk(k).values[..., -1:]
        return logits.masked_fill(logits <= kth, NEG_INF)

    def smallest(logits, k):
        kth = logits.topk(k, largest=False).values[..., -1:]
        return logits.masked_fill(logits > kth, NEG_INF)

    assert "not 0" in TOPK.check(zero_fill).headline
    assert "top k of the whole tensor" in TOPK.check(whole_tensor).headline
    assert "only k − 1" in TOPK.check(strictly_above).headline
    assert "k smallest" in TOPK.check(smallest).headline


# ----------------------------------------------------------------------------- top_p_filter

TOPP = exercises.get("applications.top_p_filter")


def test_top_p_reference_behaviour() -> None:
    logits = torch.tensor([0.05, 0.5, 0.15, 0.3]).log()
    out = reference.top_p_filter(logits, 0.7)
    assert torch.isinf(out).tolist() == [True, False, True, False]
    assert torch.equal(out[[1, 3]], logits[[1, 3]])


def test_top_p_reference_and_alternative_pass() -> None:
    def row_by_row(logits, p):
        flat = logits.reshape(-1, logits.shape[-1])
        out = torch.full_like(flat, NEG_INF)
        for r, row in enumerate(flat):
            probs = row.softmax(-1)
            total = 0.0
            for idx in probs.argsort(descending=True).tolist():
                out[r, idx] = row[idx]
                total += probs[idx].item()
                if total >= p:
                    break
        return out.reshape(logits.shape)

    assert TOPP.check(reference.top_p_filter).passed
    assert TOPP.check(row_by_row).passed


def test_top_p_excluding_the_crossing_token_is_named() -> None:
    def top_p(logits, p):
        s, order = logits.sort(-1, descending=True)
        remove = s.softmax(-1).cumsum(-1) > p
        remove[..., 0] = False
        return s.masked_fill(remove, NEG_INF).gather(-1, order.argsort(-1))

    assert TOPP.check(top_p).headline.startswith("You dropped the token that crosses p")


def test_top_p_sorted_output_zero_fill_and_probabilities_are_named() -> None:
    def sorted_output(logits, p):
        s, _ = logits.sort(-1, descending=True)
        probs = s.softmax(-1)
        return s.masked_fill(probs.cumsum(-1) - probs >= p, NEG_INF)

    def zero_fill(logits, p):
        s, order = logits.sort(-1, descending=True)
        probs = s.softmax(-1)
        s = s.masked_fill(probs.cumsum(-1) - probs >= p, 0.0)
        return torch.zeros_like(logits).scatter(-1, order, s)

    def probabilities(logits, p):
        out = reference.top_p_filter(logits, p)
        return torch.where(torch.isfinite(out), logits.softmax(-1), torch.zeros_like(out))

    assert "sorted order" in TOPP.check(sorted_output).headline
    assert "not 0" in TOPP.check(zero_fill).headline
    assert "not probabilities" in TOPP.check(probabilities).headline


# ----------------------------------------------------------------------------- ngram_precision

NGRAM = exercises.get("applications.ngram_precision")


def test_ngram_precision_reference_agrees_with_labkit_bleu_counts() -> None:
    from labkit.chapters import applications as T

    hyp, ref = "the the cat sat on the mat".split(), "the cat sat on the mat".split()
    score = T.bleu([" ".join(hyp)], [" ".join(ref)], tokenize="none")
    for n in range(1, 5):
        assert reference.ngram_precision(hyp, ref, n) == (score.counts[n - 1], score.totals[n - 1])
    assert reference.ngram_precision(["a"], ["a"], 3) == (0, 0)


def test_ngram_precision_alternatives_pass_and_mistakes_are_named() -> None:
    def by_lists(hypothesis, reference, n):
        ref = [tuple(reference[i : i + n]) for i in range(len(reference) - n + 1)]
        matches = 0
        for i in range(len(hypothesis) - n + 1):
            gram = tuple(hypothesis[i : i + n])
            if gram in ref:
                ref.remove(gram)  # each reference n-gram can be used once
                matches += 1
        return matches, max(len(hypothesis) - n + 1, 0)

    def unclipped(hypothesis, reference, n):
        ref = {tuple(reference[i : i + n]) for i in range(len(reference) - n + 1)}
        hyp = [tuple(hypothesis[i : i + n]) for i in range(len(hypothesis) - n + 1)]
        return sum(g in ref for g in hyp), len(hyp)

    def reference_total(hypothesis, reference, n):
        return by_lists(hypothesis, reference, n)[0], max(len(reference) - n + 1, 0)

    def negative_total(hypothesis, reference, n):
        return by_lists(hypothesis, reference, n)[0], len(hypothesis) - n + 1

    assert NGRAM.check(reference.ngram_precision).passed and NGRAM.check(by_lists).passed
    assert NGRAM.check(unclipped).headline.startswith("You did not clip")
    assert "of the *hypothesis*" in NGRAM.check(reference_total).headline
    assert "not negative" in NGRAM.check(negative_total).headline


# ----------------------------------------------------------------------------- cosine_top_k

COSINE = exercises.get("applications.cosine_top_k")


def test_cosine_top_k_reference_agrees_with_labkit_search() -> None:
    from labkit.chapters import applications as T

    g = torch.Generator().manual_seed(0)
    docs, query = torch.randn(20, 12, generator=g), torch.randn(12, generator=g)
    assert reference.cosine_top_k(query, docs, 5).tolist() == [
        i for i, _ in T.top_k_similar(query, docs, 5)
    ]


def test_cosine_top_k_alternatives_pass_and_mistakes_are_named() -> None:
    import torch.nn.functional as F

    def with_library(query, documents, k):
        return F.cosine_similarity(documents, query[None], dim=-1).argsort(descending=True)[:k]

    def dot(query, documents, k):
        return (documents @ query).topk(k).indices

    def worst(query, documents, k):
        return F.cosine_similarity(documents, query[None], dim=-1).argsort()[:k]

    def columns(query, documents, k):
        return ((documents / documents.norm(dim=0)) @ (query / query.norm())).topk(k).indices

    def euclid(query, documents, k):
        return (documents - query).norm(dim=-1).argsort()[:k]

    assert COSINE.check(reference.cosine_top_k).passed and COSINE.check(with_library).passed
    assert "plain dot product" in COSINE.check(dot).headline
    assert "least" in COSINE.check(worst).headline
    assert "dim=-1" in COSINE.check(columns).headline
    assert "Euclidean" in COSINE.check(euclid).headline
