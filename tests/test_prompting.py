"""labkit.chapters.applications.prompting (chapter 8): few-shot prompts, label log-likelihoods
(one forward pass for one-token labels, equal to the per-label path), shot sampling, and
classification by likelihood -- on a tiny GPT, no real model needed."""

from __future__ import annotations

import pytest
import torch

from labkit._util import logits_of
from labkit.chapters.applications import prompting as P
from labkit.models import TinyGPT
from labkit.tokenizers import task_tokenizer


@pytest.fixture(scope="module")
def tiny():
    tok = task_tokenizer(["Sentence: the cat sat. Tom ate cake.\nTopic: animals food play weather"])
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=len(tok), n_layer=1, n_head=2, d_model=16, block_size=32).eval()
    return model, tok


def test_few_shot_prompt_layout() -> None:
    assert P.few_shot_prompt("the cat sat.") == "Sentence: the cat sat.\nTopic:"
    prompt = P.few_shot_prompt("x.", [("a.", "food"), ("b.", "play")], instruction="Classify.")
    expected = "Classify.\n\nSentence: a.\nTopic: food\n\nSentence: b.\nTopic: play\n\n"
    assert prompt == expected + "Sentence: x.\nTopic:"
    with pytest.raises(ValueError, match="label"):
        P.few_shot_prompt("x", template="{label}: {text}")


def test_label_log_likelihoods_single_token_path_equals_full_path(tiny) -> None:
    model, tok = tiny
    prompt = P.few_shot_prompt("the cat sat.", [("Tom ate cake.", "food")])
    one = P.label_log_likelihoods(model, tok, prompt, ["animals", "food"])
    # the multi-token path (forced by a two-token label) must give the same one-token scores
    both = P.label_log_likelihoods(model, tok, prompt, ["animals", "food", "food play"])
    assert torch.allclose(one, both[:2], atol=1e-5)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = logits_of(model(torch.tensor([ids])))[0, -1].log_softmax(-1)
    food = tok(" food", add_special_tokens=False)["input_ids"][0]
    assert torch.isclose(one[1], logp[food], atol=1e-5)
    # a long prompt keeps its end and still works
    long_prompt = P.few_shot_prompt("the cat sat.", [("Tom ate cake.", "food")] * 10)
    assert P.label_log_likelihoods(model, tok, long_prompt, ["animals", "food play"]).shape == (2,)
    with pytest.raises(ValueError):
        P.label_log_likelihoods(model, tok, prompt, [])


def test_pick_shots_and_classify(tiny) -> None:
    model, tok = tiny
    pool = [("the cat sat.", "animals"), ("Tom ate cake.", "food"), ("Tom sat.", "play")]
    assert P.pick_shots(pool, 0) == []
    shots = P.pick_shots(pool, 2, seed=1)
    assert len(shots) == 2 and set(shots) <= set(pool) and shots == P.pick_shots(pool, 2, seed=1)
    assert {tuple(P.pick_shots(pool, 3, seed=s)) for s in range(6)} != {tuple(pool)}
    with pytest.raises(ValueError, match="pool"):
        P.pick_shots(pool, 4)
    guesses = P.classify_by_likelihood(
        model, tok, ["the cat sat.", "Tom ate cake."], ["animals", "food"], shots
    )
    assert len(guesses) == 2 and set(guesses) <= {0, 1}
    with pytest.raises(TypeError):
        P.classify_by_likelihood(model, tok, "the cat sat.", ["animals"])


def test_a_transformers_model_classifies_in_batches_with_the_same_answers(tiny) -> None:
    from labkit.hf import to_hf

    model, tok = tiny
    hf_model = to_hf(model).eval()
    texts = ["the cat sat.", "Tom ate cake.", "Tom sat.", "the cat ate cake. Tom sat."]
    labels = ["animals", "food", "play", "weather"]
    shots = [("Tom ate cake.", "food")]
    assert P._batchable(hf_model, tok, labels) and not P._batchable(model, tok, labels)
    one_by_one = [
        int(P.label_log_likelihoods(hf_model, tok, P.few_shot_prompt(t, shots), labels).argmax())
        for t in texts
    ]
    side = tok.padding_side
    assert P.classify_by_likelihood(hf_model, tok, texts, labels, shots) == one_by_one
    assert P.classify_by_likelihood(model, tok, texts, labels, shots) == one_by_one
    assert tok.padding_side == side
