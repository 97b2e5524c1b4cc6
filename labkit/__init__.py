"""labkit: the lab bench of LLM Lab, a hands-on course on how large language models work.

``import labkit`` is cheap (it does not import torch); the submodules load on first use.
Concept modules, reused by several chapters: ``data``, ``tokenizers``, ``nn``, ``models``,
``hf``, ``generate``, ``evaluate``, ``quantize``, ``train``, ``checkpoint``, ``distributed``,
``real_models``, ``widgets``, ``exercises``, ``env``, ``doctor``. Chapter modules, named after
their notebook: ``labkit.chapters.training`` (chapter 4), ``finetuning`` (5),
``applications`` (8), ``challenges`` (9). ``labkit.progress()`` prints the exercises you have
passed; ``labkit.doctor()`` checks your environment (chapter 0).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "chapters",
    "checkpoint",
    "cli",
    "data",
    "distributed",
    "env",
    "evaluate",
    "exercises",
    "generate",
    "hf",
    "models",
    "nn",
    "quantize",
    "real_models",
    "tokenizers",
    "train",
    "widgets",
}
_SHORTCUTS = {
    "progress": ("labkit.exercises", "progress"),
    "doctor": ("labkit.doctor", "doctor"),
    "get_device": ("labkit.env", "get_device"),
    "seed_everything": ("labkit.env", "seed_everything"),
}


def __getattr__(name: str) -> Any:
    """Import submodules and the few top-level shortcuts lazily."""
    if name in _SUBMODULES:
        return importlib.import_module(f"labkit.{name}")
    if name in _SHORTCUTS:
        module, attr = _SHORTCUTS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_SHORTCUTS))
