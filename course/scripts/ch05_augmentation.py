"""Chapter 5, data augmentation over five seeds: sentiment test accuracy with 32 labelled
sentences, each with 7 augmented copies (oracle synonyms from the grammar's own word classes,
or random drops and swaps), against no augmentation.

Run from the repository root: ``python course/scripts/ch05_augmentation.py``. Stores the study
``ch05_augmentation`` (``labkit/study_results/``, through :mod:`labkit.studies`), which the
notebook loads.
"""

from __future__ import annotations

from ch05_common import ft, run


def measure(tok, bert, seed):  # type: ignore[no-untyped-def]
    return ft.augmentation_study(bert, tok, seed)


if __name__ == "__main__":
    run(
        "ch05_augmentation",
        measure,
        n_labels=32,
        copies=7,
        steps=150,
        recipes={k: v for k, v in ft.AUGMENTATION_RECIPES.items()},
    )
