"""Parameter-efficient fine-tuning: freezing, and LoRA written from scratch.

Taught in chapter 5 (freezing layers; LoRA, and how it equals the ``peft`` library's).

* :func:`freeze` / :func:`trainable_parameters` — train only some parts of a model.
* :class:`LoRALinear` — a frozen ``nn.Linear`` plus a trainable low-rank update, with
  ``peft``'s names, initialisation and scaling; :func:`add_lora` wraps a model's layers,
  :func:`merge_lora` folds the update back into plain layers.
* :func:`lora_from_peft` — copies a ``peft`` LoRA adapter of the GPT-2 export
  (:func:`labkit.hf.to_hf`) into a :class:`~labkit.models.TinyGPT` (same logits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit._util import check_positive_int
from labkit.models.gpt import TinyGPT

__all__ = [
    "trainable_parameters",
    "freeze",
    "LoRALinear",
    "add_lora",
    "merge_lora",
    "lora_from_peft",
]


# ------------------------------------------------------------------------------------- freezing


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (shared tensors counted once).

    Taught in chapter 5.
    """
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def freeze(model: nn.Module, trainable: Sequence[str] = ()) -> nn.Module:
    """Freeze every parameter except those whose name starts with one of ``trainable``.

    ``freeze(clf, ["classifier", "pooler"])`` trains the head only;
    ``freeze(clf, ["classifier", "pooler", "bert.blocks.1"])`` also the top block. A prefix
    that matches no parameter raises ``ValueError`` (a typo would silently freeze everything).
    Returns the model. Taught in chapter 5.
    """
    if isinstance(trainable, str):
        trainable = [trainable]
    names = [n for n, _ in model.named_parameters()]
    for prefix in trainable:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise ValueError(
                f"no parameter name starts with {prefix!r}; the model's top-level names are {tops}"
            )
    for name, p in model.named_parameters():
        p.requires_grad_(any(name == t or name.startswith(t + ".") for t in trainable))
    return model


# ----------------------------------------------------------------------------- LoRA, from scratch


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update (LoRA, Hu et al. 2021).

    ``y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ`` with ``A`` ``(r, in)`` and ``B`` ``(out, r)``.
    ``B`` starts at zero, so at first the layer computes exactly the original one; training
    changes only ``A`` and ``B`` — ``r·(in + out)`` numbers instead of ``in·out``. The names
    ``lora_A``/``lora_B``, the initialisation and the scaling match ``peft``'s.

    ``layer.weight`` / ``layer.bias`` give the *effective* weight ``W + (alpha / r)·B A`` and
    the bias, so code that reads the weights of a Linear directly (labkit's fused Q/K/V
    projection, :func:`labkit.hf.to_hf`) computes the adapted layer, and gradients still reach
    ``A`` and ``B``. Taught in chapter 5.
    """

    def __init__(self, base: nn.Linear, r: int = 4, alpha: float = 8.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self.base, self.r, self.alpha = base, check_positive_int(r, "r"), float(alpha)
        self.scaling = self.alpha / self.r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear (and peft) do

    @property
    def in_features(self) -> int:
        """Input width (as ``nn.Linear``)."""
        return self.base.in_features

    @property
    def out_features(self) -> int:
        """Output width (as ``nn.Linear``)."""
        return self.base.out_features

    @property
    def weight(self) -> Tensor:
        """The effective weight ``W + (alpha / r) · B A`` (differentiable in ``A`` and ``B``)."""
        return self.base.weight + self.scaling * (self.lora_B @ self.lora_A)

    @property
    def bias(self) -> Tensor | None:
        """The frozen layer's bias."""
        return self.base.bias

    def forward(self, x: Tensor) -> Tensor:
        """The frozen layer's output plus the scaled low-rank update (never forms ``B A``)."""
        return self.base(x) + self.scaling * F.linear(F.linear(x, self.lora_A), self.lora_B)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with ``W + (alpha / r) · B A``: same outputs, no extra cost."""
        w, has_bias = self.base.weight, self.base.bias is not None
        layer = nn.Linear(
            self.in_features, self.out_features, bias=has_bias, device=w.device, dtype=w.dtype
        )
        with torch.no_grad():
            layer.weight.copy_(self.weight)
            if self.base.bias is not None:
                layer.bias.copy_(self.base.bias)
        return layer

    def extra_repr(self) -> str:
        """Shown by ``print(model)``: the rank, alpha and scaling."""
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def _replace(model: nn.Module, name: str, layer: nn.Module) -> None:
    """Put ``layer`` where the submodule ``name`` (dotted path) of ``model`` is."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, layer)


def add_lora(
    model: nn.Module, target_modules: Sequence[str] = ("w_q", "w_v"), r: int = 4, alpha: float = 8.0
) -> nn.Module:
    """Freeze ``model`` and wrap every ``nn.Linear`` whose name ends with one of
    ``target_modules`` in a :class:`LoRALinear` (in place; returns the model).

    With labkit's models, ``("w_q", "w_v")`` targets the query and value projections of every
    attention layer, as in the LoRA paper. Everything else — a classification head too — is
    frozen; unfreeze what should also train with ``p.requires_grad_(True)``.
    Taught in chapter 5.
    """
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError(
            "this model already has LoRA layers; merge_lora(model) first, or start from a copy"
        )
    targets = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name.split(".")[-1] in target_modules
    ]
    if not targets:
        raise ValueError(
            f"no nn.Linear named {list(target_modules)} in the model; "
            "labkit's attention layers have w_q, w_k, w_v, w_o and the FFN w1, w2"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in targets:
        _replace(model, name, LoRALinear(model.get_submodule(name), r=r, alpha=alpha))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by its merged ``nn.Linear`` (in place; returns the
    model). The outputs stay the same; the adapter's extra work at inference disappears.
    The merged layers are trainable again (``requires_grad=True``). Taught in chapter 5."""
    for name, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            _replace(model, name, m.merged())
    return model


# ---------------------------------------------------------------------------- LoRA, from peft

#: GPT-2 module (inside ``transformer.h.<i>``) -> the labkit Linear layers it holds, in order.
_GPT2_TO_LABKIT = {
    "attn.c_attn": ("attn.w_q", "attn.w_k", "attn.w_v"),
    "attn.c_proj": ("attn.w_o",),
    "mlp.c_fc": ("ffn.w1",),
    "mlp.c_proj": ("ffn.w2",),
}


def lora_from_peft(model: TinyGPT, peft_model: nn.Module, atol: float = 1e-6) -> TinyGPT:
    """Copy a ``peft`` LoRA adapter, trained on ``labkit.hf.to_hf(model)``, into ``model``'s
    layers as :class:`LoRALinear` (in place; returns the model, frozen except the adapters).

    GPT-2 keeps Q, K and V in one ``c_attn`` layer, so peft's adapter there has one ``A``
    ``(r, d)`` and one ``B`` ``(3d, r)``: it equals three labkit adapters on ``w_q``, ``w_k``,
    ``w_v`` that *share* ``A`` and take the three row blocks of ``B``. ``c_proj``, ``c_fc`` and
    the MLP's ``c_proj`` map to ``w_o``, ``ffn.w1`` and ``ffn.w2``. The frozen weights must be
    ``model``'s own (checked to ``atol``). Taught in chapter 5.
    """
    if not isinstance(model, TinyGPT):
        raise TypeError(f"lora_from_peft fills a TinyGPT, got {type(model).__name__}")
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError("the model already has LoRA layers; start from the base model")
    config = getattr(peft_model, "peft_config", {}).get("default")
    if config is None:
        raise TypeError(
            "peft_model must come from peft.get_peft_model(...) with the default adapter"
        )
    if getattr(config, "use_rslora", False) or getattr(config, "use_dora", False):
        raise ValueError("only plain LoRA converts (use_rslora=False, use_dora=False)")
    adapters = {n: m for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    found = 0
    for i, block in enumerate(model.blocks):
        for hf_name, ours in _GPT2_TO_LABKIT.items():
            prefix = f"transformer.h.{i}.{hf_name}"
            layer = next((m for n, m in adapters.items() if n.endswith(prefix)), None)
            if layer is None or "default" not in layer.lora_A:
                continue
            A = layer.lora_A["default"].weight.detach()  # (r, in)
            B = layer.lora_B["default"].weight.detach()  # (out, r)
            r, scaling = A.shape[0], float(layer.scaling["default"])
            base_w = layer.get_base_layer().weight.detach().T  # Conv1D (in, out) -> (out, in)
            rows = 0
            for name in ours:
                linear = block.get_submodule(name)
                out = linear.out_features
                if not torch.allclose(linear.weight, base_w[rows : rows + out], atol=atol):
                    raise ValueError(
                        f"block {i} {name}: the peft model's frozen weights are not this "
                        "model's; pass the TinyGPT that to_hf() exported"
                    )
                lora = LoRALinear(linear, r=r, alpha=scaling * r)
                with torch.no_grad():
                    lora.lora_A.copy_(A)
                    lora.lora_B.copy_(B[rows : rows + out])
                _replace(block, name, lora)
                rows += out
                found += 1
    if not found:
        raise ValueError(
            "no LoRA layer found in peft_model on c_attn, c_proj or c_fc "
            "(LoraConfig(target_modules=['c_attn']))"
        )
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return model
