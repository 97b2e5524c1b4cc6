"""Fine-tuning and transfer learning on the generated corpus: the helpers of chapter 5.

Taught in chapter 5. The chapter's recipe, in the order the notebook uses it:

1. :func:`pretraining_corpus` — unlabelled text: the generated stories plus *coherent*
   paragraphs (a happy paragraph stays happy, a paragraph about food stays on food), the way
   real reviews and articles are. No label is ever shown to the model.
2. :func:`train_bert_tokenizer` — a BERT-style word tokenizer: ``[CLS] words [SEP]``, spaces
   dropped, every punctuation mark a token (so it agrees with the NER tokens of
   :func:`labkit.data.generate_labelled`).
3. :func:`pretrain_tiny_bert` — masked-LM pretraining of a :class:`~labkit.models.TinyBERT`
   on whole sequences that start with ``[CLS]`` (:class:`SequenceMLMTask`); ``cache=True``
   keeps the result (safetensors) in labkit's folder so a second run loads it.
4. :func:`encode_labelled` → :func:`fine_tune` → :func:`accuracy`; :func:`transfer_curve`
   runs the whole pretrained-vs-scratch experiment on a test set that shares no sentence with
   the training examples.
5. :func:`freeze` / :func:`trainable_parameters`; the from-scratch :class:`LoRALinear` with
   :func:`add_lora` / :func:`merge_lora`, and :func:`lora_from_peft`, which copies a ``peft``
   LoRA adapter of the GPT-2 export into labkit's layers (same logits);
   :func:`pretrain_tiny_gpt` and :func:`lm_loss` for the GPT that LoRA adapts.
6. :class:`MultiTaskBert` / :class:`MultiTaskTask`, and :func:`augment` /
   :func:`augment_examples` with :func:`synonyms` (label-preserving word lists).

Everything is deterministic for a seed on the CPU (with a fixed number of torch threads) and
uses :mod:`labkit.train` for the loops.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from torch import Tensor, nn
from transformers import PreTrainedTokenizerFast

from labkit.data import generate_corpus, generate_labelled, grammar, label_names
from labkit.env import home_dir
from labkit.models import (
    BertConfig,
    GPTConfig,
    TinyBERT,
    TinyBertEncoder,
    TinyBertForSequenceClassification,
    TinyGPT,
    load,
)
from labkit.tokenizers import SPECIAL_TOKENS
from labkit.train import CausalLMTask, ClassificationTask, Task, TrainResult, mask_tokens, train

__all__ = [
    "SEQUENCE_TASKS",
    "SYNONYM_GROUPS",
    "unlabelled_paragraphs",
    "pretraining_corpus",
    "train_bert_tokenizer",
    "encode_labelled",
    "SequenceMLMTask",
    "pretrain_tiny_bert",
    "pretrain_tiny_gpt",
    "fine_tune",
    "predict",
    "accuracy",
    "confusion_matrix",
    "TransferPoint",
    "held_out_test",
    "transfer_curve",
    "trainable_parameters",
    "freeze",
    "LoRALinear",
    "add_lora",
    "merge_lora",
    "lora_from_peft",
    "lm_loss",
    "MultiTaskBert",
    "MultiTaskTask",
    "synonyms",
    "augment",
    "augment_examples",
]

#: The labelled tasks with one label per sentence (see :func:`labkit.data.generate_labelled`).
SEQUENCE_TASKS = ("sentiment", "topic")
IGNORE_INDEX = -100


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Unlabelled text and a BERT-style tokenizer
# --------------------------------------------------------------------------------------------


def unlabelled_paragraphs(task: str, n: int, seed: int = 0, sentences: int = 4) -> list[str]:
    """``n`` paragraphs of ``sentences`` sentences that share one (hidden) label of ``task``.

    Real text is coherent: a review that starts happy usually stays happy. Masked-LM
    pretraining on such text learns which words go together (``loved`` with ``great``) —
    without ever seeing a label. The labels are thrown away here. Taught in chapter 5.
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {task!r}")
    _positive_int(n, "n")
    _positive_int(sentences, "sentences")
    rng = random.Random(seed)
    examples = generate_labelled("en", n=n * sentences * 2, seed=seed, task=task)
    by_label: dict[int, list[str]] = {}
    for e in examples:
        by_label.setdefault(e["label"], []).append(e["text"])
    labels = sorted(by_label)
    paragraphs = []
    for _ in range(n):
        pool = by_label[rng.choice(labels)]
        paragraphs.append(" ".join(rng.choice(pool) for _ in range(sentences)))
    return paragraphs


def pretraining_corpus(
    n_paragraphs: int = 1500, story_chars: int = 60_000, n_ner: int = 500, seed: int = 0
) -> list[str]:
    """Unlabelled English documents for pretraining a TinyBERT (shuffled).

    ``n_paragraphs`` coherent paragraphs for each of sentiment and topic
    (:func:`unlabelled_paragraphs`), ``n_ner`` single sentences of the NER grammar, and the
    stories of ``generate_corpus("en", story_chars)``, one document per story. The seeds differ
    from those the chapter uses for its labelled data. Taught in chapter 5.
    """
    docs = unlabelled_paragraphs("sentiment", n_paragraphs, seed=seed + 100)
    docs += unlabelled_paragraphs("topic", n_paragraphs, seed=seed + 200)
    for e in generate_labelled("en", n=_positive_int(n_ner, "n_ner"), seed=seed + 300, task="ner"):
        docs.append(_detokenize(e["tokens"]))
    if story_chars:
        docs += [d.strip() for d in generate_corpus("en", story_chars, seed=seed + 400).documents if d.strip()]
    random.Random(seed).shuffle(docs)
    return docs


def _detokenize(tokens: Sequence[str]) -> str:
    """Join word tokens with spaces, but no space before punctuation."""
    out = ""
    for t in tokens:
        out += t if (not out or not (t[0].isalnum() or t[0] == "_")) else " " + t
    return out


def train_bert_tokenizer(texts: Iterable[str], min_freq: int = 1) -> PreTrainedTokenizerFast:
    """A BERT-style word tokenizer trained on ``texts``.

    Words are runs of letters/digits, every punctuation mark is its own token, spaces are
    dropped (BERT's basic tokenizer does the same), and ``tok(text)`` gives
    ``[CLS] w1 w2 ... [SEP]`` like BERT's. The seven labkit special tokens keep their ids
    (``[PAD]`` = 0 ... ``[SEP]`` = 6). Works with ``transformers``' padding, truncation,
    ``DataCollatorWithPadding`` and ``is_split_into_words=True``. Taught in chapter 5.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings (documents), not one str")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("give a non-empty list of strings to train the tokenizer on")
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )
    trainer = trainers.WordLevelTrainer(
        min_frequency=_positive_int(min_freq, "min_freq"), special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, clean_up_tokenization_spaces=False,
        pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]",
        mask_token="[MASK]", cls_token="[CLS]", sep_token="[SEP]",
    )
    for i, token in enumerate(SPECIAL_TOKENS):
        if tok.convert_tokens_to_ids(token) != i:
            raise AssertionError(f"{token} must have id {i}")  # a bug in this module
    return tok


def encode_labelled(
    tok: PreTrainedTokenizerFast, examples: Sequence[dict[str, Any]], max_length: int = 32
) -> tuple[Tensor, Tensor, Tensor]:
    """Turn :func:`labkit.data.generate_labelled` examples into padded tensors.

    Returns ``(input_ids, attention_mask, labels)``. Sentence tasks (``{"text", "label"}``):
    ``labels`` is ``(N,)``. Token tasks (``{"tokens", "labels"}``, NER): the words are encoded
    with ``is_split_into_words=True`` and each word's label goes to its first sub-token; the
    other sub-tokens, ``[CLS]``, ``[SEP]`` and padding get -100 (ignored by the loss).
    Taught in chapter 5.
    """
    if not examples:
        raise ValueError("examples is empty")
    _positive_int(max_length, "max_length")
    first = examples[0]
    kw = {"padding": "max_length", "truncation": True, "max_length": max_length, "return_tensors": "pt"}
    if "text" in first:
        enc = tok([e["text"] for e in examples], **kw)
        labels = torch.tensor([e["label"] for e in examples])
        return enc["input_ids"], enc["attention_mask"], labels
    if "tokens" not in first:
        raise ValueError("examples must be dicts with 'text' and 'label', or 'tokens' and 'labels'")
    enc = tok([e["tokens"] for e in examples], is_split_into_words=True, **kw)
    labels = torch.full_like(enc["input_ids"], IGNORE_INDEX)
    for i, e in enumerate(examples):
        previous = None
        for j, word in enumerate(enc.word_ids(i)):
            if word is not None and word != previous:
                labels[i, j] = e["labels"][word]
            previous = word
    return enc["input_ids"], enc["attention_mask"], labels


# --------------------------------------------------------------------------------------------
# Pretraining
# --------------------------------------------------------------------------------------------


class SequenceMLMTask(Task):
    """Masked-LM batches from whole padded sequences (``[CLS] ... [SEP] [PAD]...``).

    Unlike :class:`labkit.train.MaskedLMTask` (random windows of one long stream), every row
    is one document starting with ``[CLS]``, as in BERT. Masking is
    :func:`labkit.train.mask_tokens` (80/10/10, never a special token); batches are dicts
    ``{"idx", "targets", "attention_mask"}``. Taught in chapter 5.
    """

    kind = "masked_lm"

    def __init__(self, input_ids: Tensor, vocab_size: int, mask_token_id: int = 4,
                 mlm_probability: float = 0.15, pad_token_id: int = 0) -> None:
        ids = torch.as_tensor(input_ids).long()
        if ids.dim() != 2 or len(ids) == 0:
            raise ValueError(f"input_ids must be (N, T) padded token ids, got shape {tuple(ids.shape)}")
        self.train, self.val = ids, None
        self.vocab_size, self.mask_token_id = vocab_size, mask_token_id
        self.mlm_probability, self.pad_token_id = mlm_probability, pad_token_id

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """A dict batch of ``batch_size`` random rows, freshly masked."""
        rows = self.train[torch.randint(len(self.train), (batch_size,), generator=generator)]
        inputs, labels = mask_tokens(rows, self.mask_token_id, self.vocab_size, generator, self.mlm_probability)
        return {"idx": inputs, "targets": labels, "attention_mask": (rows != self.pad_token_id).long()}

    def shard(self, rank: int, world_size: int) -> SequenceMLMTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, ...``."""
        return SequenceMLMTask(self.train[rank::world_size], self.vocab_size, self.mask_token_id,
                               self.mlm_probability, self.pad_token_id)

    def tokens(self, batch: Any) -> int:
        """Non-padding tokens in the batch."""
        return int(batch["attention_mask"].sum())


def _cache_key(kind: str, tok: PreTrainedTokenizerFast, texts: Sequence[str], settings: dict[str, Any]) -> str:
    """A short hash of everything that determines a pretraining run's result."""
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(json.dumps(sorted(tok.get_vocab().items())).encode())
    h.update(json.dumps(settings, sort_keys=True, default=repr).encode())
    for text in texts:
        h.update(text.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _cache_path(cache: bool | str | os.PathLike, kind: str, key: str) -> Path | None:
    if cache is False or cache is None:
        return None
    root = home_dir() / "cache" / "finetune" if cache is True else Path(cache)
    return root / f"{kind}-{key}"


def _cached_run(
    cache: bool | str | os.PathLike, kind: str, key: str, run: Callable[[], tuple[nn.Module, TrainResult]]
) -> tuple[nn.Module, TrainResult]:
    """Load ``kind-key`` from the cache, or ``run()`` and save the model (safetensors) and its
    training history there. A damaged cache entry is trained again."""
    path = _cache_path(cache, kind, key)
    if path is not None and (path / "result.json").exists():
        try:
            info = json.loads((path / "result.json").read_text(encoding="utf-8"))
            model = load(path).eval()
        except (OSError, ValueError) as err:
            print(f"the cached {kind} in {path} is unreadable ({err}); training it again")
        else:
            print(f"loaded the pretrained {kind} from the cache ({info['steps']} steps, trained in "
                  f"{info['seconds']:.0f} s); delete {path} to train it again")
            return model, TrainResult(model=model, out_dir=str(path), **info)
    model, result = run()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            model.save(tmp)
            info = {k: getattr(result, k) for k in ("history", "steps", "seconds", "tokens", "tokens_per_s",
                                                   "train_loss", "val_loss", "interrupted")}
            (tmp / "result.json").write_text(json.dumps(info), encoding="utf-8")
            shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return model, result


def pretrain_tiny_bert(
    tok: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    max_length: int = 32,
    n_layer: int = 2,
    n_head: int = 4,
    d_model: int = 64,
    steps: int = 600,
    batch_size: int = 32,
    lr: float = 6e-3,
    seed: int = 0,
    cache: bool | str | os.PathLike = False,
    **train_options: Any,
) -> tuple[TinyBERT, TrainResult]:
    """Masked-LM pretraining of a fresh TinyBERT on ``texts`` (one row per document, truncated
    to ``max_length`` tokens). Returns ``(model in eval mode, TrainResult)``.

    ``cache=True`` stores the trained model (``config.json`` + ``model.safetensors``) and its
    history under ``labkit.env.home_dir()/cache/finetune`` (``cache="dir"``: under that
    folder) and loads it on the next call with the same texts, tokenizer and settings — the
    notebook pretrains once, not on every run. ``train_options`` go to
    :func:`labkit.train.train` (e.g. ``progress=True``, ``time_budget=30``; a time budget
    makes the result depend on the machine's speed). Taught in chapter 5.
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of documents to pretrain on")
    _positive_int(steps, "steps")
    settings = {"max_length": max_length, "n_layer": n_layer, "n_head": n_head, "d_model": d_model,
                "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                **{k: v for k, v in train_options.items() if k not in ("callbacks", "progress")}}

    def run() -> tuple[TinyBERT, TrainResult]:
        ids = tok(list(texts), padding="max_length", truncation=True, max_length=max_length,
                  return_tensors="pt")["input_ids"]
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=len(tok), block_size=max_length, n_layer=n_layer, n_head=n_head,
                            d_model=d_model, pad_token_id=tok.pad_token_id)
        model = TinyBERT(config)
        task = SequenceMLMTask(ids, len(tok), tok.mask_token_id, pad_token_id=tok.pad_token_id)
        options = {"progress": False, "eval_every": 0, "eval_batches": 4, "warmup_steps": steps // 10,
                   "weight_decay": 0.01, **train_options}
        result = train(model, task, max_steps=steps, batch_size=batch_size, lr=lr, seed=seed, **options)
        return model.eval(), result

    key = _cache_key("bert", tok, texts, settings)
    model, result = _cached_run(cache, "tiny_bert", key, run)
    return model, result  # type: ignore[return-value]


def pretrain_tiny_gpt(
    tok: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    block_size: int = 32,
    n_layer: int = 2,
    n_head: int = 4,
    d_model: int = 64,
    steps: int = 400,
    batch_size: int = 32,
    lr: float = 6e-3,
    seed: int = 0,
    cache: bool | str | os.PathLike = False,
    **train_options: Any,
) -> tuple[TinyGPT, TrainResult]:
    """Causal-LM pretraining of a fresh word-level TinyGPT on ``texts``: every document is
    encoded as ``[CLS] words [SEP]`` and the documents are joined into one stream, so the GPT
    learns to start after ``[CLS]`` and to end with ``[SEP]``. ``cache`` as in
    :func:`pretrain_tiny_bert`. Returns ``(model in eval mode, TrainResult)``.

    Taught in chapter 5 (the base model that LoRA adapts).
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of documents to pretrain on")
    _positive_int(steps, "steps")
    settings = {"block_size": block_size, "n_layer": n_layer, "n_head": n_head, "d_model": d_model,
                "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                **{k: v for k, v in train_options.items() if k not in ("callbacks", "progress")}}

    def run() -> tuple[TinyGPT, TrainResult]:
        stream = torch.tensor([i for ids in tok(list(texts))["input_ids"] for i in ids])
        torch.manual_seed(seed)
        model = TinyGPT(GPTConfig(vocab_size=len(tok), block_size=block_size, n_layer=n_layer,
                                  n_head=n_head, d_model=d_model))
        task = CausalLMTask(stream, block_size=block_size)
        options = {"progress": False, "eval_every": 0, "eval_batches": 4, "warmup_steps": steps // 10,
                   "weight_decay": 0.1, **train_options}
        result = train(model, task, max_steps=steps, batch_size=batch_size, lr=lr, seed=seed, **options)
        return model.eval(), result

    key = _cache_key("gpt", tok, texts, settings)
    model, result = _cached_run(cache, "tiny_gpt", key, run)
    return model, result  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Fine-tuning and evaluation
# --------------------------------------------------------------------------------------------


def fine_tune(
    model: nn.Module,
    input_ids: Tensor,
    labels: Tensor,
    *,
    steps: int = 150,
    batch_size: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    **train_options: Any,
) -> TrainResult:
    """Fine-tune a classifier (sequence or token labels) with :func:`labkit.train.train`.

    ``input_ids`` ``(N, T)`` padded ids; ``labels`` ``(N,)`` or ``(N, T)`` (-100 = ignore).
    Only parameters with ``requires_grad=True`` are trained (see :func:`freeze`). Every
    batch is ``batch_size`` random rows, so a few examples are simply seen many times. The
    model is left in eval mode. Taught in chapter 5.
    """
    pad = getattr(getattr(model, "config", None), "pad_token_id", 0)
    task = ClassificationTask(input_ids, labels, pad_token_id=0 if pad is None else pad)
    options = {"progress": False, "eval_every": 0, "eval_batches": 1, "warmup_steps": max(1, steps // 10),
               "weight_decay": 0.01, **train_options}
    result = train(model, task, max_steps=_positive_int(steps, "steps"), batch_size=batch_size, lr=lr,
                   seed=seed, **options)
    model.eval()
    return result


@torch.no_grad()
def predict(model: nn.Module, input_ids: Tensor, attention_mask: Tensor | None = None,
            batch_size: int = 512) -> Tensor:
    """Predicted class ids: ``(N,)`` for a sequence classifier, ``(N, T)`` for a token
    classifier (argmax of the logits, in eval mode). Taught in chapter 5."""
    was_training = model.training
    model.eval()
    if attention_mask is None:
        attention_mask = (input_ids != 0).long()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(input_ids), batch_size):
        x, m = input_ids[i:i + batch_size].to(device), attention_mask[i:i + batch_size].to(device)
        out.append(model(x, attention_mask=m).argmax(-1).cpu())
    model.train(was_training)
    return torch.cat(out)


def accuracy(model: nn.Module, input_ids: Tensor, labels: Tensor, attention_mask: Tensor | None = None) -> float:
    """Fraction of correct predictions; positions labelled -100 are not counted.

    Taught in chapter 5.
    """
    pred = predict(model, input_ids, attention_mask)
    if pred.shape != labels.shape:
        raise ValueError(f"the model predicts shape {tuple(pred.shape)} but labels have {tuple(labels.shape)}: "
                         "a sequence classifier needs (N,) labels, a token classifier (N, T)")
    keep = labels != IGNORE_INDEX
    return float((pred[keep] == labels[keep]).float().mean())


def confusion_matrix(predicted: Tensor, labels: Tensor, num_labels: int) -> Tensor:
    """``counts[i, j]`` = how often true class ``i`` was predicted as ``j`` (-100 skipped).

    Taught in chapter 5.
    """
    keep = labels != IGNORE_INDEX
    pairs = labels[keep] * num_labels + predicted[keep]
    return torch.bincount(pairs, minlength=num_labels * num_labels).reshape(num_labels, num_labels)


@dataclass
class TransferPoint:
    """One measurement of :func:`transfer_curve`: test accuracy after fine-tuning on
    ``n_labels`` examples, starting from the pretrained encoder and from random weights."""

    n_labels: int
    seed: int
    pretrained: float
    scratch: float


def held_out_test(task: str, n: int, exclude: Iterable[str], seed: int = 10_000) -> list[dict[str, Any]]:
    """``n`` labelled examples of ``task`` whose text is not in ``exclude``.

    The grammar repeats short sentences ("It rained."), so a test set drawn independently
    would share many sentences with the training examples and reward memorising. Taught in
    chapter 5.
    """
    _positive_int(n, "n")
    seen = set(exclude)
    out: list[dict[str, Any]] = []
    attempt = 0
    while len(out) < n:
        for e in generate_labelled("en", n=2 * n, seed=seed + attempt, task=task):
            if e["text"] not in seen:
                seen.add(e["text"])  # no duplicates inside the test set either
                out.append(e)
                if len(out) == n:
                    break
        attempt += 1
        if attempt > 20:
            raise ValueError(f"could not find {n} test sentences outside the training data; ask for fewer")
    return out


def transfer_curve(
    pretrained: TinyBERT,
    tok: PreTrainedTokenizerFast,
    task: str = "topic",
    sizes: Sequence[int] = (8, 16, 32, 64, 128),
    seeds: Sequence[int] = (0, 1),
    *,
    steps: int = 150,
    lr: float = 2e-3,
    batch_size: int = 16,
    test_size: int = 1000,
    max_length: int = 16,
    callback: Callable[[TransferPoint], None] | None = None,
) -> list[TransferPoint]:
    """Transfer learning, measured: for each number of labelled examples and seed, fine-tune
    (a) a classifier whose encoder starts from ``pretrained`` and (b) the same architecture
    from random weights, with the same data, batches, steps and learning rate; report test
    accuracy.

    The training sets for a seed are nested (the first 8 examples are also in the 16 ...).
    The test set is fixed and shares no sentence with any training set
    (:func:`held_out_test`). ``callback`` is called after each point. Taught in chapter 5.
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {task!r}")
    if not sizes or not seeds:
        raise ValueError("give at least one size and one seed")
    if max_length > pretrained.config.block_size:
        raise ValueError(f"max_length={max_length} is longer than the model's block_size "
                         f"{pretrained.config.block_size}")
    num_labels = len(label_names(task))
    pools = {seed: generate_labelled("en", n=max(sizes), seed=1_000 + seed, task=task) for seed in seeds}
    test = held_out_test(task, test_size, (e["text"] for pool in pools.values() for e in pool))
    x_test, m_test, y_test = encode_labelled(tok, test, max_length)
    points = []
    for seed in seeds:
        for n in sizes:
            x, _, y = encode_labelled(tok, pools[seed][:n], max_length)
            scores = []
            for start in ("pretrained", "scratch"):
                torch.manual_seed(seed)
                if start == "pretrained":
                    model = TinyBertForSequenceClassification.from_pretrained(pretrained, num_labels=num_labels)
                else:
                    model = TinyBertForSequenceClassification(pretrained.config, num_labels=num_labels)
                fine_tune(model, x, y, steps=steps, lr=lr, batch_size=batch_size, seed=seed)
                scores.append(accuracy(model, x_test, y_test, m_test))
            point = TransferPoint(n, seed, scores[0], scores[1])
            points.append(point)
            if callback is not None:
                callback(point)
    return points


# --------------------------------------------------------------------------------------------
# Freezing
# --------------------------------------------------------------------------------------------


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (shared tensors counted once). Taught in chapter 5."""
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
            raise ValueError(f"no parameter name starts with {prefix!r}; the model's top-level names are {tops}")
    for name, p in model.named_parameters():
        p.requires_grad_(any(name == t or name.startswith(t + ".") for t in trainable))
    return model


# --------------------------------------------------------------------------------------------
# LoRA, from scratch
# --------------------------------------------------------------------------------------------


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
        self.base, self.r, self.alpha = base, _positive_int(r, "r"), float(alpha)
        self.scaling = self.alpha / self.r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
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
        w = self.base.weight
        layer = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None,
                          device=w.device, dtype=w.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.weight)
            if self.base.bias is not None:
                layer.bias.copy_(self.base.bias)
        return layer

    def extra_repr(self) -> str:
        """Shown by ``print(model)``: the rank, alpha and scaling."""
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def add_lora(model: nn.Module, target_modules: Sequence[str] = ("w_q", "w_v"), r: int = 4,
             alpha: float = 8.0) -> nn.Module:
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
        raise ValueError("this model already has LoRA layers; merge_lora(model) first, or start from a copy")
    targets = [name for name, m in model.named_modules()
               if isinstance(m, nn.Linear) and name.split(".")[-1] in target_modules]
    if not targets:
        raise ValueError(f"no nn.Linear named {list(target_modules)} in the model; "
                         "labkit's attention layers have w_q, w_k, w_v, w_o and the FFN w1, w2")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in targets:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, LoRALinear(getattr(owner, child), r=r, alpha=alpha))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by its merged ``nn.Linear`` (in place; returns the
    model). The outputs stay the same; the adapter's extra work at inference disappears.
    The merged layers are trainable again (``requires_grad=True``). Taught in chapter 5."""
    for name, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            parent, _, child = name.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            setattr(owner, child, m.merged())
    return model


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
        raise TypeError("peft_model must come from peft.get_peft_model(...) with the default adapter")
    if getattr(config, "use_rslora", False) or getattr(config, "use_dora", False):
        raise ValueError("only plain LoRA converts (use_rslora=False, use_dora=False)")
    found = 0
    for i, block in enumerate(model.blocks):
        for hf_name, ours in _GPT2_TO_LABKIT.items():
            prefix = f"transformer.h.{i}.{hf_name}"
            layer = next((m for n, m in peft_model.named_modules() if n.endswith(prefix) and hasattr(m, "lora_A")),
                         None)
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
                if not torch.allclose(linear.weight, base_w[rows:rows + out], atol=atol):
                    raise ValueError(f"block {i} {name}: the peft model's frozen weights are not this model's; "
                                     "pass the TinyGPT that to_hf() exported")
                lora = LoRALinear(linear, r=r, alpha=scaling * r)
                with torch.no_grad():
                    lora.lora_A.copy_(A)
                    lora.lora_B.copy_(B[rows:rows + out])
                parent, _, child = name.rpartition(".")
                setattr(block.get_submodule(parent), child, lora)
                rows += out
                found += 1
    if not found:
        raise ValueError("no LoRA layer found in peft_model on c_attn, c_proj or c_fc "
                         "(LoraConfig(target_modules=['c_attn']))")
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return model


def _logits(out: Any) -> Tensor:
    """Logits from a labkit model's output or a Hugging Face ``ModelOutput``."""
    if hasattr(out, "logits"):
        return out.logits
    return out[0] if isinstance(out, tuple) else out


@torch.no_grad()
def lm_loss(model: nn.Module, ids: Tensor, block_size: int, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of a causal LM over ``ids`` cut into consecutive
    blocks of ``block_size`` (+1 for the targets; a last partial block is dropped).

    Deterministic — the same blocks every call — so "before" and "after" numbers compare.
    Works for labkit models and Hugging Face causal LMs (peft models too). Taught in chapter 5.
    """
    ids = torch.as_tensor(ids).long().flatten()
    n = (len(ids) - 1) // block_size
    if n < 1:
        raise ValueError(f"need more than block_size={block_size} tokens, got {len(ids)}")
    x = ids[: n * block_size].view(n, block_size)
    y = ids[1: n * block_size + 1].view(n, block_size)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, n, batch_size):
        logits = _logits(model(x[i:i + batch_size].to(device)))
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), y[i:i + batch_size].flatten().to(device),
                                       reduction="sum"))
    model.train(was_training)
    return total / y.numel()


# --------------------------------------------------------------------------------------------
# Multi-task learning and data augmentation
# --------------------------------------------------------------------------------------------


class MultiTaskBert(nn.Module):
    """One shared TinyBERT encoder with one classification head per task (multi-task learning).

    ``MultiTaskBert(config, {"sentiment": 2, "topic": 4})``; call
    ``model(idx, targets=None, attention_mask=None, task_ids=...)`` where ``task_ids`` ``(B,)``
    says which head each row goes to (the index in ``heads``' order). Returns logits padded to
    the largest head (``(B, max_labels)``, -inf where a head has fewer labels) and, with
    targets, the mean cross-entropy. :meth:`head` gives a single-task view for
    :func:`predict`. Taught in chapter 5.
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

    def forward(self, idx: Tensor, targets: Tensor | None = None, attention_mask: Tensor | None = None,
                task_ids: Tensor | None = None) -> Any:
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
        """A module ``f(idx, attention_mask=None) -> logits`` for one task (for :func:`predict`)."""
        k = self.task_names.index(task)
        n = self.heads[k].out_features
        parent = self

        class _Head(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.parent = parent

            def forward(self, idx: Tensor, attention_mask: Tensor | None = None) -> Tensor:
                ids = torch.full((len(idx),), k, dtype=torch.long, device=idx.device)
                return self.parent(idx, attention_mask=attention_mask, task_ids=ids)[:, :n]

        return _Head()


class MultiTaskTask(Task):
    """Batches for :class:`MultiTaskBert`: each batch mixes rows of every task.

    ``MultiTaskTask([(x_sent, y_sent), (x_topic, y_topic)])``; ``batch_size`` rows are split
    evenly over the tasks. Taught in chapter 5.
    """

    kind = "multi_task"

    def __init__(self, datasets: Sequence[tuple[Tensor, Tensor]]) -> None:
        if not datasets:
            raise ValueError("give one (input_ids, labels) pair per task")
        self.datasets = [(torch.as_tensor(x).long(), torch.as_tensor(y).long()) for x, y in datasets]
        widths = {x.shape[1] for x, _ in self.datasets}
        if len(widths) != 1:
            raise ValueError(f"every task's input_ids must have the same length T, got {sorted(widths)}")
        self.val = None

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """A dict batch with ``task_ids``; rows of task ``k`` come from dataset ``k``."""
        per = max(1, batch_size // len(self.datasets))
        xs, ys, ts = [], [], []
        for k, (x, y) in enumerate(self.datasets):
            rows = torch.randint(len(x), (per,), generator=generator)
            xs.append(x[rows])
            ys.append(y[rows])
            ts.append(torch.full((per,), k, dtype=torch.long))
        idx = torch.cat(xs)
        return {"idx": idx, "targets": torch.cat(ys), "attention_mask": (idx != 0).long(),
                "task_ids": torch.cat(ts)}

    def shard(self, rank: int, world_size: int) -> MultiTaskTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, ...`` of each task."""
        return MultiTaskTask([(x[rank::world_size], y[rank::world_size]) for x, y in self.datasets])


#: Grammar word classes whose words can replace each other without changing a sentence's
#: sentiment, topic or entities (``<feeling>`` is left out: it mixes "happy" and "sad").
SYNONYM_GROUPS = ("<good>", "<bad>", "<glad>", "<unhappy>", "<person>", "<friend>", "<animal>",
                  "<food>", "<toy>", "<place>", "<weather>", "<sky>")
_WORD = re.compile(r"\w+|[^\w\s]")


def synonyms(groups: Sequence[str] = SYNONYM_GROUPS) -> dict[str, list[str]]:
    """``word -> the other words of its class`` for the English grammar's word classes
    ``groups`` (e.g. ``"great"`` -> ``["lovely", "nice", ...]``). A word that belongs to two of
    the classes is left out, so a replacement never changes the label.

    A stand-in for the synonym dictionaries (WordNet) of real augmentation; ours is exact
    because the text comes from a known grammar. Taught in chapter 5.
    """
    rules = grammar("en").rules
    members: dict[str, set[str]] = {}
    for group in groups:
        if group not in rules:
            raise ValueError(f"{group!r} is not a word class of the English grammar")
        for _, pieces in rules[group]:
            if len(pieces) == 1 and _WORD.fullmatch(pieces[0]):
                members.setdefault(pieces[0], set()).add(group)
    single = {word for word, owners in members.items() if len(owners) == 1}
    out = {}
    for word in single:
        (group,) = members[word]
        out[word] = [p[0] for _, p in rules[group] if len(p) == 1 and p[0] != word and p[0] in single]
    return {w: alts for w, alts in sorted(out.items()) if alts}


def augment(text: str, rng: random.Random, *, p_synonym: float = 0.0, synonym_dict: dict[str, list[str]] | None = None,
            p_drop: float = 0.0, n_swaps: int = 0) -> str:
    """A noisy copy of ``text`` (EDA-style data augmentation, Wei & Zou 2019).

    Each word with an entry in ``synonym_dict`` (default :func:`synonyms`) is replaced by a
    random synonym with probability ``p_synonym``; then each word is dropped with probability
    ``p_drop``; then ``n_swaps`` random swaps of two neighbouring words. Punctuation is never
    dropped or moved. The label is assumed unchanged — true for synonyms, false for some drops
    (dropping "not" flips "did not feel sad"), which is the risk of augmentation. Taught in
    chapter 5.
    """
    for name, value in (("p_synonym", p_synonym), ("p_drop", p_drop)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if isinstance(n_swaps, bool) or not isinstance(n_swaps, int) or n_swaps < 0:
        raise ValueError(f"n_swaps must be an int >= 0, got {n_swaps!r}")
    if p_synonym and synonym_dict is None:
        synonym_dict = synonyms()
    tokens = _WORD.findall(text)
    is_word = [t[0].isalnum() or t[0] == "_" for t in tokens]
    if p_synonym:
        assert synonym_dict is not None
        tokens = [rng.choice(synonym_dict[t]) if w and t in synonym_dict and rng.random() < p_synonym else t
                  for t, w in zip(tokens, is_word)]
    if p_drop:
        keep = [not w or rng.random() >= p_drop for w in is_word]
        if any(k and w for k, w in zip(keep, is_word)):  # keep at least one word
            tokens = [t for t, k in zip(tokens, keep) if k]
            is_word = [w for w, k in zip(is_word, keep) if k]
    words = [i for i, w in enumerate(is_word) if w]
    for _ in range(n_swaps):
        pairs = [(a, b) for a, b in zip(words, words[1:]) if b == a + 1]
        if pairs:
            a, b = rng.choice(pairs)
            tokens[a], tokens[b] = tokens[b], tokens[a]
    return _detokenize(tokens)


def augment_examples(examples: Sequence[dict[str, Any]], copies: int, seed: int = 0,
                     **options: Any) -> list[dict[str, Any]]:
    """The ``examples`` (sentence tasks: ``{"text", "label"}``) followed by ``copies``
    augmented copies of each (``options`` go to :func:`augment`); labels are kept.

    Taught in chapter 5.
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
        raise ValueError(f"copies must be an int >= 0, got {copies!r}")
    if examples and "text" not in examples[0]:
        raise ValueError("augment_examples works on sentence examples ({'text', 'label'}), not NER tokens")
    rng = random.Random(seed)
    options.setdefault("synonym_dict", synonyms() if options.get("p_synonym") else None)
    out = list(examples)
    for _ in range(copies):
        out += [{**e, "text": augment(e["text"], rng, **options)} for e in examples]
    return out
