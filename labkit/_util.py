"""Small helpers that many labkit modules share: one home each, so no module re-invents them.

Argument checks (with messages that name the fix), the device of a model, the logits of a
labkit *or* Hugging Face model's output, an eval-mode context that restores the mode, the
context length of a model, SHA-256 of a file, atomic writes, and ``IGNORE_INDEX``.

Not taught on its own: the chapters use these through the modules that need them (chapter 0
names it as labkit's toolbox). Imports nothing from labkit, so every module may import it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "IGNORE_INDEX",
    "SPECIAL_TOKENS",
    "atomic_write",
    "block_size_of",
    "check_fraction",
    "check_non_negative_int",
    "check_positive",
    "check_positive_int",
    "eval_mode",
    "is_hf_model",
    "logits_of",
    "model_device",
    "sha256_file",
]

IGNORE_INDEX = -100
"""Target id that the loss skips (PyTorch's ``cross_entropy`` default ``ignore_index``)."""

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")
"""labkit's special tokens, in id order (``[PAD]`` is 0 … ``[SEP]`` is 6): every labkit
tokenizer gives them these ids (:mod:`labkit.tokenizers`, chapter 1), and masking never
replaces them (:func:`labkit.train.mask_tokens`, chapter 4)."""


# --------------------------------------------------------------------------- argument checks


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an int ≥ 1 (not a bool); otherwise raise ``ValueError``.

    The message names the argument and the value, e.g. ``steps must be a positive int, got 0``.
    Used by every chapter's helpers.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_non_negative_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an int ≥ 0 (not a bool); otherwise raise ``ValueError``.

    The message names the argument and the value, e.g. ``copies must be an int >= 0, got -1``.
    Used by the training config (chapter 4) and data augmentation (chapter 5).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a number > 0 (not a bool); else raise ``ValueError``.

    Used by every chapter's helpers.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, inclusive: bool = False) -> float:
    """Return ``value`` as a float if it lies in (0, 1) — or [0, 1] with ``inclusive`` — else raise.

    Used by every chapter's helpers (dropout rates, masking rates, split fractions).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    ok = 0.0 <= value <= 1.0 if inclusive else 0.0 < value < 1.0
    if not ok:
        bounds = "[0, 1]" if inclusive else "(0, 1)"
        raise ValueError(f"{name} must lie in {bounds}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- talking to a model


def model_device(model: Any, fallback: torch.device | str = "cpu") -> torch.device:
    """The device of the model's parameters (``fallback`` if it has none).

    Works for labkit and Hugging Face models alike. Used from chapter 3 on.
    """
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device(fallback)


def logits_of(out: Any) -> torch.Tensor:
    """The logits in a model's output: a labkit tensor or tuple, or a Hugging Face output object.

    labkit models return ``logits`` or ``(logits, loss, ...)``; ``transformers`` models return
    an object with ``.logits``. Used from chapter 3 on.
    """
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def is_hf_model(model: Any) -> bool:
    """True for a Hugging Face ``transformers`` model (it has a ``config`` with ``model_type``
    and ``save_pretrained``), False for a labkit model. Used from chapter 3 on.
    """
    return hasattr(model, "save_pretrained") and hasattr(
        getattr(model, "config", None), "model_type"
    )


def block_size_of(model: Any) -> int | None:
    """How many tokens the model can look at, or ``None`` if it does not say.

    Reads ``config.block_size`` (labkit) or ``config.n_positions`` /
    ``config.max_position_embeddings`` (Hugging Face). Taught in chapter 3 (context length).
    """
    config = getattr(model, "config", None)
    for name in ("block_size", "n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Eval mode and no gradients inside the ``with`` block; the model's mode is restored after.

    ``with eval_mode(model): logits = model(ids)``. Dropout is off inside, and a model that was
    training is training again afterwards. Used from chapter 3 on.
    """
    is_module = isinstance(model, torch.nn.Module)
    was_training = is_module and model.training
    if is_module:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


# --------------------------------------------------------------------------- files


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, as 64 hex digits. Taught in chapter 4 (checked downloads)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], Any]) -> None:
    """Write ``path`` all at once: ``write(tmp)`` fills a temporary file beside it, then rename.

    A reader never sees a half-written file, and a crash leaves the old file in place. The file
    gets ordinary permissions (0o644). Used by checkpoints and caches (chapters 4–5).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes private files; these are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
