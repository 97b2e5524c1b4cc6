"""The exercise framework: ``Exercise.check / hint / solution / use``, the registry, the time limit.

Taught in chapter 0 (Start here: how exercises work). Ideas borrowed from Kaggle's learntools
(three states, graded hints, a testing notebook per exercise set), extended for tensors.

How a check runs
----------------
1. A function whose body is only ``...``, ``pass``, ``return None`` or
   ``raise NotImplementedError`` is a *stub*: the result is "not attempted", never an error.
2. The checker builds fresh cases (small tensors, edge cases: large logits, length-1 inputs,
   batches, masks ...) and calls your function on each: **required arguments positionally,
   optional ones by keyword with the names from the signature** (``softmax(x, dim=0)``).
   Every call gets its own copies of the inputs, so a function that changes its input in place
   cannot corrupt the checker — and is told that it did.
3. All calls together have a time limit (``DEFAULT_TIME_LIMIT`` seconds). They run in a
   background thread; when time is up the checker reports a time-out and asks CPython to
   raise an exception inside that thread, which stops a pure-Python infinite loop at once.
   A thread stuck inside one long C call (a huge matmul, ``time.sleep``) stops only when the
   call returns; until then it keeps running in the background, harmlessly.
4. Exceptions are caught and reported (type, message, the case, your line number).
5. Results are compared with a tolerance (:func:`labkit.exercises.compare.compare`). When
   your results match a *known mistake* (a "diagnosis": e.g. attention without ``/ √d_k``),
   the message names that mistake.
"""

from __future__ import annotations

import ast
import ctypes
import difflib
import inspect
import linecache
import os
import re
import sys
import sysconfig
import textwrap
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .compare import compare, describe
from .display import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    Catalog,
    CheckResult,
    Code,
    ExerciseInfo,
    Hint,
    Note,
)
from .progress import record_attempt

DEFAULT_TIME_LIMIT = 10.0
"""Seconds that all calls of one check may take together."""

CHAPTER_MODULES = ("concepts", "attention", "transformer", "training", "finetuning", "applications", "challenges")
CHAPTER_TITLES = {
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

_SOLUTIONS_OVERRIDE: bool | None = None
_REGISTRY: dict[str, Exercise] = {}


# --------------------------------------------------------------------------- cases, diagnoses


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


# --------------------------------------------------------------------------- solutions switch


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


# --------------------------------------------------------------------------- stubs


def _is_stub_statement(node: ast.stmt) -> bool:
    """``...``, ``pass``, a bare string, ``return``/``return None``, ``raise NotImplementedError``."""
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return node.value.value is Ellipsis or isinstance(node.value.value, str)
    if isinstance(node, ast.Return):
        return node.value is None or (
            isinstance(node.value, ast.Constant) and node.value.value is None
        )
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id in ("NotImplementedError", "NotImplemented")
    return False


def is_stub(fn: Callable[..., Any]) -> bool | None:
    """True if ``fn``'s body is only a placeholder, False if it has code, None if its source is unknown.

    Placeholders: ``...``, ``pass``, ``return None``, ``raise NotImplementedError``, a
    docstring, comments. Taught in chapter 0.
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return all(_is_stub_statement(s) for s in node.body)
        if isinstance(node, ast.Lambda):
            body = node.body
            return isinstance(body, ast.Constant) and (body.value is None or body.value is Ellipsis)
    return None


# --------------------------------------------------------------------------- time limit


class _TimeUp(BaseException):
    """Raised inside the worker thread when a check runs out of time (BaseException: hard to swallow)."""


def _stop_thread(thread: threading.Thread) -> None:
    """Ask CPython to raise :class:`_TimeUp` inside ``thread`` at its next bytecode."""
    if thread.ident is None or not hasattr(ctypes, "pythonapi"):
        return
    ident = ctypes.c_ulong(thread.ident)
    changed = ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, ctypes.py_object(_TimeUp))
    if changed > 1:  # should never happen; undo rather than hit the wrong thread
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, None)


def run_with_time_limit(job: Callable[[], None], seconds: float) -> bool:
    """Run ``job()`` in a daemon thread; return True if it finished within ``seconds``.

    On time-out the thread is asked to stop (see the module docstring). Exceptions from
    ``job`` other than the stop signal are re-raised here. Taught in chapter 0.
    """
    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            job()
        except _TimeUp:
            pass
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="labkit-check", daemon=True)
    thread.start()
    try:
        thread.join(seconds)
    except KeyboardInterrupt:
        _stop_thread(thread)
        raise
    if thread.is_alive():
        _stop_thread(thread)
        thread.join(0.2)
        return False
    if "error" in box:
        raise box["error"]
    return True


# --------------------------------------------------------------------------- copies, errors


def clone(value: Any) -> Any:
    """A deep copy for checker inputs: tensors cloned, containers copied, generators re-seeded copies."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, torch.Generator):
        g = torch.Generator(device=value.device)
        g.set_state(value.get_state())
        return g
    if isinstance(value, list):
        return [clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clone(v) for v in value)
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    return value


def _same_input(a: Any, b: Any) -> bool:
    """True if the input ``a`` (after the call) still equals its pristine copy ``b``."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and bool(
                torch.equal(a, b)
                or (
                    a.dtype.is_floating_point
                    and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)
                )
            )
        )
    if isinstance(a, torch.Generator):
        return True  # generators are meant to advance
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_input(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_input(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return True


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
) + (str(Path(__file__).resolve().parent),)


def _learner_line(exc: BaseException) -> str:
    """``" (line 3: `return e / e.sum()`)"`` for the deepest traceback frame in the learner's code."""
    found = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        try:
            resolved = str(Path(filename).resolve())
        except (OSError, ValueError):
            resolved = filename
        if resolved.startswith(_LIBRARY_DIRS) or filename.startswith("<frozen"):
            continue
        code = linecache.getline(filename, lineno).strip()
        found = f" (line {lineno}: `{code}`)" if code else f" (line {lineno})"
    return found


def _exception_text(exc: BaseException) -> str:
    """``"ValueError: message"`` with the first line of the message only."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# --------------------------------------------------------------------------- the exercise


@dataclass
class _Run:
    """What one call of the learner's function did."""

    output: Any = None
    error: BaseException | None = None
    mutated: tuple[str, ...] = ()


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
        """Return the next hint (or the ``n``-th, counting from 1). Hints go from a nudge to the formula.

        Taught in chapter 0.
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
                f"Solutions are hidden by your instructor for this session ({self.id}). Try `.hint()`."
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
    ) -> tuple[list[_Run], bool]:
        """Call ``fn`` on copies of every case within the time limit; return the runs and whether it finished."""
        runs: list[_Run] = []

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
                    n for n, a, b in zip(names, given, pristine) if not _same_input(a, b)
                )
                runs.append(_Run(out, error, mutated))

        finished = run_with_time_limit(job, time_limit)
        return list(runs), finished

    def _run_trusted(self, fn: Callable[..., Any], cases: list[Case]) -> list[_Run]:
        """Run the reference or a known-wrong variant (no time limit: our own code)."""
        runs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a wrong variant may warn (e.g. var() with 1 element)
            for case in cases:
                try:
                    runs.append(_Run(fn(*clone(case.args), **clone(case.kwargs))))
                except Exception as exc:
                    runs.append(_Run(None, exc))
        return runs

    def _compare(self, expected: Any, got: Any) -> str | None:
        return compare(
            expected, got, atol=self.atol, rtol=self.rtol, dtype=self.dtype, names=self.output_names
        )

    def _variant_agreement(
        self, variant: Callable[..., Any], cases: list[Case], runs: list[_Run], failing: list[int]
    ) -> int:
        """On how many of the failing cases the learner's run behaves exactly like ``variant``.

        (On the other cases the learner matches the reference, and so may the variant: a
        learner who ignores ``dim`` passes the cases that use the default.)
        """
        agree = 0
        for i, wrong in zip(failing, self._run_trusted(variant, [cases[i] for i in failing])):
            run = runs[i]
            if run.error is not None or wrong.error is not None:
                agree += (
                    run.error is not None
                    and wrong.error is not None
                    and type(run.error) is type(wrong.error)
                )
            else:
                agree += self._compare(wrong.output, run.output) is None
        return agree

    def _diagnose(
        self,
        cases: list[Case],
        runs: list[_Run],
        failures: list[tuple[int, str]],
        expected: list[Any],
    ) -> str | None:
        """The message of the known mistake that best explains the failures, if any.

        A variant explains the failures when the learner reproduces it on more than half of the
        failing cases (so a second, smaller difference — -1e9 instead of -inf — does not hide
        the main mistake); the variant that agrees most wins, ties go to the first listed.
        Then exception patterns, then ``detect`` tests on the first failing case.
        """
        failing = [i for i, _ in failures]
        best, best_agree = None, len(failing) // 2
        for d in self.diagnoses:
            if d.variant is not None:
                agree = self._variant_agreement(d.variant, cases, runs, failing)
                if agree > best_agree:
                    best, best_agree = d.message, agree
        if best is not None:
            return best
        errors = [r.error for r in runs if r.error is not None]
        for d in self.diagnoses:
            if d.error is not None and any(re.search(d.error, _exception_text(e)) for e in errors):
                return d.message
        i = failing[0]
        if runs[i].error is None:
            for d in self.diagnoses:
                if d.detect is not None:
                    try:
                        if d.detect(runs[i].output, expected[i]):
                            return d.message
                    except Exception:
                        continue
        return None

    def _evaluate(self, fn: Any, time_limit: float) -> CheckResult:
        """The whole check, without progress bookkeeping."""

        def result(status: str, headline: str, details: str = "") -> CheckResult:
            return CheckResult(self.id, status, headline, details)

        if not callable(fn):
            return result(
                NOT_ATTEMPTED if fn is None else INCORRECT,
                f"check() needs your function itself, e.g. .check({self.name}) — without parentheses; "
                f"got {type(fn).__name__}.",
            )
        stub = is_stub(fn)
        if stub:
            return result(
                NOT_ATTEMPTED,
                f"Replace the placeholder body of `{getattr(fn, '__name__', self.name)}` with your code, "
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
                f"Time limit: your function did not finish within {time_limit:g} s — is there a loop "
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
            else [r.output for r in self._run_trusted(self._reference, cases)]
        )
        failures: list[tuple[int, str]] = []
        for i, (case, run) in enumerate(zip(cases, runs)):
            if run.error is not None:
                failures.append(
                    (i, f"raised {_exception_text(run.error)}{_learner_line(run.error)}")
                )
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
        runs: list[_Run],
        failures: list[tuple[int, str]],
        expected: list[Any],
        mutated: list[tuple[Case, tuple[str, ...]]],
    ) -> tuple[str, str]:
        """The headline (the most specific explanation available) and the details of a failed check."""
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
                "Callers don't expect that: compute new tensors (`x = x - m`, not `x -= m` or `x.sub_(m)`)."
            )
        if not failures:
            return (
                "Your results are right, but your function modifies its input in place.",
                "\n".join(details),
            )
        first, first_diff = failures[0]
        diagnosis = self._diagnose(cases, runs, failures, expected)
        if diagnosis:
            headline = diagnosis
        elif cases[first].note:
            headline = cases[first].note
        elif runs[first].error is not None:
            headline = f"Your function raised an exception: {_exception_text(runs[first].error)}."
        elif self._validate is not None:
            headline = first_diff  # a property check already says what is wrong
        else:
            headline = f"Not quite: your result differs from the expected one on {len(failures)} of {len(cases)} cases."
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
                f"labkit's checker failed ({_exception_text(exc)}). This is a bug in labkit; please report it.",
            )
        if outcome.status != NOT_ATTEMPTED:
            record_attempt(self.id, outcome.passed)
        return outcome

    def use(self, fn: Callable[..., Any] | None) -> Callable[..., Any]:
        """Return ``fn`` if it passes the check; otherwise print a one-line notice and return the reference.

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


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the catalog (re-registering an id replaces it). Taught in chapter 0."""
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    """Import every chapter module so that their exercises are registered."""
    import importlib

    for name in CHAPTER_MODULES:
        if f"labkit.exercises.{name}" not in sys.modules:
            importlib.import_module(f"labkit.exercises.{name}")


class UnknownExerciseError(KeyError):
    """Raised by :func:`get` for an id that does not exist; the message lists close matches."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown exercise"


def get(exercise_id: str) -> Exercise:
    """Return the exercise with this id, e.g. ``get("attention.softmax")``. Taught in chapter 0."""
    _load_all()
    if exercise_id in _REGISTRY:
        return _REGISTRY[exercise_id]
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
