"""Fine-tuning and transfer learning on the generated corpus: what only chapter 5 needs.

Taught in chapter 5 (``course/05_finetuning.ipynb``; exercises in
:mod:`labkit.exercises.finetuning`), in the notebook's order: :func:`pretraining_corpus`
(unlabelled, *coherent* paragraphs: no label is ever shown to the model) →
:func:`pretrain` (``"bert"``: masked LM on whole ``[CLS] ... [SEP]`` rows,
:class:`SequenceMLMTask`; ``"gpt"``: the causal LM that LoRA adapts; ``cache=True`` keeps the
result) → :func:`encode_labelled` → :func:`fine_tune`; :func:`transfer_curve` measures
pretrained vs scratch on a test set that shares no sentence with the training examples
(:func:`held_out_test`); :class:`MultiTaskTask` feeds
:class:`~labkit.models.multitask.MultiTaskBert`.

Elsewhere: the tokenizer is :func:`labkit.tokenizers.train_bert_tokenizer`, freezing and LoRA
are :mod:`labkit.models.lora`, augmentation :mod:`labkit.data.augment`, the metrics
:mod:`labkit.evaluate`. Deterministic for a seed on the CPU (with a fixed number of threads).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerFast

from labkit._util import IGNORE_INDEX, atomic_write, check_positive_int
from labkit.data import generate_corpus, generate_labelled, label_names
from labkit.data.augment import detokenize
from labkit.env import home_dir
from labkit.evaluate import accuracy
from labkit.models import (
    BertConfig,
    GPTConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyGPT,
    load,
)
from labkit.train import (
    CausalLMTask,
    ClassificationTask,
    MultiTaskTask,
    SequenceMLMTask,
    Task,
    TrainConfig,
    TrainResult,
    train,
)

__all__ = [
    "SEQUENCE_TASKS",
    "unlabelled_paragraphs",
    "pretraining_corpus",
    "encode_labelled",
    "SequenceMLMTask",
    "pretrain",
    "fine_tune",
    "TransferPoint",
    "held_out_test",
    "transfer_curve",
    "MultiTaskTask",
]

#: The labelled tasks with one label per sentence (see :func:`labkit.data.generate_labelled`).
SEQUENCE_TASKS = ("sentiment", "topic")
_PADDED = {"padding": "max_length", "truncation": True, "return_tensors": "pt"}


# ---------------------------------------------------------- unlabelled text and labelled examples


def unlabelled_paragraphs(task: str, n: int, seed: int = 0, sentences: int = 4) -> list[str]:
    """``n`` paragraphs of ``sentences`` sentences that share one (hidden) label of ``task``.

    Real text is coherent: a review that starts happy usually stays happy. Masked-LM
    pretraining on such text learns which words go together (``loved`` with ``great``) —
    without ever seeing a label. The labels are thrown away here. Taught in chapter 5.
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {task!r}")
    check_positive_int(n, "n")
    check_positive_int(sentences, "sentences")
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
    n_ner = check_positive_int(n_ner, "n_ner")
    for e in generate_labelled("en", n=n_ner, seed=seed + 300, task="ner"):
        docs.append(detokenize(e["tokens"]))
    if story_chars:
        stories = generate_corpus("en", story_chars, seed=seed + 400).documents
        docs += [d.strip() for d in stories if d.strip()]
    random.Random(seed).shuffle(docs)
    return docs


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
    check_positive_int(max_length, "max_length")
    first = examples[0]
    kw = {"max_length": max_length, **_PADDED}
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


# ------------------------------------------------------------------------------------ pretraining


#: What differs between the two pretraining recipes: the default steps, the weight decay, the
#: name the sequence length has in the cache key, and the cache folder's prefix.
_RECIPES = {
    "bert": {"steps": 600, "weight_decay": 0.01, "length": "max_length", "folder": "tiny_bert"},
    "gpt": {"steps": 400, "weight_decay": 0.1, "length": "block_size", "folder": "tiny_gpt"},
}
_RESULT_FIELDS = ("history", "steps", "seconds", "tokens", "tokens_per_s", "train_loss")
_RESULT_FIELDS += ("val_loss", "interrupted")


def _cache_key(
    kind: str, tok: PreTrainedTokenizerFast, texts: Sequence[str], settings: dict[str, Any]
) -> str:
    """A short hash of everything that determines a pretraining run's result."""
    config = json.dumps(settings, sort_keys=True, default=repr)
    h = hashlib.sha256(f"{kind}{json.dumps(sorted(tok.get_vocab().items()))}{config}".encode())
    for text in texts:
        h.update(text.encode() + b"\x00")
    return h.hexdigest()[:16]


def _cached_run(
    cache: bool | str | os.PathLike,
    kind: str,
    key: str,
    run: Callable[[], tuple[nn.Module, TrainResult]],
) -> tuple[nn.Module, TrainResult]:
    """Load ``kind-key`` from the cache, or ``run()`` and save the model (safetensors) and its
    training history there. A damaged cache entry is trained again."""
    if cache is False or cache is None:
        return run()
    path = (home_dir() / "cache" / "finetune" if cache is True else Path(cache)) / f"{kind}-{key}"
    if (path / "result.json").exists():
        try:
            info = json.loads((path / "result.json").read_text(encoding="utf-8"))
            model = load(path).eval()
        except (OSError, ValueError) as err:
            print(f"the cached {kind} in {path} is unreadable ({err}); training it again")
        else:
            print(
                f"loaded the pretrained {kind} from the cache ({info['steps']} steps, trained "
                f"in {info['seconds']:.0f} s); delete {path} to train it again"
            )
            return model, TrainResult(model=model, out_dir=str(path), **info)
    model, result = run()
    # result.json is written last, atomically: an entry without it is never read
    (path / "result.json").unlink(missing_ok=True)
    model.save(path)
    text = json.dumps({k: getattr(result, k) for k in _RESULT_FIELDS})
    atomic_write(path / "result.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return model, result


def pretrain(
    kind: str,
    tok: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    block_size: int = 32,
    n_layer: int = 2,
    n_head: int = 4,
    d_model: int = 64,
    steps: int | None = None,
    batch_size: int = 32,
    lr: float = 6e-3,
    seed: int = 0,
    cache: bool | str | os.PathLike = False,
    **train_options: Any,
) -> tuple[TinyBERT | TinyGPT, TrainResult]:
    """Pretrain a fresh tiny model on ``texts``; returns ``(model in eval mode, TrainResult)``.

    * ``kind="bert"``: masked-LM pretraining of a :class:`~labkit.models.TinyBERT`, one row
      per document (``[CLS] words [SEP]``, truncated to ``block_size`` tokens; default 600
      steps, weight decay 0.01).
    * ``kind="gpt"``: causal-LM pretraining of a word-level :class:`~labkit.models.TinyGPT`;
      the documents, each ``[CLS] words [SEP]``, are joined into one stream, so the GPT learns
      to start after ``[CLS]`` and to end with ``[SEP]`` (default 400 steps, weight decay 0.1).

    ``cache=True`` stores the trained model (``config.json`` + ``model.safetensors``) and its
    history under ``labkit.env.home_dir()/cache/finetune`` (``cache="dir"``: under that
    folder) and loads it on the next call with the same texts, tokenizer and settings — the
    notebook pretrains once, not on every run. ``train_options`` go to
    :func:`labkit.train.train` (e.g. ``progress=True``, ``time_budget=30``; a time budget
    makes the result depend on the machine's speed). Taught in chapter 5.
    """
    if kind not in _RECIPES:
        raise ValueError(f'kind must be "bert" or "gpt", got {kind!r}')
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of documents to pretrain on")
    recipe = _RECIPES[kind]
    steps = check_positive_int(recipe["steps"] if steps is None else steps, "steps")
    sizes = {"n_layer": n_layer, "n_head": n_head, "d_model": d_model}
    run_args = {"batch_size": batch_size, "lr": lr, "seed": seed}
    options = {k: v for k, v in train_options.items() if k not in ("callbacks", "progress")}
    settings = {recipe["length"]: block_size, "steps": steps, **sizes, **run_args, **options}

    def run() -> tuple[nn.Module, TrainResult]:
        shape = {"vocab_size": len(tok), "block_size": block_size, **sizes}
        if kind == "bert":
            ids = tok(list(texts), max_length=block_size, **_PADDED)["input_ids"]
            torch.manual_seed(seed)
            pad = tok.pad_token_id
            model: nn.Module = TinyBERT(BertConfig(**shape, pad_token_id=pad))
            task: Task = SequenceMLMTask(ids, len(tok), tok.mask_token_id, pad_token_id=pad)
        else:
            stream = torch.tensor([i for ids in tok(list(texts))["input_ids"] for i in ids])
            torch.manual_seed(seed)
            model, task = TinyGPT(GPTConfig(**shape)), CausalLMTask(stream, block_size=block_size)
        decay = recipe["weight_decay"]
        config = TrainConfig.quiet(steps, eval_batches=4, weight_decay=decay, **run_args)
        result = train(model, task, config, **train_options)
        return model.eval(), result

    key = _cache_key(kind, tok, texts, settings)
    model, result = _cached_run(cache, recipe["folder"], key, run)
    return model, result  # type: ignore[return-value]


# -------------------------------------------------------- fine-tuning and the transfer experiment


#: :func:`fine_tune`'s training recipe (TrainConfig fields); a keyword argument overrides it.
_FINE_TUNE_RECIPE = {
    "batch_size": 16,
    "lr": 2e-3,
    "seed": 0,
    "eval_batches": 1,
    "weight_decay": 0.01,
}


def fine_tune(
    model: nn.Module, input_ids: Tensor, labels: Tensor, *, steps: int = 150, **train_options: Any
) -> TrainResult:
    """Fine-tune a classifier (sequence or token labels) with :func:`labkit.train.train`.

    ``input_ids`` ``(N, T)`` padded ids; ``labels`` ``(N,)`` or ``(N, T)`` (-100 = ignore).
    The recipe: ``steps`` optimizer steps of ``batch_size=16`` random rows, ``lr=2e-3``,
    ``seed=0``, weight decay 0.01; change any of it, or any other
    :class:`labkit.train.TrainConfig` field, by keyword (``lr=1e-2``); ``train``'s own keywords
    (``callbacks``...) pass through too. Only parameters with ``requires_grad=True`` are trained
    (see :func:`labkit.models.lora.freeze`). A few examples are simply seen many times. The
    model is left in eval mode. Taught in chapter 5.
    """
    pad = getattr(getattr(model, "config", None), "pad_token_id", 0)
    task = ClassificationTask(input_ids, labels, pad_token_id=0 if pad is None else pad)
    steps = check_positive_int(steps, "steps")
    result = train(model, task, TrainConfig.quiet(steps, **_FINE_TUNE_RECIPE), **train_options)
    model.eval()
    return result


@dataclass
class TransferPoint:
    """One point of :func:`transfer_curve`: test accuracy after fine-tuning on ``n_labels``
    examples, from the pretrained encoder and from random weights. Taught in chapter 5."""

    n_labels: int
    seed: int
    pretrained: float
    scratch: float


def held_out_test(
    task: str, n: int, exclude: Iterable[str], seed: int = 10_000
) -> list[dict[str, Any]]:
    """``n`` labelled examples of ``task`` whose text is not in ``exclude``.

    The grammar repeats short sentences ("It rained."), so a test set drawn independently
    would share many sentences with the training examples and reward memorising. Taught in
    chapter 5.
    """
    check_positive_int(n, "n")
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
            raise ValueError(
                f"could not find {n} test sentences outside the training data; ask for fewer"
            )
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
        raise ValueError(
            f"max_length={max_length} is longer than the model's block_size "
            f"{pretrained.config.block_size}"
        )
    num_labels, classifier = len(label_names(task)), TinyBertForSequenceClassification
    pools = {s: generate_labelled("en", n=max(sizes), seed=1_000 + s, task=task) for s in seeds}
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
                    model = classifier.from_pretrained(pretrained, num_labels=num_labels)
                else:
                    model = classifier(pretrained.config, num_labels=num_labels)
                fine_tune(model, x, y, steps=steps, lr=lr, batch_size=batch_size, seed=seed)
                scores.append(accuracy(model, x_test, y_test, m_test))
            point = TransferPoint(n, seed, scores[0], scores[1])
            points.append(point)
            if callback is not None:
                callback(point)
    return points
