"""How good is this model? The one home of LM loss, token NLL, perplexity, predictions, accuracy.

Every function here runs the model in eval mode without gradients and restores its training
mode afterwards (:func:`labkit._util.eval_mode`), and works with labkit models and Hugging
Face ``transformers`` models alike (peft models too).

* Causal LMs: :func:`lm_loss` (consecutive blocks: the usual "validation loss"),
  :func:`target_losses` (the same windows, one loss per target position),
  :func:`token_nll` (every token with as much context as fits: a sliding window),
  :func:`text_perplexity` (texts through a tokenizer), :func:`perplexity` (``exp`` of a loss),
  :func:`evaluate_loss` (fixed batches of a training task, so several models see the same text).
* Encoder–decoders: :func:`seq2seq_perplexity` (teacher-forced, padding excluded).
* Classifiers: :func:`predict`, :func:`accuracy`, :func:`confusion_matrix`; taggers:
  :func:`entity_f1` (entity-level, as NER is scored) over :func:`entity_spans`.

Taught in chapter 4 (cross-entropy, perplexity, the causal-LM objective), used to measure
models in chapters 5, 8 and 9.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit._util import (
    IGNORE_INDEX,
    block_size_of,
    check_positive_int,
    eval_mode,
    logits_of,
    model_device,
)

__all__ = [
    "entity_f1",
    "entity_spans",
    "target_losses",
    "accuracy",
    "confusion_matrix",
    "evaluate_loss",
    "lm_loss",
    "perplexity",
    "predict",
    "seq2seq_perplexity",
    "text_perplexity",
    "token_nll",
]


def perplexity(loss: float) -> float:
    """``exp(loss)``: the number of equally likely choices the model is as unsure as.

    ``loss`` is a mean cross-entropy in nats per token; a diverged loss (over 700 nats, where
    ``exp`` overflows) gives ``inf``. Taught in chapter 4.
    """
    return math.exp(loss) if loss < 700 else math.inf


def _context(model: Any, block_size: int | None) -> int:
    block = block_size or block_size_of(model)
    if not isinstance(block, int) or isinstance(block, bool) or block < 1:
        raise ValueError("give block_size=... (the model does not say its context length)")
    return block


def lm_loss(
    model: nn.Module,
    ids: Any,
    block_size: int | None = None,
    batch_size: int = 64,
    max_blocks: int | None = None,
) -> float:
    """Mean next-token cross-entropy (nats per token) of a causal LM on a token sequence.

    ``ids`` is cut into consecutive windows of ``block_size + 1`` tokens (inputs and their
    targets shifted by one; default: the model's context length), at most ``max_blocks`` of
    them; a last partial window is dropped. Deterministic — the same windows every call — so
    "before" and "after" numbers compare. Taught in chapter 4, used in chapters 5 and 9.
    """
    total, count = 0.0, 0
    for logits, targets in _scored_windows(model, ids, block_size, batch_size, max_blocks):
        total += float(F.cross_entropy(logits, targets, reduction="sum"))
        count += targets.numel()
    return total / count


def target_losses(
    model: nn.Module,
    ids: Sequence[int] | Tensor,
    block_size: int | None = None,
    batch_size: int = 64,
) -> Tensor:
    """The next-token loss (nats) at every scored position of ``ids``, one value per target.

    The windows are those of :func:`lm_loss` (consecutive, non-overlapping, ``block_size``
    tokens each; a last partial window is dropped), so the mean of the result is
    ``lm_loss(model, ids, block_size)``. Element ``j`` is the loss of predicting ``ids[j + 1]``:
    mask it to score only some targets, e.g. the letters a typo left unchanged.
    Taught in chapter 9.
    """
    losses = [
        F.cross_entropy(logits, targets, reduction="none").cpu()
        for logits, targets in _scored_windows(model, ids, block_size, batch_size, None)
    ]
    return torch.cat(losses)


def _scored_windows(
    model: nn.Module, ids: Any, block_size: int | None, batch_size: int, max_blocks: int | None
) -> Iterator[tuple[Tensor, Tensor]]:
    """``(logits (N, vocab), targets (N,))`` per batch of the consecutive windows of ``ids``."""
    ids = torch.as_tensor(ids).long().flatten()
    block = _context(model, block_size)
    check_positive_int(batch_size, "batch_size")
    n = (len(ids) - 1) // block
    if max_blocks is not None:
        n = min(n, max_blocks)
    if n < 1:
        raise ValueError(
            f"the text has {len(ids)} tokens; it needs at least block_size + 1 = {block + 1}"
        )
    x = ids[: n * block].view(n, block)
    y = ids[1 : n * block + 1].view(n, block)
    device = model_device(model)
    with eval_mode(model):
        for i in range(0, n, batch_size):
            logits = logits_of(model(x[i : i + batch_size].to(device))).float()
            yield logits.flatten(0, 1), y[i : i + batch_size].flatten().to(device)


def token_nll(
    model: nn.Module, ids: Sequence[int] | Tensor, block_size: int | None = None
) -> Tensor:
    """``-log P(w_i | w_<i)`` in nats for tokens ``1 .. n-1`` of ``ids`` under a causal LM.

    Token ``i`` is predicted from the ``min(i, block_size)`` tokens before it (a sliding
    window: the most context the model can use), so texts longer than the context are scored
    whole. The first token has no context and gets no loss. Returns a float tensor of length
    ``len(ids) - 1``; its sum is the text's negative log-likelihood, its mean the usual loss.

    Taught in chapter 4 (the causal-LM objective).
    """
    ids = torch.as_tensor(ids, dtype=torch.long).flatten()
    if len(ids) < 2:
        raise ValueError("token_nll needs at least 2 tokens: the first one is only context")
    block = _context(model, block_size)
    if block < 2:
        raise ValueError("give block_size=... (the model's context length, at least 2)")
    device = model_device(model)
    with eval_mode(model):
        if len(ids) <= block + 1:  # one window holds it all
            logits = logits_of(model(ids[None, :-1].to(device)))[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
            return -logp.gather(-1, ids[1:, None].to(device)).squeeze(-1).cpu()
        # the first window scores tokens 1..block; then one window per further token,
        # each ending at the token before the one it scores (batched: no Python loop per token)
        first = token_nll(model, ids[: block + 1], block)
        n_more = len(ids) - (block + 1)
        starts = torch.arange(1, 1 + n_more)
        windows = ids[starts[:, None] + torch.arange(block)]  # (n_more, block)
        targets = ids[block + 1 :]
        out = []
        for chunk, tgt in zip(windows.split(256), targets.split(256), strict=True):
            logits = logits_of(model(chunk.to(device)))
            logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
            out.append(-logp.gather(-1, tgt[:, None].to(device)).squeeze(-1).cpu())
        return torch.cat([first, *out])


def text_perplexity(model: Any, tokenizer: Any, texts: str | Sequence[str]) -> float:
    """Perplexity of a causal LM on ``texts``: ``exp`` of the mean negative log-likelihood of
    every token given the tokens before it (the first token of each text is only context).

    Works with a labkit ``TinyGPT`` and with a Hugging Face causal LM; texts longer than the
    model's context are cut. Taught in chapter 8.
    """
    if isinstance(texts, str):
        texts = [texts]
    limit = block_size_of(model)
    device = model_device(model)
    total, count = 0.0, 0
    with eval_mode(model):
        for text in texts:
            ids = list(tokenizer(text)["input_ids"])[: limit or None]
            if len(ids) < 2:
                raise ValueError(f"{text!r} has fewer than 2 tokens: nothing to predict")
            idx = torch.tensor([ids], device=device)
            logits = logits_of(model(idx))
            total += float(F.cross_entropy(logits[0, :-1].float(), idx[0, 1:], reduction="sum"))
            count += len(ids) - 1
    return math.exp(total / count)


def evaluate_loss(
    model: nn.Module,
    task: Any,
    batches: int = 20,
    batch_size: int = 32,
    seed: int = 0,
    split: str = "val",
) -> float:
    """Mean loss of ``model`` on ``batches`` fixed batches of a training task.

    The batches come from a generator seeded with ``seed``, so an original model and its
    quantised, pruned or distilled versions are compared on exactly the same text. ``task`` is
    a :class:`labkit.train.Task` (anything with ``get_batch(split, batch_size, generator)``).
    Taught in chapter 9.
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    generator = torch.Generator().manual_seed(seed)
    device = model_device(model)
    total = 0.0
    with eval_mode(model):
        for _ in range(batches):
            x, y = task.get_batch(split, batch_size, generator)
            out = model(x.to(device), y.to(device))
            if not isinstance(out, tuple) or len(out) < 2:
                raise TypeError("the model must return (logits, loss) when given targets")
            total += float(out[1])
    return total / batches


def seq2seq_perplexity(model: Any, src: Tensor, tgt: Tensor, pad_token_id: int = 0) -> float:
    """Perplexity of the reference targets under a teacher-forced encoder–decoder.

    ``exp(mean cross-entropy per target token)``, padding excluded; ``tgt`` starts with the
    decoder's start token. Taught in chapter 8.
    """
    targets = tgt[:, 1:].masked_fill(tgt[:, 1:] == pad_token_id, IGNORE_INDEX)
    device = model_device(model)
    with eval_mode(model):
        _, loss = model(src.to(device), tgt[:, :-1].to(device), targets.to(device))
    return math.exp(float(loss))


def predict(
    model: nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor | None = None,
    batch_size: int = 512,
) -> Tensor:
    """Predicted class ids: ``(N,)`` for a sequence classifier, ``(N, T)`` for a token classifier.

    The argmax of the logits, in eval mode; without ``attention_mask``, padding (id 0) is
    masked out. Taught in chapter 5, used in chapter 8.
    """
    if attention_mask is None:
        attention_mask = (input_ids != 0).long()
    device = model_device(model)
    out = []
    with eval_mode(model):
        for i in range(0, len(input_ids), batch_size):
            x = input_ids[i : i + batch_size].to(device)
            m = attention_mask[i : i + batch_size].to(device)
            out.append(logits_of(model(x, attention_mask=m)).argmax(-1).cpu())
    return torch.cat(out)


def accuracy(
    model: nn.Module,
    input_ids: Tensor,
    labels: Tensor,
    attention_mask: Tensor | None = None,
) -> float:
    """Fraction of correct predictions; positions labelled ``IGNORE_INDEX`` (-100) are skipped.

    Taught in chapter 5, used in chapter 8.
    """
    pred = predict(model, input_ids, attention_mask)
    if pred.shape != labels.shape:
        raise ValueError(
            f"the model predicts shape {tuple(pred.shape)} but labels have "
            f"{tuple(labels.shape)}: a sequence classifier needs (N,) labels, a token "
            "classifier (N, T)"
        )
    keep = labels != IGNORE_INDEX
    return float((pred[keep] == labels[keep]).float().mean())


def confusion_matrix(predicted: Tensor, labels: Tensor, num_labels: int) -> Tensor:
    """``counts[i, j]`` = how often true class ``i`` was predicted as ``j`` (-100 skipped).

    Taught in chapter 5.
    """
    keep = labels != IGNORE_INDEX
    pairs = labels[keep] * num_labels + predicted[keep]
    return torch.bincount(pairs, minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def entity_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The entities of a BIO tag sequence as ``(type, first, last + 1)`` word spans; an
    ``I-`` tag that does not continue an entity of its type starts a new one. Taught in
    chapter 5 (NER), used in chapter 8."""
    spans, current = set(), None
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag[:2] in ("B-", "I-") else None
        if current and (tag.startswith("B-") or kind != current[0]):
            spans.add((current[0], current[1], i))
            current = None
        if kind and current is None:
            current = (kind, i)
    return spans


def entity_f1(
    true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]
) -> tuple[float, float, float]:
    """Entity-level ``(precision, recall, F1)`` of a tagger, as NER is scored (CoNLL,
    ``seqeval``): an entity counts only if its type and both ends are right. Taught in
    chapter 5 (NER), used in chapter 8."""
    if len(true_tags) != len(predicted_tags):
        raise ValueError("give one predicted tag sequence per true one")
    tp = n_true = n_pred = 0
    for t, p in zip(true_tags, predicted_tags):
        if len(t) != len(p):
            raise ValueError(f"{len(t)} true tags but {len(p)} predicted in one sentence")
        a, b = entity_spans(t), entity_spans(p)
        tp, n_true, n_pred = tp + len(a & b), n_true + len(a), n_pred + len(b)
    precision, recall = tp / max(n_pred, 1), tp / max(n_true, 1)
    return precision, recall, (2 * precision * recall / (precision + recall) if tp else 0.0)
