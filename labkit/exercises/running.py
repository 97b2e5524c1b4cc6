"""Running a learner's function: stubs, copies of the inputs, the time limit, error lines.

Taught in chapter 0 (Start here: how exercises work).

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
import inspect
import linecache
import sysconfig
import textwrap
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .cases import Case


@dataclass
class Run:
    """What one call of the learner's (or a trusted) function did. Taught in chapter 0."""

    output: Any = None
    error: BaseException | None = None
    mutated: tuple[str, ...] = ()


# --------------------------------------------------------------------------- stubs


def _is_stub_statement(node: ast.stmt) -> bool:
    """``...``, ``pass``, a bare string, ``return (None)``, ``raise NotImplementedError``."""
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
    """True if ``fn``'s body is only a placeholder, False if it has code, None if source unknown.

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
    """Raised inside the worker thread when a check runs out of time (hard to swallow)."""


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
    """A deep copy for checker inputs: tensors cloned, containers copied, generators copied."""
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


def same_input(a: Any, b: Any) -> bool:
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
        return len(a) == len(b) and all(same_input(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_input(a[k], b[k]) for k in a)
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


def learner_line(exc: BaseException) -> str:
    """``" (line 3: `return e / e.sum()`)"`` for the deepest frame in the learner's code."""
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


def exception_text(exc: BaseException) -> str:
    """``"ValueError: message"`` with the first line of the message only."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# --------------------------------------------------------------------------- the exercise


def run_trusted(fn: Callable[..., Any], cases: list[Case]) -> list[Run]:
    """Run the reference or a known-wrong variant on copies of ``cases`` (no time limit: our code).

    Taught in chapter 0.
    """
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a wrong variant may warn (e.g. var() with 1 element)
        for case in cases:
            try:
                runs.append(Run(fn(*clone(case.args), **clone(case.kwargs))))
            except Exception as exc:
                runs.append(Run(None, exc))
    return runs
