"""What the exercise functions return: small objects that look good in a notebook and in a terminal.

Taught in chapter 0 (Start here: how exercises work). Every object has a rich
representation for Jupyter/VS Code/Colab (``_repr_html_`` or ``_repr_markdown_``) and a
plain-text one (``__repr__``/``__str__``), so ``print(result)`` works in a script too.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import NamedTuple

NOT_ATTEMPTED = "not_attempted"
INCORRECT = "incorrect"
CORRECT = "correct"
STATUSES = (NOT_ATTEMPTED, INCORRECT, CORRECT)

# status -> (symbol, label, border colour, background colour)
_LOOK = {
    CORRECT: ("✓", "Correct", "#2e7d32", "#e8f5e9"),
    INCORRECT: ("✗", "Incorrect", "#c62828", "#ffebee"),
    NOT_ATTEMPTED: ("…", "Not attempted yet", "#1565c0", "#e3f2fd"),
}

_BOX = (
    "border-left:5px solid {border};background:{bg};color:#1b1b1b;padding:6px 10px;"
    "margin:4px 0;border-radius:3px;font-family:system-ui,-apple-system,sans-serif"
)
_PRE = "white-space:pre-wrap;margin:6px 0 0;font-size:90%;background:none;color:#1b1b1b"


def _inline_code(text: str) -> str:
    """Turn `code` spans of (already escaped) text into <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


@dataclass
class CheckResult:
    """The outcome of ``Exercise.check(fn)``.

    ``status`` is ``"not_attempted"``, ``"incorrect"`` or ``"correct"``; ``message`` is the
    whole explanation in plain text (``headline`` is its first line, ``details`` the rest).
    ``bool(result)`` is ``result.passed``. In a notebook it shows as a coloured box.
    Taught in chapter 0.
    """

    exercise_id: str
    status: str
    headline: str
    details: str = ""

    @property
    def passed(self) -> bool:
        """True when the learner's function passed every case."""
        return self.status == CORRECT

    @property
    def message(self) -> str:
        """The full plain-text explanation: headline, then details."""
        return f"{self.headline}\n{self.details}".strip()

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        symbol, label, _, _ = _LOOK[self.status]
        text = f"{symbol} {label} — {self.exercise_id}\n{self.message}"
        return text.rstrip()

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        symbol, label, border, bg = _LOOK[self.status]
        parts = [
            f'<div style="{_BOX.format(border=border, bg=bg)}">',
            f"<b>{symbol} {label}</b> · <code>{html.escape(self.exercise_id)}</code><br>",
            _inline_code(html.escape(self.headline)),
        ]
        if self.details:
            parts.append(f'<pre style="{_PRE}">{html.escape(self.details)}</pre>')
        parts.append("</div>")
        return "".join(parts)


@dataclass
class Hint:
    """One hint of an exercise (``n`` of ``total``); renders as Markdown. Taught in chapter 0."""

    exercise_id: str
    n: int
    total: int
    text: str
    last_note: str = ""

    def __str__(self) -> str:
        note = f"\n{self.last_note}" if self.last_note else ""
        return f"Hint {self.n}/{self.total} ({self.exercise_id}): {self.text}{note}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        note = f"\n\n*{self.last_note}*" if self.last_note else ""
        return f"**Hint {self.n}/{self.total}** (`{self.exercise_id}`): {self.text}{note}"


@dataclass
class Code:
    """A piece of Python code with a title (a solution or a starter); renders as a code block.

    Taught in chapter 0.
    """

    title: str
    code: str

    def __str__(self) -> str:
        return f"{self.title}\n\n{self.code}".rstrip()

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n```python\n{self.code.rstrip()}\n```"


@dataclass
class Note:
    """A short message box (for example "solutions are hidden"). Taught in chapter 0."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"*{self.text}*"


class ExerciseInfo(NamedTuple):
    """One row of :func:`labkit.exercises.catalog`. Taught in chapter 0."""

    id: str
    chapter: int
    title: str
    signature: str


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    """Align columns with spaces (for terminals)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]], code_cols: tuple[int, ...] = ()) -> str:
    """A plain HTML table; the columns in ``code_cols`` are shown as code."""

    def cell(i: int, text: str) -> str:
        text = html.escape(text)
        return (
            f"<td style='text-align:left'>{f'<code>{text}</code>' if i in code_cols else text}</td>"
        )

    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Catalog(list):
    """The list of exercises (:class:`ExerciseInfo` rows); a table in notebooks.

    Taught in chapter 0.
    """

    _header = ["id", "chapter", "title", "signature"]

    def _rows(self) -> list[list[str]]:
        return [[i.id, str(i.chapter), i.title, i.signature] for i in self]

    def __repr__(self) -> str:
        return f"{len(self)} exercises\n" + _text_table(self._header, self._rows())

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return f"<p>{len(self)} exercises</p>" + _html_table(self._header, self._rows(), (0, 3))


class ProgressRow(NamedTuple):
    """One exercise in :func:`labkit.exercises.progress`. Taught in chapter 0."""

    id: str
    title: str
    passed: bool
    attempts: int


class ProgressReport(list):
    """Which exercises you have passed (:class:`ProgressRow` rows). Taught in chapter 0."""

    @property
    def passed(self) -> list[str]:
        """The ids of the exercises passed so far."""
        return [r.id for r in self if r.passed]

    def _status(self, row: ProgressRow) -> str:
        if row.passed:
            return "✓ passed"
        if row.attempts:
            return f"tried {row.attempts}×"
        return "·"

    def _headline(self) -> str:
        return f"Exercises passed: {len(self.passed)} of {len(self)}"

    def __repr__(self) -> str:
        rows = [[self._status(r), r.id, r.title] for r in self]
        return self._headline() + "\n" + _text_table(["status", "id", "title"], rows)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = [[self._status(r), r.id, r.title] for r in self]
        return f"<p><b>{html.escape(self._headline())}</b></p>" + _html_table(
            ["status", "id", "title"], rows, (1,)
        )
