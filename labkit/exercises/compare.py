"""Compare a learner's result with the expected one and say, in words, how they differ.

Taught in chapter 0 (Start here: how exercises work). The checker in
:mod:`labkit.exercises.exercise` calls :func:`compare` on every case; a ``None`` answer means
"same", a string is the readable difference (shape, dtype, first mismatching index, max error).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

# How strictly dtypes must agree: "exact" (same dtype), "kind" (bool / integer / floating
# must agree, float32 vs float64 is fine) or "any" (only the values matter).
DTYPE_RULES = ("exact", "kind", "any")


def dtype_kind(dtype: torch.dtype) -> str:
    """Return ``"bool"``, ``"integer"``, ``"floating"`` or ``"complex"`` for a torch dtype."""
    if dtype == torch.bool:
        return "bool"
    if dtype.is_floating_point:
        return "floating"
    if dtype.is_complex:
        return "complex"
    return "integer"


def describe(value: Any, limit: int = 70) -> str:
    """Describe a value in a few words: small tensors with their values, big ones by shape."""
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        dtype = str(value.dtype).replace("torch.", "")
        if value.numel() <= 6:
            vals = value.detach().cpu().tolist()
            return f"tensor({vals}, {dtype})"
        return f"tensor of shape {shape}, {dtype}"
    if isinstance(value, torch.Generator):
        return "a torch.Generator"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _fmt(x: float) -> str:
    """Format one number for a diff line."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Integral):
        return str(int(x))
    return f"{x:.6g}"


def _as_number(value: Any) -> float | int | None:
    """Turn a Python number, a NumPy scalar or a one-element tensor into a Python number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        return value.item()
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        return value.item()  # a NumPy scalar
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return value
    return None


def _compare_number(
    expected: float | int, got: Any, atol: float, rtol: float, name: str
) -> str | None:
    """Compare a Python number (float or int) with what the learner returned."""
    value = _as_number(got)
    if value is None:
        if isinstance(got, torch.Tensor):
            return f"{name}: expected a single number, got a tensor of shape {tuple(got.shape)}"
        return f"{name}: expected a number, got {type(got).__name__} {describe(got)}"
    if isinstance(expected, numbers.Integral):
        if isinstance(value, float) and not value.is_integer():
            return f"{name}: expected the whole number {expected}, got {value:.6g}"
        if int(value) != expected:
            return (
                f"{name}: expected {expected:,}, got {int(value):,} (off by "
                f"{int(value) - expected:+,})"
            )
        return None
    value = float(value)
    if math.isnan(expected) and math.isnan(value):
        return None
    if value == expected or math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        return None
    return (
        f"{name}: expected {_fmt(expected)}, got {_fmt(value)} (difference "
        f"{abs(value - expected):.3g})"
    )


def _compare_tensor(
    expected: torch.Tensor, got: Any, atol: float, rtol: float, dtype_rule: str, name: str
) -> str | None:
    """Compare tensors: type, shape, dtype, then values with a tolerance."""
    if not isinstance(got, torch.Tensor):
        kind = type(got).__name__
        if kind == "ndarray":
            return (
                f"{name}: expected a torch.Tensor, got a NumPy array — wrap it with "
                "torch.from_numpy(...)"
            )
        if isinstance(got, numbers.Number) and expected.dim() == 0:
            return (
                f"{name}: expected a 0-d tensor, got a Python {kind} — keep the result a tensor "
                "(don't call .item() or float()), so that .backward() still works"
            )
        return (
            f"{name}: expected a torch.Tensor of shape {tuple(expected.shape)}, got {kind} "
            f"{describe(got)}"
        )
    if tuple(got.shape) != tuple(expected.shape):
        return f"{name}: shape mismatch — expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    kind_e, kind_g = dtype_kind(expected.dtype), dtype_kind(got.dtype)
    if dtype_rule == "exact" and got.dtype != expected.dtype:
        return f"{name}: dtype mismatch — expected {expected.dtype}, got {got.dtype}"
    if dtype_rule == "kind" and kind_e != kind_g:
        return (
            f"{name}: dtype mismatch — expected a {kind_e} tensor ({expected.dtype}), got "
            f"{got.dtype}"
        )
    got = got.detach().cpu()
    expected = expected.detach().cpu()
    floating = kind_e in ("floating", "complex") or kind_g in ("floating", "complex")
    if floating:
        e, g = expected.double(), got.double()
        bad = ~torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    else:
        e, g = expected.long(), got.long()
        bad = e != g
    if not bool(bad.any()):
        return None
    where = tuple(bad.nonzero()[0].tolist())
    n_bad, total = int(bad.sum()), bad.numel()
    at = f"index {where}" if where else "the (only) value"
    lines = [
        f"{name}: values differ at {n_bad} of {total} position{'s' if total != 1 else ''}",
        f"  first mismatch at {at}: expected {_fmt(e[where].item())}, got {_fmt(g[where].item())}",
    ]
    if floating:
        finite = torch.isfinite(e) & torch.isfinite(g)
        if bool(finite.any()):
            lines.append(
                f"  max abs error (finite values): {(e - g)[finite].abs().max().item():.3g}"
            )
        odd = ~torch.isfinite(g) & torch.isfinite(e)
        if bool(odd.any()):
            lines.append(
                f"  your result has NaN or inf at {int(odd.sum())} position(s) where a finite "
                "value is expected"
            )
    return "\n".join(lines)


def compare(
    expected: Any,
    got: Any,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    dtype: str = "kind",
    name: str = "result",
    names: tuple[str, ...] | None = None,
) -> str | None:
    """Return ``None`` when ``got`` matches ``expected``, else a readable description of how not.

    Tensors must have the same shape and dtype kind (``dtype`` picks the rule: ``"exact"``,
    ``"kind"`` or ``"any"``) and equal values within ``atol``/``rtol``; NaN matches NaN.
    Tuples are compared element by element (``names`` labels the elements). Python numbers
    accept a one-element tensor. Taught in chapter 0.
    """
    if dtype not in DTYPE_RULES:
        raise ValueError(f"dtype must be one of {DTYPE_RULES}, got {dtype!r}")
    if isinstance(expected, torch.Tensor):
        return _compare_tensor(expected, got, atol, rtol, dtype, name)
    if isinstance(expected, tuple):
        label = f"({', '.join(names)})" if names else f"of {len(expected)} values"
        if not isinstance(got, (tuple, list)):
            return f"{name}: expected a tuple {label}, got {type(got).__name__} {describe(got)}"
        if len(got) != len(expected):
            return (
                f"{name}: expected a tuple of {len(expected)} values {label}, got {len(got)} values"
            )
        for i, (e, g) in enumerate(zip(expected, got)):
            part = names[i] if names and i < len(names) else f"{name}[{i}]"
            diff = compare(e, g, atol=atol, rtol=rtol, dtype=dtype, name=part)
            if diff is not None:
                return diff
        return None
    if isinstance(expected, (bool, str)) or expected is None:
        return (
            None
            if got == expected
            else f"{name}: expected {describe(expected)}, got {describe(got)}"
        )
    if isinstance(expected, numbers.Real):
        return _compare_number(expected, got, atol, rtol, name)
    return (
        None if got == expected else f"{name}: expected {describe(expected)}, got {describe(got)}"
    )
