"""Exercises for chapter 5 (Fine-tuning): word labels to sub-tokens, accuracy that skips
ignored positions, macro-averaged F1, and the LoRA forward pass.

The ids start with ``training.`` (fine-tuning is training, continued); the chapter is 5.
Taught in chapter 5.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cases import Case, Diagnosis, seeded
from .core import register
from .exercise import Exercise

IGNORE = -100


# --------------------------------------------------------------------------- align_labels


def align_labels(word_ids: list, word_labels: list) -> Tensor:
    """One label per token: the word's label on its first sub-token, -100 elsewhere.

    Taught in chapter 5.
    """
    labels = []
    previous = None
    for word in word_ids:
        if word is None:  # [CLS], [SEP], padding
            labels.append(-100)
        elif word != previous:  # the first sub-token of a word
            labels.append(word_labels[word])
        else:  # a later sub-token of the same word
            labels.append(-100)
        previous = word
    return torch.tensor(labels, dtype=torch.long)


def _align_every_piece(word_ids: list, word_labels: list) -> Tensor:
    return torch.tensor(
        [IGNORE if w is None else word_labels[w] for w in word_ids], dtype=torch.long
    )


def _align_specials_zero(word_ids: list, word_labels: list) -> Tensor:
    out = align_labels(word_ids, word_labels)
    return out.masked_fill(torch.tensor([w is None for w in word_ids], dtype=torch.bool), 0)


def _align_last_piece(word_ids: list, word_labels: list) -> Tensor:
    labels = []
    for i, w in enumerate(word_ids):
        nxt = word_ids[i + 1] if i + 1 < len(word_ids) else None
        labels.append(IGNORE if w is None or w == nxt else word_labels[w])
    return torch.tensor(labels, dtype=torch.long)


def _align_by_position(word_ids: list, word_labels: list) -> Tensor:
    return torch.tensor(
        [
            IGNORE if w is None or i >= len(word_labels) else word_labels[i]
            for i, w in enumerate(word_ids)
        ],
        dtype=torch.long,
    )


def _align_cases() -> list[Case]:
    return [
        Case(([None, 0, 1, 2, None], [3, 0, 5]), label="one token per word"),
        Case(([None, 0, 1, 1, 1, 2, None], [3, 0, 5]), label="word 1 split into three sub-tokens"),
        Case(([None, 0, 0, 1, 2, 2, None, None, None], [1, 2, 0]), label="split words and padding"),
        Case(([None, 0, None], [4]), label="a single word"),
        Case(([None, None], []), label="an empty sentence: [CLS] [SEP]"),
        Case(
            ([None, 0, 1, 1, 2, 3, 3, 3, None], [0, 3, 4, 0]), label="label 0 ('O') on split words"
        ),
    ]


register(
    Exercise(
        id="finetuning.align_labels",
        chapter=5,
        title="Word labels to token labels (NER)",
        signature="(word_ids: list[int | None], word_labels: list[int]) -> Tensor",
        task="word_ids gives, for each token, the index of the word it came from (None for "
        "[CLS], [SEP] and "
        "padding), as tokenizer(...).word_ids() does. Return a LongTensor with one label per "
        "token: the word's "
        "label on the first token of each word, and -100 (ignored by the loss) on special tokens "
        "and on the "
        "later pieces of a split word.",
        reference=align_labels,
        cases=_align_cases,
        diagnoses=[
            Diagnosis(
                "Only the *first* piece of a split word gets the word's label; the later pieces "
                "get -100, "
                "so every word counts once in the loss and the accuracy.",
                variant=_align_every_piece,
            ),
            Diagnosis(
                "Special tokens ([CLS], [SEP], padding: word id None) must get -100, not 0 — 0 "
                "is the "
                "real label 'O', so the model would be trained to call [SEP] 'O'.",
                variant=_align_specials_zero,
            ),
            Diagnosis(
                "Label the *first* piece of each word, not the last one: compare each word id "
                "with the "
                "previous token's word id.",
                variant=_align_last_piece,
            ),
            Diagnosis(
                "Use the word id to look up the label (word_labels[word_ids[i]]), not the "
                "token's position i: "
                "[CLS] shifts every position by one, and split words shift them further.",
                variant=_align_by_position,
            ),
            Diagnosis(
                "IndexError: use the word id to look up the label (word_labels[word_ids[i]]), "
                "not the token's "
                "position i — there are more tokens than words.",
                error=r"IndexError",
            ),
        ],
        hints=[
            "Walk over word_ids and remember the previous word id: a token starts a new word "
            "when its word id "
            "is not None and differs from the previous one.",
            "None → -100; a new word w → word_labels[w]; the same word as before → -100. Return "
            "torch.tensor(labels, dtype=torch.long).",
            "`labels, prev = [], None`; `for w in word_ids: labels.append(-100 if w is None or w "
            "== prev else "
            "word_labels[w]); prev = w`",
        ],
    )
)


# --------------------------------------------------------------------------- masked_accuracy


def masked_accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of positions whose argmax class equals the label; labels of -100 are skipped.

    Taught in chapter 5.
    """
    predicted = logits.argmax(dim=-1)
    keep = labels != -100
    return (predicted[keep] == labels[keep]).float().mean().item()


def _acc_counts_ignored(logits: Tensor, labels: Tensor) -> float:
    return (logits.argmax(dim=-1) == labels).float().mean().item()


def _acc_ignored_as_correct(logits: Tensor, labels: Tensor) -> float:
    keep = labels != -100
    right = (logits.argmax(dim=-1) == labels) | ~keep
    return right.float().mean().item()


def _acc_wrong_dim(logits: Tensor, labels: Tensor) -> float:
    predicted = logits.argmax(dim=0)
    keep = labels != -100
    if predicted.shape != labels.shape:
        raise RuntimeError("shape mismatch")
    return (predicted[keep] == labels[keep]).float().mean().item()


def _acc_cases() -> list[Case]:
    g = seeded(5)
    token_labels = torch.randint(0, 7, (4, 9), generator=g)
    token_labels[:, 0] = IGNORE
    token_labels[:2, 6:] = IGNORE
    square = torch.randint(0, 3, (3,), generator=g)
    logits3 = torch.randn(3, 3, generator=g)
    logits3[torch.arange(3), square] += 3.0  # mostly right
    logits3[0] -= 10 * torch.nn.functional.one_hot(square[0], 3)  # one wrong
    tok_logits = torch.randn(4, 9, 7, generator=g)
    tok_logits.scatter_add_(-1, token_labels.clamp(min=0)[..., None], torch.full((4, 9, 1), 1.5))
    return [
        Case(
            (torch.randn(6, 2, generator=g), torch.tensor([0, 1, 1, 0, 1, 0])),
            label="6 sentences, 2 classes",
        ),
        Case((logits3, square), label="3 sentences, 3 classes (a square logits matrix)"),
        Case(
            (tok_logits, token_labels),
            label="token classification: (4, 9, 7) logits, -100 on [CLS] and padding",
        ),
        Case(
            (torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]]), torch.tensor([[-100, 1, -100]])),
            label="only one position counts",
        ),
    ]


register(
    Exercise(
        id="finetuning.masked_accuracy",
        chapter=5,
        title="Accuracy that skips ignored positions",
        signature="(logits: Tensor[..., C], labels: Tensor[...]) -> float",
        task="Predict the class with the largest logit at every position and return, as a float, "
        "the fraction "
        "of positions whose prediction equals the label — counting only positions whose label is "
        "not -100.",
        reference=masked_accuracy,
        cases=_acc_cases,
        atol=1e-6,
        diagnoses=[
            Diagnosis(
                "Positions labelled -100 ([CLS], [SEP], padding, later word pieces) must not be "
                "counted: keep "
                "only labels != -100 before averaging.",
                variant=_acc_counts_ignored,
            ),
            Diagnosis(
                "Leave the -100 positions out of the average altogether; counting them as "
                "correct inflates "
                "the accuracy.",
                variant=_acc_ignored_as_correct,
            ),
            Diagnosis(
                "Take the argmax over the classes, the *last* dimension (dim=-1), not over the "
                "examples.",
                variant=_acc_wrong_dim,
            ),
        ],
        hints=[
            "argmax over the last dimension gives one predicted class per position; compare it "
            "with labels.",
            "Build a boolean mask keep = labels != -100 and average (predicted == labels) over "
            "the kept "
            "positions only.",
            "`keep = labels != -100`; `return (logits.argmax(-1)[keep] == "
            "labels[keep]).float().mean().item()`",
        ],
    )
)


# --------------------------------------------------------------------------- macro_f1


def macro_f1(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    """Macro-averaged F1: the F1 of each class (2·TP / (2·TP + FP + FN)), averaged with equal
    weight over the ``num_labels`` classes; a class never predicted has F1 0.

    Taught in chapter 5.
    """
    scores = []
    for c in range(num_labels):
        tp = int(((predicted == c) & (labels == c)).sum())
        fp = int(((predicted == c) & (labels != c)).sum())
        fn = int(((predicted != c) & (labels == c)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / num_labels


def _f1_micro(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    return float((predicted == labels).float().mean())


def _f1_weighted(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    total = 0.0
    for c in range(num_labels):
        tp = int(((predicted == c) & (labels == c)).sum())
        fp = int(((predicted == c) & (labels != c)).sum())
        fn = int(((predicted != c) & (labels == c)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        total += f1 * int((labels == c).sum()) / len(labels)
    return total


def _f1_of_means(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    precisions, recalls = [], []
    for c in range(num_labels):
        tp = int(((predicted == c) & (labels == c)).sum())
        precisions.append(tp / max(int((predicted == c).sum()), 1))
        recalls.append(tp / max(int((labels == c).sum()), 1))
    p, r = sum(precisions) / num_labels, sum(recalls) / num_labels
    return 2 * p * r / (p + r) if p + r else 0.0


def _f1_arithmetic(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    scores = []
    for c in range(num_labels):
        tp = int(((predicted == c) & (labels == c)).sum())
        p = tp / max(int((predicted == c).sum()), 1)
        r = tp / max(int((labels == c).sum()), 1)
        scores.append((p + r) / 2)
    return sum(scores) / num_labels


def _f1_skips_unpredicted(predicted: Tensor, labels: Tensor, num_labels: int) -> float:
    seen = [c for c in range(num_labels) if bool((predicted == c).any())]
    full = macro_f1(predicted, labels, num_labels) * num_labels
    return full / max(len(seen), 1)


def _f1_cases() -> list[Case]:
    g = seeded(17)
    labels = torch.tensor([0] * 12 + [1] * 5 + [2] * 3)
    noisy = labels.clone()
    flip = torch.rand(len(labels), generator=g) < 0.3
    noisy[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=g)
    four = torch.randint(0, 4, (40,), generator=g)
    guess = torch.where(
        torch.rand(40, generator=g) < 0.6, four, torch.randint(0, 4, (40,), generator=g)
    )
    return [
        Case(
            (torch.tensor([0, 1, 1, 0, 1, 0]), torch.tensor([0, 1, 0, 0, 1, 1]), 2),
            label="2 classes, 6 examples",
        ),
        Case((noisy, labels, 3), label="imbalanced: 12 / 5 / 3 examples, 30 % noise"),
        Case(
            (torch.zeros(10, dtype=torch.long), torch.tensor([0] * 7 + [1] * 3), 2),
            label="a classifier that always says class 0",
        ),
        Case((guess, four, 4), label="4 classes, 40 examples"),
        Case((torch.tensor([2, 2, 0, 1]), torch.tensor([2, 2, 0, 1]), 3), label="all correct"),
    ]


register(
    Exercise(
        id="finetuning.macro_f1",
        chapter=5,
        title="Macro-averaged F1",
        signature="(predicted: Tensor[N], labels: Tensor[N], num_labels: int) -> float",
        task="predicted and labels hold one class id per example. For each class c in "
        "0..num_labels-1 count TP (predicted c, label c), FP (predicted c, label not c) and FN "
        "(label c, predicted not c), compute F1_c = 2·TP / (2·TP + FP + FN) (0 when the class "
        "is never predicted and never true), and return the plain mean of the num_labels "
        "F1_c as a float.",
        reference=macro_f1,
        cases=_f1_cases,
        atol=1e-6,
        diagnoses=[
            Diagnosis(
                "That is the accuracy (micro-averaged F1): macro-F1 computes one F1 per class "
                "and averages them, so a rare class counts as much as a frequent one.",
                variant=_f1_micro,
            ),
            Diagnosis(
                "You weighted each class's F1 by its number of examples (weighted F1): macro-F1 "
                "gives every class the same weight, 1 / num_labels.",
                variant=_f1_weighted,
            ),
            Diagnosis(
                "Average the per-class F1 scores; do not take the F1 of the averaged precision "
                "and averaged recall.",
                variant=_f1_of_means,
            ),
            Diagnosis(
                "F1 is the *harmonic* mean of precision and recall, 2PR / (P + R) = 2TP / (2TP "
                "+ FP + FN), not (P + R) / 2.",
                variant=_f1_arithmetic,
            ),
            Diagnosis(
                "A class the model never predicts has F1 0 and still counts: divide by "
                "num_labels, not by the number of classes that were predicted.",
                variant=_f1_skips_unpredicted,
            ),
        ],
        hints=[
            "Loop over the classes c = 0 .. num_labels - 1; for each, compare (predicted == c) "
            "with (labels == c) to count true positives, false positives and false negatives.",
            "F1_c = 2·TP / (2·TP + FP + FN) — the harmonic mean of precision TP/(TP+FP) and "
            "recall TP/(TP+FN). Macro-F1 = the mean of the F1_c over all classes.",
            "`tp = ((predicted == c) & (labels == c)).sum()`; `fp = ((predicted == c) & (labels "
            "!= c)).sum()`; `fn = ((predicted != c) & (labels == c)).sum()`; average "
            "`2 * tp / (2 * tp + fp + fn)` over c",
        ],
    )
)


# --------------------------------------------------------------------------- lora_forward


def lora_forward(x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float) -> Tensor:
    """A frozen linear layer plus a LoRA update: x Wᵀ + b + (alpha / r) · (x Aᵀ) Bᵀ, r = A.shape[0].

    Taught in chapter 5.
    """
    r = A.shape[0]
    return x @ W.T + b + (alpha / r) * ((x @ A.T) @ B.T)


def _lora_no_scaling(x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float) -> Tensor:
    return x @ W.T + b + (x @ A.T) @ B.T


def _lora_alpha_only(x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float) -> Tensor:
    return x @ W.T + b + alpha * ((x @ A.T) @ B.T)


def _lora_r_over_alpha(
    x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float
) -> Tensor:
    return x @ W.T + b + (A.shape[0] / alpha) * ((x @ A.T) @ B.T)


def _lora_update_only(
    x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float
) -> Tensor:
    return (alpha / A.shape[0]) * ((x @ A.T) @ B.T)


def _lora_no_bias(x: Tensor, W: Tensor, b: Tensor, A: Tensor, B: Tensor, alpha: float) -> Tensor:
    return x @ W.T + (alpha / A.shape[0]) * ((x @ A.T) @ B.T)


def _lora_cases() -> list[Case]:
    g = seeded(11)

    def r(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g)

    return [
        Case(
            (r(5, 8), r(6, 8), r(6), r(2, 8), r(6, 2), 4.0),
            label="5 inputs, 8 → 6, rank 2, alpha 4",
        ),
        Case(
            (r(2, 3, 8), r(8, 8), r(8), r(4, 8), r(8, 4), 8.0),
            label="a (2, 3, 8) batch of sequences, rank 4",
        ),
        Case(
            (r(4, 8), r(6, 8), r(6), r(2, 8), torch.zeros(6, 2), 16.0),
            label="B = 0 (a fresh adapter): exactly the frozen layer",
        ),
        Case((r(3, 10), r(5, 10), r(5), r(1, 10), r(5, 1), 1.0), label="rank 1, alpha 1"),
        Case(
            (
                r(3, 4).double(),
                r(4, 4).double(),
                r(4).double(),
                r(3, 4).double(),
                r(4, 3).double(),
                6.0,
            ),
            label="float64",
        ),
    ]


register(
    Exercise(
        id="finetuning.lora_forward",
        chapter=5,
        title="The LoRA forward pass",
        signature="(x: Tensor[..., in], W: Tensor[out, in], b: Tensor[out], A: Tensor[r, in], B: "
        "Tensor[out, r], "
        "alpha: float) -> Tensor[..., out]",
        task="Return the frozen layer's output x Wᵀ + b plus the low-rank update (alpha / r) · "
        "(x Aᵀ) Bᵀ, where "
        "r = A.shape[0] (W, A and B are stored like nn.Linear weights: (out, in)).",
        reference=lora_forward,
        cases=_lora_cases,
        atol=1e-4,
        diagnoses=[
            Diagnosis(
                "Scale the update by alpha / r — you left the scaling out.",
                variant=_lora_no_scaling,
            ),
            Diagnosis(
                "The scaling is alpha / r, not alpha: divide by the rank r = A.shape[0].",
                variant=_lora_alpha_only,
            ),
            Diagnosis("The scaling is alpha / r, not r / alpha.", variant=_lora_r_over_alpha),
            Diagnosis(
                "Keep the frozen layer's output x Wᵀ + b: LoRA *adds* the low-rank update to it.",
                variant=_lora_update_only,
            ),
            Diagnosis("Don't forget the frozen layer's bias b.", variant=_lora_no_bias),
        ],
        hints=[
            "LoRA leaves W and b alone and adds a small correction that goes through a narrow "
            "r-dimensional "
            "bottleneck: first A (in → r), then B (r → out).",
            "Like nn.Linear, a weight of shape (out, in) is applied as x @ W.T. The update is (x "
            "@ A.T) @ B.T, "
            "scaled by alpha / r with r = A.shape[0].",
            "`return x @ W.T + b + (alpha / A.shape[0]) * ((x @ A.T) @ B.T)`",
        ],
    )
)
