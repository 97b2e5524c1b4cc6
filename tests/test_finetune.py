"""labkit.finetune (chapter 5): tokenizer, labelled encoding, pretraining with a cache, fine-tuning,
the transfer experiment, freezing, LoRA (from scratch and from peft), multi-task learning and
augmentation. Tiny models; every test runs in seconds."""

from __future__ import annotations

import copy
import random
import re

import peft
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit import finetune as ft
from labkit.data import generate_labelled, grammar, label_names
from labkit.hf import from_hf, to_hf
from labkit.models import (
    BertConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyGPT,
)
from labkit.nn import set_fused

TINY_BERT = {"n_layer": 1, "n_head": 2, "d_model": 16}


@pytest.fixture(autouse=True)
def _cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train on the CPU even where a GPU exists, so tensors compare across cells."""
    monkeypatch.setenv("LABKIT_DEVICE", "cpu")


@pytest.fixture(scope="module")
def docs() -> list[str]:
    return ft.pretraining_corpus(n_paragraphs=60, story_chars=3000, n_ner=40, seed=0)


@pytest.fixture(scope="module")
def tok(docs: list[str]):  # type: ignore[no-untyped-def]
    # the labelled data uses words the small corpus may lack: train on a bit more of it
    extra = [e["text"] for task in ("sentiment", "topic") for e in generate_labelled("en", 400, seed=3, task=task)]
    return ft.train_bert_tokenizer(docs + extra)


def _bert(tok, block_size: int = 16) -> TinyBERT:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return TinyBERT(BertConfig(vocab_size=len(tok), block_size=block_size, **TINY_BERT))


# ----------------------------------------------------------------------------- data and tokenizer


def test_unlabelled_paragraphs_keep_one_hidden_label(docs: list[str]) -> None:
    truth = {e["text"]: e["label"] for e in generate_labelled("en", n=5 * 4 * 2, seed=9, task="sentiment")}
    paragraphs = ft.unlabelled_paragraphs("sentiment", 5, seed=9, sentences=4)
    assert len(paragraphs) == 5
    for p in paragraphs:
        sentences = re.findall(r"[^.!?]+[.!?]", p)
        labels = {truth[s.strip()] for s in sentences}
        assert len(sentences) == 4 and len(labels) == 1
        assert "positive" not in p and "negative" not in p
    with pytest.raises(ValueError, match="task must be one of"):
        ft.unlabelled_paragraphs("ner", 3)


def test_pretraining_corpus_is_deterministic_and_unlabelled(docs: list[str]) -> None:
    assert docs == ft.pretraining_corpus(n_paragraphs=60, story_chars=3000, n_ner=40, seed=0)
    assert docs != ft.pretraining_corpus(n_paragraphs=60, story_chars=3000, n_ner=40, seed=1)
    assert len(docs) >= 2 * 60 + 40
    assert not any("B-PERSON" in d or "label" in d for d in docs)


def test_bert_tokenizer_special_ids_cls_sep_and_punctuation(tok) -> None:  # type: ignore[no-untyped-def]
    for i, special in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]"]):
        assert tok.convert_tokens_to_ids(special) == i
    enc = tok("Tom was sad, and Mia was glad.")
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "Tom", "was", "sad", ",", "and", "Mia", "was",
                                                           "glad", ".", "[SEP]"]
    assert tok("Tom zyxwv.")["input_ids"][2] == tok.unk_token_id
    batch = tok(["Tom ran.", "The cake was great."], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 7) and batch["attention_mask"][0].tolist() == [1] * 5 + [0, 0]
    with pytest.raises(TypeError, match="list of strings"):
        ft.train_bert_tokenizer("one string")
    with pytest.raises(ValueError):
        ft.train_bert_tokenizer([])


def test_encode_labelled_sentences_and_ner(tok) -> None:  # type: ignore[no-untyped-def]
    examples = generate_labelled("en", 6, seed=0, task="topic")
    x, m, y = ft.encode_labelled(tok, examples, max_length=16)
    assert x.shape == m.shape == (6, 16) and y.tolist() == [e["label"] for e in examples]
    assert bool((x[:, 0] == tok.cls_token_id).all()) and bool(((x != 0) == m.bool()).all())

    ner = generate_labelled("en", 5, seed=2, task="ner")
    x, m, y = ft.encode_labelled(tok, ner, max_length=20)
    for row, e in enumerate(ner):
        labelled = y[row][y[row] != -100].tolist()
        assert labelled == e["labels"]  # one label per word, in order (one token per word here)
        n = len(e["tokens"])
        assert y[row, 0] == -100 and y[row, n + 1] == -100  # [CLS] and [SEP]
        assert bool((y[row, n + 2:] == -100).all())  # padding
    with pytest.raises(ValueError, match="empty"):
        ft.encode_labelled(tok, [])
    with pytest.raises(ValueError, match="'text' and 'label'"):
        ft.encode_labelled(tok, [{"words": ["a"]}])


def test_held_out_test_shares_no_sentence_with_the_training_data() -> None:
    train = [e["text"] for e in generate_labelled("en", 300, seed=1000, task="topic")]
    test = ft.held_out_test("topic", 400, exclude=train)
    texts = [e["text"] for e in test]
    assert len(texts) == 400 == len(set(texts))
    assert not set(texts) & set(train)
    # without the filter, the grammar's repeats would overlap
    plain = {e["text"] for e in generate_labelled("en", 400, seed=10_000, task="topic")}
    assert plain & set(train)


# ----------------------------------------------------------------------------- pretraining


def test_sequence_mlm_task_masks_only_real_tokens(tok) -> None:  # type: ignore[no-untyped-def]
    ids = tok(["Tom loved the kite.", "It rained in the park."], padding="max_length", max_length=12,
              return_tensors="pt")["input_ids"]
    task = ft.SequenceMLMTask(ids, len(tok), tok.mask_token_id)
    batch = task.get_batch("train", 64, torch.Generator().manual_seed(0))
    assert set(batch) == {"idx", "targets", "attention_mask"}
    picked = batch["targets"] != -100
    assert bool(picked.any(dim=1).all())  # every row has something to predict
    originals = batch["targets"][picked]
    assert bool((originals >= 7).all())  # never a special token ([CLS], [SEP], [PAD])
    assert bool((batch["idx"][batch["attention_mask"] == 0] == tok.pad_token_id).all())  # padding stays padding
    assert task.tokens(batch) == int(batch["attention_mask"].sum())
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        ft.SequenceMLMTask(torch.tensor([1, 2, 3]), 10)


def test_pretrain_tiny_bert_learns_and_caches(tok, docs, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kw = dict(max_length=16, steps=40, batch_size=16, lr=6e-3, seed=0, **TINY_BERT)
    model, result = ft.pretrain_tiny_bert(tok, docs, cache=tmp_path, **kw)
    losses = result.history["train_loss"]
    assert isinstance(model, TinyBERT) and not model.training and result.steps == 40
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    assert len(list(tmp_path.iterdir())) == 1

    def no_training(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the cached model should have been loaded, not trained again")

    monkeypatch.setattr(ft, "train", no_training)
    again, cached = ft.pretrain_tiny_bert(tok, docs, cache=tmp_path, **kw)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert cached.history["train_loss"] == losses and cached.steps == 40
    with pytest.raises(AssertionError, match="not trained again"):  # other settings: another entry
        ft.pretrain_tiny_bert(tok, docs, cache=tmp_path, **{**kw, "steps": 41})
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*/*.bin"))


def test_pretrain_tiny_gpt_learns(tok, docs) -> None:  # type: ignore[no-untyped-def]
    gpt, result = ft.pretrain_tiny_gpt(tok, docs, block_size=16, steps=40, batch_size=16, **TINY_BERT)
    losses = result.history["train_loss"]
    assert isinstance(gpt, TinyGPT) and gpt.config.vocab_size == len(tok)
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    with pytest.raises(ValueError, match="non-empty list"):
        ft.pretrain_tiny_gpt(tok, "one string")


# ----------------------------------------------------------------------------- fine-tuning


def test_fine_tune_fits_sentences_and_accuracy_skips_ignored(tok) -> None:  # type: ignore[no-untyped-def]
    x, m, y = ft.encode_labelled(tok, generate_labelled("en", 48, seed=1, task="topic"), max_length=16)
    torch.manual_seed(0)
    clf = TinyBertForSequenceClassification(BertConfig(vocab_size=len(tok), block_size=16, **TINY_BERT),
                                            num_labels=4)
    before = ft.accuracy(clf, x, y, m)
    result = ft.fine_tune(clf, x, y, steps=150, lr=1e-2, batch_size=16)
    assert result.steps == 150 and not clf.training
    assert ft.accuracy(clf, x, y, m) > max(0.8, before + 0.3)  # it fits its training data
    assert ft.predict(clf, x, m).shape == (48,)
    with pytest.raises(ValueError, match="predicts shape"):
        ft.accuracy(clf, x, y[:, None].expand(-1, 16))

    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, idx, attention_mask=None):  # type: ignore[no-untyped-def]
            return F.one_hot(idx % 3, 3).float()  # predicts idx % 3 at every token

    ids = torch.tensor([[0, 1, 2, 3]])
    labels = torch.tensor([[-100, 1, 0, -100]])  # one right, one wrong, two ignored
    assert ft.accuracy(Fixed(), ids, labels) == 0.5
    assert ft.confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, -100]), 3).tolist() == [
        [1, 0, 0], [0, 1, 0], [0, 1, 0]]


def test_transfer_curve_points_and_callback(tok) -> None:  # type: ignore[no-untyped-def]
    seen = []
    points = ft.transfer_curve(_bert(tok), tok, "sentiment", sizes=(4, 8), seeds=(0,), steps=3, test_size=30,
                               callback=seen.append)
    assert [p.n_labels for p in points] == [4, 8] and seen == points
    assert all(0.0 <= p.pretrained <= 1.0 and 0.0 <= p.scratch <= 1.0 for p in points)
    with pytest.raises(ValueError, match="task must be one of"):
        ft.transfer_curve(_bert(tok), tok, "ner")
    with pytest.raises(ValueError, match="block_size"):
        ft.transfer_curve(_bert(tok, block_size=8), tok, "topic", max_length=16)


def test_pretrained_encoder_is_copied_and_token_classifier_trains(tok) -> None:  # type: ignore[no-untyped-def]
    bert = _bert(tok)
    tagger = TinyBertForTokenClassification.from_pretrained(bert, num_labels=len(label_names("ner")))
    assert torch.equal(tagger.bert.wte.weight, bert.bert.wte.weight)
    x, m, y = ft.encode_labelled(tok, generate_labelled("en", 32, seed=0, task="ner"), max_length=16)
    before = ft.accuracy(tagger, x, y, m)
    ft.fine_tune(tagger, x, y, steps=60, lr=5e-3)
    assert ft.predict(tagger, x, m).shape == x.shape
    assert ft.accuracy(tagger, x, y, m) > max(0.75, before + 0.2)


# ----------------------------------------------------------------------------- freezing


def test_freeze_trains_only_the_named_parts(tok) -> None:  # type: ignore[no-untyped-def]
    clf = TinyBertForSequenceClassification(BertConfig(vocab_size=len(tok), block_size=16, n_layer=2, n_head=2,
                                                       d_model=16), num_labels=2)
    total = clf.num_parameters()
    ft.freeze(clf, ["pooler", "classifier"])
    head = 16 * 16 + 16 + 16 * 2 + 2
    assert ft.trainable_parameters(clf) == (head, total)
    assert not any(p.requires_grad for n, p in clf.named_parameters() if n.startswith("bert."))
    ft.freeze(clf, ["pooler", "classifier", "bert.blocks.1"])
    block = sum(p.numel() for p in clf.bert.blocks[1].parameters())
    assert ft.trainable_parameters(clf)[0] == head + block
    before = {n: p.detach().clone() for n, p in clf.named_parameters()}
    x = torch.randint(7, len(tok), (8, 10))
    ft.fine_tune(clf, x, torch.randint(0, 2, (8,)), steps=3, lr=1e-2)
    changed = {n for n, p in clf.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("pooler", "classifier", "bert.blocks.1.")) for n in changed)
    with pytest.raises(ValueError, match="no parameter name starts with 'clasifier'"):
        ft.freeze(clf, ["clasifier"])


# ----------------------------------------------------------------------------- LoRA


def test_lora_linear_formula_merge_and_gradients() -> None:
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    lora = ft.LoRALinear(copy.deepcopy(base), r=2, alpha=4)
    x = torch.randn(3, 8)
    assert torch.equal(lora(x), base(x))  # B = 0: exactly the frozen layer
    assert ft.trainable_parameters(lora) == (2 * 8 + 6 * 2, 2 * 8 + 6 * 2 + 8 * 6 + 6)
    with torch.no_grad():
        lora.lora_B.normal_()
    expected = x @ base.weight.T + base.bias + 2.0 * (x @ lora.lora_A.T) @ lora.lora_B.T
    assert torch.allclose(lora(x), expected, atol=1e-5)
    assert torch.allclose(F.linear(x, lora.weight, lora.bias), expected, atol=1e-5)
    merged = lora.merged()
    assert isinstance(merged, nn.Linear) and torch.allclose(merged(x), expected, atol=1e-5)
    lora(x).sum().backward()
    assert lora.base.weight.grad is None and lora.lora_A.grad is not None and lora.lora_B.grad is not None
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        ft.LoRALinear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="r must be a positive int"):
        ft.LoRALinear(base, r=0)


def test_add_lora_works_with_fused_attention_and_trains_only_adapters() -> None:
    torch.manual_seed(0)
    gpt = TinyGPT(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16).eval()
    x = torch.randint(0, 40, (2, 12))
    model = ft.add_lora(copy.deepcopy(gpt), ("w_q", "w_v"), r=2, alpha=4)
    assert torch.allclose(model(x), gpt(x), atol=1e-6)
    assert ft.trainable_parameters(model)[0] == 2 * 2 * (2 * 16 + 16 * 2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ft.LoRALinear):
                m.lora_B.normal_()
    unfused = set_fused(copy.deepcopy(model), False)
    assert not torch.allclose(model(x), gpt(x), atol=1e-3)  # the adapters act in the fused path too
    assert torch.allclose(model(x), unfused(x), atol=1e-5)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    from labkit.train import CausalLMTask, train

    train(model, CausalLMTask(torch.randint(0, 40, (200,)), block_size=12), max_steps=3, batch_size=4,
          progress=False, eval_every=0, eval_batches=1)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    merged = ft.merge_lora(copy.deepcopy(model))
    assert not any(isinstance(m, ft.LoRALinear) for m in merged.modules())
    assert torch.allclose(merged.eval()(x), model.eval()(x), atol=1e-5)
    with pytest.raises(ValueError, match="already has LoRA"):
        ft.add_lora(model)
    with pytest.raises(ValueError, match="no nn.Linear named"):
        ft.add_lora(copy.deepcopy(gpt), ["query"])


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_lora_from_peft_gives_peft_logits_and_merge() -> None:
    torch.manual_seed(0)
    gpt = TinyGPT(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16).eval()
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn"], fan_in_fan_out=True)
    peft_model = peft.get_peft_model(to_hf(gpt), config)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    peft_model.eval()
    ours = ft.lora_from_peft(copy.deepcopy(gpt), peft_model)
    x = torch.randint(0, 40, (3, 12))
    with torch.no_grad():
        theirs = peft_model(input_ids=x).logits
        assert not torch.allclose(theirs, gpt(x), atol=1e-3)
        assert torch.allclose(ours(x), theirs, atol=1e-5)
        merged = from_hf(copy.deepcopy(peft_model).merge_and_unload())
        assert torch.allclose(ft.merge_lora(ours)(x), merged(x), atol=1e-5)
    other = TinyGPT(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16)
    with pytest.raises(ValueError, match="not this model's"):
        ft.lora_from_peft(other, peft_model)
    with pytest.raises(TypeError, match="get_peft_model"):
        ft.lora_from_peft(copy.deepcopy(gpt), to_hf(gpt))


def test_lm_loss_matches_cross_entropy_for_labkit_and_hf() -> None:
    torch.manual_seed(0)
    gpt = TinyGPT(vocab_size=30, block_size=8, n_layer=1, n_head=2, d_model=16).eval()
    ids = torch.randint(0, 30, (35,))  # 4 blocks of 8 (+1), 2 tokens left over
    x, y = ids[:32].view(4, 8), ids[1:33].view(4, 8)
    with torch.no_grad():
        expected = F.cross_entropy(gpt(x).flatten(0, 1), y.flatten()).item()
    assert ft.lm_loss(gpt, ids, 8, batch_size=3) == pytest.approx(expected, rel=1e-5)
    assert ft.lm_loss(to_hf(gpt), ids, 8) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="need more than"):
        ft.lm_loss(gpt, ids[:8], 8)


# ----------------------------------------------------------------------------- multi-task, augmentation


def test_multitask_bert_heads_loss_and_task(tok) -> None:  # type: ignore[no-untyped-def]
    bert = _bert(tok)
    model = ft.MultiTaskBert.from_pretrained(bert, {"sentiment": 2, "topic": 4})
    assert torch.equal(model.bert.wte.weight, bert.bert.wte.weight)
    xs, _, ys = ft.encode_labelled(tok, generate_labelled("en", 20, seed=0, task="sentiment"), max_length=16)
    xt, _, yt = ft.encode_labelled(tok, generate_labelled("en", 30, seed=0, task="topic"), max_length=16)
    task = ft.MultiTaskTask([(xs, ys), (xt, yt)])
    batch = task.get_batch("train", 8, torch.Generator().manual_seed(0))
    assert batch["task_ids"].tolist() == [0] * 4 + [1] * 4
    logits, loss = model(**batch)
    assert logits.shape == (8, 4) and bool(torch.isinf(logits[:4, 2:]).all()) and torch.isfinite(loss)
    with pytest.raises(ValueError, match="task_ids"):
        model(xs[:2])
    from labkit.train import train

    result = train(model, task, max_steps=40, batch_size=16, lr=5e-3, progress=False, eval_every=0,
                   eval_batches=1)
    losses = result.history["train_loss"]
    assert sum(losses[-5:]) < sum(losses[:5])
    assert ft.predict(model.head("topic"), xt).shape == (30,)
    assert int(ft.predict(model.head("sentiment"), xs).max()) <= 1  # never a topic-only class
    with pytest.raises(ValueError, match="same length"):
        ft.MultiTaskTask([(xs, ys), (xt[:, :8], yt)])


def test_synonyms_stay_inside_one_word_class() -> None:
    table = ft.synonyms()
    rules = grammar("en").rules
    classes = {g: {p[0] for _, p in rules[g]} for g in ft.SYNONYM_GROUPS}
    assert "great" in table and "lovely" in table["great"] and "great" not in table["great"]
    for word, alternatives in table.items():
        owners = [g for g, words in classes.items() if word in words]
        assert len(owners) == 1 and set(alternatives) <= classes[owners[0]]
    assert not set(table.get("happy", [])) & classes["<unhappy>"]
    with pytest.raises(ValueError, match="not a word class"):
        ft.synonyms(["<nope>"])


def test_augment_synonyms_drop_swap_and_examples() -> None:
    text = "In Paris, Tom did not feel sad."
    assert ft.augment(text, random.Random(0)) == text  # no options: unchanged
    same = [ft.augment(text, random.Random(5), p_synonym=0.5, p_drop=0.3, n_swaps=2) for _ in range(2)]
    assert same[0] == same[1]  # deterministic for the rng's seed
    rng = random.Random(1)
    table = ft.synonyms()
    for _ in range(20):
        out = ft.augment("The cake was great.", rng, p_synonym=0.99)
        words = out.rstrip(".").split()
        assert words[0] == "The" and words[2] == "was" and out.endswith(".")
        assert words[3] in table["great"] + ["great"] and words[1] in table["cake"] + ["cake"]
    for _ in range(20):
        out = ft.augment(text, rng, p_drop=0.5, n_swaps=1)
        assert out.count(",") == 1 and out.endswith(".") and len(out.split()) >= 1
    with pytest.raises(ValueError, match="p_drop"):
        ft.augment(text, rng, p_drop=1.0)
    examples = generate_labelled("en", 5, seed=0, task="sentiment")
    more = ft.augment_examples(examples, copies=3, seed=0, p_synonym=0.7)
    assert len(more) == 20 and more[:5] == examples
    assert [e["label"] for e in more] == [e["label"] for e in examples] * 4
    assert any(a["text"] != b["text"] for a, b in zip(more[5:], examples * 3))
    with pytest.raises(ValueError, match="sentence examples"):
        ft.augment_examples(generate_labelled("en", 2, task="ner"), copies=1)
