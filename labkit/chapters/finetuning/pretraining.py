"""Pretraining chapter 5's base models, with a cache: a masked-LM TinyBERT and a causal TinyGPT.

Taught in chapter 5: :func:`pretrain` trains once and ``cache=True`` keeps the result
(safetensors + JSON) in the labkit folder, so the notebook and the multi-seed scripts in
``course/scripts/ch05_*.py`` share the same weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerFast

from labkit._util import atomic_write, check_positive_int
from labkit.env import home_dir
from labkit.models import BertConfig, GPTConfig, TinyBERT, TinyGPT, load
from labkit.train import CausalLMTask, SequenceMLMTask, Task, TrainConfig, TrainResult, train

__all__ = ["SequenceMLMTask", "pretrain"]

_PADDED = {"padding": "max_length", "truncation": True, "return_tensors": "pt"}


# ------------------------------------------------------------------------------------ pretraining


#: What differs between the two pretraining recipes: the default steps, the weight decay, the
#: name the sequence length has in the cache key, and the cache folder's prefix.
_RECIPES = {
    "bert": {"steps": 600, "weight_decay": 0.01, "length": "max_length", "folder": "tiny_bert"},
    "gpt": {"steps": 400, "weight_decay": 0.1, "length": "block_size", "folder": "tiny_gpt"},
}
_RESULT_FIELDS = ("history", "steps", "seconds", "tokens", "tokens_per_s", "train_loss")
_RESULT_FIELDS += ("val_loss", "interrupted")


def _cache_key(
    kind: str, tok: PreTrainedTokenizerFast, texts: Sequence[str], settings: dict[str, Any]
) -> str:
    """A short hash of everything that determines a pretraining run's result."""
    config = json.dumps(settings, sort_keys=True, default=repr)
    h = hashlib.sha256(f"{kind}{json.dumps(sorted(tok.get_vocab().items()))}{config}".encode())
    for text in texts:
        h.update(text.encode() + b"\x00")
    return h.hexdigest()[:16]


def _cached_run(
    cache: bool | str | os.PathLike,
    kind: str,
    key: str,
    run: Callable[[], tuple[nn.Module, TrainResult]],
) -> tuple[nn.Module, TrainResult]:
    """Load ``kind-key`` from the cache, or ``run()`` and save the model (safetensors) and its
    training history there. A damaged cache entry is trained again."""
    if cache is False or cache is None:
        return run()
    path = (home_dir() / "cache" / "finetune" if cache is True else Path(cache)) / f"{kind}-{key}"
    if (path / "result.json").exists():
        try:
            info = json.loads((path / "result.json").read_text(encoding="utf-8"))
            model = load(path).eval()
        except (OSError, ValueError) as err:
            print(f"the cached {kind} in {path} is unreadable ({err}); training it again")
        else:
            print(
                f"loaded the pretrained {kind} from the cache ({info['steps']} steps, trained "
                f"in {info['seconds']:.0f} s); delete {path} to train it again"
            )
            return model, TrainResult(model=model, out_dir=str(path), **info)
    model, result = run()
    # result.json is written last, atomically: an entry without it is never read
    (path / "result.json").unlink(missing_ok=True)
    model.save(path)
    text = json.dumps({k: getattr(result, k) for k in _RESULT_FIELDS})
    atomic_write(path / "result.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return model, result


def pretrain(
    kind: str,
    tok: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    block_size: int = 32,
    n_layer: int = 2,
    n_head: int = 4,
    d_model: int = 64,
    steps: int | None = None,
    batch_size: int = 32,
    lr: float = 6e-3,
    seed: int = 0,
    cache: bool | str | os.PathLike = False,
    **train_options: Any,
) -> tuple[TinyBERT | TinyGPT, TrainResult]:
    """Pretrain a fresh tiny model on ``texts``; returns ``(model in eval mode, TrainResult)``.

    * ``kind="bert"``: masked-LM pretraining of a :class:`~labkit.models.TinyBERT`, one row
      per document (``[CLS] words [SEP]``, truncated to ``block_size`` tokens; default 600
      steps, weight decay 0.01).
    * ``kind="gpt"``: causal-LM pretraining of a word-level :class:`~labkit.models.TinyGPT`;
      the documents, each ``[CLS] words [SEP]``, are joined into one stream, so the GPT learns
      to start after ``[CLS]`` and to end with ``[SEP]`` (default 400 steps, weight decay 0.1).

    ``cache=True`` stores the trained model (``config.json`` + ``model.safetensors``) and its
    history under ``labkit.env.home_dir()/cache/finetune`` (``cache="dir"``: under that
    folder) and loads it on the next call with the same texts, tokenizer and settings — the
    notebook pretrains once, not on every run. ``train_options`` go to
    :func:`labkit.train.train` (e.g. ``progress=True``, ``time_budget=30``; a time budget
    makes the result depend on the machine's speed). Taught in chapter 5.
    """
    if kind not in _RECIPES:
        raise ValueError(f'kind must be "bert" or "gpt", got {kind!r}')
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of documents to pretrain on")
    recipe = _RECIPES[kind]
    steps = check_positive_int(recipe["steps"] if steps is None else steps, "steps")
    sizes = {"n_layer": n_layer, "n_head": n_head, "d_model": d_model}
    run_args = {"batch_size": batch_size, "lr": lr, "seed": seed}
    options = {k: v for k, v in train_options.items() if k not in ("callbacks", "progress")}
    settings = {recipe["length"]: block_size, "steps": steps, **sizes, **run_args, **options}

    def run() -> tuple[nn.Module, TrainResult]:
        shape = {"vocab_size": len(tok), "block_size": block_size, **sizes}
        if kind == "bert":
            ids = tok(list(texts), max_length=block_size, **_PADDED)["input_ids"]
            torch.manual_seed(seed)
            pad = tok.pad_token_id
            model: nn.Module = TinyBERT(BertConfig(**shape, pad_token_id=pad))
            task: Task = SequenceMLMTask(ids, len(tok), tok.mask_token_id, pad_token_id=pad)
        else:
            stream = torch.tensor([i for ids in tok(list(texts))["input_ids"] for i in ids])
            torch.manual_seed(seed)
            model, task = TinyGPT(GPTConfig(**shape)), CausalLMTask(stream, block_size=block_size)
        decay = recipe["weight_decay"]
        config = TrainConfig.quiet(steps, eval_batches=4, weight_decay=decay, **run_args)
        result = train(model, task, config, **train_options)
        return model.eval(), result

    key = _cache_key(kind, tok, texts, settings)
    model, result = _cached_run(cache, recipe["folder"], key, run)
    return model, result  # type: ignore[return-value]
