"""Cost, scaling, efficiency and risks of language models: the measurements of chapter 9.

Taught in chapter 9. Everything here runs on labkit's tiny models on a laptop CPU:

* **Compute** — :func:`gpu_years` turns a FLOP count into GPU-years at a stated sustained
  throughput; :func:`count_training_flops` counts the FLOPs of one real training step with
  ``torch.utils.flop_counter.FlopCounterMode``; :func:`transformer_training_flops` is the exact
  formula for a GPT (``6·N·D`` plus the attention term).
* **Scaling** — :func:`scaling_runs` trains several model sizes on the same batches;
  :func:`fit_power_law` fits ``L(N) = a·N^(-alpha) (+ floor)`` by least squares in log-log.
* **Efficiency** — :func:`distillation_loss` / :class:`Distiller` / :func:`distill` (knowledge
  distillation), :func:`quantize_dynamic_int8` with :func:`serialized_bytes` and
  :func:`forward_seconds` (int8 quantisation), :func:`prune_magnitude` and :func:`sparsity`
  (magnitude pruning), and :func:`evaluate_loss` to compare them all on the same batches.
* **Risks** — :func:`make_canaries`, :func:`insert_canaries` and :func:`canary_exposure`
  (memorised training data), :func:`continuation_logprobs` and :func:`log_odds` (bias probes),
  :func:`answer` (how sure a model is of what it says: hallucination), :func:`add_typos` and
  :func:`text_loss` (robustness), :func:`previous_token_scores` and :func:`ablate_head`
  (interpretability).
"""

from __future__ import annotations

import copy
import math
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "SECONDS_PER_YEAR",
    "gpu_years",
    "FlopCount",
    "count_training_flops",
    "transformer_training_flops",
    "ScalingRun",
    "scaling_runs",
    "PowerLaw",
    "fit_power_law",
    "distillation_loss",
    "Distiller",
    "distill",
    "evaluate_loss",
    "quantize_dynamic_int8",
    "serialized_bytes",
    "forward_seconds",
    "prune_magnitude",
    "sparsity",
    "Canary",
    "make_canaries",
    "insert_canaries",
    "CanaryResult",
    "canary_exposure",
    "continuation_logprobs",
    "log_odds",
    "Answer",
    "answer",
    "add_typos",
    "text_loss",
    "previous_token_scores",
    "ablate_head",
]

SECONDS_PER_YEAR = 365.25 * 24 * 3600
"""Seconds in a (Julian) year."""


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _logits(out: Any) -> Tensor:
    """The logits from a labkit model (a tensor or a tuple) or a Hugging Face output object."""
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, tuple):
        return out[0]
    return out


def _device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


# --------------------------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------------------------


def gpu_years(flops: float, flops_per_second: float) -> float:
    """How many years one GPU needs for ``flops`` at a *sustained* ``flops_per_second``.

    ``gpu_years(3.15e23, 28e12)`` ≈ 356.5: GPT-3's training compute on one V100 running at
    28 TFLOP/s on average (about 22% of its 125 TFLOP/s tensor-core peak). Taught in chapter 9.
    """
    return _positive("flops", flops) / _positive("flops_per_second", flops_per_second) / SECONDS_PER_YEAR


@dataclass
class FlopCount:
    """FLOPs of one training step, as counted by PyTorch. Taught in chapter 9.

    ``by_operator`` maps an operator name (``"aten.addmm"``, ``"aten.bmm"``, ...) to the FLOPs
    it did in the forward and backward passes together.
    """

    forward: int
    backward: int
    by_operator: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Forward + backward."""
        return self.forward + self.backward


def count_training_flops(model: nn.Module, idx: Tensor, targets: Tensor, count_attention: bool = True) -> FlopCount:
    """Count the FLOPs of one forward + backward pass with ``torch.utils.flop_counter``.

    ``FlopCounterMode`` knows the FLOPs of matrix multiplies (``mm``, ``addmm``, ``bmm``) and of
    some fused attention kernels, but not of the CPU's fused attention kernel: it would count
    attention as zero. With ``count_attention=True`` (the default) labkit's attention layers
    run their from-scratch path (two ``bmm`` per head) while counting, so the attention term is
    included; the weights and the result are the same. Gradients are left in ``.grad``
    (call ``model.zero_grad()`` afterwards if it matters). Taught in chapter 9.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from labkit.nn import MultiHeadAttention

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    attention = [m for m in model.modules() if isinstance(m, MultiHeadAttention)] if count_attention else []
    saved = [m.fused for m in attention]
    for m in attention:
        m.fused = False
    try:
        with FlopCounterMode(display=False) as forward_counter:
            out = model(idx, targets)
        if not isinstance(out, tuple) or len(out) < 2:
            raise TypeError("the model must return (logits, loss) when given targets (labkit's model contract)")
        with FlopCounterMode(display=False) as backward_counter:
            out[1].backward()
    finally:
        for m, fused in zip(attention, saved):
            m.fused = fused
    by_operator: dict[str, int] = {}
    for counter in (forward_counter, backward_counter):
        for op, n in counter.get_flop_counts().get("Global", {}).items():
            by_operator[str(op)] = by_operator.get(str(op), 0) + int(n)
    return FlopCount(int(forward_counter.get_total_flops()), int(backward_counter.get_total_flops()), by_operator)


def transformer_training_flops(config: Any, n_tokens: float) -> float:
    """Training FLOPs of a labkit GPT (full attention matrices, as PyTorch computes them).

    ``6 · (12·L·d² + V·d) · D``: the weight matrices of the blocks and the output head (each
    used once per token: 2 FLOPs forward, 4 backward), plus ``12 · L · T · d · D`` for attention
    (per token and layer, ``Q·Kᵀ`` and ``weights·V`` each cost ``2·T·d`` forward, twice that
    backward). ``L`` layers, width ``d``, feed-forward width ``d_ff`` (``config.d_ff``, default
    ``4d``, which gives the ``12·L·d²``), vocabulary ``V``, and ``T = block_size``: the attention
    term assumes every sequence fills the whole context. Embedding lookups, biases, LayerNorms
    and softmax are left out (a few percent at most). ``6 · N · D`` with ``N`` = all parameters
    is the usual shortcut for this. Taught in chapter 9.
    """
    for name in ("n_layer", "d_model", "vocab_size", "block_size"):
        if not hasattr(config, name):
            raise TypeError(f"config needs a {name!r} attribute (pass a GPTConfig, e.g. model.config)")
    L, d, V, T = config.n_layer, config.d_model, config.vocab_size, config.block_size
    d_ff = getattr(config, "d_ff", None) or 4 * d
    matrices = L * (4 * d * d + 2 * d * d_ff) + V * d
    return 6.0 * matrices * n_tokens + 12.0 * L * T * d * n_tokens


# --------------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------------


@dataclass
class ScalingRun:
    """One model of a scaling experiment. Taught in chapter 9.

    ``params`` counts everything; ``non_embedding_params`` leaves out the embedding tables
    (Kaplan et al. 2020 fit their scaling laws to this number). ``flops`` is ``6 · params ·
    tokens``.
    """

    n_layer: int
    d_model: int
    params: int
    non_embedding_params: int
    tokens: int
    val_loss: float
    seconds: float
    model: nn.Module = field(repr=False)

    @property
    def flops(self) -> float:
        """Approximate training compute, ``6 · params · tokens``."""
        return 6.0 * self.params * self.tokens


def scaling_runs(
    sizes: Sequence[tuple[int, int]],
    task: Any,
    steps: int,
    *,
    vocab_size: int,
    n_head: int = 2,
    batch_size: int = 16,
    lr: float = 1e-2,
    seed: int = 0,
    pos: str = "rope",
    eval_batches: int = 20,
    **train_options: Any,
) -> list[ScalingRun]:
    """Train one TinyGPT per ``(n_layer, d_model)`` in ``sizes`` for the same number of steps
    on the same batches (``task``: a :class:`labkit.train.CausalLMTask`), and return one
    :class:`ScalingRun` per size, with its trained model.

    Every model sees exactly the same training tokens and is evaluated on the same validation
    batches, so the sizes differ only in their parameters. Rotary positions (``pos="rope"``)
    make tiny models learn to use their context within a few hundred steps. Other keyword
    arguments go to :func:`labkit.train.train`. Taught in chapter 9.
    """
    from labkit.env import seed_everything
    from labkit.models import TinyGPT
    from labkit.train import train

    if not sizes:
        raise ValueError("sizes must list at least one (n_layer, d_model) pair, e.g. [(2, 16), (2, 32)]")
    block_size = getattr(task, "block_size", None)
    if block_size is None:
        raise TypeError("task must be a labkit.train.CausalLMTask (it says the block_size)")
    runs = []
    for size in sizes:
        if len(size) != 2:
            raise ValueError(f"each size must be a pair (n_layer, d_model), got {size!r}")
        n_layer, d_model = int(size[0]), int(size[1])
        seed_everything(seed)
        model = TinyGPT(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                        d_model=d_model, pos=pos)
        options = {"warmup_steps": max(1, steps // 10), "eval_every": 0, "progress": False, **train_options}
        result = train(model, task, max_steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                       eval_batches=eval_batches, **options)
        model.eval()
        runs.append(ScalingRun(
            n_layer=n_layer,
            d_model=d_model,
            params=model.num_parameters(),
            non_embedding_params=model.num_parameters(exclude_embeddings=True),
            tokens=result.tokens,
            val_loss=float(result.val_loss),
            seconds=result.seconds,
            model=model,
        ))
    return runs


@dataclass
class PowerLaw:
    """``L(N) = floor + a · N^(-alpha)``. Taught in chapter 9."""

    a: float
    alpha: float
    floor: float = 0.0

    def __call__(self, n: Any) -> Any:
        """The fitted loss at ``n`` (a number or an array)."""
        return self.floor + self.a * np.power(np.asarray(n, dtype=float), -self.alpha)

    def __repr__(self) -> str:
        floor = f"{self.floor:.3g} + " if self.floor else ""
        return f"PowerLaw(L(N) = {floor}{self.a:.3g} · N^(-{self.alpha:.3f}))"


def fit_power_law(n: Sequence[float], loss: Sequence[float], floor: float = 0.0) -> PowerLaw:
    """Fit ``loss = floor + a · n^(-alpha)`` by least squares on ``log(loss - floor)`` vs ``log n``.

    A power law is a straight line in log-log: ``log(L - floor) = log a - alpha · log N``, so
    the fit is ordinary linear regression (the same line as ``numpy.polyfit(log n,
    log(loss - floor), 1)``). ``floor`` is a loss no model can beat (for a generated corpus:
    its entropy per character); it must be below every loss. Taught in chapter 9.
    """
    x = np.asarray(n, dtype=float)
    y = np.asarray(loss, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"n and loss must be two lists of the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("a power-law fit needs at least 2 points (better 4 or more)")
    if np.any(x <= 0) or not np.all(np.isfinite(x)):
        raise ValueError("every n must be a positive, finite number (parameter counts, tokens, FLOPs)")
    if not np.all(np.isfinite(y)) or np.any(y <= floor):
        raise ValueError(f"every loss must be finite and above floor={floor}; lower the floor or drop that point")
    if np.ptp(x) == 0:
        raise ValueError("the n values are all equal: a fit needs at least two different sizes")
    log_x, log_y = np.log(x), np.log(y - floor)
    x_mean, y_mean = log_x.mean(), log_y.mean()
    slope = float(((log_x - x_mean) * (log_y - y_mean)).sum() / ((log_x - x_mean) ** 2).sum())
    intercept = float(y_mean - slope * x_mean)
    return PowerLaw(a=math.exp(intercept), alpha=-slope, floor=float(floor))


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    targets: Tensor | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> Tensor:
    """Knowledge distillation (Hinton et al. 2015): match the teacher's softened distribution.

    ``alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 - alpha) · CE(student, targets)``

    averaged over positions. The temperature ``T > 1`` softens both distributions so the
    student also learns which *wrong* answers the teacher finds plausible; the ``T²`` keeps the
    gradient size independent of ``T``. ``targets`` may be None only when ``alpha == 1``;
    positions with target -100 are ignored by the cross-entropy. Taught in chapter 9.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have the same shape (same vocabulary), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    temperature = _positive("temperature", temperature)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 (data only) and 1 (teacher only), got {alpha}")
    if targets is None and alpha < 1.0:
        raise ValueError("targets are needed unless alpha=1 (pure distillation)")
    vocab = student_logits.shape[-1]
    s = student_logits.reshape(-1, vocab)
    t = teacher_logits.detach().reshape(-1, vocab)
    kl = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t / temperature, dim=-1),
                  reduction="batchmean", log_target=True)
    loss = alpha * temperature**2 * kl
    if alpha < 1.0:
        loss = loss + (1.0 - alpha) * F.cross_entropy(s, targets.reshape(-1), ignore_index=-100)
    return loss


class Distiller(nn.Module):
    """A student that learns from a frozen teacher, in labkit's model contract.

    ``Distiller(student, teacher)(idx, targets)`` returns ``(student logits, distillation
    loss)``, so :func:`labkit.train.train` trains the student with it unchanged. The teacher is
    frozen (``requires_grad=False``) and always runs in eval mode. Taught in chapter 9.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, temperature: float = 2.0, alpha: float = 0.5) -> None:
        super().__init__()
        if student is teacher:
            raise ValueError("the student and the teacher must be two different models")
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature = _positive("temperature", temperature)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be between 0 (data only) and 1 (teacher only), got {alpha}")
        self.alpha = alpha
        self.config = getattr(student, "config", None)

    def train(self, mode: bool = True) -> Distiller:
        """Switch the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Any:
        """Student logits, and the distillation loss when ``targets`` are given."""
        logits = _logits(self.student(idx))
        if targets is None:
            return logits
        with torch.no_grad():
            teacher_logits = _logits(self.teacher(idx))
        return logits, distillation_loss(logits, teacher_logits, targets, self.temperature, self.alpha)


def distill(
    teacher: nn.Module,
    student: nn.Module,
    task: Any,
    steps: int,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    **train_options: Any,
) -> Any:
    """Train ``student`` on ``task`` with the teacher's soft targets; returns the TrainResult.

    The student is trained in place (and left in eval mode); the teacher is frozen. Other
    keyword arguments (``batch_size``, ``lr``, ``seed``, ...) go to :func:`labkit.train.train`.
    The result's ``train_loss`` and ``val_loss`` are the *distillation* objective; measure the
    student itself with :func:`evaluate_loss`. Taught in chapter 9.
    """
    from labkit.train import train

    t_vocab = getattr(getattr(teacher, "config", None), "vocab_size", None)
    s_vocab = getattr(getattr(student, "config", None), "vocab_size", None)
    if t_vocab is not None and s_vocab is not None and t_vocab != s_vocab:
        raise ValueError(f"teacher and student need the same tokenizer (vocab {t_vocab} vs {s_vocab})")
    options = {"eval_every": 0, "progress": False, "warmup_steps": max(1, steps // 10), **train_options}
    result = train(Distiller(student, teacher, temperature, alpha), task, max_steps=steps, **options)
    student.eval()
    return result


# --------------------------------------------------------------------------------------------
# Measuring: loss, size, speed
# --------------------------------------------------------------------------------------------


def evaluate_loss(model: nn.Module, task: Any, batches: int = 20, batch_size: int = 32, seed: int = 0,
                  split: str = "val") -> float:
    """Mean loss of ``model`` on ``batches`` fixed batches of ``task`` (the same for any model).

    The batches come from a generator seeded with ``seed``, so an original model and its
    quantised, pruned or distilled versions are compared on exactly the same text.
    Taught in chapter 9.
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    generator = torch.Generator().manual_seed(seed)
    device = _device(model)
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for _ in range(batches):
                x, y = task.get_batch(split, batch_size, generator)
                out = model(x.to(device), y.to(device))
                if not isinstance(out, tuple) or len(out) < 2:
                    raise TypeError("the model must return (logits, loss) when given targets")
                total += float(out[1])
    finally:
        model.train(was_training)
    return total / batches


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers keep int8 weights (dynamic quantisation).

    ``torch.ao.quantization.quantize_dynamic`` stores each Linear weight as 8-bit integers with
    one float scale, and quantises the *activations* on the fly ("dynamically") at every call.
    Embeddings and LayerNorms stay float32. A head tied to the token embedding becomes a
    separate int8 copy. labkit's attention runs its unfused path in the copy (the fused path
    reads the float weights directly). PyTorch's int8 kernels run on the CPU, so the copy is
    made on the CPU wherever the model is; the original model is not changed.

    PyTorch marks ``torch.ao.quantization`` as deprecated in favour of the ``torchao`` package;
    it still works, and its API is the simplest to read. Taught in chapter 9.
    """
    from labkit.nn import MultiHeadAttention

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    float_copy = copy.deepcopy(model).cpu().eval()
    for m in float_copy.modules():
        if isinstance(m, MultiHeadAttention):
            m.fused = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        return torch.ao.quantization.quantize_dynamic(float_copy, {nn.Linear}, dtype=torch.qint8)


def _plain_tensors(model: nn.Module) -> dict[str, Tensor]:
    """Every tensor of the state dict as a plain tensor (int8 weights as int8), shared ones once.

    A quantised weight becomes its int8 values plus ``.scale`` (and ``.zero_point`` when it is
    not 0). The bookkeeping buffers of dynamic int8 layers (an output ``scale`` and
    ``zero_point`` that dynamic quantisation never uses) are left out.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        state = model.state_dict()
    unused = {f"{name}.{buf}" for name, m in model.named_modules() if _is_dynamic_int8(m) for buf in ("scale", "zero_point")}
    originals: list[tuple[str, Tensor]] = []
    for name, value in state.items():
        if isinstance(value, Tensor) and name not in unused:
            originals.append((name, value))
        elif isinstance(value, tuple):  # packed int8 Linear: (weight, bias)
            originals += [(f"{name}.{i}", part) for i, part in enumerate(value) if isinstance(part, Tensor)]
    out: dict[str, Tensor] = {}
    seen: set[tuple] = set()
    for name, t in originals:  # `originals` keeps every tensor alive, so no address is reused
        if t.numel() > 0:
            key = (t.untyped_storage().data_ptr() if not t.is_quantized else id(t), t.storage_offset(),
                   tuple(t.shape), tuple(t.stride()), t.dtype)
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


def _is_dynamic_int8(module: nn.Module) -> bool:
    return type(module).__module__.startswith(("torch.ao.nn.quantized.dynamic", "torch.nn.quantized.dynamic"))


def serialized_bytes(model: nn.Module) -> int:
    """The size of the model's weights written as one safetensors file, in bytes (kept in memory).

    int8 weights are written as int8 (plus their float scale), float32 ones as float32; tied
    weights count once. Taught in chapter 9.
    """
    from safetensors.torch import save

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    return len(save(_plain_tensors(model)))


def forward_seconds(model: nn.Module, idx: Tensor, repeat: int = 5, threads: int | None = 1) -> float:
    """Best wall-clock time of ``model(idx)`` over ``repeat`` runs, without gradients.

    ``threads`` sets torch's CPU threads during the timing (1 keeps timings steady on a busy
    machine; None leaves the setting alone). Taught in chapter 9.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive int, got {repeat!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            idx = idx.to(_device(model))
            sync = torch.cuda.synchronize if idx.device.type == "cuda" else (lambda: None)
            model(idx)  # warm-up
            best = math.inf
            for _ in range(repeat):
                sync()
                start = time.perf_counter()
                model(idx)
                sync()
                best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return best


# --------------------------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------------------------


def _prunable(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers whose weight is not shared with an embedding (not a tied head)."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return [m for m in model.modules() if isinstance(m, nn.Linear) and id(m.weight) not in embeddings]


def prune_magnitude(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the smallest ``amount`` (a fraction) of each Linear weight set to 0.

    Magnitude (L1, unstructured) pruning with ``torch.nn.utils.prune.l1_unstructured``, then
    ``prune.remove`` to make it permanent. Embeddings, biases, LayerNorms and a head tied to
    the embedding are left alone. The zeros still take space and time in a dense matrix: the
    gain needs sparse storage or kernels. Taught in chapter 9.
    """
    from torch.nn.utils import prune

    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1), e.g. 0.5 for 50%, got {amount!r}")
    pruned = copy.deepcopy(model)
    layers = _prunable(pruned)
    if not layers:
        raise ValueError("the model has no nn.Linear layer to prune")
    for layer in layers:
        prune.l1_unstructured(layer, name="weight", amount=float(amount))
        prune.remove(layer, "weight")
    return pruned


def sparsity(model: nn.Module) -> float:
    """The fraction of zeros in the weights :func:`prune_magnitude` prunes. Taught in chapter 9."""
    layers = _prunable(model)
    if not layers:
        raise ValueError("the model has no nn.Linear layer")
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    return zeros / sum(m.weight.numel() for m in layers)


# --------------------------------------------------------------------------------------------
# Scoring continuations (privacy and bias probes)
# --------------------------------------------------------------------------------------------


def _encode(tokenizer: Any, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None and unk in ids and getattr(tokenizer, "unk_token", None) not in text:
        raise ValueError(f"the tokenizer does not know every character of {text!r}; "
                         "train it on text that contains them (train_char_tokenizer(text, extra_chars=...))")
    return ids


def _score_rows(model: nn.Module, rows: Sequence[tuple[list[int], list[int]]], batch_size: int = 256) -> Tensor:
    """``log P(continuation | prefix)`` (nats) for each ``(prefix ids, continuation ids)`` pair."""
    for prefix_ids, cont_ids in rows:
        if not prefix_ids:
            raise ValueError("every prefix must hold at least one token")
        if not cont_ids:
            raise ValueError("every continuation must hold at least one token")
    full = [p + c for p, c in rows]
    context = getattr(getattr(model, "config", None), "block_size", None)
    if context is not None and max(len(r) for r in full) > context:
        raise ValueError(f"prefix + continuation is longer than the model's context ({context} tokens)")
    device = _device(model)
    scores = torch.empty(len(rows))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            order = sorted(range(len(full)), key=lambda i: len(full[i]))  # equal lengths batch together
            start = 0
            while start < len(order):
                length = len(full[order[start]])
                group = [i for i in order[start:start + batch_size] if len(full[i]) == length]
                idx = torch.tensor([full[i] for i in group], device=device)
                logp = F.log_softmax(_logits(model(idx)).float(), dim=-1)
                token_logp = logp[:, :-1].gather(-1, idx[:, 1:, None])[..., 0]  # log P(token t+1 | ..t)
                first = torch.tensor([len(rows[i][0]) - 1 for i in group], device=device)
                keep = torch.arange(length - 1, device=device)[None, :] >= first[:, None]
                scores[group] = (token_logp * keep).sum(-1).cpu()
                start += len(group)
    finally:
        model.train(was_training)
    return scores


def continuation_logprobs(model: nn.Module, tokenizer: Any, prefix: str, continuations: Sequence[str],
                          batch_size: int = 256) -> Tensor:
    """``log P(continuation | prefix)`` for each continuation, summed over its tokens (nats).

    Prefix and continuation are tokenised separately and joined, so every continuation is
    scored from the same prefix tokens. Works with labkit models and Hugging Face causal LMs.
    Taught in chapter 9.
    """
    if isinstance(continuations, str):
        raise TypeError("continuations must be a list of strings, e.g. [' he', ' she']")
    if not continuations:
        raise ValueError("continuations is empty")
    prefix_ids = _encode(tokenizer, prefix)
    if not prefix_ids:
        raise ValueError("the prefix must hold at least one token")
    return _score_rows(model, [(prefix_ids, _encode(tokenizer, c)) for c in continuations], batch_size)


def log_odds(model: nn.Module, tokenizer: Any, prefix: str | Sequence[str], option_a: str,
             option_b: str) -> Any:
    """``log P(option_a | prefix) - log P(option_b | prefix)`` in nats: > 0 means the model prefers a.

    E.g. ``log_odds(model, tok, "The doctor said that", " he", " she")``. A value of
    ``ln 3 ≈ 1.1`` means the model finds ``a`` three times as likely. Give a list of prefixes
    to score them all in a few batched forward passes: the answer is then a list of floats.
    Taught in chapter 9.
    """
    single = isinstance(prefix, str)
    prefixes = [prefix] if single else list(prefix)
    if not prefixes:
        raise ValueError("give at least one prefix")
    a_ids, b_ids = _encode(tokenizer, option_a), _encode(tokenizer, option_b)
    rows = []
    for p in prefixes:
        p_ids = _encode(tokenizer, p)
        if not p_ids:
            raise ValueError("the prefix must hold at least one token")
        rows += [(p_ids, a_ids), (p_ids, b_ids)]
    scores = _score_rows(model, rows)
    diffs = (scores[0::2] - scores[1::2]).tolist()
    return diffs[0] if single else diffs


@dataclass
class Canary:
    """A made-up secret planted in training data: ``prefix + secret`` appears ``copies`` times.

    Taught in chapter 9.
    """

    prefix: str
    secret: str
    copies: int

    @property
    def text(self) -> str:
        """The sentence that goes into the training text."""
        return self.prefix + self.secret + "."


def make_canaries(prefixes: Sequence[str], copies: Sequence[int], n_digits: int = 6, seed: int = 0) -> list[Canary]:
    """One canary per prefix, each with a random ``n_digits``-digit secret and its copy count.

    ``make_canaries(["Kim's code is ", "Bo's code is "], [1, 8])``. Taught in chapter 9.
    """
    if len(prefixes) != len(copies):
        raise ValueError(f"give one copy count per prefix: {len(prefixes)} prefixes, {len(copies)} counts")
    if isinstance(n_digits, bool) or not isinstance(n_digits, int) or n_digits < 1:
        raise ValueError(f"n_digits must be a positive int, got {n_digits!r}")
    for k in copies:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"copy counts must be ints >= 0, got {k!r}")
    rng = random.Random(seed)
    return [Canary(p, "".join(rng.choice("0123456789") for _ in range(n_digits)), k) for p, k in zip(prefixes, copies)]


def insert_canaries(documents: Sequence[str], canaries: Sequence[Canary], seed: int = 0,
                    separator: str = "\n\n") -> list[str]:
    """The documents with each canary's sentence added as ``copies`` extra documents, at random places.

    Each planted document is ``canary.text + separator``. The original documents keep their
    order. Taught in chapter 9.
    """
    if isinstance(documents, str):
        raise TypeError("documents must be a list of documents (e.g. corpus.documents), not one string")
    rng = random.Random(seed)
    out = list(documents)
    for canary in canaries:
        for _ in range(canary.copies):
            out.insert(rng.randrange(len(out) + 1), canary.text + separator)
    return out


@dataclass
class CanaryResult:
    """How much a model gives a canary away. Taught in chapter 9.

    ``rank``: 1 + how many of the ``n_candidates`` random secrets the model finds more likely
    than the real one. ``exposure = log2(n_candidates + 1) - log2(rank)`` (Carlini et al. 2019):
    0 for a model that knows nothing, the maximum when the secret ranks first. ``extracted``:
    greedy decoding from the prefix writes the whole secret; ``greedy`` is what it wrote.
    """

    canary: Canary
    logprob: float
    rank: int
    n_candidates: int
    greedy: str

    @property
    def exposure(self) -> float:
        """Bits of the secret given away (0 = none; log2(n_candidates + 1) = all)."""
        return math.log2(self.n_candidates + 1) - math.log2(self.rank)

    @property
    def extracted(self) -> bool:
        """True when greedy decoding reproduces the secret exactly."""
        return self.greedy == self.canary.secret


def canary_exposure(model: nn.Module, tokenizer: Any, canary: Canary, n_candidates: int = 999,
                    seed: int = 0) -> CanaryResult:
    """Measure a planted canary: its log-probability and rank among random secrets of the same
    length, and whether greedy decoding from its prefix reproduces it. Taught in chapter 9.
    """
    from labkit.generate import generate

    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 1:
        raise ValueError(f"n_candidates must be a positive int, got {n_candidates!r}")
    n = len(canary.secret)
    if n_candidates > 10**n - 1:
        raise ValueError(f"there are only {10**n - 1} other {n}-digit secrets; lower n_candidates")
    rng = random.Random(seed)
    others: set[str] = set()
    while len(others) < n_candidates:
        s = "".join(rng.choice("0123456789") for _ in range(n))
        if s != canary.secret:
            others.add(s)
    scores = continuation_logprobs(model, tokenizer, canary.prefix, [canary.secret, *sorted(others)])
    rank = 1 + int((scores[1:] > scores[0]).sum())
    prefix_ids = torch.tensor([_encode(tokenizer, canary.prefix)], device=_device(model))
    n_new = len(_encode(tokenizer, canary.secret))
    out = generate(model, prefix_ids, n_new, strategy="greedy")
    greedy = tokenizer.decode(out[0, prefix_ids.shape[1]:].tolist())
    return CanaryResult(canary, float(scores[0]), rank, n_candidates, greedy)


# --------------------------------------------------------------------------------------------
# Hallucination: how sure is the model of what it says?
# --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """A greedy answer and the probability the model gave each of its tokens. Taught in chapter 9.

    ``tokens`` are the answer's tokens as text and ``probs`` the model's probability for each,
    given everything before it; ``mean_prob`` and ``min_prob`` summarise how sure it was.
    """

    prompt: str
    text: str
    tokens: list[str]
    probs: list[float]

    @property
    def mean_prob(self) -> float:
        """The average probability of the answer's tokens (nan for an empty answer)."""
        return sum(self.probs) / len(self.probs) if self.probs else math.nan

    @property
    def min_prob(self) -> float:
        """The probability of the answer's least likely token (nan for an empty answer)."""
        return min(self.probs) if self.probs else math.nan


def _is_hf_model(model: Any) -> bool:
    return hasattr(model, "generate") and hasattr(getattr(model, "config", None), "to_dict")


def answer(model: nn.Module, tokenizer: Any, prompt: str, max_new_tokens: int = 40,
           chat: bool | None = None) -> Answer:
    """Answer ``prompt`` greedily and measure how probable the model found each token it wrote.

    ``chat=None`` wraps the prompt in the tokenizer's chat template when it has one (an
    instruction-tuned model such as SmolLM2), else continues the raw text (a labkit model).
    Generation stops at the tokenizer's end-of-text token. Works with Hugging Face causal LMs
    (their ``generate``, with the KV cache) and labkit models (:func:`labkit.generate.generate`).
    The probabilities come from one more forward pass over prompt + answer. Taught in chapter 9.
    """
    from labkit.generate import generate

    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    template = getattr(tokenizer, "chat_template", None)
    if chat is None:
        chat = bool(template)
    if chat and not template:
        raise ValueError("this tokenizer has no chat template: pass chat=False to continue the raw text")
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True) if chat else prompt
    prompt_ids = _encode(tokenizer, text)
    device = _device(model)
    idx = torch.tensor([prompt_ids], device=device)
    eos = getattr(tokenizer, "eos_token_id", None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if _is_hf_model(model):
                out = model.generate(idx, attention_mask=torch.ones_like(idx), max_new_tokens=max_new_tokens,
                                     do_sample=False, pad_token_id=eos)
            else:
                out = generate(model, idx, max_new_tokens, strategy="greedy", stop_tokens=eos)
            new = out[0, len(prompt_ids):].tolist()
            if eos is not None and eos in new:
                new = new[:new.index(eos)]
            if not new:
                return Answer(prompt, "", [], [])
            full = out[:, :len(prompt_ids) + len(new)]
            context = getattr(getattr(model, "config", None), "block_size", None)
            if context is not None and full.shape[1] > context:
                full = full[:, -context:]
            logp = F.log_softmax(_logits(model(full)).float(), dim=-1)[0]
            n = len(new)
            picked = logp[-n - 1:-1].gather(-1, full[0, -n:, None])[:, 0]
    finally:
        model.train(was_training)
    tokens = [tokenizer.decode([i]) for i in new]
    return Answer(prompt, tokenizer.decode(new, skip_special_tokens=True), tokens, picked.exp().tolist())


# --------------------------------------------------------------------------------------------
# Robustness and interpretability
# --------------------------------------------------------------------------------------------


def add_typos(text: str, rate: float, seed: int = 0, alphabet: str = "abcdefghijklmnopqrstuvwxyz") -> str:
    """``text`` with a fraction ``rate`` of its letters replaced by random letters (a typo model).

    Only letters are changed (spaces, digits and punctuation stay), so the text keeps its
    shape. Taught in chapter 9.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be a fraction in [0, 1], got {rate}")
    if not alphabet:
        raise ValueError("alphabet must not be empty")
    rng = random.Random(seed)
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch.isalpha() and rng.random() < rate:
            new = rng.choice(alphabet)
            chars[i] = new.upper() if ch.isupper() else new
    return "".join(chars)


def text_loss(model: nn.Module, ids: Any, block_size: int | None = None, max_blocks: int = 200) -> float:
    """Mean next-token loss (nats per token) of ``model`` on a token sequence ``ids``.

    The sequence is cut into non-overlapping windows of ``block_size + 1`` tokens (default:
    the model's block size), at most ``max_blocks`` of them. Taught in chapter 9.
    """
    ids = torch.as_tensor(ids).long().flatten()
    block_size = block_size or getattr(getattr(model, "config", None), "block_size", None)
    if not block_size:
        raise ValueError("pass block_size= (the model does not say its context length)")
    n = min((len(ids) - 1) // block_size, max_blocks)
    if n < 1:
        raise ValueError(f"the text has {len(ids)} tokens; it needs at least block_size + 1 = {block_size + 1}")
    rows = torch.stack([ids[i * block_size:i * block_size + block_size + 1] for i in range(n)])
    rows = rows.to(_device(model))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = _logits(model(rows[:, :-1])).float()
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))
    finally:
        model.train(was_training)
    return float(loss)


def previous_token_scores(model: nn.Module, idx: Tensor) -> Tensor:
    """For every (layer, head): the mean attention weight from each position to the one just
    before it. Close to 1 marks a *previous-token head*. Returns ``(layers, heads)``.

    Uses labkit's contract ``logits, attn = model(idx, return_attention=True)``, with ``attn``
    of shape ``(layers, batch, heads, T, T)``. Taught in chapter 9.
    """
    idx = torch.as_tensor(idx)
    if idx.dim() == 1:
        idx = idx[None]
    if idx.shape[1] < 2:
        raise ValueError("idx needs at least 2 tokens per row")
    with torch.no_grad():
        out = model(idx.to(_device(model)), return_attention=True)
    attn = out[-1]
    if attn.dim() != 5:
        raise ValueError(f"expected attention of shape (layers, batch, heads, T, T), got {tuple(attn.shape)}")
    T = attn.shape[-1]
    previous = attn[..., torch.arange(1, T), torch.arange(0, T - 1)]  # (layers, batch, heads, T-1)
    return previous.mean(dim=(1, 3)).cpu()


@contextmanager
def ablate_head(model: nn.Module, layer: int, head: int) -> Iterator[None]:
    """Inside the ``with`` block, attention head ``head`` of block ``layer`` outputs zeros.

    A forward pre-hook on the block's output projection ``w_o`` zeroes that head's slice of
    the concatenated heads, so the rest of the model runs unchanged. Comparing a loss with and
    without a head measures what the head contributes (an *ablation*). For labkit models
    (``model.blocks[layer].attn``). Taught in chapter 9.
    """
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise TypeError("ablate_head needs a labkit model with .blocks (TinyGPT, TinyBERT)")
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer must be between 0 and {len(blocks) - 1}, got {layer}")
    attn = blocks[layer].attn
    if not 0 <= head < attn.n_heads:
        raise ValueError(f"head must be between 0 and {attn.n_heads - 1}, got {head}")
    lo, hi = head * attn.d_head, (head + 1) * attn.d_head

    def zero_head(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0].clone()
        x[..., lo:hi] = 0.0
        return (x, *args[1:])

    handle = attn.w_o.register_forward_pre_hook(zero_head)
    try:
        yield
    finally:
        handle.remove()
