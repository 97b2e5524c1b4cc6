"""labkit.chapters.finetuning (chapter 5): unlabelled text, labelled encoding, pretraining with a
cache, fine-tuning, the transfer experiment, multi-task batches; with the chapter's tokenizer
(labkit.tokenizers.train_bert_tokenizer), multi-task model and augmentation (labkit.data.augment).
Tiny models; every test runs in seconds."""

from __future__ import annotations

import random
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.chapters import finetuning as ft
from labkit.chapters.finetuning import pretraining
from labkit.data import generate_labelled, grammar, label_names
from labkit.data.augment import SYNONYM_GROUPS, augment, augment_examples, detokenize, synonyms
from labkit.evaluate import accuracy, predict
from labkit.models import (
    BertConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyGPT,
)
from labkit.models.multitask import MultiTaskBert
from labkit.tokenizers import train_bert_tokenizer
from labkit.train import train

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
    extra = [
        e["text"]
        for task in ("sentiment", "topic")
        for e in generate_labelled("en", 400, seed=3, task=task)
    ]
    return train_bert_tokenizer(docs + extra)


def _bert(tok, block_size: int = 16) -> TinyBERT:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return TinyBERT(BertConfig(vocab_size=len(tok), block_size=block_size, **TINY_BERT))


# ----------------------------------------------------------------------------- data and tokenizer


def test_unlabelled_paragraphs_keep_one_hidden_label(docs: list[str]) -> None:
    examples = ft.training_examples("sentiment", 5 * 4 * 2, seed=9)
    truth = {e["text"]: e["label"] for e in examples}
    paragraphs = ft.unlabelled_paragraphs("sentiment", 5, seed=9, sentences=4)
    assert len(paragraphs) == 5
    for p in paragraphs:
        sentences = re.findall(r"[^.!?]+[.!?]", p)
        labels = {truth[s.strip()] for s in sentences}
        assert len(sentences) == 4 and len(labels) == 1
        assert "positive" not in p and "negative" not in p
        assert not any(ft.is_test_sentence(s) for s in sentences)
    with pytest.raises(ValueError, match="task must be one of"):
        ft.unlabelled_paragraphs("ner", 3)


def test_the_held_out_rule_reserves_a_fifth_of_the_sentences() -> None:
    texts = {e["text"] for e in generate_labelled("en", 3000, seed=1, task="topic")}
    share = sum(ft.is_test_sentence(t) for t in texts) / len(texts)
    assert 0.15 < share < 0.25
    assert ft.is_test_sentence("It  rained.") == ft.is_test_sentence("It rained.")  # spaces
    sentences = [ft.text_of(e) for e in generate_labelled("en", 200, seed=2, task="ner")]
    assert any(map(ft.is_test_sentence, sentences)) and not all(map(ft.is_test_sentence, sentences))


def test_training_examples_are_nested_and_never_test_sentences() -> None:
    small, big = ft.training_examples("topic", 20, seed=3), ft.training_examples("topic", 300, 3)
    assert big[:20] == small and len(big) == 300
    assert not any(ft.is_test_sentence(e["text"]) for e in big)
    ner = ft.training_examples("ner", 50, seed=3)
    assert len(ner) == 50 and not any(ft.is_test_sentence(ft.text_of(e)) for e in ner)


def test_no_test_sentence_is_in_the_pretraining_text(docs: list[str]) -> None:
    for task, n in (("topic", 300), ("sentiment", 300), ("ner", 200)):
        test = [ft.text_of(e) for e in ft.held_out_test(task, n)]
        assert all(map(ft.is_test_sentence, test))
        assert ft.find_in_text(test, docs) == []
    # the check itself finds a sentence at the start of a text or after a space, not inside
    # a longer word
    assert ft.find_in_text(["Ed ran.", "It rained."], ["Ted ran. It rained."]) == ["It rained."]
    assert ft.find_in_text(["Ed ran."], ["Ed ran. Bo sat."]) == ["Ed ran."]


def test_augmented_examples_drop_copies_that_are_test_sentences() -> None:
    base = ft.training_examples("sentiment", 40, seed=5)
    data = ft.augmented_examples(base, copies=6, seed=0, p_synonym=0.7)
    assert data[:40] == base and 40 < len(data) <= 40 * 7
    assert not any(ft.is_test_sentence(e["text"]) for e in data)


def test_pretraining_corpus_is_deterministic_and_unlabelled(docs: list[str]) -> None:
    assert docs == ft.pretraining_corpus(n_paragraphs=60, story_chars=3000, n_ner=40, seed=0)
    assert docs != ft.pretraining_corpus(n_paragraphs=60, story_chars=3000, n_ner=40, seed=1)
    assert len(docs) >= 2 * 60 + 40
    assert not any("B-PERSON" in d or "label" in d for d in docs)


def test_bert_tokenizer_special_ids_cls_sep_and_punctuation(tok) -> None:  # type: ignore[no-untyped-def]
    for i, special in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]"]):
        assert tok.convert_tokens_to_ids(special) == i
    enc = tok("Tom was sad, and Mia was glad.")
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]",
        "Tom",
        "was",
        "sad",
        ",",
        "and",
        "Mia",
        "was",
        "glad",
        ".",
        "[SEP]",
    ]
    assert (
        tok.decode(enc["input_ids"], skip_special_tokens=True) == "Tom was sad , and Mia was glad ."
    )
    assert tok("Tom zyxwv.")["input_ids"][2] == tok.unk_token_id
    batch = tok(["Tom ran.", "The cake was great."], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 7)
    assert batch["attention_mask"][0].tolist() == [1] * 5 + [0, 0]
    with pytest.raises(TypeError, match="list of strings"):
        train_bert_tokenizer("one string")
    with pytest.raises(ValueError):
        train_bert_tokenizer([])
    with pytest.raises(ValueError, match="min_freq must be a positive int"):
        train_bert_tokenizer(["Tom ran."], min_freq=0)


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
        assert bool((y[row, n + 2 :] == -100).all())  # padding
    with pytest.raises(ValueError, match="empty"):
        ft.encode_labelled(tok, [])
    with pytest.raises(ValueError, match="'text' and 'label'"):
        ft.encode_labelled(tok, [{"words": ["a"]}])


def test_held_out_test_shares_no_sentence_with_the_training_data() -> None:
    train_texts = [e["text"] for e in ft.training_examples("topic", 300, seed=1000)]
    test = ft.held_out_test("topic", 400)
    texts = [e["text"] for e in test]
    assert len(texts) == 400 == len(set(texts))
    assert not set(texts) & set(train_texts)
    # without the rule, the grammar's repeats would overlap
    plain = {e["text"] for e in generate_labelled("en", 400, seed=10_000, task="topic")}
    assert plain & set(train_texts)
    extra = ft.held_out_test("topic", 50, exclude=texts[:10])
    assert not set(texts[:10]) & {e["text"] for e in extra}


# ----------------------------------------------------------------------------- pretraining


def test_sequence_mlm_task_masks_only_real_tokens(tok) -> None:  # type: ignore[no-untyped-def]
    texts = ["Tom loved the kite.", "It rained in the park."]
    ids = tok(texts, padding="max_length", max_length=12, return_tensors="pt")["input_ids"]
    task = ft.SequenceMLMTask(ids, len(tok), tok.mask_token_id)
    batch = task.get_batch("train", 64, torch.Generator().manual_seed(0))
    assert set(batch) == {"idx", "targets", "attention_mask"}
    picked = batch["targets"] != -100
    assert bool(picked.any(dim=1).all())  # every row has something to predict
    originals = batch["targets"][picked]
    assert bool((originals >= 7).all())  # never a special token ([CLS], [SEP], [PAD])
    padding = batch["idx"][batch["attention_mask"] == 0]
    assert bool((padding == tok.pad_token_id).all())  # padding stays padding
    assert task.tokens(batch) == int(batch["attention_mask"].sum())
    shard = task.shard(1, 2)
    assert torch.equal(shard.train, ids[1:2]) and shard.mask_token_id == tok.mask_token_id
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        ft.SequenceMLMTask(torch.tensor([1, 2, 3]), 10)


def test_pretrain_bert_learns_and_caches(tok, docs, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kw = dict(block_size=16, steps=40, batch_size=16, lr=6e-3, seed=0, **TINY_BERT)
    model, result = ft.pretrain("bert", tok, docs, cache=tmp_path, **kw)
    losses = result.history["train_loss"]
    assert isinstance(model, TinyBERT) and not model.training and result.steps == 40
    assert model.config.block_size == 16 and model.config.pad_token_id == tok.pad_token_id
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    assert len(list(tmp_path.iterdir())) == 1

    def no_training(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the cached model should have been loaded, not trained again")

    monkeypatch.setattr(pretraining, "train", no_training)
    again, cached = ft.pretrain("bert", tok, docs, cache=tmp_path, **kw)
    pairs = zip(model.state_dict().values(), again.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
    assert cached.history["train_loss"] == losses and cached.steps == 40
    with pytest.raises(AssertionError, match="not trained again"):  # other settings: another entry
        ft.pretrain("bert", tok, docs, cache=tmp_path, **{**kw, "steps": 41})
    with pytest.raises(AssertionError, match="not trained again"):  # another kind: another entry
        ft.pretrain("gpt", tok, docs, cache=tmp_path, **kw)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*/*.bin"))
    assert not list(tmp_path.glob("*/.*"))  # no temporary file left behind


def test_a_damaged_cache_entry_is_trained_again(tok, docs, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    kw = dict(block_size=16, steps=3, batch_size=4, **TINY_BERT)
    model, _ = ft.pretrain("bert", tok, docs[:20], cache=tmp_path, **kw)
    (entry,) = tmp_path.iterdir()
    for damage in (
        lambda: (entry / "config.json").write_text("{not json", encoding="utf-8"),
        lambda: (entry / "model.safetensors").unlink(),
    ):
        damage()
        again, result = ft.pretrain("bert", tok, docs[:20], cache=tmp_path, **kw)
        assert "unreadable" in capsys.readouterr().out and result.steps == 3
        pairs = zip(model.state_dict().values(), again.state_dict().values())
        assert all(torch.equal(a, b) for a, b in pairs)  # the same seed gives the same model
    ft.pretrain("bert", tok, docs[:20], cache=tmp_path, **kw)
    assert "loaded the pretrained tiny_bert from the cache" in capsys.readouterr().out


def test_pretrain_gpt_learns(tok, docs) -> None:  # type: ignore[no-untyped-def]
    gpt, result = ft.pretrain("gpt", tok, docs, block_size=16, steps=40, batch_size=16, **TINY_BERT)
    losses = result.history["train_loss"]
    assert isinstance(gpt, TinyGPT) and gpt.config.vocab_size == len(tok) and not gpt.training
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    with pytest.raises(ValueError, match="non-empty list"):
        ft.pretrain("gpt", tok, "one string")
    with pytest.raises(ValueError, match='kind must be "bert" or "gpt"'):
        ft.pretrain("t5", tok, docs)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        ft.pretrain("bert", tok, docs, steps=0)


# ----------------------------------------------------------------------------- fine-tuning


def test_fine_tune_fits_sentences(tok) -> None:  # type: ignore[no-untyped-def]
    examples = generate_labelled("en", 48, seed=1, task="topic")
    x, m, y = ft.encode_labelled(tok, examples, max_length=16)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tok), block_size=16, **TINY_BERT)
    clf = TinyBertForSequenceClassification(config, num_labels=4)
    before = accuracy(clf, x, y, m)
    result = ft.fine_tune(clf, x, y, steps=150, lr=5e-3, batch_size=16)
    assert result.steps == 150 and not clf.training
    assert accuracy(clf, x, y, m) > max(0.8, before + 0.3)  # it fits its training data
    assert predict(clf, x, m).shape == (48,)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        ft.fine_tune(clf, x, y, steps=0)


def test_transfer_curve_points_and_callback(tok) -> None:  # type: ignore[no-untyped-def]
    seen = []
    points = ft.transfer_curve(
        _bert(tok),
        tok,
        "sentiment",
        sizes=(4, 8),
        seeds=(0,),
        steps=3,
        test_size=30,
        callback=seen.append,
    )
    assert [p.n_labels for p in points] == [4, 8] and seen == points
    assert all(0.0 <= p.pretrained <= 1.0 and 0.0 <= p.scratch <= 1.0 for p in points)
    with pytest.raises(ValueError, match="task must be one of"):
        ft.transfer_curve(_bert(tok), tok, "ner")
    with pytest.raises(ValueError, match="block_size"):
        ft.transfer_curve(_bert(tok, block_size=8), tok, "topic", max_length=16)


def test_pretrained_encoder_is_copied_and_token_classifier_trains(tok) -> None:  # type: ignore[no-untyped-def]
    bert = _bert(tok)
    tagger = TinyBertForTokenClassification.from_pretrained(
        bert, num_labels=len(label_names("ner"))
    )
    assert torch.equal(tagger.bert.wte.weight, bert.bert.wte.weight)
    examples = generate_labelled("en", 32, seed=0, task="ner")
    x, m, y = ft.encode_labelled(tok, examples, max_length=16)
    before = accuracy(tagger, x, y, m)
    ft.fine_tune(tagger, x, y, steps=60, lr=5e-3)
    assert predict(tagger, x, m).shape == x.shape
    assert accuracy(tagger, x, y, m) > max(0.75, before + 0.2)


def test_accuracy_skips_ignored_positions() -> None:
    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, idx, attention_mask=None):  # type: ignore[no-untyped-def]
            return F.one_hot(idx % 3, 3).float()  # predicts idx % 3 at every token

    ids = torch.tensor([[0, 1, 2, 3]])
    labels = torch.tensor([[-100, 1, 0, -100]])  # one right, one wrong, two ignored
    assert accuracy(Fixed(), ids, labels) == 0.5


# ------------------------------------------------------------------- multi-task, augmentation


def test_multitask_bert_heads_loss_and_task(tok) -> None:  # type: ignore[no-untyped-def]
    bert = _bert(tok)
    model = MultiTaskBert.from_pretrained(bert, {"sentiment": 2, "topic": 4})
    assert torch.equal(model.bert.wte.weight, bert.bert.wte.weight)
    sentiment = generate_labelled("en", 20, seed=0, task="sentiment")
    xs, _, ys = ft.encode_labelled(tok, sentiment, max_length=16)
    xt, _, yt = ft.encode_labelled(tok, generate_labelled("en", 30, seed=0, task="topic"), 16)
    task = ft.MultiTaskTask([(xs, ys), (xt, yt)])
    batch = task.get_batch("train", 8, torch.Generator().manual_seed(0))
    assert batch["task_ids"].tolist() == [0] * 4 + [1] * 4
    logits, loss = model(**batch)
    assert logits.shape == (8, 4) and bool(torch.isinf(logits[:4, 2:]).all())
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="task_ids"):
        model(xs[:2])
    result = train(
        model,
        task,
        max_steps=40,
        batch_size=16,
        lr=5e-3,
        progress=False,
        eval_every=0,
        eval_batches=1,
    )
    losses = result.history["train_loss"]
    assert sum(losses[-5:]) < sum(losses[:5])
    assert predict(model.head("topic"), xt).shape == (30,)
    assert int(predict(model.head("sentiment"), xs).max()) <= 1  # never a topic-only class
    shard = task.shard(0, 2)
    assert [len(x) for x, _ in shard.datasets] == [10, 15]
    with pytest.raises(ValueError, match="same length"):
        ft.MultiTaskTask([(xs, ys), (xt[:, :8], yt)])


def test_synonyms_stay_inside_one_word_class() -> None:
    table = synonyms()
    rules = grammar("en").rules
    classes = {g: {p[0] for _, p in rules[g]} for g in SYNONYM_GROUPS}
    assert "great" in table and "lovely" in table["great"] and "great" not in table["great"]
    for word, alternatives in table.items():
        owners = [g for g, words in classes.items() if word in words]
        assert len(owners) == 1 and set(alternatives) <= classes[owners[0]]
    assert not set(table.get("happy", [])) & classes["<unhappy>"]
    with pytest.raises(ValueError, match="not a word class"):
        synonyms(["<nope>"])


def test_augment_synonyms_drop_swap_and_examples() -> None:
    text = "In Paris, Tom did not feel sad."
    assert augment(text, random.Random(0)) == text  # no options: unchanged
    same = [augment(text, random.Random(5), p_synonym=0.5, p_drop=0.3, n_swaps=2) for _ in range(2)]
    assert same[0] == same[1]  # deterministic for the rng's seed
    rng = random.Random(1)
    table = synonyms()
    for _ in range(20):
        out = augment("The cake was great.", rng, p_synonym=0.99)
        words = out.rstrip(".").split()
        assert words[0] == "The" and words[2] == "was" and out.endswith(".")
        assert words[3] in table["great"] + ["great"] and words[1] in table["cake"] + ["cake"]
    for _ in range(20):
        out = augment(text, rng, p_drop=0.5, n_swaps=1)
        assert out.count(",") == 1 and out.endswith(".") and len(out.split()) >= 1
    with pytest.raises(ValueError, match="p_drop"):
        augment(text, rng, p_drop=1.0)
    examples = generate_labelled("en", 5, seed=0, task="sentiment")
    more = augment_examples(examples, copies=3, seed=0, p_synonym=0.7)
    assert len(more) == 20 and more[:5] == examples
    assert [e["label"] for e in more] == [e["label"] for e in examples] * 4
    assert any(a["text"] != b["text"] for a, b in zip(more[5:], examples * 3))
    with pytest.raises(ValueError, match="sentence examples"):
        augment_examples(generate_labelled("en", 2, task="ner"), copies=1)


def test_detokenize_puts_no_space_before_punctuation() -> None:
    assert detokenize(["In", "Paris", ",", "Tom", "ran", "."]) == "In Paris, Tom ran."
    assert detokenize(["_x", "y", "!"]) == "_x y!"
    assert detokenize([]) == ""


# ------------------------------------------------------------------ controls and multi-seed studies


def test_mean_pool_classifier_ignores_padding_and_trains(tok) -> None:  # type: ignore[no-untyped-def]
    clf = ft.MeanPoolClassifier.from_pretrained(_bert(tok), num_labels=2).eval()
    x, m, _ = ft.encode_labelled(tok, [{"text": "Tom was happy.", "label": 1}], max_length=16)
    short, _, _ = ft.encode_labelled(tok, [{"text": "Tom was happy.", "label": 1}], max_length=8)
    with torch.no_grad():
        assert torch.allclose(clf(x, attention_mask=m), clf(short), atol=1e-3)  # pads ignored
    examples = ft.training_examples("sentiment", 64, seed=1)
    xs, ms, ys = ft.encode_labelled(tok, examples, max_length=16)
    ft.fine_tune(clf, xs, ys, steps=60, lr=1e-2)
    assert accuracy(clf, xs, ys, ms) > 0.6
    with pytest.raises(ValueError, match="attention maps"):
        clf(x, return_attention=True)


def test_studies_return_one_accuracy_per_setting(tok) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    bert = TinyBERT(BertConfig(vocab_size=len(tok), block_size=16, **{**TINY_BERT, "n_layer": 2}))
    frozen = ft.freezing_study(bert, tok, 0, n_labels=16, steps=2)
    assert list(frozen) == list(ft.FREEZING_SETTINGS)
    multi = ft.multitask_study(bert, tok, 0, steps=2, n_labels=8, n_helper=16)
    augmented = ft.augmentation_study(bert, tok, 0, n_labels=8, copies=1, steps=2)
    assert list(multi) == ["alone", "with topic"]
    assert list(augmented) == list(ft.AUGMENTATION_RECIPES)
    for value in [*frozen.values(), *multi.values(), *augmented.values()]:
        assert 0.0 <= value <= 1.0


def test_spread_and_results_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from labkit import studies

    s = ft.spread([0.5, 0.7, 0.6])
    assert s["n"] == 3 and abs(s["mean"] - 0.6) < 1e-12 and abs(s["sd"] - 0.1) < 1e-12
    assert (s["min"], s["max"]) == (0.5, 0.7) and ft.spread([0.4])["sd"] == 0.0
    with pytest.raises(ValueError, match="at least one"):
        ft.spread([])
    monkeypatch.setattr(studies, "STUDIES_DIR", tmp_path)
    rows = [{"seed": 0, "setting": "a", "accuracy": 0.5}]
    path = ft.save_results("ch05_x", rows, seeds=[0])
    assert path == tmp_path / "ch05_x.json"
    assert ft.load_results("ch05_x") == {"meta": {"seeds": [0]}, "rows": rows}
    with pytest.raises(FileNotFoundError, match="course/scripts/ch05_y.py"):
        ft.load_results("ch05_y")


def test_the_stored_chapter_5_studies_have_five_seeds_of_every_setting() -> None:
    for name in ("ch05_transfer", "ch05_freezing", "ch05_multitask", "ch05_augmentation"):
        results = ft.load_results(name)
        assert results["meta"]["seeds"] == [0, 1, 2, 3, 4]
        assert all(s["n"] == 5 for s in ft.summarise(results).values())


def test_summaries_the_live_check_and_the_figure() -> None:
    rows = [
        {"seed": s, "setting": f"{start}, {n} labels", "accuracy": acc + 0.01 * s}
        for s in range(3)
        for n, (p, q) in {8: (0.9, 0.4), 16: (0.95, 0.6)}.items()
        for start, acc in (("pretrained", p), ("scratch", q))
    ]
    results = {"meta": {}, "rows": rows}
    stats = ft.summarise(results)
    assert (
        stats["scratch, 8 labels"]["n"] == 3
        and abs(stats["scratch, 8 labels"]["max"] - 0.42) < 1e-9
    )
    table = ft.spread_table(results, live={"scratch, 8 labels": 0.41})
    assert "mean ± sd over 3 seeds" in table and table.splitlines()[2].endswith("0.410")
    seeds = ft.seed_table(results).splitlines()
    assert seeds[0].split() == ["seed", "0", "1", "2"] and seeds[1].endswith("0.900  0.910  0.920")
    assert ft.outside_spread(results, {"scratch, 8 labels": 0.44}) == {}
    assert ft.outside_spread(results, {"scratch, 8 labels": 0.5}) == {"scratch, 8 labels": 0.5}
    with pytest.raises(KeyError, match="no stored seeds"):
        ft.outside_spread(results, {"scratch, 32 labels": 0.5})
    fig = ft.transfer_figure(results, live={"pretrained, 16 labels": 0.95})
    assert len(fig.data) == 5 and list(fig.data[0].x) == [8, 16]
