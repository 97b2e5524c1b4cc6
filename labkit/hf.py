"""Hugging Face interop: the same network as a ``transformers`` model, and back.

Taught in chapter 3 (same weights → same logits as GPT-2 / BERT) and chapter 8
(``transformers.pipeline`` on our own exported model).

===============================  ==========================================
labkit                           transformers
===============================  ==========================================
TinyGPT                          GPT2LMHeadModel
TinyBERT                         BertForMaskedLM
TinyBertForSequenceClassification BertForSequenceClassification
TinyBertForTokenClassification   BertForTokenClassification
===============================  ==========================================

Only weights are copied; nothing is downloaded. labkit keeps Q, K and V as three ``nn.Linear``
layers; GPT-2 stores them side by side in one ``Conv1D`` (``c_attn``) whose weight is the
*transpose* of a Linear weight (``y = x W + b``), so the conversion concatenates and transposes.
Options with no Hugging Face equivalent (RoPE or sinusoidal positions, post-LN GPT, pre-LN BERT,
no biases) make :func:`to_hf` raise a ``ValueError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import Tensor, nn

from labkit._util import model_device
from labkit.models import (
    BertConfig,
    GPTConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyGPT,
)

__all__ = ["to_hf", "from_hf", "save_hf"]

# labkit activation name -> Hugging Face name, and back.
_ACT_TO_HF = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}
_ACT_FROM_HF = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}

_BERT_HEADS: dict[type, type] = {
    TinyBERT: transformers.BertForMaskedLM,
    TinyBertForSequenceClassification: transformers.BertForSequenceClassification,
    TinyBertForTokenClassification: transformers.BertForTokenClassification,
}


# labkit config field -> Hugging Face config field, for the fields that carry over one to one
# (the activation's name goes through the tables above).
_GPT_FIELDS = {
    "vocab_size": "vocab_size",
    "block_size": "n_positions",
    "n_layer": "n_layer",
    "n_head": "n_head",
    "d_model": "n_embd",
    "d_ff": "n_inner",
    "activation": "activation_function",
    "dropout": "resid_pdrop",
    "layer_norm_eps": "layer_norm_epsilon",
    "tie_weights": "tie_word_embeddings",
}
_BERT_FIELDS = {
    "vocab_size": "vocab_size",
    "block_size": "max_position_embeddings",
    "n_layer": "num_hidden_layers",
    "n_head": "num_attention_heads",
    "d_model": "hidden_size",
    "d_ff": "intermediate_size",
    "activation": "hidden_act",
    "dropout": "hidden_dropout_prob",
    "layer_norm_eps": "layer_norm_eps",
    "tie_weights": "tie_word_embeddings",
    "type_vocab_size": "type_vocab_size",
    "pad_token_id": "pad_token_id",
    "num_labels": "num_labels",
}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_expressible(c: Any, hf_name: str, pre_ln: bool) -> None:
    """Refuse labkit options that the Hugging Face architecture ``hf_name`` cannot express."""
    _require(c.pos == "learned", f"{hf_name} has learned positions; this model uses pos={c.pos!r}")
    ln = "pre-LN" if pre_ln else "post-LN"
    _require(c.pre_ln == pre_ln, f"{hf_name} is {ln}; this model has pre_ln={c.pre_ln}")
    _require(c.bias, f"{hf_name}'s layers have biases; this model has bias=False")


def _hf_config_values(c: Any, fields: dict[str, str]) -> dict[str, Any]:
    """A labkit config's values under the Hugging Face names of ``fields``."""
    values = {theirs: getattr(c, ours) for ours, theirs in fields.items()}
    values[fields["activation"]] = _ACT_TO_HF[c.activation]
    return values


def _labkit_config_values(c: Any, fields: dict[str, str]) -> dict[str, Any]:
    """A Hugging Face config's values under labkit's names; refuses unknown activations."""
    act = getattr(c, fields["activation"])
    _require(act in _ACT_FROM_HF, f"activation {act!r} has no labkit equivalent")
    values = {ours: getattr(c, theirs) for ours, theirs in fields.items()}
    values["activation"] = _ACT_FROM_HF[act]
    values["tie_weights"] = bool(getattr(c, "tie_word_embeddings", True))
    return values


# --------------------------------------------------------------------------------------------
# TinyGPT <-> GPT2LMHeadModel
# --------------------------------------------------------------------------------------------


def _gpt_state_dict(model: TinyGPT) -> dict[str, Tensor]:
    """Our weights under GPT-2's names (Conv1D weights are Linear weights transposed)."""
    sd = {"transformer.wte.weight": model.wte.weight, "transformer.wpe.weight": model.wpe.weight}
    for i, block in enumerate(model.blocks):
        p, a = f"transformer.h.{i}.", block.attn
        sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = block.ln1.weight, block.ln1.bias
        sd[p + "attn.c_attn.weight"] = torch.cat([a.w_q.weight, a.w_k.weight, a.w_v.weight]).T
        sd[p + "attn.c_attn.bias"] = torch.cat([a.w_q.bias, a.w_k.bias, a.w_v.bias])
        sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"] = a.w_o.weight.T, a.w_o.bias
        sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = block.ln2.weight, block.ln2.bias
        w1, w2 = block.ffn.w1, block.ffn.w2
        sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"] = w1.weight.T, w1.bias
        sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"] = w2.weight.T, w2.bias
    sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"] = model.ln_f.weight, model.ln_f.bias
    sd["lm_head.weight"] = model.lm_head.weight
    return sd


def _gpt_to_hf(model: TinyGPT) -> transformers.GPT2LMHeadModel:
    c = model.config
    _check_expressible(c, "GPT-2", pre_ln=True)
    hf_config = transformers.GPT2Config(
        **_hf_config_values(c, _GPT_FIELDS),
        embd_pdrop=c.dropout,
        attn_pdrop=c.dropout,
        bos_token_id=None,
        eos_token_id=None,
    )
    hf = transformers.GPT2LMHeadModel(hf_config)
    hf.load_state_dict(_gpt_state_dict(model), strict=True)
    return hf


def _gpt_from_hf(hf: transformers.GPT2LMHeadModel) -> TinyGPT:
    c = hf.config
    _require(
        c.scale_attn_weights
        and not c.scale_attn_by_inverse_layer_idx
        and not c.add_cross_attention,
        "only plain GPT-2 attention converts (scale_attn_weights=True, no layer-idx scaling, "
        "no cross-attention)",
    )
    config = GPTConfig(**_labkit_config_values(c, _GPT_FIELDS))
    model = TinyGPT(config)
    hf_sd, d = hf.state_dict(), c.n_embd
    sd = {
        "wte.weight": hf_sd["transformer.wte.weight"],
        "wpe.weight": hf_sd["transformer.wpe.weight"],
        "ln_f.weight": hf_sd["transformer.ln_f.weight"],
        "ln_f.bias": hf_sd["transformer.ln_f.bias"],
        "lm_head.weight": hf_sd["lm_head.weight"],
    }
    for i in range(c.n_layer):
        p, q = f"transformer.h.{i}.", f"blocks.{i}."
        w_q, w_k, w_v = hf_sd[p + "attn.c_attn.weight"].T.split(d)  # Conv1D -> 3 Linear weights
        b_q, b_k, b_v = hf_sd[p + "attn.c_attn.bias"].split(d)
        sd |= {
            q + "attn.w_q.weight": w_q,
            q + "attn.w_k.weight": w_k,
            q + "attn.w_v.weight": w_v,
            q + "attn.w_q.bias": b_q,
            q + "attn.w_k.bias": b_k,
            q + "attn.w_v.bias": b_v,
            q + "attn.w_o.weight": hf_sd[p + "attn.c_proj.weight"].T,
            q + "attn.w_o.bias": hf_sd[p + "attn.c_proj.bias"],
            q + "ffn.w1.weight": hf_sd[p + "mlp.c_fc.weight"].T,
            q + "ffn.w1.bias": hf_sd[p + "mlp.c_fc.bias"],
            q + "ffn.w2.weight": hf_sd[p + "mlp.c_proj.weight"].T,
            q + "ffn.w2.bias": hf_sd[p + "mlp.c_proj.bias"],
        }
        for ln in ("1", "2"):
            sd[q + f"ln{ln}.weight"] = hf_sd[p + f"ln_{ln}.weight"]
            sd[q + f"ln{ln}.bias"] = hf_sd[p + f"ln_{ln}.bias"]
    model.load_state_dict(sd, strict=True)
    return model


# --------------------------------------------------------------------------------------------
# TinyBERT family <-> Bert*
# --------------------------------------------------------------------------------------------


def _bert_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Our weights under BERT's names (same layout: plain Linear layers)."""
    enc = model.bert
    sd = {
        "bert.embeddings.word_embeddings.weight": enc.wte.weight,
        "bert.embeddings.position_embeddings.weight": enc.wpe.weight,
        "bert.embeddings.token_type_embeddings.weight": (
            enc.tte.weight if enc.tte is not None else torch.zeros(1, enc.config.d_model)
        ),
        "bert.embeddings.LayerNorm.weight": enc.ln_emb.weight,
        "bert.embeddings.LayerNorm.bias": enc.ln_emb.bias,
    }
    names = {  # our module -> BERT's module, inside one layer
        "attn.w_q": "attention.self.query",
        "attn.w_k": "attention.self.key",
        "attn.w_v": "attention.self.value",
        "attn.w_o": "attention.output.dense",
        "ln1": "attention.output.LayerNorm",
        "ffn.w1": "intermediate.dense",
        "ffn.w2": "output.dense",
        "ln2": "output.LayerNorm",
    }
    for i, block in enumerate(enc.blocks):
        for ours, theirs in names.items():
            module = block.get_submodule(ours)
            sd[f"bert.encoder.layer.{i}.{theirs}.weight"] = module.weight
            sd[f"bert.encoder.layer.{i}.{theirs}.bias"] = module.bias
    if isinstance(model, TinyBERT):
        sd["cls.predictions.transform.dense.weight"] = model.mlm_dense.weight
        sd["cls.predictions.transform.dense.bias"] = model.mlm_dense.bias
        sd["cls.predictions.transform.LayerNorm.weight"] = model.mlm_ln.weight
        sd["cls.predictions.transform.LayerNorm.bias"] = model.mlm_ln.bias
        sd["cls.predictions.decoder.weight"] = model.lm_head.weight
        sd["cls.predictions.decoder.bias"] = model.lm_head.bias
        sd["cls.predictions.bias"] = model.lm_head.bias
    else:
        if isinstance(model, TinyBertForSequenceClassification):
            sd["bert.pooler.dense.weight"] = model.pooler.weight
            sd["bert.pooler.dense.bias"] = model.pooler.bias
        sd["classifier.weight"] = model.classifier.weight
        sd["classifier.bias"] = model.classifier.bias
    return sd


def _bert_to_hf(model: nn.Module) -> nn.Module:
    c = model.config
    _check_expressible(c, "BERT", pre_ln=False)
    values = _hf_config_values(c, _BERT_FIELDS)
    values["intermediate_size"] = c.d_ff or 4 * c.d_model
    values["type_vocab_size"] = max(1, c.type_vocab_size)  # no token types = one all-zero type
    hf_config = transformers.BertConfig(**values, attention_probs_dropout_prob=c.dropout)
    hf = _BERT_HEADS[type(model)](hf_config)
    hf.load_state_dict(_bert_state_dict(model), strict=True)
    return hf


def _bert_from_hf(hf: nn.Module) -> nn.Module:
    c = hf.config
    _require(
        not c.is_decoder and not c.add_cross_attention,
        "only encoder BERTs convert (is_decoder=False)",
    )
    _require(
        getattr(c, "position_embedding_type", "absolute") == "absolute",
        "only absolute (learned) position embeddings convert",
    )
    values = _labkit_config_values(c, _BERT_FIELDS)
    if values["pad_token_id"] is None:
        values["pad_token_id"] = 0
    config = BertConfig(**values)
    cls = {v: k for k, v in _BERT_HEADS.items()}[type(hf)]
    model = cls(config)
    hf_sd = hf.state_dict()
    with torch.no_grad():
        for name, ours in _bert_state_dict(model).items():
            ours.copy_(hf_sd[name])
    return model


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def to_hf(model: nn.Module) -> nn.Module:
    """Copy a labkit model into the equivalent ``transformers`` model (same logits).

    Taught in chapter 3. TinyGPT → ``GPT2LMHeadModel``; TinyBERT → ``BertForMaskedLM``;
    the TinyBERT classifiers → ``BertForSequenceClassification`` /
    ``BertForTokenClassification``. The result is on the same device, in eval mode. Raises
    ``ValueError`` for configurations Hugging Face cannot express.
    """
    if isinstance(model, TinyGPT):
        hf = _gpt_to_hf(model)
    elif type(model) in _BERT_HEADS:
        hf = _bert_to_hf(model)
    else:
        raise TypeError(
            f"to_hf converts TinyGPT and the TinyBERT models, not {type(model).__name__}"
        )
    return hf.to(model_device(model)).eval()


def from_hf(hf_model: nn.Module) -> Any:
    """Copy a ``GPT2LMHeadModel`` / ``BertForMaskedLM`` / ``BertForSequenceClassification`` /
    ``BertForTokenClassification`` into the labkit model with the same architecture.

    Taught in chapter 3. The result is on the same device, in eval mode.
    """
    if isinstance(hf_model, transformers.GPT2LMHeadModel):
        model = _gpt_from_hf(hf_model)
    elif type(hf_model) in _BERT_HEADS.values():
        model = _bert_from_hf(hf_model)
    else:
        raise TypeError(
            "from_hf converts GPT2LMHeadModel, BertForMaskedLM, BertForSequenceClassification "
            f"and BertForTokenClassification, not {type(hf_model).__name__}"
        )
    return model.to(model_device(hf_model)).eval()


def save_hf(model: nn.Module, tokenizer: Any, out_dir: str | os.PathLike) -> Path:
    """Export ``model`` and its tokenizer as a Hugging Face directory (config.json,
    model.safetensors, tokenizer files) that works offline, e.g.
    ``transformers.pipeline("text-generation", model=out_dir)`` for a TinyGPT or
    ``pipeline("fill-mask", model=out_dir)`` for a TinyBERT.

    Taught in chapter 8. The tokenizer's special-token ids (pad, bos, eos) are written into
    the config; text generation is limited to the model's ``block_size`` by default.
    """
    vocab = len(tokenizer)
    if vocab > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer has {vocab} tokens but the model only {model.config.vocab_size}; "
            "export the model with the tokenizer it was trained with"
        )
    hf = to_hf(model)
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        setattr(hf.config, name, getattr(tokenizer, name, None))
        if isinstance(model, TinyGPT):
            setattr(hf.generation_config, name, getattr(tokenizer, name, None))
    if isinstance(model, TinyGPT):
        hf.generation_config.max_length = model.config.block_size
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
