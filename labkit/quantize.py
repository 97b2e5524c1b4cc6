"""Make a model smaller: int8 weights, and the size of a model's weights on disk.

* :func:`quantize_dynamic_int8`: a copy whose ``nn.Linear`` layers keep int8 weights
  (PyTorch's dynamic quantisation);
* :func:`serialized_bytes`: how many bytes the weights take as one safetensors file (int8
  weights as int8, tied weights once), so a float model and its int8 copy compare fairly.

Taught in chapter 9 (efficiency: smaller, faster, cheaper); reused in chapter 7 (inference).
"""

from __future__ import annotations

import copy
import warnings

import torch
from safetensors.torch import save
from torch import Tensor, nn

from labkit.nn import MultiHeadAttention

__all__ = ["quantize_dynamic_int8", "serialized_bytes"]


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers keep int8 weights (dynamic quantisation).

    ``torch.ao.quantization.quantize_dynamic`` stores each Linear weight as 8-bit integers with
    one float scale, and quantises the *activations* on the fly ("dynamically") at every call.
    Embeddings and LayerNorms stay float32. A head tied to the token embedding becomes a
    separate int8 copy. labkit's attention runs its unfused path in the copy (the fused path
    reads the float weights directly). PyTorch's int8 kernels run on the CPU, so the copy is
    made on the CPU wherever the model is; the original model is not changed.

    PyTorch marks ``torch.ao.quantization`` as deprecated in favour of the ``torchao`` package;
    it still works, and its API is the simplest to read. Taught in chapter 9, used in chapter 7.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    float_copy = copy.deepcopy(model).cpu().eval()
    for m in float_copy.modules():
        if isinstance(m, MultiHeadAttention):
            m.fused = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        return torch.ao.quantization.quantize_dynamic(float_copy, {nn.Linear}, dtype=torch.qint8)


def _is_dynamic_int8(module: nn.Module) -> bool:
    return type(module).__module__.startswith(
        ("torch.ao.nn.quantized.dynamic", "torch.nn.quantized.dynamic")
    )


def _plain_tensors(model: nn.Module) -> dict[str, Tensor]:
    """Every tensor of the state dict as a plain tensor (int8 weights as int8), shared ones once.

    A quantised weight becomes its int8 values plus ``.scale`` (and ``.zero_point`` when it is
    not 0). The bookkeeping buffers of dynamic int8 layers (an output ``scale`` and
    ``zero_point`` that dynamic quantisation never uses) are left out.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        state = model.state_dict()
    unused = {
        f"{name}.{buf}"
        for name, m in model.named_modules()
        if _is_dynamic_int8(m)
        for buf in ("scale", "zero_point")
    }
    originals: list[tuple[str, Tensor]] = []
    for name, value in state.items():
        if isinstance(value, Tensor) and name not in unused:
            originals.append((name, value))
        elif isinstance(value, tuple):  # packed int8 Linear: (weight, bias)
            originals += [
                (f"{name}.{i}", part) for i, part in enumerate(value) if isinstance(part, Tensor)
            ]
    out: dict[str, Tensor] = {}
    seen: set[tuple] = set()
    for name, t in originals:  # `originals` keeps every tensor alive, so no address is reused
        if t.numel() > 0:
            address = t.untyped_storage().data_ptr() if not t.is_quantized else id(t)
            key = (address, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
            if key in seen:  # a tied weight: stored once
                continue
            seen.add(key)
        if t.is_quantized:
            if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                scale = torch.tensor([t.q_scale()], dtype=torch.float32)
                zero_point = torch.tensor([t.q_zero_point()], dtype=torch.int32)
            else:  # one scale per output channel
                scale = t.q_per_channel_scales().float()
                zero_point = t.q_per_channel_zero_points().int()
            out[name + ".scale"] = scale
            if bool((zero_point != 0).any()):
                out[name + ".zero_point"] = zero_point
            t = t.int_repr()
        out[name] = t.detach().cpu().contiguous().clone()
    return out


def serialized_bytes(model: nn.Module) -> int:
    """The size of the model's weights written as one safetensors file, in bytes (kept in memory).

    int8 weights are written as int8 (plus their float scale), float32 ones as float32; tied
    weights count once. Taught in chapter 9, used in chapter 7.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    return len(save(_plain_tensors(model)))
