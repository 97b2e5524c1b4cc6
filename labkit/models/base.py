"""What every labkit model shares: input checks, building blocks, the loss, init, save and load.

Taught in chapter 3 (the call contract, initialisation, counting parameters) and chapter 4
(checkpoints: ``model.save(dir)`` and :func:`load`). The models themselves live in
:mod:`labkit.models.gpt`, :mod:`labkit.models.bert` and :mod:`labkit.models.encdec`.

A checkpoint is a directory with ``config.json`` (the config plus ``"model_type"``) and
``model.safetensors``. Loading never unpickles: a directory that holds pickle files
(:data:`PICKLE_SUFFIXES`) is refused.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import Tensor, nn

from labkit._util import IGNORE_INDEX, atomic_write
from labkit.models.config import ModelConfig
from labkit.nn import (
    LayerNorm,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
)

__all__ = ["MODEL_TYPES", "PICKLE_SUFFIXES", "load", "run_blocks"]

#: File types that hold Python pickles; labkit refuses to load them (they can run code).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


# --------------------------------------------------------------------------------------------
# Inputs, building blocks, the block loop, the loss
# --------------------------------------------------------------------------------------------


def _check_ids(idx: Tensor, config: ModelConfig, name: str = "idx") -> None:
    if not isinstance(idx, Tensor) or idx.dtype not in (torch.long, torch.int32):
        raise TypeError(
            f"{name} must be a LongTensor of token ids (batch, time), e.g. "
            f"torch.tensor([[5, 1, 7]]); got {type(idx).__name__} "
            f"{getattr(idx, 'dtype', '')}".rstrip()
        )
    if idx.dim() != 2:
        raise ValueError(
            f"{name} must have shape (batch, time), got {tuple(idx.shape)}; "
            "for a single sequence add a batch dimension: idx[None]"
        )
    T = idx.shape[1]
    if T == 0:
        raise ValueError(f"{name} is empty: give at least one token")
    if T > config.block_size:
        raise ValueError(
            f"{name} has {T} tokens but the model's block_size (context length) is "
            f"{config.block_size}; crop it, e.g. idx[:, -{config.block_size}:]"
        )
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= config.vocab_size:
        bad = hi if hi >= config.vocab_size else lo
        raise ValueError(
            f"token id {bad} in {name} is outside the vocabulary 0..{config.vocab_size - 1}; "
            "was the text encoded with a different tokenizer, or vocab_size set too small?"
        )


def _make_config(config_class: type, config: Any, overrides: dict[str, Any]) -> Any:
    """``config`` (a config, a dict or None) with ``overrides`` applied, validated."""
    if config is None:
        config = config_class()
    elif isinstance(config, dict):
        config = config_class(**config)
    elif type(config) is not config_class:
        raise TypeError(f"expected a {config_class.__name__}, got {type(config).__name__}")
    return replace(config, **overrides)


def _positions(cfg: ModelConfig) -> nn.Module | None:
    if cfg.pos == "learned":
        return LearnedPositionalEmbedding(cfg.block_size, cfg.d_model)
    if cfg.pos == "sinusoidal":
        return SinusoidalPositionalEncoding(cfg.block_size, cfg.d_model)
    return None  # rope: positions enter inside attention


def _add_positions(x: Tensor, wpe: nn.Module | None) -> Tensor:
    """``x`` ``(B, T, d)`` plus the position embedding of 0..T-1 (none with RoPE)."""
    return x if wpe is None else x + wpe(torch.arange(x.shape[1], device=x.device))


def _layer_norm(cfg: ModelConfig) -> LayerNorm:
    return LayerNorm(cfg.d_model, cfg.layer_norm_eps, cfg.fused)


def _final_ln(cfg: ModelConfig) -> nn.Module:
    """Pre-LN stacks end with a LayerNorm; post-LN blocks already end with one."""
    return _layer_norm(cfg) if cfg.pre_ln else nn.Identity()


def _blocks(cfg: ModelConfig, n: int, cross_attention: bool = False) -> nn.ModuleList:
    return nn.ModuleList(
        TransformerBlock(
            cfg.d_model,
            cfg.n_head,
            cfg.d_ff,
            cfg.dropout,
            pre_ln=cfg.pre_ln,
            activation=cfg.activation,
            cross_attention=cross_attention,
            bias=cfg.bias,
            fused=cfg.fused,
            rope=cfg.pos == "rope",
            eps=cfg.layer_norm_eps,
        )
        for _ in range(n)
    )


def run_blocks(
    blocks: nn.ModuleList, x: Tensor, return_attention: bool = False, **block_kwargs: Any
) -> tuple[Tensor, list[Tensor]]:
    """Send ``x`` ``(B, T, d)`` through a stack of Transformer blocks, one after the other.

    Taught in chapter 3. ``block_kwargs`` go to every block (``is_causal=True``, ``mask=``,
    ``memory=``...). Returns ``(x, maps)``: ``maps`` is ``[]`` unless ``return_attention``;
    then it holds one tensor ``(layers, B, heads, T, S)`` per kind of attention the blocks
    have: ``[self]``, or ``[self, cross]`` for decoder blocks with cross-attention.
    """
    per_layer = []
    for block in blocks:
        if return_attention:
            x, *maps = block(x, return_attention=True, **block_kwargs)
            per_layer.append(maps)
        else:
            x = block(x, **block_kwargs)
    return x, [torch.stack(kind) for kind in zip(*per_layer)]


def _lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over all positions whose target is not -100 (``IGNORE_INDEX``)."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(logits.shape[:-1])} (one class id per prediction, "
            f"-100 = ignore), got {tuple(targets.shape)}"
        )
    return F.cross_entropy(
        logits.flatten(0, -2), targets.flatten().long(), ignore_index=IGNORE_INDEX
    )


def _pack(logits: Tensor, loss: Tensor | None, attn: Any, return_attention: bool) -> Any:
    """The contract: logits | (logits, loss) | (logits, attn) | (logits, loss, attn)."""
    out: tuple[Any, ...] = (logits,)
    if loss is not None:
        out += (loss,)
    if return_attention:
        out += (attn,)
    return out[0] if len(out) == 1 else out


# --------------------------------------------------------------------------------------------
# Checkpoint directories
# --------------------------------------------------------------------------------------------

#: config.json "model_type" -> class, used by :func:`load`. Each model class adds itself when
#: it is defined (see ``_TinyModel.__init_subclass__``).
MODEL_TYPES: dict[str, type[_TinyModel]] = {}


def _read_config(directory: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Validate a checkpoint directory; return (weights path, config dict)."""
    d = Path(directory)
    if not d.exists():
        raise FileNotFoundError(f"no checkpoint directory at {d}")
    if not d.is_dir():
        raise ValueError(
            f"{d} is a file; pass the checkpoint *directory* (config.json + model.safetensors)"
        )
    weights = d / "model.safetensors"
    pickles = sorted(p.name for p in d.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:  # refused even beside model.safetensors: we cannot tell which one is meant
        raise ValueError(
            f"refusing to load {d}: it holds pickle files ({', '.join(pickles)}), and "
            "unpickling can run arbitrary code. labkit loads only model.safetensors; convert "
            "trusted weights with safetensors.torch.save_file(state_dict, 'model.safetensors') "
            "and remove the pickle files"
        )
    if not weights.exists():
        raise FileNotFoundError(f"{d} has no model.safetensors; is it a labkit checkpoint?")
    config_path = d / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{d} has model.safetensors but no config.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{config_path} is not valid JSON ({err}); was it edited by hand?"
        ) from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in MODEL_TYPES:
        hint = (
            " It looks like a Hugging Face directory: load it with transformers and convert it "
            "with labkit.hf.from_hf(hf_model)."
            if model_type
            else ""
        )
        raise ValueError(
            f"{config_path} has model_type {model_type!r}; "
            f"labkit knows {sorted(MODEL_TYPES)}.{hint}"
        )
    return weights, config


def _config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(values) - known - {"model_type"})
    if unknown:
        warnings.warn(f"ignoring unknown config keys {unknown}", stacklevel=3)
    return config_class(**{k: v for k, v in values.items() if k in known})


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------


class _TinyModel(nn.Module):
    """Shared parts of labkit's models: init, parameter count, save and load."""

    model_type: ClassVar[str]
    config_class: ClassVar[type]
    #: May the trainer split a batch into parts and add up the parts' losses? Only where each
    #: row's loss depends on that row alone (see ``TinyGPT``); False unless a model says so.
    batch_rows_independent: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "model_type" in cls.__dict__:  # a concrete model: make it loadable by its type
            MODEL_TYPES[cls.model_type] = cls

    def __init__(self, config: Any = None, overrides: dict[str, Any] | None = None) -> None:
        """Keep ``config`` (a config, a dict or None) with ``overrides`` applied, validated."""
        super().__init__()
        self.config = _make_config(self.config_class, config, overrides or {})

    @staticmethod
    def _output(logits: Tensor, targets: Tensor | None, attn: Any, return_attention: bool) -> Any:
        """The call contract for ``logits``: with the loss when there are ``targets``."""
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, attn, return_attention)

    def _init_weights(self, n_residual_layers: int) -> None:
        """GPT-2 initialisation: N(0, 0.02) weights, zero biases; the projections that write
        into the residual stream (w_o, ffn.w2) get std 0.02 / √(2·layers)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():
            if name.endswith(("w_o.weight", "ffn.w2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_residual_layers))

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of trainable numbers; shared (tied) weights count once. Taught in chapter 3.

        ``exclude_embeddings=True`` leaves out the token, position and token-type lookup
        tables (and so a head tied to the token embedding).
        """
        params = {id(p): p for p in self.parameters()}
        if exclude_embeddings:
            for m in self.modules():
                if isinstance(m, nn.Embedding):
                    params.pop(id(m.weight), None)
        return sum(p.numel() for p in params.values())

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if
        needed; each file written to a temporary name, then renamed). Returns the path.

        Taught in chapter 4.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        config = {"model_type": self.model_type, **asdict(self.config)}
        text = json.dumps(config, indent=2) + "\n"
        atomic_write(d / "model.safetensors", lambda tmp: save_model(self, tmp))
        atomic_write(d / "config.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike, device: torch.device | str | None = None) -> Any:
        """Load a checkpoint written by :meth:`save` (safetensors only), in eval mode.

        Taught in chapter 4.
        """
        weights, config = _read_config(directory)
        if config["model_type"] != cls.model_type:
            raise ValueError(
                f"{directory} holds a {config['model_type']!r} model, not {cls.model_type!r}; "
                "use labkit.models.load(directory) to load any labkit model"
            )
        model = cls(_config_from_dict(cls.config_class, config))
        try:
            load_model(model, weights, strict=True)
        except SafetensorError as err:  # neither OSError nor ValueError: say what to do
            raise ValueError(
                f"{weights} is damaged or not a safetensors file ({err}); delete the checkpoint "
                "directory and save the model again (or copy it again from where it came from)"
            ) from None
        if device is not None:
            model.to(device)
        return model.eval()


class _TokenLM(_TinyModel):
    """A model that reads tokens through ``wte`` (+ ``wpe``, dropout) and writes them with
    ``lm_head``, tied to ``wte`` when ``config.tie_weights``: TinyGPT, TinyEncoderDecoder."""

    #: Multiply token embeddings by √d_model before adding positions (as the Transformer paper)?
    scale_embeddings: ClassVar[bool] = False

    def _add_embeddings(self) -> None:
        cfg = self.config
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)  # token embedding
        self.wpe = _positions(cfg)  # position embedding (None with RoPE)
        self.drop = nn.Dropout(cfg.dropout)

    def _add_lm_head(self) -> None:
        cfg = self.config
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight  # one matrix for reading and writing tokens

    def _embed(self, ids: Tensor) -> Tensor:
        """Token plus position embeddings, then dropout."""
        x = self.wte(ids)
        if self.scale_embeddings:
            x = x * math.sqrt(self.config.d_model)
        return self.drop(_add_positions(x, self.wpe))


def load(directory: str | os.PathLike, device: torch.device | str | None = None) -> _TinyModel:
    """Load any labkit checkpoint directory, choosing the class from ``config.json``.

    Taught in chapter 4. Refuses pickle files; the model comes back in eval mode.
    """
    _, config = _read_config(directory)
    return MODEL_TYPES[config["model_type"]].load(directory, device)
