"""Old exercise ids that still work: the one table of renamed ids.

Taught in chapter 0 (Start here: how exercises work). The rule for ids: an exercise id's
prefix is the name of the module that defines it (``language_models.bigram_probs`` lives in
``labkit/exercises/language_models.py``). Ids that broke the rule were renamed; the old ones
keep working in :func:`labkit.exercises.get`, :func:`labkit.exercises.progress` and in
``progress.json`` files written before the rename, so no learner loses progress.
"""

from __future__ import annotations

ALIASES: dict[str, str] = {
    "concepts.bigram_counts": "language_models.bigram_counts",
    "concepts.bigram_probs": "language_models.bigram_probs",
    "concepts.sequence_logprob": "language_models.sequence_logprob",
    "training.align_labels": "finetuning.align_labels",
    "training.masked_accuracy": "finetuning.masked_accuracy",
    "training.lora_forward": "finetuning.lora_forward",
}
"""Old id → current id."""


def canonical_id(exercise_id: str) -> str:
    """The current id for ``exercise_id`` (itself unless it is an old, renamed id).

    >>> canonical_id("concepts.bigram_probs")
    'language_models.bigram_probs'

    Taught in chapter 0.
    """
    return ALIASES.get(exercise_id, exercise_id)
