"""Tests for labkit.evaluate: LM loss, token NLL, perplexity, fixed-batch loss, predictions and
accuracy, each checked against a computation by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.evaluate import (
    accuracy,
    confusion_matrix,
    evaluate_loss,
    lm_loss,
    perplexity,
    predict,
    text_perplexity,
    token_nll,
)
from labkit.models import TinyGPT
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask


def tiny_gpt(block_size: int = 8, dropout: float = 0.0, seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(
        vocab_size=20, block_size=block_size, n_layer=1, n_head=2, d_model=16, dropout=dropout
    )


# --------------------------------------------------------------------------- token_nll


def test_token_nll_of_a_short_text_is_the_per_token_cross_entropy() -> None:
    model = tiny_gpt(block_size=16)
    ids = torch.randint(0, 20, (12,))
    with torch.no_grad():
        expected = F.cross_entropy(model(ids[None, :-1])[0], ids[1:], reduction="none")
    got = token_nll(model, ids)
    assert got.shape == (11,)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_token_nll_of_a_long_text_uses_a_sliding_window() -> None:
    model = tiny_gpt(block_size=8, seed=1)
    model.train()
    ids = torch.randint(0, 20, (40,))
    got = token_nll(model, ids.tolist())
    assert got.shape == (39,) and model.training  # the training mode is restored
    model.eval()
    with torch.no_grad():
        for i in (1, 5, 8, 9, 20, 39):  # token i, predicted from the (up to) 8 tokens before it
            context = ids[max(0, i - 8) : i]
            expected = -torch.log_softmax(model(context[None])[0, -1], -1)[ids[i]]
            assert got[i - 1].item() == pytest.approx(expected.item(), abs=1e-5)


def test_token_nll_needs_two_tokens() -> None:
    with pytest.raises(ValueError, match="at least 2 tokens"):
        token_nll(tiny_gpt(), [3])


# --------------------------------------------------------------------------- lm_loss


def test_lm_loss_is_the_cross_entropy_of_consecutive_blocks() -> None:
    model = tiny_gpt(block_size=8, dropout=0.5)
    model.train()  # with dropout on, only an eval-mode loss can match the hand computation
    ids = torch.randint(0, 20, (30,), generator=torch.Generator().manual_seed(2))
    got = lm_loss(model, ids, batch_size=2)  # 29 // 8 = 3 blocks, in batches of 2 and 1
    assert model.training  # the training mode is restored
    x, y = ids[:24].view(3, 8), ids[1:25].view(3, 8)
    model.eval()
    with torch.no_grad():
        by_hand = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        first_two = F.cross_entropy(model(x[:2]).flatten(0, 1), y[:2].flatten())
    assert got == pytest.approx(by_hand.item(), abs=1e-5)
    assert lm_loss(model, ids.tolist()) == pytest.approx(got, abs=1e-6)  # one batch, same number
    assert lm_loss(model, ids, max_blocks=2) == pytest.approx(first_two.item(), abs=1e-5)
    assert lm_loss(model, ids, block_size=4) != pytest.approx(got)  # shorter windows
    with pytest.raises(ValueError, match="block_size \\+ 1"):
        lm_loss(model, ids[:8])


def test_perplexity_is_exp_of_the_loss() -> None:
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(20)) == pytest.approx(20.0)


# --------------------------------------------------------------------------- text_perplexity


def test_text_perplexity_is_exp_of_the_mean_token_loss_over_all_texts() -> None:
    texts = ["abcabcab", "cab"]
    tok = train_char_tokenizer("abc")
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=len(tok), block_size=6, n_layer=1, n_head=2, d_model=16)
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor(tok(text)["input_ids"][:6])  # cut to the context length
            nll = F.cross_entropy(model(ids[None, :-1])[0], ids[1:], reduction="sum")
            total, count = total + nll.item(), count + len(ids) - 1
    assert text_perplexity(model, tok, texts) == pytest.approx(math.exp(total / count), rel=1e-5)
    one = text_perplexity(model, tok, "cab")
    assert one == pytest.approx(text_perplexity(model, tok, ["cab"]))
    with pytest.raises(ValueError, match="fewer than 2 tokens"):
        text_perplexity(model, tok, "a")


# --------------------------------------------------------------------------- evaluate_loss


def test_evaluate_loss_averages_the_model_loss_on_seeded_batches() -> None:
    ids = torch.randint(0, 20, (400,), generator=torch.Generator().manual_seed(0))
    task = CausalLMTask(ids[:300], ids[300:], 8)
    model = tiny_gpt(block_size=8, dropout=0.5)
    model.train()
    got = evaluate_loss(model, task, batches=3, batch_size=4, seed=5)
    assert model.training  # the training mode is restored
    model.eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        losses = [model(*task.get_batch("val", 4, generator))[1].item() for _ in range(3)]
    assert got == pytest.approx(sum(losses) / 3, abs=1e-6)
    assert evaluate_loss(model, task, batches=3, batch_size=4, seed=5) == got  # repeatable
    assert evaluate_loss(model, task, batches=3, batch_size=4, seed=6) != got
    assert evaluate_loss(model, task, batches=3, batch_size=4, split="train") != got
    with pytest.raises(ValueError, match="split"):
        evaluate_loss(model, task, split="test")


# --------------------------------------------------------------------------- classifiers


class SumClassifier(nn.Module):
    """A fake sequence classifier: class = (sum of the unmasked ids) mod 3."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        assert not self.training  # predict runs the model in eval mode
        return F.one_hot((idx * attention_mask).sum(-1) % 3, 3).float()


class TokenClassifier(SumClassifier):
    """A fake token classifier: the class of each token is its id mod 3."""

    def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.one_hot(idx % 3, 3).float()


def test_predict_and_accuracy_of_a_sequence_classifier() -> None:
    ids = torch.tensor([[1, 1, 0], [2, 0, 0], [4, 4, 4], [2, 2, 5]])
    model = SumClassifier()
    model.train()
    assert predict(model, ids, batch_size=3).tolist() == [2, 2, 0, 0]
    assert model.training
    mask = torch.tensor([[1, 0, 0], [1, 0, 0], [1, 1, 1], [1, 1, 1]])
    assert predict(model, ids, mask).tolist() == [1, 2, 0, 0]
    assert accuracy(model, ids, torch.tensor([2, 2, 1, 0])) == 0.75
    with pytest.raises(ValueError, match="sequence classifier needs"):
        accuracy(model, ids, torch.zeros(4, 3, dtype=torch.long))


def test_accuracy_of_a_token_classifier_skips_ignored_positions() -> None:
    ids = torch.tensor([[3, 4, 5], [7, 8, 0]])
    assert predict(TokenClassifier(), ids).tolist() == [[0, 1, 2], [1, 2, 0]]
    labels = torch.tensor([[0, 1, 0], [1, -100, -100]])  # 3 right of 4 counted
    assert accuracy(TokenClassifier(), ids, labels) == 0.75


def test_confusion_matrix_counts_true_against_predicted() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2, -100])
    predicted = torch.tensor([0, 1, 1, 2, 0, 1])
    assert confusion_matrix(predicted, labels, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
