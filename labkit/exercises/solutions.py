"""The solutions switch: instructors can hide reference solutions for a workshop.

Taught in chapter 0 (Start here: how exercises work).
"""

from __future__ import annotations

import os

_SOLUTIONS_OVERRIDE: bool | None = None


def set_solutions(enabled: bool | None) -> None:
    """Show (``True``) or hide (``False``) solutions; ``None`` goes back to ``$LABKIT_SOLUTIONS``.

    For workshops: with solutions hidden, ``solution()`` only says so, and ``use()`` still
    returns a working reference function (so later cells run) without showing its code.
    Taught in chapter 0.
    """
    global _SOLUTIONS_OVERRIDE
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"set_solutions() takes True, False or None, got {enabled!r}")
    _SOLUTIONS_OVERRIDE = enabled


def solutions_enabled() -> bool:
    """True unless hidden by :func:`set_solutions` or ``LABKIT_SOLUTIONS=off``.

    Taught in chapter 0.
    """
    if _SOLUTIONS_OVERRIDE is not None:
        return _SOLUTIONS_OVERRIDE
    value = os.environ.get("LABKIT_SOLUTIONS", "on").strip().lower()
    return value not in ("off", "0", "false", "no", "hide", "hidden")
