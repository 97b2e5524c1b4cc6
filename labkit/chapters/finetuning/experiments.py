"""Chapter 5's experiments: fine-tuning, the transfer curve, and the multi-seed studies.

Taught in chapter 5. :func:`fine_tune` is the recipe every classifier of the chapter uses;
:func:`transfer_curve` compares a pretrained and a random encoder; :func:`freezing_study`,
:func:`multitask_study` and :func:`augmentation_study` run one seed of the chapter's other
experiments, so that ``course/scripts/ch05_*.py`` can repeat them over several seeds
(:func:`spread`, :func:`save_results`, :func:`load_results`) and the notebook can check its
own live seed against the stored spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerFast

from labkit import studies
from labkit._util import check_positive_int
from labkit.data import label_names
from labkit.evaluate import accuracy
from labkit.models import TinyBERT, TinyBertForSequenceClassification
from labkit.models.lora import freeze
from labkit.models.multitask import MultiTaskBert
from labkit.train import ClassificationTask, MultiTaskTask, TrainConfig, TrainResult, train

from .data import (
    SEQUENCE_TASKS,
    augmented_examples,
    encode_labelled,
    held_out_test,
    training_examples,
)

__all__ = [
    "fine_tune",
    "MeanPoolClassifier",
    "TransferPoint",
    "transfer_curve",
    "FREEZING_SETTINGS",
    "freezing_study",
    "multitask_study",
    "AUGMENTATION_RECIPES",
    "augmentation_study",
    "spread",
    "save_results",
    "load_results",
]

#: :func:`fine_tune`'s training recipe (TrainConfig fields); a keyword argument overrides it.
_FINE_TUNE_RECIPE = {
    "batch_size": 16,
    "lr": 2e-3,
    "seed": 0,
    "eval_batches": 1,
    "weight_decay": 0.01,
}


def fine_tune(
    model: nn.Module, input_ids: Tensor, labels: Tensor, *, steps: int = 150, **train_options: Any
) -> TrainResult:
    """Fine-tune a classifier (sequence or token labels) with :func:`labkit.train.train`.

    ``input_ids`` ``(N, T)`` padded ids; ``labels`` ``(N,)`` or ``(N, T)`` (-100 = ignore).
    The recipe: ``steps`` optimizer steps of ``batch_size=16`` random rows, ``lr=2e-3``,
    ``seed=0``, weight decay 0.01; change any of it, or any other
    :class:`labkit.train.TrainConfig` field, by keyword (``lr=1e-2``); ``train``'s own keywords
    (``callbacks``...) pass through too. Only parameters with ``requires_grad=True`` are trained
    (see :func:`labkit.models.lora.freeze`). A few examples are simply seen many times. The
    model is left in eval mode. Taught in chapter 5.
    """
    pad = getattr(getattr(model, "config", None), "pad_token_id", 0)
    task = ClassificationTask(input_ids, labels, pad_token_id=0 if pad is None else pad)
    steps = check_positive_int(steps, "steps")
    result = train(model, task, TrainConfig.quiet(steps, **_FINE_TUNE_RECIPE), **train_options)
    model.eval()
    return result


class MeanPoolClassifier(TinyBertForSequenceClassification):
    """A sequence classifier that reads the *mean* of the last hidden states over the real
    tokens, not the ``[CLS]`` vector, through the linear ``classifier`` (the pooler is unused).

    The control of chapter 5's freezing experiment: masked-LM pretraining never trains the
    ``[CLS]`` output (it is never a masked target), so a frozen encoder's ``[CLS]`` vector may
    be poor even where the words' vectors carry the label. Taught in chapter 5.
    """

    model_type = "tiny_bert_mean_pool_cls"

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Any:
        """Logits ``(B, num_labels)`` from the masked mean of the hidden states (and the loss
        where ``targets`` are given)."""
        if return_attention:
            raise ValueError("MeanPoolClassifier does not return attention maps")
        h = self.bert(idx, attention_mask, token_type_ids)
        if attention_mask is None:
            attention_mask = idx != (self.config.pad_token_id or 0)
        keep = attention_mask
        keep = keep.to(h.dtype).unsqueeze(-1)
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return self._output(self.classifier(self.drop(pooled)), targets, None, False)


@dataclass
class TransferPoint:
    """One point of :func:`transfer_curve`: test accuracy after fine-tuning on ``n_labels``
    examples, from the pretrained encoder and from random weights. Taught in chapter 5."""

    n_labels: int
    seed: int
    pretrained: float
    scratch: float


def _check_length(pretrained: nn.Module, max_length: int) -> None:
    if max_length > pretrained.config.block_size:
        raise ValueError(
            f"max_length={max_length} is longer than the model's block_size "
            f"{pretrained.config.block_size}"
        )


def transfer_curve(
    pretrained: TinyBERT,
    tok: PreTrainedTokenizerFast,
    task: str = "topic",
    sizes: Sequence[int] = (8, 16, 32, 64, 128),
    seeds: Sequence[int] = (0, 1),
    *,
    steps: int = 150,
    lr: float = 2e-3,
    batch_size: int = 16,
    test_size: int = 1000,
    max_length: int = 16,
    callback: Callable[[TransferPoint], None] | None = None,
) -> list[TransferPoint]:
    """Transfer learning, measured: for each number of labelled examples and seed, fine-tune
    (a) a classifier whose encoder starts from ``pretrained`` and (b) the same architecture
    from random weights, with the same data, batches, steps and learning rate; report test
    accuracy.

    The training sets for a seed are ``training_examples(task, n, seed=1000 + seed)``, nested
    (the first 8 examples are also in the 16 ...). The test set is
    ``held_out_test(task, test_size)``: test sentences only, none of them in any training set
    or in the pretraining text. ``callback`` is called after each point. Taught in chapter 5.
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {task!r}")
    if not sizes or not seeds:
        raise ValueError("give at least one size and one seed")
    _check_length(pretrained, max_length)
    num_labels, classifier = len(label_names(task)), TinyBertForSequenceClassification
    x_test, m_test, y_test = encode_labelled(tok, held_out_test(task, test_size), max_length)
    points = []
    for seed in seeds:
        pool = training_examples(task, max(sizes), seed=1_000 + seed)
        for n in sizes:
            x, _, y = encode_labelled(tok, pool[:n], max_length)
            scores = []
            for start in ("pretrained", "scratch"):
                torch.manual_seed(seed)
                if start == "pretrained":
                    model = classifier.from_pretrained(pretrained, num_labels=num_labels)
                else:
                    model = classifier(pretrained.config, num_labels=num_labels)
                fine_tune(model, x, y, steps=steps, lr=lr, batch_size=batch_size, seed=seed)
                scores.append(accuracy(model, x_test, y_test, m_test))
            point = TransferPoint(n, seed, scores[0], scores[1])
            points.append(point)
            if callback is not None:
                callback(point)
    return points


# ------------------------------------------------------------------- one seed of each study

#: The freezing experiment's settings: (task, classifier, trainable prefixes).
FREEZING_SETTINGS: dict[str, tuple[str, str, list[str]]] = {
    "head only (pooler + classifier)": ("sentiment", "cls", ["pooler", "classifier"]),
    "top block + head": ("sentiment", "cls", ["pooler", "classifier", "bert.blocks.1"]),
    "everything": ("sentiment", "cls", ["pooler", "classifier", "bert"]),
    "control: head only, mean of the words": ("sentiment", "mean", ["classifier"]),
    "control: head only, on topic": ("topic", "cls", ["pooler", "classifier"]),
}


def _test_tensors(tok: PreTrainedTokenizerFast, task: str, n: int = 1000) -> tuple[Tensor, ...]:
    return encode_labelled(tok, held_out_test(task, n), max_length=16)


def freezing_study(
    bert: TinyBERT,
    tok: PreTrainedTokenizerFast,
    seed: int = 0,
    *,
    n_labels: int = 256,
    steps: int = 150,
    settings: Sequence[str] | None = None,
) -> dict[str, float]:
    """Test accuracy of each :data:`FREEZING_SETTINGS` entry (all, or those named) after
    fine-tuning on ``training_examples(task, n_labels, seed=1000 + seed)``. Taught in chapter 5.
    """
    out = {}
    for name in settings or FREEZING_SETTINGS:
        task, kind, trainable = FREEZING_SETTINGS[name]
        x, _, y = encode_labelled(tok, training_examples(task, n_labels, 1_000 + seed), 16)
        cls = MeanPoolClassifier if kind == "mean" else TinyBertForSequenceClassification
        torch.manual_seed(seed)
        clf = freeze(cls.from_pretrained(bert, num_labels=len(label_names(task))), trainable)
        fine_tune(clf, x, y, steps=steps, seed=seed)
        out[name] = accuracy(clf, *_xy(_test_tensors(tok, task)))
    return out


def _xy(tensors: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    x, m, y = tensors
    return x, y, m


def multitask_study(
    bert: TinyBERT,
    tok: PreTrainedTokenizerFast,
    seed: int = 0,
    *,
    steps: int = 300,
    n_labels: int = 32,
    n_helper: int = 256,
) -> dict[str, float]:
    """Sentiment test accuracy with ``n_labels`` sentiment sentences, fine-tuned alone and
    with topic (``n_helper`` sentences) as a second task on a shared encoder, same steps.
    Taught in chapter 5."""
    x, _, y = encode_labelled(tok, training_examples("sentiment", n_labels, 1_000 + seed), 16)
    tx, _, ty = encode_labelled(tok, training_examples("topic", n_helper, 2_000), 16)
    xs, ms, ys = _test_tensors(tok, "sentiment")
    torch.manual_seed(seed)
    single = TinyBertForSequenceClassification.from_pretrained(bert, num_labels=2)
    fine_tune(single, x, y, steps=steps, seed=seed)
    torch.manual_seed(seed)
    multi = MultiTaskBert.from_pretrained(bert, {"sentiment": 2, "topic": 4})
    train(
        multi,
        MultiTaskTask([(x, y), (tx, ty)]),
        max_steps=steps,
        batch_size=32,
        lr=2e-3,
        warmup_steps=steps // 10,
        weight_decay=0.01,
        eval_every=0,
        eval_batches=1,
        progress=False,
        seed=seed,
    )
    return {
        "alone": accuracy(single, xs, ys, ms),
        "with topic": accuracy(multi.head("sentiment"), xs, ys, ms),
    }


#: The augmentation experiment's recipes (keywords of :func:`labkit.data.augment.augment`).
AUGMENTATION_RECIPES: dict[str, dict[str, Any]] = {
    "no augmentation": {},
    "synonyms": {"p_synonym": 0.7},
    "drop + swap": {"p_drop": 0.15, "n_swaps": 1},
}


def augmentation_study(
    bert: TinyBERT,
    tok: PreTrainedTokenizerFast,
    seed: int = 0,
    *,
    n_labels: int = 32,
    copies: int = 7,
    steps: int = 150,
) -> dict[str, float]:
    """Sentiment test accuracy after fine-tuning on ``n_labels`` sentences plus ``copies``
    augmented copies of each, for each :data:`AUGMENTATION_RECIPES` entry. Taught in
    chapter 5."""
    xs, ms, ys = _test_tensors(tok, "sentiment")
    base = training_examples("sentiment", n_labels, 1_000 + seed)
    out = {}
    for name, recipe in AUGMENTATION_RECIPES.items():
        data = augmented_examples(base, copies if recipe else 0, seed=seed, **recipe)
        xa, _, ya = encode_labelled(tok, data, 16)
        torch.manual_seed(seed)
        clf = TinyBertForSequenceClassification.from_pretrained(bert, num_labels=2)
        fine_tune(clf, xa, ya, steps=steps, seed=seed)
        out[name] = accuracy(clf, xs, ys, ms)
    return out


# ---------------------------------------------------------------- many seeds: spread and files


def spread(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "mean", "sd", "min", "max"}`` of one number measured over several seeds (the
    sample standard deviation; 0 for one value): :func:`labkit.studies.seed_spread`. Taught in
    chapter 5."""
    return studies.seed_spread(values)


def save_results(name: str, rows: Sequence[dict[str, Any]], **meta: Any) -> Path:
    """Store ``{"meta": meta, "rows": rows}`` (one row per seed and setting) as the study
    ``name`` with :func:`labkit.studies.save_study` (inside labkit, so the notebook finds it on
    Colab too). Taught in chapter 5."""
    return studies.save_study(name, {"meta": meta, "rows": list(rows)})


def load_results(name: str) -> dict[str, Any]:
    """Read the study ``name`` written by :func:`save_results`; a missing one names the script
    that writes it (:func:`labkit.studies.load_study`). Taught in chapter 5."""
    return studies.load_study(name)
