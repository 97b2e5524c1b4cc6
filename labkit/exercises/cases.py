"""Cases (one call of the learner's function), diagnoses (known mistakes and their messages),
:func:`variant` / :func:`mistakes`, which turn one wrong implementation with a ``mistake``
switch into known mistakes, and :func:`seeded` for deterministic cases.

Taught in chapter 0 (Start here: how exercises work).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


def seeded(seed: int) -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed``: cases must be the same on every check.

    Taught in chapter 0.
    """
    return torch.Generator().manual_seed(seed)


@dataclass
class Case:
    """One call of the learner's function: positional ``args``, keyword ``kwargs``, a label.

    ``note`` is shown when the learner's function fails this case (e.g. "exp overflows for
    large logits: subtract the max first"). Taught in chapter 0.
    """

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    note: str = ""


@dataclass
class Diagnosis:
    """A known mistake and the message that names it.

    Exactly one way to recognise it: ``variant`` (a wrong implementation; the learner's
    results match it on every case), ``error`` (a regular expression matched against the
    learner's ``"ExceptionType: message"``), or ``detect(got, expected) -> bool`` (a test on
    the first failing case). Taught in chapter 0.
    """

    message: str
    variant: Callable[..., Any] | None = None
    error: str | None = None
    detect: Callable[[Any, Any], bool] | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.variant, self.error, self.detect)]
        if sum(given) != 1:
            raise ValueError("a Diagnosis needs exactly one of variant=, error= or detect=")


def variant(
    reference: Callable[..., Any], wrong: Callable[..., Any], **options: Any
) -> Callable[..., Any]:
    """A known mistake as a function that the checker can call exactly like ``reference``.

    The call's arguments are bound to ``reference``'s signature, its defaults filled in, and
    passed positionally to ``wrong`` together with the keyword ``options`` that select the
    mistake: ``variant(param_count, _pc, mistake="no_positions")``. So a family of mistakes
    is one function, and no mistake repeats the reference's signature. Taught in chapter 0.
    """
    signature = inspect.signature(reference)

    def mistake(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return wrong(*bound.args, **bound.kwargs, **options)

    switches = ", ".join(f"{name}={value!r}" for name, value in options.items())
    mistake.__name__ = mistake.__qualname__ = f"{wrong.__name__}({switches})"
    return mistake


def mistakes(
    reference: Callable[..., Any], wrong: Callable[..., Any], messages: dict[str, str]
) -> list[Diagnosis]:
    """One :class:`Diagnosis` per known mistake of a family, from a table name → message.

    ``wrong(..., mistake=name)`` is the reference with the mistake ``name`` made (see
    :func:`variant`); the table lists the family's mistakes, most specific first. Taught in
    chapter 0.
    """
    return [
        Diagnosis(message, variant=variant(reference, wrong, mistake=name))
        for name, message in messages.items()
    ]
