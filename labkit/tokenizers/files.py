"""Which kind a tokeniser is, and saving / loading it as a folder (``tokenizer.json`` +
config) that ``transformers`` reads too. Taught in chapter 1, used by checkpoints (chapter 4).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedTokenizerFast

from labkit.tokenizers.base import CHAR_PATTERN, _backend

# --------------------------------------------------------------------------------------------
# Kind, save and load
# --------------------------------------------------------------------------------------------


def tokenizer_kind(tok: PreTrainedTokenizerFast) -> str:
    """Say which kind of tokeniser ``tok`` is: ``"char"``, ``"word"``, ``"bpe"``,
    ``"byte_bpe"``, or ``"other"`` (not made by labkit). Read from the tokeniser itself, so it
    also works after ``load_tokenizer``.

    Taught in chapter 1.
    """
    spec = json.loads(_backend(tok).to_str())
    model, pre = spec["model"].get("type"), spec.get("pre_tokenizer") or {}
    if model == "WordLevel" and pre.get("type") == "Split":
        return "char" if pre.get("pattern") == {"Regex": CHAR_PATTERN} else "word"
    if model == "BPE":
        return "byte_bpe" if pre.get("type") == "ByteLevel" else "bpe"
    return "other"


def save_tokenizer(tok: PreTrainedTokenizerFast, directory: str | Path) -> Path:
    """Save ``tok`` into ``directory`` (created if needed) with ``save_pretrained``.

    The directory holds ``tokenizer.json`` and ``tokenizer_config.json``; any
    ``transformers`` code can load it with ``PreTrainedTokenizerFast.from_pretrained``.

    Taught in chapter 1.
    """
    _backend(tok)
    path = Path(directory).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file; give a directory to save the tokeniser in")
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(path))
    return path


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokeniser saved by ``save_tokenizer`` (or any ``save_pretrained`` directory).

    Only reads local files: a missing directory is a ``FileNotFoundError``, never a download.

    Taught in chapter 1.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        hint = " (that is a file: give the directory that holds it)" if path.is_file() else ""
        raise FileNotFoundError(
            f"no tokeniser directory at {path}{hint}; save one first with "
            "save_tokenizer(tok, directory)"
        )
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"{path} has no tokenizer.json; is it the directory you gave save_tokenizer?"
        )
    return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
