"""Fine-tuning and transfer learning on the generated corpus: what only chapter 5 needs.

Taught in chapter 5 (``course/05_finetuning.ipynb``; exercises in
:mod:`labkit.exercises.finetuning`; multi-seed studies in ``course/scripts/ch05_*.py``), in
the notebook's order:

* :mod:`.data`: the held-out rule (:func:`is_test_sentence`: a fixed ~20 % of the distinct
  sentences are test sentences, never used for training or pretraining),
  :func:`pretraining_corpus` (unlabelled, *label-coherent* paragraphs: no label is shown, but
  the label structure is in the text), :func:`training_examples`, :func:`held_out_test`,
  :func:`encode_labelled`, :func:`find_in_text` (the leak check);
* :mod:`.pretraining`: :func:`pretrain` (``"bert"``: masked LM on whole ``[CLS] ... [SEP]``
  rows, :class:`SequenceMLMTask`; ``"gpt"``: the causal LM that LoRA adapts; ``cache=True``
  keeps the result);
* :mod:`.experiments`: :func:`fine_tune`, :func:`transfer_curve`, the one-seed studies
  (:func:`freezing_study` with its mean-pool control :class:`MeanPoolClassifier`,
  :func:`multitask_study`, :func:`augmentation_study`) and :func:`spread`,
  :func:`save_results`, :func:`load_results`; :class:`MultiTaskTask` feeds
  :class:`~labkit.models.multitask.MultiTaskBert`;
* :mod:`.report`: :func:`summarise`, :func:`spread_table`, :func:`seed_table`,
  :func:`outside_spread` (the live seed against the stored ones), :func:`transfer_figure`.

Elsewhere: the tokenizer is :func:`labkit.tokenizers.train_bert_tokenizer`, freezing and LoRA
are :mod:`labkit.models.lora`, augmentation :mod:`labkit.data.augment`, the metrics
:mod:`labkit.evaluate`. Deterministic for a seed on the CPU (with a fixed number of threads).
"""

from __future__ import annotations

from labkit.train import MultiTaskTask

from .data import (
    SEQUENCE_TASKS,
    TEST_SHARE,
    augmented_examples,
    encode_labelled,
    find_in_text,
    held_out_test,
    is_test_sentence,
    pretraining_corpus,
    text_of,
    training_examples,
    unlabelled_paragraphs,
)
from .experiments import (
    AUGMENTATION_RECIPES,
    FREEZING_SETTINGS,
    MeanPoolClassifier,
    TransferPoint,
    augmentation_study,
    fine_tune,
    freezing_study,
    load_results,
    multitask_study,
    save_results,
    spread,
    transfer_curve,
)
from .pretraining import SequenceMLMTask, pretrain
from .report import outside_spread, seed_table, spread_table, summarise, transfer_figure

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
    "SequenceMLMTask",
    "pretrain",
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
    "summarise",
    "spread_table",
    "seed_table",
    "outside_spread",
    "transfer_figure",
    "MultiTaskTask",
]
