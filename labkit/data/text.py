"""From your own text file to training batches: load, split, pack into blocks, sample batches.

``load_text``, ``train_val_split``, ``pack_blocks`` and ``get_batch``. Taught in chapter 4.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import torch

from labkit._util import check_positive_int


def load_text(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file, with clear errors for the usual problems.

    * missing file → ``FileNotFoundError`` naming the full path;
    * not UTF-8 → ``ValueError`` naming the byte offset (and line) of the first bad byte;
    * empty or only whitespace → ``ValueError``.

    A leading byte-order mark is dropped. Taught in chapter 4.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"no such file: {path.resolve()} (current folder: {Path.cwd()}); check the name "
            "and the folder"
        )
    if path.is_dir():
        raise IsADirectoryError(f"{path.resolve()} is a folder; give the path of a text file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path} is not valid UTF-8: byte offset {exc.start} (line {line}) has the byte "
            f"0x{data[exc.start]:02x}. The file was probably saved in another encoding "
            "(e.g. Latin-1, Windows-1252 or GBK); re-save it as UTF-8 in your editor, or "
            "convert it, e.g. `iconv -f GBK -t UTF-8 old.txt > new.txt`."
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        what = "empty" if not text else "only whitespace"
        raise ValueError(f"{path} is {what}: there is no text to train on; put some text in it")
    return text


def train_val_split(data: Any, val_fraction: float = 0.1) -> tuple[Any, Any]:
    """Split text (or token ids) into ``(train, val)``: the first part and the last part.

    A contiguous split, not a shuffle: shuffled overlapping pieces would leak training text
    into validation. Works on ``str``, lists, NumPy arrays and tensors. Taught in chapter 4.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (e.g. 0.1), got {val_fraction}")
    n = len(data)
    n_val = max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise ValueError(f"cannot split {n} item(s) into train and validation; use more data")
    return data[: n - n_val], data[n - n_val :]


def _as_ids(ids: Any, name: str = "ids") -> torch.Tensor:
    tensor = torch.as_tensor(ids)
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {tensor.dtype}")
    if tensor.dim() != 1:
        raise ValueError(
            f"{name} must be 1-D (one long sequence of ids), got shape {tuple(tensor.shape)}"
        )
    return tensor.long()


def pack_blocks(ids: Any, block_size: int) -> torch.Tensor:
    """Cut one long sequence of token ids into rows of ``block_size + 1`` ids.

    Row ``i`` is ``ids[i*block_size : i*block_size + block_size + 1]``: inputs are
    ``rows[:, :-1]``, targets (shifted by one) ``rows[:, 1:]``; consecutive rows share one id
    so that every id after the first is a target exactly once. A short tail is dropped.
    Returns a ``LongTensor`` of shape ``(N, block_size + 1)``. Taught in chapter 4.
    """
    check_positive_int(block_size, "block_size")
    tensor = _as_ids(ids)
    if len(tensor) < block_size + 1:
        raise ValueError(
            f"the data has {len(tensor)} tokens, but one block needs block_size + 1 = "
            f"{block_size + 1} (inputs plus targets shifted by one); use a smaller block_size "
            "or more text"
        )
    return tensor.unfold(0, block_size + 1, block_size).contiguous()


@functools.lru_cache(maxsize=32)
def _offsets(length: int) -> torch.Tensor:
    return torch.arange(length)


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample a random batch ``(x, y)`` of shape ``(batch_size, block_size)`` from 1-D ids.

    Each row starts at a random position ``i``: ``x = data[i : i+block_size]`` and
    ``y = data[i+1 : i+block_size+1]`` (the next token at every position). Vectorised:
    one index tensor ``starts[:, None] + arange(block_size + 1)``, no Python loop.
    Pass a seeded ``torch.Generator`` for repeatable batches. Taught in chapter 4.
    """
    data = _as_ids(data, "data")
    check_positive_int(block_size, "block_size")
    check_positive_int(batch_size, "batch_size")
    if len(data) < block_size + 1:
        raise ValueError(
            f"the data has {len(data)} tokens, but a block_size of {block_size} needs at least "
            f"{block_size + 1} (inputs plus targets shifted by one); use a smaller block_size "
            "or more text"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    index = starts[:, None] + _offsets(block_size + 1)
    chunk = data[index.to(data.device)]
    x, y = chunk[:, :-1], chunk[:, 1:]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y
