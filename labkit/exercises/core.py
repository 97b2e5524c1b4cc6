"""The exercise registry: every exercise by id, the catalog, and the old ids that still work.

Taught in chapter 0 (Start here: how exercises work). Each chapter's exercises live in
``labkit/exercises/<name>.py`` and their ids start with that module's name
(``attention.softmax`` is in ``attention.py``); ids renamed since are kept working by
:data:`labkit.exercises.aliases.ALIASES`.
"""

from __future__ import annotations

import difflib
import importlib
import sys

from .aliases import canonical_id
from .display import Catalog
from .exercise import Exercise

CHAPTER_MODULES = (
    "start_here",
    "language_models",
    "attention",
    "transformer",
    "training",
    "finetuning",
    "applications",
    "challenges",
)
"""The exercise modules, in chapter order; an exercise id's prefix is its module's name."""

_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the catalog (re-registering an id replaces it). Taught in chapter 0."""
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    """Import every chapter module so that their exercises are registered."""
    for name in CHAPTER_MODULES:
        if f"labkit.exercises.{name}" not in sys.modules:
            importlib.import_module(f"labkit.exercises.{name}")


class UnknownExerciseError(KeyError):
    """Raised by :func:`get` for an id that does not exist; the message lists close matches."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown exercise"


def get(exercise_id: str) -> Exercise:
    """Return the exercise with this id, e.g. ``get("attention.softmax")``.

    An old id (see :data:`labkit.exercises.aliases.ALIASES`) returns the renamed exercise.
    Taught in chapter 0.
    """
    _load_all()
    current = canonical_id(exercise_id) if isinstance(exercise_id, str) else exercise_id
    if current in _REGISTRY:
        return _REGISTRY[current]
    ids = sorted(_REGISTRY)
    close = difflib.get_close_matches(str(exercise_id), ids, n=3, cutoff=0.5)
    close += [
        i for i in ids if str(exercise_id) and i.endswith("." + str(exercise_id)) and i not in close
    ]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownExerciseError(
        f"No exercise {exercise_id!r}.{hint} labkit.exercises.catalog() lists all {len(ids)} ids."
    )


def catalog(chapter: int | None = None) -> Catalog:
    """List every exercise (id, chapter, title, signature), optionally for one chapter.

    Taught in chapter 0.
    """
    _load_all()
    rows = sorted((e.info for e in _REGISTRY.values()), key=lambda i: i.chapter)
    if chapter is not None:
        rows = [r for r in rows if r.chapter == chapter]
    return Catalog(rows)


def all_exercises() -> list[Exercise]:
    """Every registered exercise, in catalog order (for tests and tools). Taught in chapter 0."""
    return [get(info.id) for info in catalog()]
