"""Training objectives: what a batch is, for each kind of model. Taught in chapters 4 and 5.

Every model follows labkit's contract ``logits, loss = model(*batch)`` (or ``model(**batch)``
for a dict batch), so a task only has to say how to sample a batch:

* :class:`CausalLMTask` — next-token prediction on one long id sequence (TinyGPT, chapter 4);
* :class:`MaskedLMTask` — BERT's masked LM, 80/10/10 masking (:func:`mask_tokens`), loss only
  over the masked positions (labels are -100 elsewhere) (TinyBERT, chapter 4);
* :class:`ClassificationTask` — one label per sequence or per token (chapter 5);
* :class:`Seq2SeqTask` — source → target with teacher forcing (TinyEncoderDecoder, chapter 8);
* :class:`SequenceMLMTask` — masked LM on whole padded documents, as BERT (chapter 5);
* :class:`MultiTaskTask` — batches that mix several classification tasks (chapter 5).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from labkit import distributed as dist_utils
from labkit._util import IGNORE_INDEX, SPECIAL_TOKENS, block_size_of, check_positive_int

__all__ = [
    "Batch",
    "Task",
    "CausalLMTask",
    "mask_tokens",
    "MaskedLMTask",
    "ClassificationTask",
    "Seq2SeqTask",
    "SequenceMLMTask",
    "MultiTaskTask",
    "N_SPECIAL_TOKENS",
    "as_task",
    "move_batch",
]

Batch = tuple[Tensor, ...] | dict[str, Tensor]
N_SPECIAL_TOKENS = len(SPECIAL_TOKENS)  # [PAD]=0 [UNK]=1 [BOS]=2 [EOS]=3 [MASK]=4 [CLS]=5 [SEP]=6


def _ids(data: Any, name: str) -> Tensor:
    tensor = torch.as_tensor(data)
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.dim() != 1:
        raise ValueError(
            f"{name} must be a 1-D tensor of integer token ids "
            f"(e.g. torch.tensor(tok.encode(text))), "
            f"got dtype {tensor.dtype} and shape {tuple(tensor.shape)}"
        )
    return tensor.long()


def _check_length(ids: Tensor, need: int, block_size: int, split: str) -> None:
    if len(ids) < need:
        raise ValueError(
            f"the {split} data has {len(ids)} tokens, but one block of block_size={block_size} "
            f"needs {need}; use more text or a smaller block_size"
        )


class Task:
    """What the model learns: how to sample a batch from the training or validation data.

    Subclasses implement :meth:`get_batch` (returning a tuple for ``model(*batch)`` or a dict
    for ``model(**batch)``) and :meth:`shard`. Taught in chapter 4.
    """

    kind = "task"

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Batch:
        """A random batch from ``split`` (``"train"`` or ``"val"``)."""
        raise NotImplementedError

    def has_split(self, split: str) -> bool:
        """Whether there is data for ``split``."""
        return split == "train" or getattr(self, "val", None) is not None

    def shard(self, rank: int, world_size: int) -> Task:
        """This process's part of the training data under ``torchrun`` (validation is shared)."""
        raise NotImplementedError

    def tokens(self, batch: Batch) -> int:
        """How many tokens a batch holds (for tokens per second)."""
        first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
        return first.numel()


class CausalLMTask(Task):
    """Next-token prediction on one long sequence of ids: ``x = ids[i:i+T]``,
    ``y = ids[i+1:i+T+1]``.

    Batches start at random positions (one index tensor, no Python loop). Taught in chapter 4.
    """

    kind = "causal_lm"

    def __init__(self, train: Any, val: Any = None, block_size: int = 64) -> None:
        self.block_size = check_positive_int(block_size, "block_size")
        self.train = _ids(train, "train")
        self.val = None if val is None else _ids(val, "val")
        _check_length(self.train, block_size + 1, block_size, "training")
        if self.val is not None:
            _check_length(self.val, block_size + 1, block_size, "validation")
        self._offsets = torch.arange(block_size + 1)

    def _rows(self, split: str, batch_size: int, generator: torch.Generator | None) -> Tensor:
        data = self.train if split == "train" else self.val
        if data is None:
            raise ValueError("this task has no validation data")
        starts = torch.randint(len(data) - self.block_size, (batch_size, 1), generator=generator)
        return data[starts + self._offsets]

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Batch:
        """``(x, y)``, each ``(batch_size, block_size)``; ``y`` is ``x`` shifted by one."""
        rows = self._rows(split, batch_size, generator)
        return rows[:, :-1], rows[:, 1:]

    def shard(self, rank: int, world_size: int) -> CausalLMTask:
        """Rank ``r`` of ``n`` trains on the ``r``-th contiguous ``1/n`` of the token stream."""
        part = dist_utils.shard(self.train, rank, world_size)
        return CausalLMTask(part, self.val, self.block_size)


def mask_tokens(
    ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    mlm_probability: float = 0.15,
    special_ids: Sequence[int] = tuple(range(N_SPECIAL_TOKENS)),
) -> tuple[Tensor, Tensor]:
    """BERT's masking: pick 15% of the (non-special) positions; of those, 80% become
    ``[MASK]``, 10% a random token, 10% stay unchanged. Returns ``(inputs, labels)`` where
    ``labels`` holds the original id at picked positions and -100 (ignored by the loss)
    everywhere else — so the loss is computed over the masked positions only.

    Every row gets at least one picked position (a row with none would contribute no loss).
    Taught in chapter 4.
    """
    if not 0 < mlm_probability < 1:
        raise ValueError(
            f"mlm_probability must be between 0 and 1 (BERT uses 0.15), got {mlm_probability}"
        )
    ids = torch.as_tensor(ids).long()
    device = ids.device
    special = torch.isin(ids, torch.as_tensor(list(special_ids), dtype=torch.long, device=device))
    u = torch.rand(ids.shape, generator=generator).to(device)
    picked = (u < mlm_probability) & ~special
    # rows where nothing was picked: pick their (random) non-special position with the smallest u
    empty = ~picked.any(dim=-1, keepdim=True)
    first = u.masked_fill(special, 2.0).argmin(dim=-1, keepdim=True)
    forced = torch.zeros_like(picked).scatter_(-1, first, True) & empty & ~special
    picked |= forced
    labels = ids.masked_fill(~picked, IGNORE_INDEX)
    r = torch.rand(ids.shape, generator=generator).to(device)
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator).to(device)
    inputs = torch.where(picked & (r < 0.8), torch.full_like(ids, mask_token_id), ids)
    inputs = torch.where(picked & (r >= 0.8) & (r < 0.9), random_ids, inputs)
    return inputs, labels


class MaskedLMTask(CausalLMTask):
    """Masked language modelling (BERT): blocks of ``block_size`` ids, masked by
    :func:`mask_tokens`; the model predicts the original ids at the masked positions.

    Taught in chapter 4 (the masked-LM demo on Chinese).
    """

    kind = "masked_lm"

    def __init__(
        self,
        train: Any,
        val: Any = None,
        block_size: int = 64,
        vocab_size: int | None = None,
        mask_token_id: int = 4,
        mlm_probability: float = 0.15,
        special_ids: Sequence[int] = tuple(range(N_SPECIAL_TOKENS)),
    ) -> None:
        super().__init__(train, val, block_size)
        if vocab_size is None:
            top = -1 if self.val is None else self.val.max()
            vocab_size = int(max(self.train.max(), top)) + 1
        self.vocab_size, self.mask_token_id = vocab_size, mask_token_id
        self.mlm_probability, self.special_ids = mlm_probability, tuple(special_ids)

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Batch:
        """``(masked inputs, labels)``, each ``(batch_size, block_size)``."""
        rows = self._rows(split, batch_size, generator)[:, :-1]
        return mask_tokens(
            rows,
            self.mask_token_id,
            self.vocab_size,
            generator,
            self.mlm_probability,
            self.special_ids,
        )

    def shard(self, rank: int, world_size: int) -> MaskedLMTask:
        """Rank ``r`` of ``n`` trains on the ``r``-th contiguous ``1/n`` of the token stream."""
        part = dist_utils.shard(self.train, rank, world_size)
        return MaskedLMTask(
            part,
            self.val,
            self.block_size,
            self.vocab_size,
            self.mask_token_id,
            self.mlm_probability,
            self.special_ids,
        )


def _rows_pair(inputs: Any, labels: Any, name: str) -> tuple[Tensor, Tensor]:
    x, y = torch.as_tensor(inputs).long(), torch.as_tensor(labels).long()
    if x.dim() != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"{name}: inputs must be (N, T) padded token ids and labels have N rows, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y


class _RowPairsTask(Task):
    """Two ``(N, ...)`` tensors with one row per example, sampled together by random rows:
    ``inputs`` and ``labels`` for a classifier, ``src`` and ``tgt`` for seq2seq. ``pad_token_id``
    marks padding (None: no padding)."""

    def __init__(
        self,
        train_inputs: Any,
        train_labels: Any,
        val_inputs: Any = None,
        val_labels: Any = None,
        pad_token_id: int | None = 0,
    ) -> None:
        self.train = _rows_pair(train_inputs, train_labels, "training data")
        self.val = (
            None if val_inputs is None else _rows_pair(val_inputs, val_labels, "validation data")
        )
        for pair in filter(None, (self.train, self.val)):
            self._check_rows(*pair)
        self.pad_token_id = pad_token_id

    def _check_rows(self, inputs: Tensor, labels: Tensor) -> None:
        """Raise if a pair of tensors does not suit the task (every pair suits by default)."""

    def _random_rows(
        self, split: str, batch_size: int, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        x, y = self.train if split == "train" else self.val
        rows = torch.randint(len(x), (batch_size,), generator=generator)
        return x[rows], y[rows]

    def shard(self, rank: int, world_size: int) -> Task:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, r+2n, ...``."""
        x, y = self.train
        task = type(self)(x[rank::world_size], y[rank::world_size], pad_token_id=self.pad_token_id)
        task.val = self.val
        return task


class ClassificationTask(_RowPairsTask):
    """Fine-tuning on labelled sequences: ``inputs`` ``(N, T)`` padded ids and ``labels``
    ``(N,)`` (one class per sequence) or ``(N, T)`` (one per token, -100 = ignore).

    ``ClassificationTask(train_inputs, train_labels, val_inputs=None, val_labels=None,
    pad_token_id=0)``. Batches are dicts ``{"idx", "targets", "attention_mask"}`` (padding =
    ``pad_token_id``); evaluation also reports ``val_accuracy``. Taught in chapter 5.
    """

    kind = "classification"

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Batch:
        """A dict batch of ``batch_size`` random rows."""
        x, y = self._random_rows(split, batch_size, generator)
        batch = {"idx": x, "targets": y}
        if self.pad_token_id is not None:
            batch["attention_mask"] = (x != self.pad_token_id).long()
        return batch

    def tokens(self, batch: Batch) -> int:
        """Non-padding tokens in the batch."""
        mask = batch.get("attention_mask") if isinstance(batch, dict) else None
        return int(mask.sum()) if mask is not None else super().tokens(batch)


class Seq2SeqTask(_RowPairsTask):
    """Sequence-to-sequence fine-tuning (translation, summarisation) with teacher forcing.

    ``Seq2SeqTask(src, tgt, val_src=None, val_tgt=None, pad_token_id=0)`` with ``src``
    ``(N, S)`` and ``tgt`` ``(N, T+1)`` padded ids, each ``tgt`` row being
    ``[BOS] y1 .. yn [EOS] [PAD]..``. A batch is ``(src, tgt[:, :-1], targets)`` where
    ``targets = tgt[:, 1:]`` with padding set to -100. Taught in chapter 8.
    """

    kind = "seq2seq"

    def _check_rows(self, src: Tensor, tgt: Tensor) -> None:
        if tgt.dim() != 2 or tgt.shape[1] < 2:
            raise ValueError("tgt must be (N, T+1) ids: [BOS] y1 .. yn [EOS] (+ padding)")

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Batch:
        """``(src, tgt_in, targets)`` for ``model(src, tgt_in, targets)``."""
        src, tgt = self._random_rows(split, batch_size, generator)
        targets = tgt[:, 1:]
        if self.pad_token_id is not None:
            targets = targets.masked_fill(targets == self.pad_token_id, IGNORE_INDEX)
        return src, tgt[:, :-1], targets


class SequenceMLMTask(Task):
    """Masked-LM batches from whole padded sequences (``[CLS] ... [SEP] [PAD]...``).

    Unlike :class:`labkit.train.MaskedLMTask` (random windows of one long stream), every row
    is one document starting with ``[CLS]``, as in BERT. Masking is
    :func:`labkit.train.mask_tokens` (80/10/10, never a special token); batches are dicts
    ``{"idx", "targets", "attention_mask"}``. Taught in chapter 5 (pretraining a BERT).
    """

    kind = "masked_lm"

    def __init__(
        self,
        input_ids: Tensor,
        vocab_size: int,
        mask_token_id: int = 4,
        mlm_probability: float = 0.15,
        pad_token_id: int = 0,
    ) -> None:
        ids = torch.as_tensor(input_ids).long()
        if ids.dim() != 2 or len(ids) == 0:
            raise ValueError(
                f"input_ids must be (N, T) padded token ids, got shape {tuple(ids.shape)}"
            )
        self.train, self.val = ids, None
        self.vocab_size, self.mask_token_id = vocab_size, mask_token_id
        self.mlm_probability, self.pad_token_id = mlm_probability, pad_token_id

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """A dict batch of ``batch_size`` random rows, freshly masked."""
        rows = self.train[torch.randint(len(self.train), (batch_size,), generator=generator)]
        inputs, labels = mask_tokens(
            rows, self.mask_token_id, self.vocab_size, generator, self.mlm_probability
        )
        mask = (rows != self.pad_token_id).long()
        return {"idx": inputs, "targets": labels, "attention_mask": mask}

    def shard(self, rank: int, world_size: int) -> SequenceMLMTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, ...``."""
        task = copy.copy(self)
        task.train = self.train[rank::world_size]
        return task

    def tokens(self, batch: Any) -> int:
        """Non-padding tokens in the batch."""
        return int(batch["attention_mask"].sum())


class MultiTaskTask(Task):
    """Batches for :class:`labkit.models.multitask.MultiTaskBert`: each batch mixes rows of
    every task.

    ``MultiTaskTask([(x_sent, y_sent), (x_topic, y_topic)])``; ``batch_size`` rows are split
    evenly over the tasks. Taught in chapter 5.
    """

    kind = "multi_task"

    def __init__(self, datasets: Sequence[tuple[Tensor, Tensor]]) -> None:
        if not datasets:
            raise ValueError("give one (input_ids, labels) pair per task")
        self.datasets = [
            (torch.as_tensor(x).long(), torch.as_tensor(y).long()) for x, y in datasets
        ]
        widths = {x.shape[1] for x, _ in self.datasets}
        if len(widths) != 1:
            raise ValueError(
                f"every task's input_ids must have the same length T, got {sorted(widths)}"
            )
        self.val = None

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """A dict batch with ``task_ids``; rows of task ``k`` come from dataset ``k``."""
        per = max(1, batch_size // len(self.datasets))
        xs, ys, ts = [], [], []
        for k, (x, y) in enumerate(self.datasets):
            rows = torch.randint(len(x), (per,), generator=generator)
            xs.append(x[rows])
            ys.append(y[rows])
            ts.append(torch.full((per,), k, dtype=torch.long))
        idx, targets, task_ids = torch.cat(xs), torch.cat(ys), torch.cat(ts)
        mask = (idx != 0).long()
        return {"idx": idx, "targets": targets, "attention_mask": mask, "task_ids": task_ids}

    def shard(self, rank: int, world_size: int) -> MultiTaskTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, ...`` of each task."""
        return MultiTaskTask([(x[rank::world_size], y[rank::world_size]) for x, y in self.datasets])


def as_task(task: Task | Tensor, model: Any) -> Task:
    """``task`` itself, or for a 1-D tensor of ids a :class:`CausalLMTask` split 90/10 with the
    model's ``block_size``. Taught in chapter 4."""
    if isinstance(task, Tensor):
        block = block_size_of(model)
        if block is None:
            raise ValueError(
                "pass a Task (e.g. CausalLMTask(train_ids, val_ids, block_size)) for this model"
            )
        n_val = max(block + 1, len(task) // 10)
        task = CausalLMTask(task[:-n_val], task[-n_val:], block)
    if not isinstance(task, Task):
        raise TypeError(
            f"task must be a labkit.train.Task or a 1-D tensor of ids, got {type(task).__name__}"
        )
    return task


def move_batch(batch: Batch, device: torch.device) -> Batch:
    """The batch on ``device`` (unchanged on the CPU). Taught in chapter 4."""
    if device.type == "cpu":
        return batch
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return tuple(t.to(device, non_blocking=True) for t in batch)
