"""Tiny Transformer models built from :mod:`labkit.nn`: TinyGPT, TinyBERT and an encoder–decoder.

Taught in chapter 3 (building a GPT from parts, counting parameters), chapter 4 (training),
chapter 5 (classification heads on a pretrained TinyBERT) and chapter 8 (translation with the
encoder–decoder).

Every model follows the same call contract (targets equal to -100 are ignored by the loss)::

    logits = model(idx)
    logits, loss = model(idx, targets)
    logits, attn = model(idx, return_attention=True)      # attn: (layers, batch, heads, T, T)
    logits, loss, attn = model(idx, targets, return_attention=True)

and the same checkpoint format: ``model.save(dir)`` writes ``config.json`` +
``model.safetensors``; ``TinyGPT.load(dir)`` or :func:`load` (any model type) reads them back.
Loading never unpickles. Hugging Face interop lives in :mod:`labkit.hf` (``model.to_hf()``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from torch import Tensor, nn

from labkit.nn import (
    ACTIVATIONS,
    LayerNorm,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    padding_mask,
)

__all__ = [
    "GPTConfig",
    "BertConfig",
    "EncDecConfig",
    "TinyGPT",
    "TinyBERT",
    "TinyBertEncoder",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyEncoderDecoder",
    "load",
    "MODEL_TYPES",
    "PICKLE_SUFFIXES",
]

#: File types that hold Python pickles; labkit refuses to load them (they can run code).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
POSITION_KINDS = ("learned", "sinusoidal", "rope")


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


def _validate(cfg: Any) -> None:
    for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f"{name} must be a positive integer, got {getattr(cfg, name)}")
    if cfg.d_model % cfg.n_head != 0:
        raise ValueError(
            f"d_model={cfg.d_model} must be divisible by n_head={cfg.n_head} "
            "(each head gets d_model / n_head dimensions)"
        )
    if cfg.pos not in POSITION_KINDS:
        raise ValueError(f"pos must be one of {POSITION_KINDS}, got {cfg.pos!r}")
    if cfg.pos == "rope" and (cfg.d_model // cfg.n_head) % 2:
        raise ValueError("rotary positions need an even head width d_model / n_head")
    if cfg.pos == "sinusoidal" and cfg.d_model % 2:
        raise ValueError("sinusoidal positions need an even d_model")
    if cfg.activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {cfg.activation!r}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout}")


@dataclass
class GPTConfig:
    """Settings of a :class:`TinyGPT`. Taught in chapter 3.

    The defaults (learned positions, pre-LN, GELU-tanh, biases, tied weights) are GPT-2's
    architecture, so ``to_hf()`` can export them; ``pos="rope"|"sinusoidal"`` and
    ``pre_ln=False`` are experiments with no GPT-2 equivalent. ``fused=True`` uses PyTorch's
    fast attention and LayerNorm kernels (same numbers as the from-scratch code; attention
    weights, when asked for, are computed the from-scratch way).
    """

    vocab_size: int = 256
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int | None = None  # None = 4 * d_model
    dropout: float = 0.0
    activation: str = "gelu_tanh"
    pos: str = "learned"
    pre_ln: bool = True
    bias: bool = True
    tie_weights: bool = True
    fused: bool = True
    layer_norm_eps: float = 1e-5
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        _validate(self)


@dataclass
class BertConfig:
    """Settings of a :class:`TinyBERT` and its classification variants. Taught in chapter 3.

    Defaults follow BERT (post-LN, exact GELU, learned positions, token types, LayerNorm
    eps 1e-12) so ``to_hf()`` gives a ``BertForMaskedLM``. ``type_vocab_size=0`` drops the
    token-type (segment) embeddings. ``num_labels`` is used by the classification heads.
    """

    vocab_size: int = 256
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int | None = None
    dropout: float = 0.0
    activation: str = "gelu"
    pos: str = "learned"
    pre_ln: bool = False
    bias: bool = True
    tie_weights: bool = True
    fused: bool = True
    layer_norm_eps: float = 1e-12
    type_vocab_size: int = 2
    pad_token_id: int = 0
    num_labels: int = 2
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        _validate(self)
        if self.type_vocab_size < 0 or self.num_labels < 1:
            raise ValueError("type_vocab_size must be >= 0 and num_labels >= 1")


@dataclass
class EncDecConfig:
    """Settings of a :class:`TinyEncoderDecoder`. Taught in chapter 8.

    One vocabulary is shared by source and target (train one tokenizer on both sides);
    ``n_layer`` is the depth of the encoder and of the decoder. Defaults follow
    "Attention Is All You Need" (ReLU, sinusoidal positions) except for pre-LN, which
    trains more easily.
    """

    vocab_size: int = 256
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    d_ff: int | None = None
    dropout: float = 0.0
    activation: str = "relu"
    pos: str = "sinusoidal"
    pre_ln: bool = True
    bias: bool = True
    tie_weights: bool = True
    fused: bool = True
    layer_norm_eps: float = 1e-5
    pad_token_id: int | None = 0
    bos_token_id: int = 2
    eos_token_id: int = 3
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        _validate(self)


# --------------------------------------------------------------------------------------------
# Shared machinery: input checks, init, parameter count, save / load
# --------------------------------------------------------------------------------------------


def _check_ids(idx: Tensor, config: Any, name: str = "idx") -> None:
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


def _positions(cfg: Any) -> nn.Module | None:
    if cfg.pos == "learned":
        return LearnedPositionalEmbedding(cfg.block_size, cfg.d_model)
    if cfg.pos == "sinusoidal":
        return SinusoidalPositionalEncoding(cfg.block_size, cfg.d_model)
    return None  # rope: positions enter inside attention


def _layer_norm(cfg: Any) -> LayerNorm:
    return LayerNorm(cfg.d_model, cfg.layer_norm_eps, cfg.fused)


def _final_ln(cfg: Any) -> nn.Module:
    """Pre-LN stacks end with a LayerNorm; post-LN blocks already end with one."""
    return _layer_norm(cfg) if cfg.pre_ln else nn.Identity()


def _blocks(cfg: Any, n: int, cross_attention: bool = False) -> nn.ModuleList:
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


def _lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over all positions whose target is not -100."""
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(logits.shape[:-1])} (one class id per prediction, "
            f"-100 = ignore), got {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.flatten(0, -2), targets.flatten().long(), ignore_index=-100)


def _pack(logits: Tensor, loss: Tensor | None, attn: Any, return_attention: bool) -> Any:
    """The contract: logits | (logits, loss) | (logits, attn) | (logits, loss, attn)."""
    out: tuple[Any, ...] = (logits,)
    if loss is not None:
        out += (loss,)
    if return_attention:
        out += (attn,)
    return out[0] if len(out) == 1 else out


def _atomic_write(path: Path, write: Any) -> None:
    """Write to a temporary file next to ``path`` with ``write(tmp_path)``, then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes private files; checkpoints are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_config(directory: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Validate a checkpoint directory; return (weights path, config dict)."""
    d = Path(directory)
    if not d.exists():
        raise FileNotFoundError(f"no checkpoint directory at {d}")
    if not d.is_dir():
        raise ValueError(f"{d} is a file; pass the checkpoint *directory* (config.json + model.safetensors)")
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
        raise ValueError(f"{config_path} is not valid JSON ({err}); was it edited by hand?") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in MODEL_TYPES:
        hint = (
            " It looks like a Hugging Face directory: load it with transformers and convert it "
            "with labkit.hf.from_hf(hf_model)."
            if model_type
            else ""
        )
        raise ValueError(
            f"{config_path} has model_type {model_type!r}; labkit knows {sorted(MODEL_TYPES)}.{hint}"
        )
    return weights, config


def _config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(values) - known - {"model_type"})
    if unknown:
        warnings.warn(f"ignoring unknown config keys {unknown}", stacklevel=3)
    return config_class(**{k: v for k, v in values.items() if k in known})


class _TinyModel(nn.Module):
    """Shared parts of labkit's models: init, parameter count, save and load."""

    model_type: ClassVar[str]
    config_class: ClassVar[type]

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
        """Number of trainable numbers; shared (tied) weights count once.

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
        needed; each file written to a temporary name, then renamed). Returns the path."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        config = {"model_type": self.model_type, **asdict(self.config)}
        _atomic_write(d / "model.safetensors", lambda tmp: save_model(self, tmp))
        _atomic_write(
            d / "config.json",
            lambda tmp: Path(tmp).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8"),
        )
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike, device: torch.device | str | None = None) -> Any:
        """Load a checkpoint written by :meth:`save` (safetensors only), in eval mode."""
        weights, config = _read_config(directory)
        if config["model_type"] != cls.model_type:
            raise ValueError(
                f"{directory} holds a {config['model_type']!r} model, not {cls.model_type!r}; "
                "use labkit.models.load(directory) to load any labkit model"
            )
        model = cls(_config_from_dict(cls.config_class, config))
        load_model(model, weights, strict=True)
        if device is not None:
            model.to(device)
        return model.eval()

    def to_hf(self) -> nn.Module:
        """The same network as a Hugging Face ``transformers`` model (see :func:`labkit.hf.to_hf`)."""
        from labkit.hf import to_hf

        return to_hf(self)


def load(directory: str | os.PathLike, device: torch.device | str | None = None) -> _TinyModel:
    """Load any labkit checkpoint directory, choosing the class from ``config.json``.

    Taught in chapter 4. Refuses pickle files; the model comes back in eval mode.
    """
    _, config = _read_config(directory)
    return MODEL_TYPES[config["model_type"]].load(directory, device)


# --------------------------------------------------------------------------------------------
# TinyGPT
# --------------------------------------------------------------------------------------------


class TinyGPT(_TinyModel):
    """A decoder-only, causal language model (GPT-2's architecture, tiny).

    Taught in chapter 3. token embedding + position embedding → ``n_layer`` pre-LN blocks with
    causal self-attention → final LayerNorm → linear head (tied to the token embedding), giving
    next-token logits at every position.

    ``TinyGPT(GPTConfig(vocab_size=65))`` or, shorter, ``TinyGPT(vocab_size=65)``.
    """

    model_type = "tiny_gpt"
    config_class = GPTConfig

    def __init__(self, config: GPTConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__()
        config = _make_config(GPTConfig, config, overrides)
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)  # token embedding
        self.wpe = _positions(config)  # position embedding (None with RoPE)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = _blocks(config, config.n_layer)
        self.ln_f = _final_ln(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight  # one matrix for reading and writing tokens
        self._init_weights(config.n_layer)

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, return_attention: bool = False
    ) -> Any:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``; see the module docstring
        for the return contract. ``targets`` ``(B, T)``: next-token ids, -100 = ignore."""
        _check_ids(idx, self.config)
        T = idx.shape[1]
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        x = self.drop(x)
        attns = []
        for block in self.blocks:
            if return_attention:
                x, a = block(x, is_causal=True, return_attention=True)
                attns.append(a)
            else:
                x = block(x, is_causal=True)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, torch.stack(attns) if attns else None, return_attention)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Count the parameters (tied weights once).

        For the default GPT-2-style model (biases, learned positions, d_ff = 4d) with vocabulary
        V, width d, L layers and block size B::

            V·d + B·d            token and position embeddings
          + L · (12·d² + 13·d)   per layer: Q,K,V,O 4d²+4d; FFN 8d²+5d; two LayerNorms 4d
          + 2·d                  final LayerNorm
          (+ V·d                 an untied output head, no bias)

        ``exclude_embeddings=True`` leaves out the embedding tables (and a tied head).
        """
        return super().num_parameters(exclude_embeddings)


# --------------------------------------------------------------------------------------------
# TinyBERT and its heads
# --------------------------------------------------------------------------------------------


class TinyBertEncoder(nn.Module):
    """BERT's body: token + position (+ token-type) embeddings, LayerNorm, and a stack of
    bidirectional (not causal) blocks. Returns one hidden vector per token.

    Taught in chapter 3. Shared by :class:`TinyBERT` and the classification models.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = _positions(config)
        self.tte = (
            nn.Embedding(config.type_vocab_size, config.d_model) if config.type_vocab_size else None
        )
        self.ln_emb = _layer_norm(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = _blocks(config, config.n_layer)
        self.ln_f = _final_ln(config)

    def forward(
        self,
        idx: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Hidden states ``(B, T, d)`` (and attention ``(layers, B, heads, T, T)``).

        ``attention_mask`` ``(B, T)``: 1 = real token, 0 = padding (no token attends to pads).
        ``token_type_ids`` ``(B, T)``: segment ids (0 for sentence A, 1 for sentence B).
        """
        cfg = self.config
        _check_ids(idx, cfg)
        T = idx.shape[1]
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        if token_type_ids is not None:
            if self.tte is None:
                raise ValueError("this model has no token types (type_vocab_size=0); drop token_type_ids")
            if token_type_ids.shape != idx.shape:
                raise ValueError("token_type_ids must have the same shape as idx")
            if int(token_type_ids.min()) < 0 or int(token_type_ids.max()) >= cfg.type_vocab_size:
                raise ValueError(f"token_type_ids must be in 0..{cfg.type_vocab_size - 1}")
            x = x + self.tte(token_type_ids)
        elif self.tte is not None:
            x = x + self.tte.weight[0]  # everything is segment 0
        x = self.drop(self.ln_emb(x))
        mask = None
        if attention_mask is not None:
            if attention_mask.shape != idx.shape:
                raise ValueError(
                    f"attention_mask must have the shape of idx {tuple(idx.shape)} "
                    f"(1 = token, 0 = padding), got {tuple(attention_mask.shape)}"
                )
            mask = padding_mask(attention_mask)
        attns = []
        for block in self.blocks:
            if return_attention:
                x, a = block(x, mask=mask, return_attention=True)
                attns.append(a)
            else:
                x = block(x, mask=mask)
        x = self.ln_f(x)
        return (x, torch.stack(attns)) if return_attention else x


class _BertModelBase(_TinyModel):
    config_class = BertConfig

    def _encode(self, idx: Tensor, attention_mask: Tensor | None, token_type_ids: Tensor | None,
                return_attention: bool) -> tuple[Tensor, Tensor | None]:
        out = self.bert(idx, attention_mask, token_type_ids, return_attention)
        return out if return_attention else (out, None)


class TinyBERT(_BertModelBase):
    """A bidirectional encoder with BERT's masked-language-model head.

    Taught in chapter 3 (architecture) and chapter 4 (masked-LM training). The MLM head is
    BERT's: dense → activation → LayerNorm → linear decoder tied to the token embedding, plus
    a per-token bias. Train it by replacing some input tokens by [MASK] and setting
    ``targets`` to the original ids at those positions and -100 elsewhere.

    Call: ``model(idx, targets=None, return_attention=False, attention_mask=None,
    token_type_ids=None)``, same return contract as :class:`TinyGPT`.
    """

    model_type = "tiny_bert"

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__()
        config = _make_config(BertConfig, config, overrides)
        self.config = config
        self.bert = TinyBertEncoder(config)
        self.mlm_dense = nn.Linear(config.d_model, config.d_model)
        self.mlm_act = ACTIVATIONS[config.activation]
        self.mlm_ln = _layer_norm(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)
        if config.tie_weights:
            self.lm_head.weight = self.bert.wte.weight
        self._init_weights(config.n_layer)

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Any:
        """Logits ``(B, T, vocab)`` at every position; loss only where targets ≠ -100."""
        h, attn = self._encode(idx, attention_mask, token_type_ids, return_attention)
        logits = self.lm_head(self.mlm_ln(self.mlm_act(self.mlm_dense(h))))
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, attn, return_attention)


class _BertClassifierBase(_BertModelBase):
    """Shared constructor for the heads: a TinyBertEncoder plus a task-specific layer."""

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__()
        config = _make_config(BertConfig, config, overrides)
        self.config = config
        self.bert = TinyBertEncoder(config)
        self.drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)

    @classmethod
    def from_pretrained(
        cls, source: nn.Module | str | os.PathLike, num_labels: int | None = None
    ) -> Any:
        """A classifier whose encoder starts from a pretrained model's encoder weights.

        Taught in chapter 5 (transfer learning). ``source`` is a TinyBERT (or any labkit BERT
        model) or a checkpoint directory; the new head is freshly initialised.
        """
        if not isinstance(source, nn.Module):
            source = load(source)
        if not isinstance(getattr(source, "bert", None), TinyBertEncoder):
            raise TypeError(f"expected a TinyBERT-family model, got {type(source).__name__}")
        config = replace(source.config, num_labels=num_labels or source.config.num_labels)
        model = cls(config)
        model.bert.load_state_dict(source.bert.state_dict())
        return model.to(next(source.parameters()).device)


class TinyBertForSequenceClassification(_BertClassifierBase):
    """TinyBERT encoder + BERT's pooler (dense + tanh on the first token, [CLS]) + a linear
    classifier: one label per sequence (sentiment, topic).

    Taught in chapter 5. ``logits (B, num_labels)``; ``targets (B,)`` class ids.
    """

    model_type = "tiny_bert_seq_cls"

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.pooler = nn.Linear(self.config.d_model, self.config.d_model)
        self._init_weights(self.config.n_layer)

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Any:
        """Class logits for each sequence, same return contract as the other models."""
        h, attn = self._encode(idx, attention_mask, token_type_ids, return_attention)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        logits = self.classifier(self.drop(pooled))
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, attn, return_attention)


class TinyBertForTokenClassification(_BertClassifierBase):
    """TinyBERT encoder + a linear classifier on every token (NER, tagging).

    Taught in chapter 5. ``logits (B, T, num_labels)``; ``targets (B, T)``, -100 = ignore
    (padding, sub-word continuations).
    """

    model_type = "tiny_bert_token_cls"

    def __init__(self, config: BertConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._init_weights(self.config.n_layer)

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Any:
        """Per-token class logits, same return contract as the other models."""
        h, attn = self._encode(idx, attention_mask, token_type_ids, return_attention)
        logits = self.classifier(self.drop(h))
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, attn, return_attention)


# --------------------------------------------------------------------------------------------
# Encoder–decoder
# --------------------------------------------------------------------------------------------


class TinyEncoderDecoder(_TinyModel):
    """A small encoder–decoder Transformer for sequence-to-sequence tasks (translation,
    summarisation), as in "Attention Is All You Need".

    Taught in chapter 8. The encoder reads the whole source bidirectionally; the decoder
    predicts the target one token at a time with causal self-attention plus cross-attention to
    the encoder's output. One embedding matrix serves source, target and the output head.

    Call: ``model(src, tgt_in, targets=None, return_attention=False, src_attention_mask=None)``
    with ``tgt_in = [BOS] y1 .. y(n-1)`` and ``targets = y1 .. yn [EOS]`` (-100 = ignore).
    Returns logits ``(B, T_tgt, vocab)`` [, loss] [, attn] where ``attn`` is a dict with
    ``"encoder"`` ``(layers, B, heads, S, S)``, ``"decoder"`` ``(layers, B, heads, T, T)`` and
    ``"cross"`` ``(layers, B, heads, T, S)``. Source padding (``src == pad_token_id``) is
    masked automatically unless ``src_attention_mask`` is given. :meth:`generate` decodes
    greedily; ``labkit.generate`` covers sampling and beam search for decoder-only models.
    """

    model_type = "tiny_encoder_decoder"
    config_class = EncDecConfig

    def __init__(self, config: EncDecConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__()
        config = _make_config(EncDecConfig, config, overrides)
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = _positions(config)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = _blocks(config, config.n_layer)
        self.enc_ln = _final_ln(config)
        self.decoder = _blocks(config, config.n_layer, cross_attention=True)
        self.dec_ln = _final_ln(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight
        self._init_weights(2 * config.n_layer)

    def _embed(self, ids: Tensor) -> Tensor:
        x = self.wte(ids) * math.sqrt(self.config.d_model)  # the paper scales embeddings by √d
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        return self.drop(x)

    def _src_mask(self, src: Tensor, src_attention_mask: Tensor | None) -> Tensor | None:
        if src_attention_mask is None and self.config.pad_token_id is not None:
            src_attention_mask = (src != self.config.pad_token_id).long()
        if src_attention_mask is None:
            return None
        if src_attention_mask.shape != src.shape:
            raise ValueError("src_attention_mask must have the same shape as src")
        return padding_mask(src_attention_mask)

    def encode(
        self, src: Tensor, src_attention_mask: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The encoder output ("memory") ``(B, S, d)`` [and its attention]."""
        _check_ids(src, self.config, "src")
        mask = self._src_mask(src, src_attention_mask)
        x, attns = self._embed(src), []
        for block in self.encoder:
            if return_attention:
                x, a = block(x, mask=mask, return_attention=True)
                attns.append(a)
            else:
                x = block(x, mask=mask)
        x = self.enc_ln(x)
        return (x, torch.stack(attns)) if return_attention else x

    def decode(
        self,
        tgt_in: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """Target logits ``(B, T, vocab)`` given the encoder ``memory`` [and self/cross
        attention]. ``memory_mask``: boolean key mask, e.g. ``padding_mask(src_attention_mask)``."""
        _check_ids(tgt_in, self.config, "tgt_in")
        x, self_attns, cross_attns = self._embed(tgt_in), [], []
        for block in self.decoder:
            if return_attention:
                x, a, c = block(x, is_causal=True, memory=memory, memory_mask=memory_mask,
                                return_attention=True)
                self_attns.append(a)
                cross_attns.append(c)
            else:
                x = block(x, is_causal=True, memory=memory, memory_mask=memory_mask)
        logits = self.lm_head(self.dec_ln(x))
        if return_attention:
            return logits, torch.stack(self_attns), torch.stack(cross_attns)
        return logits

    def forward(
        self,
        src: Tensor,
        tgt_in: Tensor,
        targets: Tensor | None = None,
        return_attention: bool = False,
        src_attention_mask: Tensor | None = None,
    ) -> Any:
        """Teacher-forced logits for ``tgt_in`` given ``src``; see the class docstring."""
        if return_attention:
            memory, enc_attn = self.encode(src, src_attention_mask, return_attention=True)
            memory_mask = self._src_mask(src, src_attention_mask)
            logits, dec_attn, cross_attn = self.decode(tgt_in, memory, memory_mask, True)
            attn = {"encoder": enc_attn, "decoder": dec_attn, "cross": cross_attn}
        else:
            memory = self.encode(src, src_attention_mask)
            memory_mask = self._src_mask(src, src_attention_mask)
            logits, attn = self.decode(tgt_in, memory, memory_mask), None
        loss = None if targets is None else _lm_loss(logits, targets)
        return _pack(logits, loss, attn, return_attention)

    @torch.no_grad()
    def generate(
        self,
        src: Tensor,
        max_new_tokens: int | None = None,
        src_attention_mask: Tensor | None = None,
    ) -> Tensor:
        """Greedy decoding: ``[BOS] y1 y2 ...`` until every sequence has produced EOS (later
        positions are filled with the pad id) or ``max_new_tokens`` (default: block_size - 1).

        Taught in chapter 8. Call ``model.eval()`` first so dropout is off.
        """
        cfg = self.config
        if max_new_tokens is None:
            max_new_tokens = cfg.block_size - 1
        if not 1 <= max_new_tokens < cfg.block_size:
            raise ValueError(f"max_new_tokens must be in 1..{cfg.block_size - 1} (block_size - 1)")
        memory = self.encode(src, src_attention_mask)
        memory_mask = self._src_mask(src, src_attention_mask)
        out = torch.full((src.shape[0], 1), cfg.bos_token_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        fill = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
        for _ in range(max_new_tokens):
            next_id = self.decode(out, memory, memory_mask)[:, -1].argmax(dim=-1)
            next_id = torch.where(done, torch.full_like(next_id, fill), next_id)
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == cfg.eos_token_id
            if bool(done.all()):
                break
        return out


#: config.json "model_type" -> class, used by :func:`load`.
MODEL_TYPES: dict[str, type[_TinyModel]] = {
    cls.model_type: cls
    for cls in (
        TinyGPT,
        TinyBERT,
        TinyBertForSequenceClassification,
        TinyBertForTokenClassification,
        TinyEncoderDecoder,
    )
}


# The real pretrained models (chapter 8) live in labkit.real_models; these names are re-exported
# lazily so that ``labkit.models.load_real("minilm")`` works without importing them up front.
_REAL_MODEL_NAMES = ("install_real", "load_real", "real_available", "RealModelNotInstalledError")


def __getattr__(name: str) -> Any:
    if name in _REAL_MODEL_NAMES:
        from labkit import real_models

        return getattr(real_models, name)
    raise AttributeError(f"module 'labkit.models' has no attribute {name!r}")
