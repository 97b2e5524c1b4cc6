"""Diagnosing a wrong answer: which known mistake (a :class:`Diagnosis`) explains it.

Taught in chapter 0 (Start here: how exercises work).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .cases import Case, Diagnosis
from .running import Run, exception_text, run_trusted


def diagnose(
    diagnoses: Sequence[Diagnosis],
    cases: list[Case],
    runs: list[Run],
    failing: list[int],
    expected: list[Any],
    same: Callable[[Any, Any], bool],
) -> str | None:
    """The message of the known mistake that best explains the failing cases, if any.

    A variant explains the failures when the learner reproduces it on more than half of the
    failing cases (so a second, smaller difference — -1e9 instead of -inf — does not hide
    the main mistake); the variant that agrees most wins, ties go to the first listed.
    Then exception patterns, then ``detect`` tests on the first failing case. ``same(a, b)``
    says whether two outputs agree (the exercise's tolerance). Taught in chapter 0.
    """
    best, best_agree = None, len(failing) // 2
    for d in diagnoses:
        if d.variant is not None:
            agree = variant_agreement(d.variant, cases, runs, failing, same)
            if agree > best_agree:
                best, best_agree = d.message, agree
    if best is not None:
        return best
    errors = [r.error for r in runs if r.error is not None]
    for d in diagnoses:
        if d.error is not None and any(re.search(d.error, exception_text(e)) for e in errors):
            return d.message
    i = failing[0]
    if runs[i].error is None:
        for d in diagnoses:
            if d.detect is not None:
                try:
                    if d.detect(runs[i].output, expected[i]):
                        return d.message
                except Exception:
                    continue
    return None


def variant_agreement(
    variant: Callable[..., Any],
    cases: list[Case],
    runs: list[Run],
    failing: list[int],
    same: Callable[[Any, Any], bool],
) -> int:
    """On how many of the failing cases the learner's run behaves exactly like ``variant``.

    (On the other cases the learner matches the reference, and so may the variant: a
    learner who ignores ``dim`` passes the cases that use the default.) Taught in chapter 0.
    """
    agree = 0
    for i, wrong in zip(failing, run_trusted(variant, [cases[i] for i in failing])):
        run = runs[i]
        if run.error is not None or wrong.error is not None:
            agree += (
                run.error is not None
                and wrong.error is not None
                and type(run.error) is type(wrong.error)
            )
        else:
            agree += same(wrong.output, run.output)
    return agree
