"""Helpers for chapter 4 (pretraining) that the training loop does not need.

* :class:`TextProgressBar` — the training progress bar as a line of text, so that a saved
  notebook shows the finished bar (a widget bar is stored as its first frame);
* :func:`token_nll` — the loss of a causal LM on every token of a text, each token seeing as
  much context as the model allows (so a story longer than the block can be scored whole);
* :func:`fill_mask` and :func:`fill_mask_iteratively` — what a masked LM puts in the
  ``[MASK]`` slots of a text ("今天[MASK][MASK]不错。"), all slots at once or one at a time;
* :func:`split_sentences`, :func:`nsp_pairs`, :func:`encode_nsp` and :class:`NSPTask` —
  next-sentence prediction (BERT's second pretraining objective): sentence pairs that follow
  each other or not, encoded as ``[CLS] A [SEP] B [SEP]`` with segment ids;
* :func:`find_script`, :func:`torchrun_command`, :func:`run_torchrun` and
  :func:`rank_checksums` — run the
  ``torchrun`` demo script ``course/scripts/train_ddp.py`` from a notebook and read back the
  weight checksum each rank printed.

Taught in chapter 4.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labkit.train import Batch, ClassificationTask, ProgressBar

__all__ = [
    "TextProgressBar",
    "token_nll",
    "MaskPrediction",
    "fill_mask",
    "fill_mask_iteratively",
    "split_sentences",
    "nsp_pairs",
    "encode_nsp",
    "NSPTask",
    "find_script",
    "torchrun_command",
    "run_torchrun",
    "rank_checksums",
]


# --------------------------------------------------------------------------------------------
# A progress bar that a saved notebook can show
# --------------------------------------------------------------------------------------------


class TextProgressBar(ProgressBar):
    """:class:`labkit.train.ProgressBar` drawn as plain text (``tqdm``'s console bar) on stdout.

    In a notebook, ``tqdm.auto`` draws a widget, and a saved notebook keeps only the widget's
    first frame ("0/1000"); this bar is text, so the saved output shows where training ended.
    Use it with ``TrainConfig(progress=False)``: ``train(..., callbacks=[TextProgressBar()])``.
    ``mininterval`` is the least number of seconds between redraws. Taught in chapter 4.
    """

    def __init__(self, mininterval: float = 1.0, **tqdm_kwargs: Any) -> None:
        super().__init__(**tqdm_kwargs)
        self.mininterval = mininterval

    def on_begin(self, m: dict[str, Any]) -> None:
        """Open the bar."""
        from tqdm.std import tqdm

        self.kwargs.setdefault("ncols", 100)
        self.bar = tqdm(total=m["max_steps"], initial=m["step"], unit="step", file=sys.stdout,
                        mininterval=self.mininterval, **self.kwargs)


# --------------------------------------------------------------------------------------------
# Causal LM: the loss of every token of a text
# --------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _block_size(model: nn.Module, block_size: int | None) -> int:
    block = block_size or getattr(getattr(model, "config", None), "block_size", None)
    if not isinstance(block, int) or block < 2:
        raise ValueError("give block_size=... (the model's context length, at least 2)")
    return block


@torch.no_grad()
def token_nll(model: nn.Module, ids: Sequence[int] | Tensor, block_size: int | None = None) -> Tensor:
    """``-log P(w_i | w_<i)`` in nats for tokens ``1 .. n-1`` of ``ids`` under a causal LM.

    Token ``i`` is predicted from the ``min(i, block_size)`` tokens before it (a sliding
    window: the most context the model can use), so texts longer than the context are scored
    whole. The first token has no context and gets no loss. Returns a float tensor of length
    ``len(ids) - 1``; its sum is the text's negative log-likelihood, its mean the usual loss.
    The model runs in eval mode; its training mode is restored afterwards.

    Taught in chapter 4 (the causal-LM objective).
    """
    ids = torch.as_tensor(ids, dtype=torch.long).flatten()
    if len(ids) < 2:
        raise ValueError("token_nll needs at least 2 tokens: the first one is only context")
    block = _block_size(model, block_size)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        if len(ids) <= block + 1:  # one window holds it all
            logits = model(ids[None, :-1].to(device))
            logits = logits[0] if not isinstance(logits, tuple) else logits[0][0]
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
        for chunk, tgt in zip(windows.split(256), targets.split(256)):
            logits = model(chunk.to(device))
            logits = logits[0] if isinstance(logits, tuple) else logits
            logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
            out.append(-logp.gather(-1, tgt[:, None].to(device)).squeeze(-1).cpu())
        return torch.cat([first, *out])
    finally:
        model.train(was_training)


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
        guesses = "  ".join(f"{t!r} {p:.2f}" for t, p in zip(self.tokens, self.probs))
        return f"position {self.position}: {guesses}"


def _mask_inputs(tokenizer: Any, text: str) -> tuple[Tensor, int]:
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise ValueError("this tokenizer has no [MASK] token; use a labkit tokenizer (mask id 4)")
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    if not bool((ids == mask_id).any()):
        mask = getattr(tokenizer, "mask_token", "[MASK]")
        raise ValueError(f"the text has no {mask} to fill in; write it where a token is missing, "
                         f"e.g. '今天{mask}{mask}不错。'")
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is not None and bool((ids == unknown).any()):
        raise ValueError("the text contains characters the tokenizer has never seen (they became "
                         "[UNK]); use only characters from the training corpus")
    return ids, mask_id


@torch.no_grad()
def _predict(model: nn.Module, ids: Tensor) -> Tensor:
    out = model(ids[None].to(_model_device(model)))
    logits = out[0] if isinstance(out, tuple) else out
    return torch.softmax(logits[0].float(), dim=-1).cpu()


def fill_mask(model: nn.Module, tokenizer: Any, text: str, top_k: int = 5) -> list[MaskPrediction]:
    """The ``top_k`` tokens a masked LM predicts for each ``[MASK]`` in ``text``.

    All slots are predicted at once, each independently of what the others will become (as
    BERT does): two slots can both pick the same token. See :func:`fill_mask_iteratively` for
    one slot at a time. The model is put in eval mode. Taught in chapter 4.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive int, got {top_k!r}")
    ids, mask_id = _mask_inputs(tokenizer, text)
    model.eval()
    probs = _predict(model, ids)
    result = []
    for pos in (ids == mask_id).nonzero().flatten().tolist():
        top = probs[pos].topk(min(top_k, probs.shape[-1]))
        result.append(MaskPrediction(pos, [tokenizer.decode([i]) for i in top.indices.tolist()],
                                     top.values.tolist()))
    return result


def fill_mask_iteratively(model: nn.Module, tokenizer: Any, text: str) -> tuple[str, list[tuple[int, str, float]]]:
    """Fill the ``[MASK]`` slots of ``text`` one at a time, most confident slot first.

    At each round the model predicts every slot still open, the single most confident
    prediction is written in, and the model looks again, now seeing that token. Returns the
    filled text and the ``(position, token, probability)`` choices in the order they were made.
    Taught in chapter 4.
    """
    ids, mask_id = _mask_inputs(tokenizer, text)
    model.eval()
    choices = []
    while bool((ids == mask_id).any()):
        open_slots = (ids == mask_id).nonzero().flatten()
        probs = _predict(model, ids)[open_slots]
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
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
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
            other = rng.choice([j for j in with_pairs if j != d]) if len(with_pairs) > 1 else d
            pairs.append((a, rng.choice(docs[other]), 0))
    rng.shuffle(pairs)
    return pairs


def encode_nsp(
    tokenizer: Any, pairs: Sequence[tuple[str, str, int]], block_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Encode pairs as BERT does: ``[CLS] A [SEP] B [SEP]``, padded with ``[PAD]`` to ``block_size``.

    Returns ``(idx, token_type_ids, labels)``: ids ``(N, block_size)``; segment ids 0 for
    ``[CLS] A [SEP]`` and 1 for ``B [SEP]`` (0 on padding); labels ``(N,)``. When a pair is
    too long, the longer of A and B loses tokens from its end until it fits.
    Taught in chapter 4.
    """
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    if None in (cls, sep, pad):
        raise ValueError("the tokenizer needs [CLS], [SEP] and [PAD] tokens (labkit tokenizers have them)")
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

    Use it with ``TinyBertForSequenceClassification(num_labels=2)``: BERT's NSP head is a
    two-way classifier on the ``[CLS]`` vector. Taught in chapter 4.
    """

    kind = "nsp"

    def __init__(self, train: tuple[Tensor, Tensor, Tensor], val: tuple[Tensor, Tensor, Tensor] | None = None,
                 pad_token_id: int = 0) -> None:
        super().__init__(train[0], train[2], None if val is None else val[0],
                         None if val is None else val[2], pad_token_id)
        self.train_types = torch.as_tensor(train[1]).long()
        self.val_types = None if val is None else torch.as_tensor(val[1]).long()
        for types, rows in ((self.train_types, self.train), (self.val_types, self.val)):
            if types is not None and rows is not None and types.shape != rows[0].shape:
                raise ValueError("token_type_ids must have the same shape as the ids")

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A dict batch ``{"idx", "targets", "attention_mask", "token_type_ids"}``."""
        x, y = self.train if split == "train" else self.val
        types = self.train_types if split == "train" else self.val_types
        rows = torch.randint(len(x), (batch_size,), generator=generator)
        idx = x[rows]
        return {"idx": idx, "targets": y[rows], "attention_mask": (idx != self.pad_token_id).long(),
                "token_type_ids": types[rows]}

    def shard(self, rank: int, world_size: int) -> NSPTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, r+2n, ...``."""
        (x, y), t = self.train, self.train_types
        task = NSPTask((x[rank::world_size], t[rank::world_size], y[rank::world_size]),
                       pad_token_id=self.pad_token_id)
        task.val, task.val_types = self.val, self.val_types
        return task


# --------------------------------------------------------------------------------------------
# Scaling out: the torchrun script, from a notebook
# --------------------------------------------------------------------------------------------


def find_script(name: str = "train_ddp.py") -> Path:
    """The path of a course script (``course/scripts/NAME``), wherever the notebook runs.

    Looks in ``./scripts`` (a notebook in ``course/``), ``./course/scripts`` (the repository
    root) and next to the installed ``labkit`` package (an editable install from a clone).
    Raises ``FileNotFoundError`` with the fix when the repository is not there (e.g. labkit
    was installed from a wheel, as on Colab). Taught in chapter 4.
    """
    import labkit

    candidates = [Path("scripts") / name, Path("course") / "scripts" / name,
                  Path(labkit.__file__).resolve().parents[1] / "course" / "scripts" / name]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"cannot find course/scripts/{name} (looked in {', '.join(str(c) for c in candidates)}); "
        "it lives in the course repository: clone it (git clone ...) and run the notebook from "
        "its course/ folder"
    )


def torchrun_command(script: str | os.PathLike, nproc: int = 2, *args: str) -> list[str]:
    """The command line that starts ``nproc`` copies of ``script`` with ``torchrun``.

    It is ``python -m torch.distributed.run --nproc_per_node=N --standalone script args``,
    using this Python (so the notebook's environment), ``--standalone`` so that the
    processes find each other on this machine only. Taught in chapter 4.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(script), *map(str, args)]


def run_torchrun(
    script: str | os.PathLike, nproc: int = 2, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run :func:`torchrun_command` and return the finished process (``.stdout``, ``.stderr``,
    ``.returncode``); raises ``RuntimeError`` with the end of the error output when it fails.

    The processes get ``OMP_NUM_THREADS=1`` unless it is set (the script sets its own thread
    count; this only silences torchrun's notice) and, on Linux, ``GLOO_SOCKET_IFNAME=lo`` so
    that gloo talks over the loopback interface (no network needed). Taught in chapter 4.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    proc = subprocess.run(torchrun_command(script, nproc, *args), env=env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun exited with code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


_CHECKSUM = re.compile(r"\[rank (\d+)/(\d+)\].*?weight checksum (-?[0-9.]+(?:e[-+]?\d+)?)")


def rank_checksums(output: str) -> dict[int, float]:
    """Read the ``[rank r/n] ... weight checksum X`` lines that ``train_ddp.py`` prints.

    Returns ``{rank: checksum}``. Taught in chapter 4.
    """
    return {int(m.group(1)): float(m.group(3)) for m in _CHECKSUM.finditer(output)}
