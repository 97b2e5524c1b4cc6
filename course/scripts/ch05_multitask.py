"""Chapter 5, multi-task learning over five seeds: sentiment test accuracy with 32 labelled
sentences, alone and with topic (256 sentences) as a second task, after 150 and 300 steps.

Run from the repository root: ``python course/scripts/ch05_multitask.py``. Stores the study
``ch05_multitask`` (``labkit/study_results/``, through :mod:`labkit.studies`), which the
notebook loads.
"""

from __future__ import annotations

from ch05_common import ft, run

STEPS = (150, 300)


def measure(tok, bert, seed):  # type: ignore[no-untyped-def]
    out = {}
    for steps in STEPS:
        for name, value in ft.multitask_study(bert, tok, seed, steps=steps).items():
            out[f"{name}, {steps} steps"] = value
    return out


if __name__ == "__main__":
    run("ch05_multitask", measure, n_labels=32, n_helper=256, steps=list(STEPS))
