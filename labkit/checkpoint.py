"""Checkpoints that never lose work: safetensors + JSON, written atomically, resumable.

Taught in chapter 4 (training: checkpoints and resuming).

A checkpoint is one directory::

    config.json            the model's settings (``model.save`` writes it with the weights)
    model.safetensors      the weights
    optimizer.safetensors  the optimizer's tensors (Adam's running averages m and v, its step)
    rng.safetensors        random-number-generator states (torch, the batch sampler, CUDA, NumPy)
    trainer_state.json     everything else: step, optimizer hyper-parameters, schedule,
                           history (loss curves), training config, Python's RNG state
    tokenizer.json, ...    the tokenizer (``save_pretrained``), when there is one

Nothing is pickled: tensors go into safetensors files, everything else into JSON, so loading a
checkpoint can never run code hidden in it (``torch.save`` / ``torch.load`` files can).

**Atomic writes.** :func:`save_checkpoint` writes every file into a hidden temporary folder
next to the target (``.NAME.tmp-…``), and only when all of them are complete does it swap the
folder into place with two renames (old → ``.NAME.old-…``, new → ``NAME``) and delete the
old one. A process killed at any moment therefore leaves either the previous checkpoint or
the new one, never a mixture; if it dies between the two renames, the next
:func:`find_checkpoint` puts the old folder back.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from labkit._util import model_device

__all__ = [
    "FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "find_checkpoint",
    "is_checkpoint",
    "optimizer_state_to_tensors",
    "optimizer_state_from_tensors",
    "capture_rng",
    "restore_rng",
]

FORMAT = "labkit-checkpoint-v1"
STATE_FILE = "trainer_state.json"
_MARKERS = (STATE_FILE, "model.safetensors")


# --------------------------------------------------------------------------------------------
# Optimizer state <-> safetensors + JSON
# --------------------------------------------------------------------------------------------


def optimizer_state_to_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON-able rest.

    Tensors are named ``"<param index>.<name>"`` (e.g. ``"3.exp_avg"``). Taught in chapter 4.
    """
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, values in sd["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain.setdefault(str(index), {})[name] = value
    groups = [_jsonable(group) for group in sd["param_groups"]]
    return tensors, {"param_groups": groups, "plain_state": plain}


def optimizer_state_from_tensors(tensors: dict[str, torch.Tensor], meta: dict) -> dict[str, Any]:
    """Rebuild an ``optimizer.state_dict()`` from :func:`optimizer_state_to_tensors`' output.

    Taught in chapter 4.
    """
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in meta.get("plain_state", {}).items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in meta["param_groups"]:
        # JSON turned tuples (Adam's betas) into lists; give the optimizer its tuples back.
        groups.append(
            {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in group.items()}
        )
    return {"state": state, "param_groups": groups}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a JSON checkpoint file")


# --------------------------------------------------------------------------------------------
# Random-number generators
# --------------------------------------------------------------------------------------------


def capture_rng(
    generators: dict[str, torch.Generator] | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Snapshot every random state that affects training: torch's global CPU generator,
    CUDA's, NumPy's, Python's ``random`` and the named ``generators`` (e.g. the batch sampler).

    Returns ``(tensors, json_part)`` for :func:`restore_rng`. Taught in chapter 4.
    """
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = state
    for name, gen in (generators or {}).items():
        tensors[f"gen.{name}"] = gen.get_state()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    version, internal, gauss = random.getstate()
    meta = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
    }
    return tensors, meta


def restore_rng(
    tensors: dict[str, torch.Tensor],
    meta: dict,
    generators: dict[str, torch.Generator] | None = None,
) -> None:
    """Put back the random states saved by :func:`capture_rng`. Taught in chapter 4."""
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    for name, gen in (generators or {}).items():
        if f"gen.{name}" in tensors:
            gen.set_state(tensors[f"gen.{name}"])
    kind, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


# --------------------------------------------------------------------------------------------
# Atomic directory writes
# --------------------------------------------------------------------------------------------


def is_checkpoint(directory: str | os.PathLike) -> bool:
    """True if ``directory`` holds a model (``model.safetensors``) or a full training checkpoint.

    Taught in chapter 4.
    """
    d = Path(directory)
    return d.is_dir() and any((d / m).exists() for m in _MARKERS)


def find_checkpoint(directory: str | os.PathLike) -> Path | None:
    """Return ``directory`` if it holds a complete checkpoint, else ``None``.

    If a save was killed between its two renames, the previous checkpoint waits under a
    hidden ``.NAME.old-…`` name: it is renamed back first. Taught in chapter 4.
    """
    d = Path(directory)
    if not is_checkpoint(d):
        olds = sorted(d.parent.glob(f".{d.name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds and not (d.exists() and any(d.iterdir())):
            if d.exists():
                d.rmdir()
            os.rename(olds[-1], d)
    return d if is_checkpoint(d) else None


@contextmanager
def _atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success, swap it in place of ``final``."""
    final = final.expanduser().absolute()
    if final.exists() and not final.is_dir():
        raise NotADirectoryError(f"{final} is a file; give a directory for the checkpoint")
    if final.exists() and any(final.iterdir()) and not is_checkpoint(final):
        raise FileExistsError(
            f"{final} already holds other files. Saving replaces the whole checkpoint folder, "
            "so give a new or empty directory (e.g. runs/my_model)"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed save
        shutil.rmtree(stale, ignore_errors=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = final.parent / f".{final.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
        for f in tmp.iterdir():  # make sure the bytes are on disk before the rename
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{tag}"
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------------------------


def _unwrap(model: nn.Module) -> nn.Module:
    """The real model inside a DistributedDataParallel or torch.compile wrapper."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def save_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    state: dict[str, Any] | None = None,
    tokenizer: Any = None,
    generators: dict[str, torch.Generator] | None = None,
) -> Path:
    """Write a checkpoint directory atomically (see the module docstring) and return its path.

    ``state`` is any JSON-able dict (the trainer stores its step, schedule and history there);
    ``generators`` are extra ``torch.Generator`` objects whose states to keep. Labkit models
    are saved with ``model.save`` (config.json + model.safetensors); any other ``nn.Module``
    with ``safetensors.torch.save_model``. Taught in chapter 4.
    """
    model = _unwrap(model)
    with _atomic_directory(Path(directory)) as tmp:
        if hasattr(model, "save"):
            model.save(tmp)
        else:
            save_model(model, str(tmp / "model.safetensors"))
        meta: dict[str, Any] = {"format": FORMAT, "state": _jsonable(state or {})}
        if optimizer is not None:
            tensors, meta["optimizer"] = optimizer_state_to_tensors(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
        rng_tensors, meta["rng"] = capture_rng(generators)
        save_file({k: v.contiguous() for k, v in rng_tensors.items()}, str(tmp / "rng.safetensors"))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        (tmp / STATE_FILE).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    return Path(directory)


def load_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    generators: dict[str, torch.Generator] | None = None,
    restore_random: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint into existing objects; return the saved ``state`` dict.

    The weights go into ``model`` (which must have the same architecture), the optimizer's
    running averages into ``optimizer``, and (``restore_random=True``) every RNG state back
    into place, so training continues exactly where it stopped. Never unpickles.
    Taught in chapter 4.
    """
    d = find_checkpoint(directory)
    if d is None:
        raise FileNotFoundError(f"no labkit checkpoint in {Path(directory).absolute()}")
    device = model_device(_unwrap(model))
    missing, unexpected = load_model(
        _unwrap(model), str(d / "model.safetensors"), strict=False, device=str(device)
    )
    if missing or unexpected:
        raise ValueError(
            f"the checkpoint in {d} does not fit this model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}); build the model with the checkpoint's "
            "config.json, e.g. labkit.models.load(directory)"
        )
    state_path = d / STATE_FILE
    if not state_path.exists():  # a bare model directory: weights only
        return {}
    meta = json.loads(state_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{state_path} is not a {FORMAT} file (format {meta.get('format')!r})")
    if optimizer is not None:
        if "optimizer" not in meta:
            raise ValueError(f"{d} holds no optimizer state; it cannot be resumed")
        tensors = load_file(str(d / "optimizer.safetensors"))
        optimizer.load_state_dict(optimizer_state_from_tensors(tensors, meta["optimizer"]))
    if restore_random:
        restore_rng(load_file(str(d / "rng.safetensors")), meta["rng"], generators)
    return meta["state"]
