"""Chapter 5 exercises: the reference passes, known-wrong answers are named; other answers pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labkit import exercises
from labkit.chapters.finetuning import encode_labelled, pretraining_corpus
from labkit.data import generate_labelled
from labkit.evaluate import accuracy
from labkit.exercises import finetuning as reference
from labkit.models.lora import LoRALinear
from labkit.tokenizers import train_bert_tokenizer


def test_chapter_5_exercises_are_registered_in_chapter_5() -> None:
    ids = {r.id for r in exercises.catalog(chapter=5)}
    assert ids == {
        "finetuning.align_labels",
        "finetuning.masked_accuracy",
        "finetuning.macro_f1",
        "finetuning.lora_forward",
    }
    assert all(exercises.get(i).chapter == 5 for i in ids)
    assert "chapter 5: Fine-tuning" in repr(exercises.get("finetuning.lora_forward"))


# ----------------------------------------------------------------------------- align_labels

ALIGN = exercises.get("finetuning.align_labels")


def test_align_labels_reference_matches_encode_labelled() -> None:
    tok = train_bert_tokenizer(pretraining_corpus(n_paragraphs=20, story_chars=500, n_ner=200))
    for e in generate_labelled("en", 10, seed=4, task="ner"):
        enc = tok(e["tokens"], is_split_into_words=True, padding="max_length", max_length=18)
        expected = encode_labelled(tok, [e], max_length=18)[2][0]
        assert torch.equal(reference.align_labels(enc.word_ids(), e["labels"]), expected)


def test_align_labels_reference_and_alternative_pass() -> None:
    def with_set(word_ids, word_labels):
        seen, out = set(), []
        for w in word_ids:
            out.append(-100 if w is None or w in seen else word_labels[w])
            if w is not None:
                seen.add(w)
        return torch.tensor(out)

    assert ALIGN.check(reference.align_labels).passed
    assert ALIGN.check(with_set).passed


def test_align_labels_known_mistakes_are_named() -> None:
    def every_piece(word_ids, word_labels):
        return torch.tensor([-100 if w is None else word_labels[w] for w in word_ids])

    def specials_zero(word_ids, word_labels):
        out, prev = [], None
        for w in word_ids:
            out.append(0 if w is None else (-100 if w == prev else word_labels[w]))
            prev = w
        return torch.tensor(out)

    def by_position(word_ids, word_labels):
        return torch.tensor(
            [
                -100 if w is None or i >= len(word_labels) else word_labels[i]
                for i, w in enumerate(word_ids)
            ]
        )

    def by_position_unguarded(word_ids, word_labels):
        return torch.tensor([-100 if w is None else word_labels[i] for i, w in enumerate(word_ids)])

    def as_list(word_ids, word_labels):
        return reference.align_labels(word_ids, word_labels).tolist()

    def stub(word_ids, word_labels): ...

    assert "first* piece" in ALIGN.check(every_piece).headline
    assert "must get -100, not 0" in ALIGN.check(specials_zero).headline
    assert "not the token's position" in ALIGN.check(by_position).headline
    assert "not the token's position" in ALIGN.check(by_position_unguarded).headline
    wrong_type = ALIGN.check(as_list)
    assert not wrong_type.passed and "torch.Tensor" in wrong_type.message
    assert ALIGN.check(stub).status == "not_attempted"


# ----------------------------------------------------------------------------- masked_accuracy

ACC = exercises.get("finetuning.masked_accuracy")


def test_masked_accuracy_reference_agrees_with_finetune_accuracy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 7, 4)
    labels = torch.randint(0, 4, (5, 7))
    labels[:, 0] = -100
    labels[2:, 5:] = -100

    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, idx, attention_mask=None):
            return logits

    ids = torch.ones(5, 7, dtype=torch.long)
    assert abs(reference.masked_accuracy(logits, labels) - accuracy(Fixed(), ids, labels)) < 1e-7


def test_masked_accuracy_passes_and_mistakes_are_named() -> None:
    def with_sum(logits, labels):
        keep = labels != -100
        return float(((logits.argmax(-1) == labels) & keep).sum() / keep.sum())

    def counts_ignored(logits, labels):
        return (logits.argmax(-1) == labels).float().mean().item()

    def ignored_correct(logits, labels):
        return ((logits.argmax(-1) == labels) | (labels == -100)).float().mean().item()

    def wrong_dim(logits, labels):
        keep = labels != -100
        return (logits.argmax(0)[keep] == labels[keep]).float().mean().item()

    assert ACC.check(reference.masked_accuracy).passed
    assert ACC.check(with_sum).passed
    assert "must not be counted" in ACC.check(counts_ignored).headline
    assert "inflates" in ACC.check(ignored_correct).headline
    result = ACC.check(wrong_dim)
    assert not result.passed and (
        "last* dimension" in result.headline or "raised" in result.message
    )


# ----------------------------------------------------------------------------- macro_f1

F1 = exercises.get("finetuning.macro_f1")


def test_macro_f1_reference_agrees_with_the_confusion_matrix() -> None:
    from labkit.evaluate import confusion_matrix

    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (200,), generator=g)
    predicted = torch.where(
        torch.rand(200, generator=g) < 0.7, labels, torch.randint(0, 4, (200,), generator=g)
    )
    counts = confusion_matrix(predicted, labels, 4).double()
    per_class = 2 * counts.diag() / (counts.sum(0) + counts.sum(1))
    assert abs(reference.macro_f1(predicted, labels, 4) - float(per_class.mean())) < 1e-9
    assert reference.macro_f1(torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 1]), 2) == (
        2 * 2 / (2 * 2 + 2) / 2
    )


def test_macro_f1_passes_and_mistakes_are_named() -> None:
    def from_precision_recall(predicted, labels, num_labels):
        total = 0.0
        for c in range(num_labels):
            tp = ((predicted == c) & (labels == c)).sum().item()
            p = tp / max((predicted == c).sum().item(), 1)
            r = tp / max((labels == c).sum().item(), 1)
            total += 2 * p * r / (p + r) if p + r else 0.0
        return total / num_labels

    def micro(predicted, labels, num_labels):
        return (predicted == labels).float().mean().item()

    def weighted(predicted, labels, num_labels):
        return reference._f1_weighted(predicted, labels, num_labels)

    def f1_of_means(predicted, labels, num_labels):
        return reference._f1_of_means(predicted, labels, num_labels)

    def arithmetic(predicted, labels, num_labels):
        return reference._f1_arithmetic(predicted, labels, num_labels)

    def skips_unpredicted(predicted, labels, num_labels):
        scores = []
        for c in predicted.unique().tolist():  # only the classes that were predicted
            tp = ((predicted == c) & (labels == c)).sum().item()
            wrong = (predicted != labels) & ((predicted == c) | (labels == c))
            scores.append(2 * tp / (2 * tp + wrong.sum().item()))
        return sum(scores) / len(scores)

    assert F1.check(reference.macro_f1).passed
    assert F1.check(from_precision_recall).passed
    assert "That is the accuracy" in F1.check(micro).headline
    assert "weighted F1" in F1.check(weighted).headline
    assert "averaged precision" in F1.check(f1_of_means).headline
    assert "*harmonic* mean" in F1.check(arithmetic).headline
    assert "never predicts" in F1.check(skips_unpredicted).headline


# ----------------------------------------------------------------------------- lora_forward

LORA = exercises.get("finetuning.lora_forward")


def test_lora_forward_reference_equals_lora_linear() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(10, 6), r=3, alpha=6)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 10)
    got = reference.lora_forward(
        x, layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B, layer.alpha
    )
    assert torch.allclose(got, layer(x), atol=1e-5)


def test_lora_forward_passes_and_mistakes_are_named() -> None:
    def with_linear(x, W, b, A, B, alpha):
        return F.linear(x, W, b) + alpha / A.shape[0] * F.linear(F.linear(x, A), B)

    def merged_first(x, W, b, A, B, alpha):
        return x @ (W + alpha / A.shape[0] * B @ A).T + b

    def no_scaling(x, W, b, A, B, alpha):
        return x @ W.T + b + x @ A.T @ B.T

    def alpha_only(x, W, b, A, B, alpha):
        return x @ W.T + b + alpha * (x @ A.T @ B.T)

    def update_only(x, W, b, A, B, alpha):
        return alpha / A.shape[0] * (x @ A.T @ B.T)

    def no_bias(x, W, b, A, B, alpha):
        return x @ W.T + alpha / A.shape[0] * (x @ A.T @ B.T)

    assert LORA.check(reference.lora_forward).passed
    assert LORA.check(with_linear).passed
    assert LORA.check(merged_first).passed
    assert "left the scaling out" in LORA.check(no_scaling).headline
    assert "divide by the rank" in LORA.check(alpha_only).headline
    assert "*adds*" in LORA.check(update_only).headline
    assert "bias" in LORA.check(no_bias).headline
