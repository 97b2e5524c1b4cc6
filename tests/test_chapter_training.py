"""Tests for labkit.chapters.training (chapter 4): fill-mask, next-sentence prediction data and
task, and the text progress bar the chapter trains with."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.chapters.training import (
    NSPTask,
    encode_nsp,
    fill_mask,
    fill_mask_iteratively,
    nsp_pairs,
    split_sentences,
)
from labkit.data import generate_corpus
from labkit.models import TinyBERT, TinyBertForSequenceClassification, TinyGPT
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask, TextProgressBar, train

ZH_TEXT = "今天天气不错。小明有一个红色的球。他很喜欢它。小红：你好！\n小明：我们去公园吧。"


@pytest.fixture(scope="module")
def zh_tok():
    return train_char_tokenizer(ZH_TEXT)


# --------------------------------------------------------------------------- fill-mask


class LeftNeighbourModel(nn.Module):
    """A fake masked LM: at a [MASK] whose left neighbour is a real token t, it predicts t + 1
    with probability ~0.9; next to another [MASK] it is unsure (uniform)."""

    def __init__(self, vocab: int, mask_id: int) -> None:
        super().__init__()
        self.vocab, self.mask_id = vocab, mask_id
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(*idx.shape, self.vocab)
        for b in range(idx.shape[0]):
            for i in range(1, idx.shape[1]):
                left = int(idx[b, i - 1])
                if left != self.mask_id:
                    logits[b, i, (left + 1) % self.vocab] = 10.0
        return logits


def test_fill_mask_returns_sorted_top_k_per_masked_slot(zh_tok) -> None:
    torch.manual_seed(0)
    model = TinyBERT(vocab_size=len(zh_tok), block_size=16, n_layer=1, n_head=2, d_model=16)
    predictions = fill_mask(model, zh_tok, "今天[MASK][MASK]不错。", top_k=4)
    assert [p.position for p in predictions] == [2, 3]
    for p in predictions:
        assert len(p.tokens) == len(p.probs) == 4
        assert p.probs == sorted(p.probs, reverse=True) and 0 < sum(p.probs) <= 1 + 1e-6
        assert all(isinstance(t, str) and t for t in p.tokens)
        assert f"position {p.position}:" in str(p)


def test_fill_mask_iteratively_fills_the_most_confident_slot_first(zh_tok) -> None:
    mask_id = zh_tok.mask_token_id
    model = LeftNeighbourModel(len(zh_tok), mask_id)
    ids = zh_tok("今天[MASK][MASK]")["input_ids"]
    text, choices = fill_mask_iteratively(model, zh_tok, "今天[MASK][MASK]")
    first = (ids[1] + 1) % len(zh_tok)  # after 天: only slot 2 is confident at first
    second = (first + 1) % len(zh_tok)  # once slot 2 is filled, slot 3 follows from it
    assert [c[0] for c in choices] == [2, 3]
    assert choices[0][1] == zh_tok.decode([first]) and choices[1][1] == zh_tok.decode([second])
    assert all(c[2] > 0.5 for c in choices)
    assert text == "今天" + zh_tok.decode([first]) + zh_tok.decode([second])
    independent = fill_mask(model, zh_tok, "今天[MASK][MASK]", top_k=1)
    assert independent[1].probs[0] < 0.1  # predicted at once, the second slot knows nothing


def test_fill_mask_errors_name_the_fix(zh_tok) -> None:
    model = TinyBERT(vocab_size=len(zh_tok), block_size=16, n_layer=1, n_head=2, d_model=16)
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        fill_mask(model, zh_tok, "今天天气不错。")
    with pytest.raises(ValueError, match="never seen"):
        fill_mask(model, zh_tok, "今天[MASK]好吗")
    with pytest.raises(ValueError, match="top_k"):
        fill_mask(model, zh_tok, "今天[MASK]", top_k=0)


# ------------------------------------------------------------------------- next-sentence prediction


def test_split_sentences() -> None:
    text = "今天天气不错。美美说：“我也想要一个雨伞。”\n小红：嗨！中午很冷。"
    assert split_sentences(text) == [
        "今天天气不错。",
        "美美说：“我也想要一个雨伞。”",
        "小红：嗨！",
        "中午很冷。",
    ]
    assert split_sentences('Tom had a ball. Kim said, "Hi!" It was sunny', "en") == [
        "Tom had a ball.",
        'Kim said, "Hi!"',
        "It was sunny",
    ]
    with pytest.raises(ValueError, match="lang"):
        split_sentences("x", "fr")


def test_nsp_pairs_are_balanced_and_honest() -> None:
    docs = generate_corpus("zh", n_chars=5000, seed=0).documents
    sentences = [split_sentences(d) for d in docs]
    pairs = nsp_pairs(docs, 200, seed=0)
    assert len(pairs) == 200 and sum(p[2] for p in pairs) == 100
    follows = {(s[i], s[i + 1]) for s in sentences for i in range(len(s) - 1)}
    assert all((a, b) in follows for a, b, is_next in pairs if is_next)  # B really follows A
    assert (
        sum((a, b) in follows for a, b, is_next in pairs if not is_next) < 10
    )  # almost never by chance
    assert nsp_pairs(docs, 50, seed=3) == nsp_pairs(docs, 50, seed=3)
    assert nsp_pairs(docs, 50, seed=3) != nsp_pairs(docs, 50, seed=4)
    with pytest.raises(ValueError, match="two documents"):
        nsp_pairs(["一。二。"], 4)


def test_encode_nsp_layout_types_padding_and_truncation(zh_tok) -> None:
    idx, types, labels = encode_nsp(
        zh_tok, [("今天", "不错。", 1), ("小明有一个红色的球。", "他很喜欢它。", 0)], 12
    )
    cls, sep, pad = zh_tok.cls_token_id, zh_tok.sep_token_id, zh_tok.pad_token_id
    first = [cls, *zh_tok.encode("今天"), sep, *zh_tok.encode("不错。"), sep]
    assert idx[0, : len(first)].tolist() == first and (idx[0, len(first) :] == pad).all()
    assert types[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1] + [0] * 4
    assert labels.tolist() == [1, 0]
    row = idx[
        1
    ].tolist()  # 10 + 6 + 3 > 12: cut from the end of the longer side, turn by turn, to 4 + 5
    assert row.count(sep) == 2 and row[0] == cls and pad not in row
    a_end = row.index(sep)
    assert (
        zh_tok.decode(row[1:a_end]) == "小明有一"
        and zh_tok.decode(row[a_end + 1 : -1]) == "他很喜欢它"
    )
    with pytest.raises(ValueError, match="at least 5"):
        encode_nsp(zh_tok, [("a", "b", 1)], 4)


def test_nsp_task_batches_feed_a_bert_classifier(zh_tok) -> None:
    pairs = [("今天天气不错。", "小明有一个红色的球。", i % 2) for i in range(10)]
    task = NSPTask(encode_nsp(zh_tok, pairs, 24), encode_nsp(zh_tok, pairs[:4], 24))
    batch = task.get_batch("train", 6, torch.Generator().manual_seed(0))
    assert set(batch) == {"idx", "targets", "attention_mask", "token_type_ids"}
    assert batch["idx"].shape == batch["token_type_ids"].shape == (6, 24)
    model = TinyBertForSequenceClassification(
        vocab_size=len(zh_tok), block_size=24, n_layer=1, n_head=2, d_model=16, num_labels=2
    )
    logits, loss = model(**batch)
    assert logits.shape == (6, 2) and math.isfinite(loss.item())
    part = task.shard(1, 2)
    assert len(part.train[0]) == 5 and part.train_types.shape == (5, 24) and part.val is task.val
    with pytest.raises(ValueError, match="same shape"):
        NSPTask(
            (
                torch.zeros(2, 4, dtype=torch.long),
                torch.zeros(2, 5, dtype=torch.long),
                torch.zeros(2),
            )
        )


# --------------------------------------------------------------------------- progress bar


def test_text_progress_bar_prints_the_finished_bar(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    ids = torch.randint(0, 20, (400,))
    model = TinyGPT(vocab_size=20, block_size=8, n_layer=1, n_head=2, d_model=16)
    train(
        model,
        CausalLMTask(ids[:300], ids[300:], 8),
        max_steps=12,
        batch_size=4,
        eval_every=6,
        eval_batches=1,
        log_every=3,
        progress=False,
        callbacks=[TextProgressBar(mininterval=0)],
    )
    out = capsys.readouterr().out
    assert "12/12" in out and "100%" in out and "loss=" in out
    assert "step 6: train" in out  # evaluations are written above the bar


def test_lr_schedule_figure_and_weight_checksum() -> None:
    from labkit.chapters.training import lr_schedule_figure, weight_checksum
    from labkit.train import lr_at

    lrs = [lr_at(s, 1e-2, 100, 10) for s in range(100)]
    figure = lr_schedule_figure(lrs, warmup_steps=10)
    assert "<svg" in figure.svg and "steps 0–9" in figure.svg
    with pytest.raises(ValueError, match="no learning rates"):
        lr_schedule_figure([])
    a = TinyGPT(vocab_size=12, block_size=8, n_layer=1, n_head=2, d_model=16)
    b = TinyGPT(vocab_size=12, block_size=8, n_layer=1, n_head=2, d_model=16)
    b.load_state_dict(a.state_dict())
    assert weight_checksum(a) == weight_checksum(b)
    with torch.no_grad():
        next(b.parameters())[0, 0] += 1e-3
    assert weight_checksum(a) != weight_checksum(b)
