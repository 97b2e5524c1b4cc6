"""Cheaper models: knowledge distillation, magnitude pruning, and timing a forward pass.

* :func:`distillation_loss` / :class:`Distiller` / :func:`distill`: a small student learns
  from a frozen teacher's softened output distribution (Hinton et al. 2015);
* :func:`prune_magnitude` and :func:`sparsity`: zero the smallest weights of every Linear;
* :func:`forward_seconds`: the best wall-clock time of one forward pass.

int8 quantisation lives in :mod:`labkit.quantize` and the loss on fixed batches that compares
all of them in :func:`labkit.evaluate.evaluate_loss`. Taught in chapter 9 (section 3).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import prune

from labkit._util import IGNORE_INDEX, check_positive, check_positive_int, logits_of, model_device
from labkit.train import TrainConfig, TrainResult, train

__all__ = [
    "Distiller",
    "distill",
    "distillation_loss",
    "forward_seconds",
    "prune_magnitude",
    "sparsity",
]


def _check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 (data only) and 1 (teacher only), got {alpha}")
    return alpha


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    targets: Tensor | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> Tensor:
    """Knowledge distillation (Hinton et al. 2015): match the teacher's softened distribution.

    ``alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T))``
    ``+ (1 - alpha) · CE(student, targets)``

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
    temperature = check_positive(temperature, "temperature")
    _check_alpha(alpha)
    if targets is None and alpha < 1.0:
        raise ValueError("targets are needed unless alpha=1 (pure distillation)")
    vocab = student_logits.shape[-1]
    s = student_logits.reshape(-1, vocab)
    t = teacher_logits.detach().reshape(-1, vocab)
    kl = F.kl_div(
        F.log_softmax(s / temperature, dim=-1),
        F.log_softmax(t / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    loss = alpha * temperature**2 * kl
    if alpha < 1.0:
        ce = F.cross_entropy(s, targets.reshape(-1), ignore_index=IGNORE_INDEX)
        loss = loss + (1.0 - alpha) * ce
    return loss


class Distiller(nn.Module):
    """A student that learns from a frozen teacher, in labkit's model contract.

    ``Distiller(student, teacher)(idx, targets)`` returns ``(student logits, distillation
    loss)``, so :func:`labkit.train.train` trains the student with it unchanged. The teacher is
    frozen (``requires_grad=False``) and always runs in eval mode. Taught in chapter 9.
    """

    def __init__(
        self, student: nn.Module, teacher: nn.Module, temperature: float = 2.0, alpha: float = 0.5
    ) -> None:
        super().__init__()
        if student is teacher:
            raise ValueError("the student and the teacher must be two different models")
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature = check_positive(temperature, "temperature")
        self.alpha = _check_alpha(alpha)
        self.config = getattr(student, "config", None)

    def train(self, mode: bool = True) -> Distiller:
        """Switch the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Any:
        """Student logits, and the distillation loss when ``targets`` are given."""
        logits = logits_of(self.student(idx))
        if targets is None:
            return logits
        with torch.no_grad():
            teacher_logits = logits_of(self.teacher(idx))
        loss = distillation_loss(logits, teacher_logits, targets, self.temperature, self.alpha)
        return logits, loss


def distill(
    teacher: nn.Module,
    student: nn.Module,
    task: Any,
    steps: int,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    **train_options: Any,
) -> TrainResult:
    """Train ``student`` on ``task`` with the teacher's soft targets; returns the TrainResult.

    The student is trained in place (and left in eval mode); the teacher is frozen. Training
    runs with :meth:`labkit.train.TrainConfig.quiet`; other keyword arguments (``batch_size``,
    ``lr``, ``seed``, ...) go to :func:`labkit.train.train`. The result's ``train_loss`` and
    ``val_loss`` are the *distillation* objective; measure the student itself with
    :func:`labkit.evaluate.evaluate_loss`. Taught in chapter 9.
    """
    t_vocab = getattr(getattr(teacher, "config", None), "vocab_size", None)
    s_vocab = getattr(getattr(student, "config", None), "vocab_size", None)
    if t_vocab is not None and s_vocab is not None and t_vocab != s_vocab:
        raise ValueError(
            f"teacher and student need the same tokenizer (vocab {t_vocab} vs {s_vocab})"
        )
    distiller = Distiller(student, teacher, temperature, alpha)
    result = train(distiller, task, TrainConfig.quiet(steps), **train_options)
    student.eval()
    return result


def forward_seconds(
    model: nn.Module, idx: Tensor, repeat: int = 5, threads: int | None = 1
) -> float:
    """Best wall-clock time of ``model(idx)`` over ``repeat`` runs, without gradients.

    ``threads`` sets torch's CPU threads during the timing (1 keeps timings steady on a busy
    machine; None leaves the setting alone); the setting is restored afterwards. One untimed
    call warms up first. Taught in chapter 9.
    """
    check_positive_int(repeat, "repeat")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            idx = idx.to(model_device(model))
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


def _prunable(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers whose weight is not shared with an embedding (not a tied head)."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return [
        m for m in model.modules() if isinstance(m, nn.Linear) and id(m.weight) not in embeddings
    ]


def prune_magnitude(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the smallest ``amount`` (a fraction) of each Linear weight set to 0.

    Magnitude (L1, unstructured) pruning with ``torch.nn.utils.prune.l1_unstructured``, then
    ``prune.remove`` to make it permanent. Embeddings, biases, LayerNorms and a head tied to
    the embedding are left alone. The zeros still take space and time in a dense matrix: the
    gain needs sparse storage or kernels. Taught in chapter 9.
    """
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
