"""Chapter 4 (course/04_training.ipynb): what the chapter needs beyond the training loop.

* :func:`fill_mask` and :func:`fill_mask_iteratively` — what a masked LM puts in the
  ``[MASK]`` slots of a text ("今天[MASK][MASK]不错。"), all slots at once or one at a time
  (:class:`MaskPrediction` holds one slot's top guesses);
* :func:`split_sentences`, :func:`nsp_pairs`, :func:`encode_nsp` and :class:`NSPTask` —
  next-sentence prediction (BERT's second pretraining objective): sentence pairs that follow
  each other or not, encoded as ``[CLS] A [SEP] B [SEP]`` with segment ids;
* :func:`lr_schedule_figure` — the learning rate of every step of a run (warm-up + cosine)
  as a static picture; :func:`weight_checksum` — one number that changes with any weight.

The chapter's other tools live in concept modules: the loss of every token of a text in
:func:`labkit.evaluate.token_nll`, the text progress bar in :class:`labkit.train.TextProgressBar`,
and the ``torchrun`` helpers in :mod:`labkit.distributed`.

Taught in chapter 4.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from labkit._util import check_positive_int, logits_of, model_device
from labkit.train import ClassificationTask

__all__ = [
    "MaskPrediction",
    "fill_mask",
    "fill_mask_iteratively",
    "split_sentences",
    "nsp_pairs",
    "encode_nsp",
    "NSPTask",
    "lr_schedule_figure",
    "weight_checksum",
]


# --------------------------------------------------------------------------------------------
# Masked LM: fill in the blanks
# --------------------------------------------------------------------------------------------


@dataclass
class MaskPrediction:
    """The top guesses of a masked LM for one ``[MASK]`` slot. Taught in chapter 4."""

    position: int  # index of the slot in the token ids
    tokens: list[str]  # the top-k tokens, most likely first
    probs: list[float]  # their probabilities

    def __str__(self) -> str:
        guesses = "  ".join(f"{t!r} {p:.2f}" for t, p in zip(self.tokens, self.probs, strict=True))
        return f"position {self.position}: {guesses}"


def _mask_inputs(tokenizer: Any, text: str) -> tuple[Tensor, int]:
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise ValueError("this tokenizer has no [MASK] token; use a labkit tokenizer (mask id 4)")
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    if not bool((ids == mask_id).any()):
        mask = getattr(tokenizer, "mask_token", "[MASK]")
        raise ValueError(
            f"the text has no {mask} to fill in; write it where a token is missing, "
            f"e.g. '今天{mask}{mask}不错。'"
        )
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is not None and bool((ids == unknown).any()):
        raise ValueError(
            "the text contains characters the tokenizer has never seen (they became "
            "[UNK]); use only characters from the training corpus"
        )
    return ids, mask_id


@torch.no_grad()
def _slot_probs(model: nn.Module, ids: Tensor) -> Tensor:
    logits = logits_of(model(ids[None].to(model_device(model))))
    return torch.softmax(logits[0].float(), dim=-1).cpu()


def fill_mask(model: nn.Module, tokenizer: Any, text: str, top_k: int = 5) -> list[MaskPrediction]:
    """The ``top_k`` tokens a masked LM predicts for each ``[MASK]`` in ``text``.

    All slots are predicted at once, each independently of what the others will become (as
    BERT does): two slots can both pick the same token. See :func:`fill_mask_iteratively` for
    one slot at a time. The model is put in eval mode. Taught in chapter 4.
    """
    check_positive_int(top_k, "top_k")
    ids, mask_id = _mask_inputs(tokenizer, text)
    model.eval()
    probs = _slot_probs(model, ids)
    result = []
    for pos in (ids == mask_id).nonzero().flatten().tolist():
        top = probs[pos].topk(min(top_k, probs.shape[-1]))
        tokens = [tokenizer.decode([i]) for i in top.indices.tolist()]
        result.append(MaskPrediction(pos, tokens, top.values.tolist()))
    return result


def fill_mask_iteratively(
    model: nn.Module, tokenizer: Any, text: str
) -> tuple[str, list[tuple[int, str, float]]]:
    """Fill the ``[MASK]`` slots of ``text`` one at a time, most confident slot first.

    At each round the model predicts every slot still open, the single most confident
    prediction is written in, and the model looks again, now seeing that token. Returns the
    filled text and the ``(position, token, probability)`` choices in the order they were made.
    The model is put in eval mode. Taught in chapter 4.
    """
    ids, mask_id = _mask_inputs(tokenizer, text)
    model.eval()
    choices = []
    while bool((ids == mask_id).any()):
        open_slots = (ids == mask_id).nonzero().flatten()
        probs = _slot_probs(model, ids)[open_slots]
        probs[:, mask_id] = 0.0  # never "fill" a slot with [MASK] itself
        best_p, best_tok = probs.max(dim=-1)
        k = int(best_p.argmax())
        pos, tok = int(open_slots[k]), int(best_tok[k])
        ids[pos] = tok
        choices.append((pos, tokenizer.decode([tok]), float(best_p[k])))
    return tokenizer.decode(ids.tolist(), skip_special_tokens=True), choices


# --------------------------------------------------------------------------------------------
# Next-sentence prediction
# --------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”\"]?)?")
_EN_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+\"?)?")


def split_sentences(text: str, lang: str = "zh") -> list[str]:
    """Split a text into sentences at 。！？ (``"zh"``) or . ! ? (``"en"``) and at line breaks.

    The end mark (and a closing quote right after it) stays with its sentence; surrounding
    spaces are dropped, empty pieces skipped. Taught in chapter 4.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    pattern = _SENTENCE if lang == "zh" else _EN_SENTENCE
    return [s.strip() for s in pattern.findall(text) if s.strip()]


def nsp_pairs(
    documents: Sequence[str], n: int, seed: int = 0, lang: str = "zh"
) -> list[tuple[str, str, int]]:
    """``n`` sentence pairs ``(A, B, is_next)`` for next-sentence prediction, half of each kind.

    ``is_next = 1``: B is the sentence that follows A in the same document (BERT's "IsNext");
    ``is_next = 0``: B is a sentence from a *different* document ("NotNext"), as in BERT.
    Deterministic for a ``seed``. Taught in chapter 4.
    """
    check_positive_int(n, "n")
    docs = [split_sentences(d, lang) for d in documents]
    with_pairs = [i for i, s in enumerate(docs) if len(s) >= 2]
    if len(with_pairs) < 2:
        raise ValueError("need at least two documents with two or more sentences each")
    rng = random.Random(seed)
    pairs = []
    for k in range(n):
        d = rng.choice(with_pairs)
        i = rng.randrange(len(docs[d]) - 1)
        a = docs[d][i]
        if k % 2 == 0:
            pairs.append((a, docs[d][i + 1], 1))
        else:
            other = rng.choice([j for j in with_pairs if j != d])
            pairs.append((a, rng.choice(docs[other]), 0))
    rng.shuffle(pairs)
    return pairs


def encode_nsp(
    tokenizer: Any, pairs: Sequence[tuple[str, str, int]], block_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Encode pairs as BERT does: ``[CLS] A [SEP] B [SEP]``, padded with ``[PAD]``.

    Returns ``(idx, token_type_ids, labels)``: ids ``(N, block_size)``; segment ids 0 for
    ``[CLS] A [SEP]`` and 1 for ``B [SEP]`` (0 on padding); labels ``(N,)``. When a pair is
    too long, the longer of A and B loses tokens from its end until it fits.
    Taught in chapter 4.
    """
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    if None in (cls, sep, pad):
        raise ValueError(
            "the tokenizer needs [CLS], [SEP] and [PAD] tokens (labkit tokenizers have them)"
        )
    if block_size < 5:
        raise ValueError(f"block_size must be at least 5 ([CLS] a [SEP] b [SEP]), got {block_size}")
    idx = torch.full((len(pairs), block_size), pad, dtype=torch.long)
    types = torch.zeros((len(pairs), block_size), dtype=torch.long)
    labels = torch.empty(len(pairs), dtype=torch.long)
    for row, (a, b, label) in enumerate(pairs):
        ta, tb = tokenizer.encode(a), tokenizer.encode(b)
        while len(ta) + len(tb) > block_size - 3:
            if len(ta) >= len(tb):
                ta = ta[:-1]
            else:
                tb = tb[:-1]
        seq = [cls, *ta, sep, *tb, sep]
        idx[row, : len(seq)] = torch.tensor(seq)
        types[row, len(ta) + 2 : len(seq)] = 1
        labels[row] = int(label)
    return idx, types, labels


class NSPTask(ClassificationTask):
    """Next-sentence prediction as a training task: a :class:`labkit.train.ClassificationTask`
    whose batches also carry ``token_type_ids`` (segment A = 0, segment B = 1).

    ``train`` and ``val`` are ``(idx, token_type_ids, labels)`` as :func:`encode_nsp` returns
    them. Use it with ``TinyBertForSequenceClassification(num_labels=2)``: BERT's NSP head is a
    two-way classifier on the ``[CLS]`` vector. Taught in chapter 4.
    """

    kind = "nsp"

    def __init__(
        self,
        train: tuple[Tensor, Tensor, Tensor],
        val: tuple[Tensor, Tensor, Tensor] | None = None,
        pad_token_id: int = 0,
    ) -> None:
        super().__init__(
            train[0],
            train[2],
            None if val is None else val[0],
            None if val is None else val[2],
            pad_token_id,
        )
        self.train_types = torch.as_tensor(train[1]).long()
        self.val_types = None if val is None else torch.as_tensor(val[1]).long()
        for types, rows in ((self.train_types, self.train), (self.val_types, self.val)):
            if types is not None and rows is not None and types.shape != rows[0].shape:
                raise ValueError("token_type_ids must have the same shape as the ids")

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """A dict batch ``{"idx", "targets", "attention_mask", "token_type_ids"}``."""
        x, y = self.train if split == "train" else self.val
        types = self.train_types if split == "train" else self.val_types
        rows = torch.randint(len(x), (batch_size,), generator=generator)
        idx = x[rows]
        return {
            "idx": idx,
            "targets": y[rows],
            "attention_mask": (idx != self.pad_token_id).long(),
            "token_type_ids": types[rows],
        }

    def shard(self, rank: int, world_size: int) -> NSPTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, r+2n, ...``."""
        (x, y), t = self.train, self.train_types
        task = NSPTask(
            (x[rank::world_size], t[rank::world_size], y[rank::world_size]),
            pad_token_id=self.pad_token_id,
        )
        task.val, task.val_types = self.val, self.val_types
        return task


# --------------------------------------------------------------------------------------------
# The training loop's schedule, drawn; a checksum of the weights
# --------------------------------------------------------------------------------------------


def lr_schedule_figure(lrs: Sequence[float], warmup_steps: int = 0, title: str = "") -> Any:
    """The learning rate of each optimizer step (``TrainResult.history["lr"]``) as a static
    SVG line chart, with the end of the warm-up marked in the caption. Taught in chapter 4.
    """
    from labkit.widgets.svg import compose, line_chart

    if not len(lrs):
        raise ValueError("no learning rates to draw: pass history['lr'] of a run that trained")
    steps = list(range(len(lrs)))
    peak = max(lrs)
    chart = line_chart(
        [("learning rate", steps, list(lrs))],
        x=0,
        y=20,
        w=560,
        h=220,
        title=title or "learning rate per step",
        xlabel="optimizer step",
        ylabel="lr",
    )
    caption = (
        f"warm-up: steps 0–{warmup_steps - 1} rise to {peak:g}; then a half cosine down to "
        f"{lrs[-1]:.3g} at step {len(lrs) - 1}"
        if warmup_steps
        else f"peak {peak:g}, last {lrs[-1]:.3g}"
    )
    return compose(560, 250, chart, caption=caption, alt="learning-rate schedule")


def weight_checksum(model: nn.Module) -> float:
    """The sum of all the model's weights in float64: equal checksums for equal weights, and
    (in practice) different ones after any different update. Taught in chapter 4 (the
    ``torchrun`` check prints the same number)."""
    return sum(float(p.detach().double().sum()) for p in model.parameters())
