"""The ``Exercise`` class: ``check / hint / solution / use / starter`` for one exercise.

Taught in chapter 0 (Start here: how exercises work). Ideas borrowed from Kaggle's learntools
(three states, graded hints, a testing notebook per exercise set), extended for tensors. How a
check runs is described in :mod:`labkit.exercises.running`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from .cases import Case, Diagnosis
from .compare import compare, describe
from .diagnose import diagnose
from .display import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    CheckResult,
    Code,
    ExerciseInfo,
    Hint,
    Note,
)
from .progress import record_attempt
from .running import (
    Run,
    clone,
    exception_text,
    is_stub,
    learner_line,
    run_trusted,
    run_with_time_limit,
    same_input,
)
from .solutions import solutions_enabled

DEFAULT_TIME_LIMIT = 10.0
"""Seconds that all calls of one check may take together."""

CHAPTER_TITLES = {
    0: "Start here",
    1: "Language models: the concepts",
    2: "Attention, the math",
    3: "The Transformer",
    4: "Training",
    5: "Fine-tuning",
    6: "From model to assistant",
    7: "Inference and deployment",
    8: "Applications",
    9: "Challenges",
}


class Exercise:
    """One exercise: a task, a reference solution, cases, known mistakes and graded hints.

    Learners use :meth:`check`, :meth:`hint`, :meth:`solution`, :meth:`use` and
    :meth:`starter`. Authors create one with the arguments below and :func:`register` it:

    - ``reference``: the correct function (shown by :meth:`solution`);
    - ``cases``: a function returning fresh :class:`Case` objects (deterministic);
    - ``diagnoses``: known mistakes (:class:`Diagnosis`), most specific first;
    - ``hints``: graded, a nudge first and the formula last;
    - ``atol``/``rtol``/``dtype``: how results are compared; ``output_names`` labels tuple parts;
    - ``validate(case, got) -> message | None``: replaces the comparison with the reference
      (for random outputs, e.g. masking), and ``post_check(cases, outputs)`` looks across cases.

    Taught in chapter 0.
    """

    def __init__(
        self,
        id: str,
        chapter: int,
        title: str,
        signature: str,
        task: str,
        reference: Callable[..., Any],
        cases: Callable[[], list[Case]],
        hints: Sequence[str],
        diagnoses: Sequence[Diagnosis] = (),
        atol: float = 1e-5,
        rtol: float = 1e-4,
        dtype: str = "kind",
        output_names: tuple[str, ...] | None = None,
        validate: Callable[[Case, Any], str | None] | None = None,
        post_check: Callable[[list[Case], list[Any]], str | None] | None = None,
    ) -> None:
        if not hints:
            raise ValueError(f"exercise {id!r} needs at least one hint")
        self.id = id
        self.chapter = chapter
        self.title = title
        self.signature = signature
        self.task = task
        self._reference = reference
        self._cases = cases
        self.hints = list(hints)
        self.diagnoses = list(diagnoses)
        self.atol, self.rtol, self.dtype = atol, rtol, dtype
        self.output_names = output_names
        self._validate = validate
        self._post_check = post_check
        self._hint_index = 0

    # ----- description

    @property
    def name(self) -> str:
        """The function name the exercise asks for (``"softmax"`` for ``attention.softmax``)."""
        return self._reference.__name__

    @property
    def info(self) -> ExerciseInfo:
        """The catalog row of this exercise."""
        return ExerciseInfo(self.id, self.chapter, self.title, self.signature)

    @property
    def _chapter_text(self) -> str:
        title = CHAPTER_TITLES.get(self.chapter)
        return f"chapter {self.chapter}: {title}" if title else f"chapter {self.chapter}"

    def __repr__(self) -> str:
        return (
            f"Exercise {self.id} ({self._chapter_text}): {self.title}\n"
            f"  {self.name}{self.signature}\n  {self.task}\n"
            f"  ex.check(fn) · ex.hint() · ex.solution() · ex.use(fn) · ex.starter()"
        )

    def _repr_markdown_(self) -> str:
        return (
            f"**{self.title}** · `{self.id}` ({self._chapter_text})\n\n"
            f"`{self.name}{self.signature}`\n\n{self.task}\n\n"
            f"Check with `.check(fn)`; stuck? `.hint()`; then `.solution()`."
        )

    def _reference_source(self) -> str:
        return textwrap.dedent(inspect.getsource(self._reference))

    def starter(self) -> Code:
        """The function header to copy into a cell, with ``...`` as its body.

        Taught in chapter 0.
        """
        tree = ast.parse(self._reference_source())
        fn = tree.body[0]
        assert isinstance(fn, ast.FunctionDef)
        lines = self._reference_source().splitlines()
        header = "\n".join(lines[fn.lineno - 1 : fn.body[0].lineno - 1])
        doc = textwrap.fill(self.task, width=88, break_on_hyphens=False)
        body = textwrap.indent(f'"""{doc}\n"""\n...', "    ")
        imports = (
            "import torch\nfrom torch import Tensor\n\n\n"  # the header's annotations need them
        )
        return Code(f"Starter for {self.id}", f"{imports}{header}\n{body}\n")

    # ----- hints and solution

    def hint(self, n: int | None = None) -> Hint:
        """Return the next hint (or the ``n``-th, counting from 1).

        Hints go from a nudge to the formula. Taught in chapter 0.
        """
        total = len(self.hints)
        if n is None:
            n = min(self._hint_index + 1, total)
        elif not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= total:
            raise ValueError(
                f"{self.id} has {total} hints: use hint() or hint(n) with n from 1 to {total}"
            )
        self._hint_index = max(self._hint_index, n)
        note = ""
        if n == total:
            note = "That was the last hint." + (
                " `.solution()` shows a reference solution." if solutions_enabled() else ""
            )
        else:
            note = "Call `.hint()` again for a more concrete hint."
        return Hint(self.id, n, total, self.hints[n - 1], note)

    def solution(self) -> Code | Note:
        """Show the reference solution as code (unless the instructor has hidden solutions).

        Taught in chapter 0.
        """
        if not solutions_enabled():
            return Note(
                f"Solutions are hidden by your instructor for this session ({self.id}). "
                "Try `.hint()`."
            )
        return Code(f"Solution for {self.id}", self._reference_source())

    # ----- checking

    def _bind_problem(self, fn: Callable[..., Any], cases: list[Case]) -> str | None:
        """A message if ``fn`` cannot be called the way the checker calls it."""
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None  # builtins etc.: just call it
        for case in cases:
            try:
                sig.bind(*case.args, **case.kwargs)
            except TypeError as exc:
                call = ", ".join(["…"] * len(case.args) + [f"{k}=…" for k in case.kwargs])
                return (
                    f"`{getattr(fn, '__name__', 'your function')}{sig}` cannot be called as "
                    f"{self.name}({call}): {exc}. Use the signature {self.name}{self.signature} "
                    "with the same parameter names."
                )
        return None

    def _call_text(self, case: Case) -> str:
        """``softmax(x=tensor of shape (2, 4), float32, dim=0)`` for messages."""
        try:
            names = list(inspect.signature(self._reference).parameters)
        except (TypeError, ValueError):
            names = []
        parts = [
            f"{names[i] if i < len(names) else f'arg{i}'}={describe(a)}"
            for i, a in enumerate(case.args)
        ]
        parts += [f"{k}={describe(v)}" for k, v in case.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def _param_names(self, case: Case) -> list[str]:
        names = list(inspect.signature(self._reference).parameters)
        return names[: len(case.args)] + list(case.kwargs)

    def _run_learner(
        self, fn: Callable[..., Any], cases: list[Case], time_limit: float
    ) -> tuple[list[Run], bool]:
        """Call ``fn`` on copies of every case within the time limit.

        Returns the runs and whether all of them finished.
        """
        runs: list[Run] = []

        def job() -> None:
            for case in cases:
                args, kwargs = clone(case.args), clone(case.kwargs)
                try:
                    out = fn(*args, **kwargs)
                    error = None
                except (Exception, SystemExit) as exc:  # sys.exit() in a learner's code, too
                    out, error = None, exc
                given = list(args) + list(kwargs.values())
                pristine = list(case.args) + list(case.kwargs.values())
                names = self._param_names(case)
                mutated = tuple(
                    n for n, a, b in zip(names, given, pristine) if not same_input(a, b)
                )
                runs.append(Run(out, error, mutated))

        finished = run_with_time_limit(job, time_limit)
        return list(runs), finished

    def _compare(self, expected: Any, got: Any) -> str | None:
        return compare(
            expected, got, atol=self.atol, rtol=self.rtol, dtype=self.dtype, names=self.output_names
        )

    def _evaluate(self, fn: Any, time_limit: float) -> CheckResult:
        """The whole check, without progress bookkeeping."""

        def result(status: str, headline: str, details: str = "") -> CheckResult:
            return CheckResult(self.id, status, headline, details)

        if not callable(fn):
            return result(
                NOT_ATTEMPTED if fn is None else INCORRECT,
                f"check() needs your function itself, e.g. .check({self.name}) — "
                "without parentheses; "
                f"got {type(fn).__name__}.",
            )
        stub = is_stub(fn)
        if stub:
            return result(
                NOT_ATTEMPTED,
                f"Replace the placeholder body of `{getattr(fn, '__name__', self.name)}` "
                "with your code, "
                "then run the check again. Stuck? Try .hint().",
            )
        cases = self._cases()
        problem = self._bind_problem(fn, cases)
        if problem:
            return result(INCORRECT, problem)

        runs, finished = self._run_learner(fn, cases, time_limit)
        if not finished:
            case = cases[len(runs)] if len(runs) < len(cases) else cases[-1]
            return result(
                INCORRECT,
                f"Time limit: your function did not finish within {time_limit:g} s — "
                "is there a loop "
                "that never ends (a `while` whose condition never changes)?",
                f'Still running on case "{case.label}": {self._call_text(case)}',
            )

        if any(isinstance(r.error, NotImplementedError) for r in runs):
            return result(
                NOT_ATTEMPTED,
                "Your function raises NotImplementedError: replace it with your code.",
            )
        if stub is None and all(r.error is None and r.output is None for r in runs):
            return result(
                NOT_ATTEMPTED, "Your function returns None: write its body and `return` the result."
            )

        expected = (
            [None] * len(cases)
            if self._validate
            else [r.output for r in run_trusted(self._reference, cases)]
        )
        failures: list[tuple[int, str]] = []
        for i, (case, run) in enumerate(zip(cases, runs)):
            if run.error is not None:
                failures.append((i, f"raised {exception_text(run.error)}{learner_line(run.error)}"))
            elif run.output is None:
                failures.append((i, "returned None — did you forget `return`?"))
            else:
                diff = (
                    self._validate(case, run.output)
                    if self._validate
                    else self._compare(expected[i], run.output)
                )
                if diff is not None:
                    failures.append((i, diff))
        if not failures and self._post_check is not None:
            diff = self._post_check(cases, [r.output for r in runs])
            if diff is not None:
                return result(INCORRECT, diff)

        mutated = [(cases[i], r.mutated) for i, r in enumerate(runs) if r.mutated]
        if not failures and not mutated:
            return result(CORRECT, f"Well done: `{self.name}` passed all {len(cases)} cases.")
        headline, details = self._explain(cases, runs, failures, expected, mutated)
        return result(INCORRECT, headline, details)

    def _explain(
        self,
        cases: list[Case],
        runs: list[Run],
        failures: list[tuple[int, str]],
        expected: list[Any],
        mutated: list[tuple[Case, tuple[str, ...]]],
    ) -> tuple[str, str]:
        """The headline (the most specific explanation available) and details of a failed check."""
        details: list[str] = []
        if failures:
            i, diff = failures[0]
            details.append(f'Failed case "{cases[i].label}": {self._call_text(cases[i])}')
            details.append(textwrap.indent(diff, "  "))
            if len(failures) > 1:
                others = ", ".join(f'"{cases[j].label}"' for j, _ in failures[1:4])
                more = " …" if len(failures) > 4 else ""
                details.append(
                    f"{len(failures)} of {len(cases)} cases failed; also: {others}{more}"
                )
        if mutated:
            case, names = mutated[0]
            which = ", ".join(f"`{n}`" for n in names)
            details.append(
                f'Your function changed its input {which} in place (case "{case.label}"). '
                "Callers don't expect that: compute new tensors "
                "(`x = x - m`, not `x -= m` or `x.sub_(m)`)."
            )
        if not failures:
            return (
                "Your results are right, but your function modifies its input in place.",
                "\n".join(details),
            )
        first, first_diff = failures[0]
        diagnosis = diagnose(
            self.diagnoses,
            cases,
            runs,
            [i for i, _ in failures],
            expected,
            lambda a, b: self._compare(a, b) is None,
        )
        if diagnosis:
            headline = diagnosis
        elif cases[first].note:
            headline = cases[first].note
        elif runs[first].error is not None:
            headline = f"Your function raised an exception: {exception_text(runs[first].error)}."
        elif self._validate is not None:
            headline = first_diff  # a property check already says what is wrong
        else:
            headline = (
                "Not quite: your result differs from the expected one on "
                f"{len(failures)} of {len(cases)} cases."
            )
        return headline, "\n".join(details)

    def check(self, fn: Callable[..., Any], *, time_limit: float | None = None) -> CheckResult:
        """Check the learner's function on every case; never raises. Returns a :class:`CheckResult`.

        Positional calls for required arguments, keyword calls for optional ones. The result
        shows as a coloured box in a notebook and as text elsewhere; progress is saved.
        Taught in chapter 0.
        """
        limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
        try:
            outcome = self._evaluate(fn, limit)
        except Exception as exc:  # a bug in labkit, not in the learner's code
            outcome = CheckResult(
                self.id,
                INCORRECT,
                f"labkit's checker failed ({exception_text(exc)}). "
                "This is a bug in labkit; please report it.",
            )
        if outcome.status != NOT_ATTEMPTED:
            record_attempt(self.id, outcome.passed)
        return outcome

    def use(self, fn: Callable[..., Any] | None) -> Callable[..., Any]:
        """Return ``fn`` if it passes the check; else print a notice and return the reference.

        So the cells that follow an unsolved exercise keep working. With solutions hidden the
        reference still works but its source is not shown. Taught in chapter 0.
        """
        outcome = self.check(fn)
        if outcome.passed:
            assert fn is not None
            return fn
        hidden = "" if solutions_enabled() else " (solution hidden)"
        reason = (
            "is not attempted yet"
            if outcome.status == NOT_ATTEMPTED
            else "does not pass the check yet"
        )
        name = getattr(fn, "__name__", self.name) if callable(fn) else self.name
        print(
            f"{self.id}: your function {reason} — using the reference implementation{hidden} "
            f"so the notebook keeps working. Details: .check({name})"
        )
        if solutions_enabled():
            return self._reference
        reference = self._reference

        def hidden_reference(*args: Any, **kwargs: Any) -> Any:
            return reference(*args, **kwargs)

        hidden_reference.__name__ = hidden_reference.__qualname__ = self.name
        hidden_reference.__doc__ = f"Reference implementation of {self.id} (solution hidden)."
        return hidden_reference


# --------------------------------------------------------------------------- registry
