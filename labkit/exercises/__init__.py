"""Exercises that check themselves: try, fail, get a hint, carry on.

Taught in chapter 0 (Start here), used at the end of every chapter::

    from labkit import exercises
    ex = exercises.get("attention.softmax")
    ex.starter()          # the function header to fill in
    ex.check(softmax)     # not attempted / incorrect (with the reason) / correct
    ex.hint()             # a nudge first, the formula last
    ex.solution()         # the reference code (unless your instructor hid solutions)
    softmax = ex.use(softmax)   # yours if it passes, else the reference: later cells keep working
    exercises.catalog()   # every exercise: id, chapter, title, signature
    exercises.progress()  # which ones you have passed (also ``labkit.progress()``)

The checker calls your function with required arguments positionally and optional ones by
keyword (``softmax(x, dim=0)``), on many cases, with a time limit; see
:mod:`labkit.exercises.running`. Old ids still work (:mod:`labkit.exercises.aliases`).
Solutions can be hidden with ``LABKIT_SOLUTIONS=off`` or
:func:`set_solutions`.
"""

from __future__ import annotations

from .aliases import ALIASES, canonical_id
from .cases import Case, Diagnosis, mistakes, seeded, variant
from .core import (
    CHAPTER_MODULES,
    UnknownExerciseError,
    all_exercises,
    catalog,
    get,
    register,
)
from .display import CheckResult, ExerciseInfo, ProgressReport, ProgressRow
from .exercise import DEFAULT_TIME_LIMIT, Exercise
from .progress import load_progress, progress_path, reset_progress
from .solutions import set_solutions, solutions_enabled

__all__ = [
    "ALIASES",
    "CHAPTER_MODULES",
    "DEFAULT_TIME_LIMIT",
    "Case",
    "CheckResult",
    "Diagnosis",
    "Exercise",
    "ExerciseInfo",
    "ProgressReport",
    "ProgressRow",
    "UnknownExerciseError",
    "all_exercises",
    "canonical_id",
    "catalog",
    "get",
    "mistakes",
    "progress",
    "progress_path",
    "register",
    "reset_progress",
    "seeded",
    "set_solutions",
    "solutions_enabled",
    "variant",
]


def progress() -> ProgressReport:
    """Show which exercises you have passed (stored in ``labkit.env.home_dir()/progress.json``).

    Returns a report that displays as a table in a notebook; ``print(progress())`` in a
    script. Also available as ``labkit.progress()``. Taught in chapter 0.
    """
    stored = load_progress()
    rows = []
    for info in catalog():
        entry = stored.get(info.id, {})
        rows.append(
            ProgressRow(
                info.id, info.title, bool(entry.get("passed")), int(entry.get("attempts", 0))
            )
        )
    return ProgressReport(rows)
