"""Multi-task learning: one shared TinyBERT encoder, one classification head per task.

Taught in chapter 5 (multi-task learning). The batches that mix the tasks come from
:class:`labkit.train.MultiTaskTask`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit._util import IGNORE_INDEX
from labkit.models.bert import TinyBERT, TinyBertEncoder
from labkit.models.config import BertConfig

__all__ = ["MultiTaskBert"]


class MultiTaskBert(nn.Module):
    """One shared TinyBERT encoder with one classification head per task (multi-task learning).

    ``MultiTaskBert(config, {"sentiment": 2, "topic": 4})``; call
    ``model(idx, targets=None, attention_mask=None, task_ids=...)`` where ``task_ids`` ``(B,)``
    says which head each row goes to (the index in ``heads``' order). Returns logits padded to
    the largest head (``(B, max_labels)``, -inf where a head has fewer labels) and, with
    targets, the mean cross-entropy. :meth:`head` gives a single-task view for
    :func:`labkit.evaluate.predict`. Taught in chapter 5.
    """

    def __init__(self, config: BertConfig, heads: dict[str, int]) -> None:
        super().__init__()
        if not heads:
            raise ValueError('give at least one head, e.g. {"sentiment": 2}')
        self.config, self.task_names = config, list(heads)
        self.bert = TinyBertEncoder(config)
        self.pooler = nn.Linear(config.d_model, config.d_model)
        self.heads = nn.ModuleList(nn.Linear(config.d_model, n) for n in heads.values())
        self.max_labels = max(heads.values())

    @classmethod
    def from_pretrained(cls, source: TinyBERT, heads: dict[str, int]) -> MultiTaskBert:
        """Start the shared encoder from a pretrained TinyBERT's encoder."""
        model = cls(source.config, heads)
        model.bert.load_state_dict(source.bert.state_dict())
        return model

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        attention_mask: Tensor | None = None,
        task_ids: Tensor | None = None,
    ) -> Any:
        """Logits (and loss) for each row from the head ``task_ids`` names."""
        if task_ids is None:
            if len(self.heads) > 1:
                raise ValueError("pass task_ids (B,): which head each row belongs to")
            task_ids = torch.zeros(len(idx), dtype=torch.long, device=idx.device)
        pooled = torch.tanh(self.pooler(self.bert(idx, attention_mask)[:, 0]))
        logits = pooled.new_full((len(idx), self.max_labels), float("-inf"))
        for k, head in enumerate(self.heads):
            rows = task_ids == k
            if rows.any():
                out = head(pooled[rows])
                logits[rows, : out.shape[1]] = out
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX)

    def head(self, task: str) -> nn.Module:
        """A module ``f(idx, attention_mask=None) -> logits`` for one task (for
        :func:`labkit.evaluate.predict`)."""
        return _Head(self, self.task_names.index(task))


class _Head(nn.Module):
    """One head of a :class:`MultiTaskBert`, called like a single-task classifier."""

    def __init__(self, parent: MultiTaskBert, k: int) -> None:
        super().__init__()
        self.parent, self.k, self.n = parent, k, parent.heads[k].out_features

    def forward(self, idx: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Logits ``(B, labels of this task)``."""
        ids = torch.full((len(idx),), self.k, dtype=torch.long, device=idx.device)
        return self.parent(idx, attention_mask=attention_mask, task_ids=ids)[:, : self.n]
