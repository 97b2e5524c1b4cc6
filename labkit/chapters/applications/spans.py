"""Understanding tasks in chapter 8: encode texts for a sequence classifier, tagged sentences
for a token classifier (NER), and question + passage for extractive QA as span tagging; then
read the tags and the answer spans back from a model. Taught in chapter 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from labkit._util import IGNORE_INDEX, eval_mode, logits_of, model_device
from labkit.chapters.applications.datasets import QAExample
from labkit.chapters.applications.encoding import check_fits, pad_rows, spaced_words, token_ids
from labkit.evaluate import predict

__all__ = ["encode_qa", "encode_tagged", "encode_texts", "predict_spans", "tag_tokens"]


def encode_texts(tokenizer: Any, texts: Sequence[str], block_size: int | None = None) -> Tensor:
    """``[CLS] text`` for each text, padded: the input of a sequence classifier, whose
    pooler reads the first position. Taught in chapter 8."""
    rows = [[tokenizer.cls_token_id, *token_ids(tokenizer, t)] for t in texts]
    if not rows:
        raise ValueError("texts is empty")
    check_fits(max(map(len, rows)), block_size, "text")
    return pad_rows(rows, max(map(len, rows)), tokenizer.pad_token_id)


def _word_pieces(tokenizer: Any, words: Sequence[str]) -> list[list[int]]:
    """The token ids of each word of a sentence as it appears in running text (see
    :func:`~labkit.chapters.applications.encoding.join_words`), so that they equal the ids of
    the whole sentence."""
    return [
        token_ids(tokenizer, piece) or [tokenizer.unk_token_id] for piece in spaced_words(words)
    ]


def encode_tagged(
    tokenizer: Any, examples: Sequence[dict[str, Any]], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Token-classification inputs from ``generate_labelled(task="ner")`` examples: ids of
    ``[CLS] word1 word2 ..`` and the labels. A word's label goes to its first token; further
    tokens of the word, ``[CLS]`` and padding get -100 (ignored by the loss). Each word is
    encoded as it appears in running text ("Tom went" → ``"Tom"``, ``" went"``), so the ids
    are those of the sentence. Taught in chapter 8."""
    if not examples:
        raise ValueError("examples is empty")
    rows, labels = [], []
    for e in examples:
        if len(e["tokens"]) != len(e["labels"]):
            raise ValueError(
                f"{len(e['tokens'])} tokens but {len(e['labels'])} labels in {e['tokens']!r}"
            )
        row, lab = [tokenizer.cls_token_id], [IGNORE_INDEX]
        for pieces, label in zip(_word_pieces(tokenizer, e["tokens"]), e["labels"]):
            row += pieces
            lab += [label] + [IGNORE_INDEX] * (len(pieces) - 1)
        rows.append(row)
        labels.append(lab)
    check_fits(max(map(len, rows)), block_size, "sentence")
    length = max(map(len, rows))
    return pad_rows(rows, length, tokenizer.pad_token_id), pad_rows(labels, length, IGNORE_INDEX)


def tag_tokens(
    model: Any, tokenizer: Any, tokens: Sequence[str], label_names: Sequence[str]
) -> list[str]:
    """The tag a token classifier gives each word of one sentence (a list of words and
    punctuation marks, as in ``generate_labelled(task="ner")``): the prediction at the
    word's first token. Taught in chapter 8."""
    ids, labels = encode_tagged(tokenizer, [{"tokens": list(tokens), "labels": [0] * len(tokens)}])
    predicted = predict(model, ids)[0]
    return [label_names[i] for i in predicted[labels[0] != IGNORE_INDEX].tolist()]


def _context_tokens(tokenizer: Any, context: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of ``context`` and, for each, the ``(start, end)`` characters it covers in it
    (leading spaces not counted). The context is encoded as running text after the question,
    i.e. with a space in front, so its first word is the same token as everywhere else."""
    enc = tokenizer(" " + context, add_special_tokens=False, return_offsets_mapping=True)
    spans = []
    for a, b in enc["offset_mapping"]:
        piece = (" " + context)[a:b]
        a += len(piece) - len(piece.lstrip())
        spans.append((max(a - 1, 0), max(b - 1, 0)))
    return list(enc["input_ids"]), spans


def encode_qa(
    tokenizer: Any, examples: Sequence[QAExample], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Extractive QA as token tagging: the input is ``[CLS] question [SEP] context`` and the
    label of each context token is 1 inside the answer span, 0 outside (-100 for the question,
    the special tokens and padding). Works with any fast tokenizer (labkit's
    :func:`~labkit.tokenizers.task_tokenizer`, MiniLM's WordPiece ...). Taught in chapter 8."""
    if not examples:
        raise ValueError("examples is empty")
    rows, labels = [], []
    for ex in examples:
        head = [tokenizer.cls_token_id, *token_ids(tokenizer, ex.question), tokenizer.sep_token_id]
        ids, spans = _context_tokens(tokenizer, ex.context)
        tags = [int(ex.start <= a < ex.end) for a, _ in spans]
        rows.append(head + ids)
        labels.append([IGNORE_INDEX] * len(head) + tags)
    check_fits(max(map(len, rows)), block_size, "question + context")
    length = max(map(len, rows))
    return pad_rows(rows, length, tokenizer.pad_token_id), pad_rows(labels, length, IGNORE_INDEX)


def predict_spans(model: Any, tokenizer: Any, examples: Sequence[QAExample]) -> list[str]:
    """Answers of a QA span tagger (see :func:`encode_qa`): the most confident context token
    and its neighbours that are also tagged "inside" (probability > 0.5), as the text of the
    context they cover. Taught in chapter 8."""
    ids, labels = encode_qa(tokenizer, examples)
    device = model_device(model)
    with eval_mode(model):
        out = model(ids.to(device), attention_mask=(ids != 0).long().to(device))
    probs = logits_of(out).cpu().softmax(-1)[..., 1]
    answers = []
    for ex, p, lab in zip(examples, probs, labels):
        first = int((lab != IGNORE_INDEX).nonzero()[0])
        _, spans = _context_tokens(tokenizer, ex.context)
        scores = p[first : first + len(spans)]
        best = int(scores.argmax())
        lo = hi = best
        while lo > 0 and scores[lo - 1] > 0.5:
            lo -= 1
        while hi + 1 < len(spans) and scores[hi + 1] > 0.5:
            hi += 1
        answers.append(ex.context[spans[lo][0] : spans[hi][1]].strip(" .,?!"))
    return answers
