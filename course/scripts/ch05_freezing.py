"""Chapter 5, freezing over five seeds: sentiment test accuracy when only the head, the top
block + head, or everything is trained (256 labels), with two controls for the head-only
result: a head on the *mean* of the frozen word vectors instead of [CLS], and head-only on
topic.

Run from the repository root: ``python course/scripts/ch05_freezing.py``. Stores the study
``ch05_freezing`` (``labkit/study_results/``, through :mod:`labkit.studies`), which the
notebook loads.
"""

from __future__ import annotations

from ch05_common import ft, run


def measure(tok, bert, seed):  # type: ignore[no-untyped-def]
    return ft.freezing_study(bert, tok, seed)


if __name__ == "__main__":
    run("ch05_freezing", measure, n_labels=256, steps=150, settings=list(ft.FREEZING_SETTINGS))
