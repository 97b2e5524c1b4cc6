"""labkit.chapters.applications (chapter 8): generated task data, BLEU (= sacrebleu), encoding,
QA spans, knowledge graphs, search; and the chapter's tokenizer and chat prompt
(labkit.tokenizers) and evaluations (labkit.evaluate) on its data."""

from __future__ import annotations

import math
import os

import pytest
import sacrebleu
import torch
from torch import nn

from labkit.chapters import applications as T
from labkit.data import generate_labelled, grammar, label_names
from labkit.evaluate import predict, seq2seq_perplexity, text_perplexity
from labkit.tokenizers import chat_prompt, task_tokenizer
from labkit.widgets import static_picture

# ----------------------------------------------------------------------------- data sets


def _words(lang: str, symbol: str) -> set[str]:
    return {"".join(pieces) for _, pieces in grammar(lang).rules[symbol]}


def test_dictionary_pairs_words_of_the_two_grammars() -> None:
    for symbol, words in T.EN_ZH.items():
        en_symbol = "<number>" if symbol == "<count>" else symbol
        assert set(words) <= _words("en", en_symbol), symbol
        assert set(words.values()) <= _words("zh", symbol), symbol
    assert set(T.NAMES) <= _words("en", "<person>")


def test_translation_pairs_are_word_for_word_and_deterministic() -> None:
    pairs = T.translation_pairs(300, seed=1)
    assert pairs == T.translation_pairs(300, seed=1) and pairs != T.translation_pairs(300, seed=2)
    zh_of = {en: zh for words in T.EN_ZH.values() for en, zh in words.items()}
    zh_of.update({en: zh for en, (zh, _) in T.NAMES.items()})
    for en, zh in pairs:
        assert en.endswith(".") and zh.endswith("。")
        for word in en.rstrip(".").split():
            word = word[:-1] if word.endswith("s") and word[:-1] in zh_of else word
            if word in zh_of:
                assert zh_of[word] in zh, (en, zh, word)
    assert ("Tom ate apples at the park.", "汤姆在公园吃了苹果。") in T.translation_pairs(20_000, 0)


def test_every_generator_gives_the_same_data_in_every_process() -> None:
    # Python randomises str hashes per process (PYTHONHASHSEED): iterating a set of words
    # once made translation_pairs differ between runs, and the notebook's stored outputs
    # with them.
    import subprocess
    import sys

    code = (
        "from labkit.chapters import applications as T; import hashlib; "
        "data = repr([T.translation_pairs(50, 1), T.summarisation_pairs(20, 2), "
        "T.qa_examples(20, 3), T.qa_examples(20, 3, people=2), T.relation_sentences(20, 4), "
        "T.relation_sentences(20, 5, cast=4), "
        "T.code_pairs(50, 6)]); print(hashlib.sha256(data.encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_summaries_name_the_hero_the_toy_and_the_event() -> None:
    for story, summary in T.summarisation_pairs(200, seed=3):
        hero = story.split()[0]
        toy = story.split(".")[0].split()[-1]
        assert summary.startswith(hero) and f"the {toy}" in summary
        assert summary.split()[1] in {"and", "gave", "lost"}
        assert 3 <= story.count(".") <= 5 and len(summary) < len(story)


def test_qa_answers_are_spans_of_the_right_person() -> None:
    for people in (1, 2):
        examples = T.qa_examples(300, seed=4, people=people)
        assert examples == T.qa_examples(300, seed=4, people=people)
        for ex in examples:
            assert ex.context[ex.start : ex.end] == ex.answer
            sentence = ex.context[: ex.end].rsplit(".", 1)[-1]
            who = [w for w in T.NAMES if w in ex.question]
            assert not who or who[0] in sentence  # the answer comes from the asked-about person
            named = {w for w in T.NAMES if f"{w} " in ex.context}
            assert len(named) == people and ex.context.count(".") == 5 + (people == 2)
        assert {ex.question.split()[0] for ex in examples} == {"Where", "What"}
    assert "It was" in T.qa_examples(1, seed=0)[0].context  # people=1: filler sentences
    with pytest.raises(ValueError, match="people"):
        T.qa_examples(3, people=3)


def test_relation_sentences_match_the_extractor_on_true_tags() -> None:
    facts = T.relation_sentences(60, seed=5)
    assert all(triples for _, triples in facts)
    assert {rel for _, triples in facts for _, rel, _ in triples} >= {"visited", "lives in", "owns"}
    for ex in generate_labelled("en", 80, seed=6, task="ner"):
        triples, types = T.extract_triples(ex["tokens"], ex["tags"])
        assert triples, ex["tokens"]
        for head, _, tail in triples:
            assert head in types and tail in types
    tokens = ["In", "New", "York", ",", "Tom", "met", "Kim", "."]
    tags = ["O", "B-PLACE", "I-PLACE", "O", "B-PERSON", "O", "B-PERSON", "O"]
    triples, types = T.extract_triples(tokens, tags)
    assert triples == [("Tom", "met", "Kim"), ("Tom", "visited", "New York")]
    assert types == {"New York": "PLACE", "Tom": "PERSON", "Kim": "PERSON"}
    assert T.extract_triples(["Hello", "."], ["O", "O"]) == ([], {})
    story = T.relation_sentences(40, seed=7, cast=4)
    people = {h for _, triples in story for h, rel, _ in triples if rel != "owns"}
    assert len(people) <= 4 and story == T.relation_sentences(40, seed=7, cast=4)
    for text, triples in story:  # the facts of a sentence name only entities in it
        assert triples and all(h in text and t in text for h, _, t in triples)
    with pytest.raises(ValueError, match="cast"):
        T.relation_sentences(3, cast=1)
    with pytest.raises(ValueError, match="one tag per token"):
        T.extract_triples(["a"], [])


def test_code_pairs_run_to_the_value_python_gives() -> None:
    for question, code in T.code_pairs(300, seed=7):
        assert question.startswith("what is ") and question.endswith("?")
        assert T.run_program(code) == eval(code)  # noqa: S307 - trusted generated code
    assert T.run_program(" (4+9)*2 ") == 26
    for bad in ("__import__('os')", "2**3", "x+1", "3/2", "1+", "'a'*3", "True+1"):
        with pytest.raises(ValueError):
            T.run_program(bad)
    with pytest.raises(ValueError, match="max_number"):
        T.code_pairs(3, max_number=21)


@pytest.mark.parametrize(
    "make", [T.translation_pairs, T.summarisation_pairs, T.code_pairs, T.qa_examples]
)
def test_generators_reject_bad_sizes(make) -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            make(bad)


# ----------------------------------------------------------------------------- metrics


def test_bleu_equals_sacrebleu_on_english_and_chinese() -> None:
    pairs = T.summarisation_pairs(40, seed=8)
    refs = [s for _, s in pairs]
    hyps = [
        r.replace("the", "a", 1) if i % 3 else r.split(" to ")[0] + "." for i, r in enumerate(refs)
    ]
    mine = T.bleu(hyps, refs)
    theirs = sacrebleu.corpus_bleu(hyps, [refs])
    assert mine.score == pytest.approx(theirs.score, abs=1e-9)
    assert list(mine.precisions) == pytest.approx(theirs.precisions)
    assert mine.brevity_penalty == pytest.approx(theirs.bp) and mine.brevity_penalty < 1
    assert (mine.sys_len, mine.ref_len) == (theirs.sys_len, theirs.ref_len)

    zh_refs = [zh for _, zh in T.translation_pairs(40, seed=9)]
    zh_hyps = [r[:-3] + "。" if i % 2 else r for i, r in enumerate(zh_refs)]
    assert T.bleu(zh_hyps, zh_refs, tokenize="chars").score == pytest.approx(
        sacrebleu.corpus_bleu(zh_hyps, [zh_refs], tokenize="zh").score
    )


def test_bleu_edge_cases() -> None:
    assert T.bleu(
        ["the cat sat on the mat ."], ["the cat sat on the mat ."]
    ).score == pytest.approx(100)
    no_4gram = T.bleu(["the cat sat"], ["the cat sat down"])
    assert (
        no_4gram.score
        == 0.0
        == sacrebleu.corpus_bleu(
            ["the cat sat"], [["the cat sat down"]], smooth_method="none"
        ).score
    )
    clipped = T.bleu(["the the the the"], ["the cat"], max_n=1)
    assert clipped.counts == (1,) and clipped.totals == (4,)  # "the" counts once, not four times
    assert T.bleu([""], ["a b"]).score == 0.0
    assert "BLEU = 100.00" in str(T.bleu(["a b c d"], ["a b c d"]))
    assert T.bleu(["a-b c"], ["a-b c"], tokenize=str.split).totals[0] == 2
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        T.bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="lists of sentences"):
        T.bleu("a cat", "a cat")
    with pytest.raises(ValueError, match="tokenize"):
        T.bleu(["a"], ["a"], tokenize="13a")


def test_exact_match_and_token_f1() -> None:
    assert T.exact_match(["a ", "b"], ["a", "c"]) == 0.5
    assert T.token_f1("red ball", "a red ball") == pytest.approx(0.8)
    assert T.token_f1("", "") == 1.0 and T.token_f1("x", "y") == 0.0
    with pytest.raises(ValueError):
        T.exact_match([], [])


# ----------------------------------------------------------------------------- encoding


def test_task_tokenizer_round_trips_english_and_chinese() -> None:
    pairs = T.translation_pairs(200, seed=10)
    tok = task_tokenizer([x for p in pairs for x in p], lexicon=T.ZH_WORDS)
    assert tok.tokenize("Tom ate apples at the park.") == [
        "Tom",
        " ate",
        " apples",
        " at",
        " the",
        " park",
        ".",
    ]
    assert tok.tokenize("汤姆在公园吃了苹果。") == ["汤姆", "在", "公园", "吃", "了", "苹果", "。"]
    for en, zh in pairs:
        assert tok.decode(tok.encode(en)) == en and tok.decode(tok.encode(zh)) == zh
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.cls_token_id) == (0, 2, 3, 5)
    with pytest.raises(ValueError, match="empty"):
        task_tokenizer([])
    with pytest.raises(TypeError, match="list of texts"):
        task_tokenizer("Tom ate apples.")


def test_encode_pairs_layout_and_errors() -> None:
    pairs = [("Tom was happy.", "汤姆很高兴。"), ("The dog jumped.", "小狗跳了起来。")]
    tok = task_tokenizer([x for p in pairs for x in p], lexicon=T.ZH_WORDS)
    src, tgt = T.encode_pairs(tok, pairs)
    assert tok.tokenize(pairs[1][1]) == ["小狗", "跳了起来", "。"]
    assert src.shape == (2, 4) and tgt.shape == (2, 6)  # [BOS] + up to 4 tokens + [EOS]
    assert tgt[:, 0].tolist() == [2, 2] and tgt[0, -1] == 3 and tgt[1].tolist()[-2:] == [3, 0]
    assert tok.decode(tgt[1, 1:-2]) == "小狗跳了起来。"
    with pytest.raises(ValueError, match="block_size"):
        T.encode_pairs(tok, pairs, block_size=3)
    with pytest.raises(ValueError, match="empty"):
        T.encode_pairs(tok, [])


def test_a_tiny_translator_learns_and_the_helpers_agree() -> None:
    # The translator must *read the source*: a decoder that ignores it only learns the
    # language of the targets and writes one plausible sentence for every input (the
    # failure this test once let through, with 33 training pairs and a perplexity bound a
    # source-blind model meets). So: enough data to learn the dictionary, and a check on
    # sentences it never saw.
    pairs = T.translation_pairs(2000, seed=0)
    seen = {en for en, _ in pairs}
    unseen = [(en, zh) for en, zh in T.translation_pairs(300, seed=1) if en not in seen][:60]
    assert len(unseen) >= 40
    model, tok, result = T.train_seq2seq(pairs, steps=300, seed=0)
    assert result.summary()["steps"] == 300
    src, tgt = T.encode_pairs(tok, unseen)
    after = seq2seq_perplexity(model, src, tgt)
    targets = tgt[:, 1:].masked_fill(tgt[:, 1:] == 0, -100)
    with torch.no_grad():
        assert after == pytest.approx(
            math.exp(float(model(src, tgt[:, :-1], targets)[1])), rel=1e-5
        )
    assert after < 1.5
    outputs = T.seq2seq_generate(model, tok, [en for en, _ in unseen], batch_size=7)
    references = [zh for _, zh in unseen]
    assert len(outputs) == len(unseen) and all(isinstance(o, str) for o in outputs)
    assert len(set(outputs)) > 0.9 * len(set(references))  # not one sentence for all inputs
    assert T.exact_match(outputs, references) > 0.4
    assert T.bleu(outputs, references, tokenize="chars").score > 60
    with pytest.raises(TypeError, match="list of texts"):
        T.seq2seq_generate(model, tok, "Tom was happy.")
    with pytest.raises(ValueError, match="non-empty"):
        T.train_seq2seq([])


def test_encode_texts_and_tagged_examples() -> None:
    examples = generate_labelled("en", 30, seed=12, task="ner")
    tok = task_tokenizer([T.join_words(e["tokens"]) for e in examples])
    ids, labels = T.encode_tagged(tok, examples)
    assert ids.shape == labels.shape and (ids[:, 0] == tok.cls_token_id).all()
    assert (labels[:, 0] == -100).all() and ((ids == 0) == (labels == -100))[:, 1:].all()
    assert labels[0, 1 : 1 + len(examples[0]["labels"])].tolist() == examples[0]["labels"]
    assert T.join_words(["In", "New", "York", ",", "Tom", "ran", "."]) == "In New York, Tom ran."
    texts = ["Tom was happy.", "It rained."]
    rows = T.encode_texts(tok, texts)
    assert rows.shape[0] == 2 and (rows[:, 0] == tok.cls_token_id).all()

    class Oracle(nn.Module):  # tags every token "B-PERSON"
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(*idx.shape, len(label_names("ner")))
            logits[..., label_names("ner").index("B-PERSON")] = 1
            return logits

    assert T.tag_tokens(Oracle(), tok, ["Tom", "ran", "."], label_names("ner")) == ["B-PERSON"] * 3


def test_qa_span_labels_and_prediction() -> None:
    examples = T.qa_examples(50, seed=13)
    tok = task_tokenizer([e.context + " " + e.question for e in examples])
    ids, labels = T.encode_qa(tok, examples)
    for row, lab, ex in zip(ids, labels, examples):
        inside = row[lab == 1].tolist()
        assert tok.decode(inside).strip() == ex.answer
        assert row[0] == tok.cls_token_id and (row == tok.sep_token_id).sum() == 1

    class Oracle(nn.Module):  # predicts the true spans from the labels
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return torch.stack(
                [torch.zeros_like(labels, dtype=torch.float), (labels == 1).float() * 5], -1
            )

    oracle = Oracle().train()
    answers = T.predict_spans(oracle, tok, examples)
    assert answers == [e.answer for e in examples]
    assert oracle.training  # eval mode inside, the training mode restored after
    assert sum(T.token_f1(a, e.answer) for a, e in zip(answers, examples)) == len(examples)


# ----------------------------------------------------------------------------- graphs and search


def test_build_graph_fuses_entities_and_facts() -> None:
    triples = [
        ("Tom", "visited", "New York"),
        ("tom", "visited", "NYC"),
        ("Tom", "met", "Kim"),
        ("Kim", "lives in", "new  york"),
    ]
    graph = T.build_graph(
        triples,
        {"Tom": "PERSON", "Kim": "PERSON", "New York": "PLACE"},
        aliases={"NYC": "New York"},
    )
    assert sorted(graph.nodes) == ["Kim", "New York", "Tom"]
    assert graph.nodes["Tom"]["mentions"] == 3 and graph.nodes["New York"]["kind"] == "PLACE"
    assert graph.edges["Tom", "New York", "visited"]["count"] == 2
    assert graph.number_of_edges() == 3
    fig, picture = T.graph_figure(graph, title="test graph")
    assert len(fig.data) == graph.number_of_edges() + 1
    assert list(fig.data[-1].text) == list(graph.nodes)  # the nodes, named
    assert "visited ×2" in {a.text for a in fig.layout.annotations}  # the edges, labelled
    assert picture.svg == static_picture(fig).svg and picture.svg.startswith("<svg")
    assert "New York" in picture.svg and "visited ×2" in picture.svg  # the static picture too
    with pytest.raises(ValueError, match="head, relation, tail"):
        T.build_graph([("a", "b")])
    with pytest.raises(ValueError, match="empty"):
        T.graph_figure(T.build_graph([]))


def test_bag_of_words_search_finds_shared_words_only() -> None:
    docs = ["How to return a toy", "Shipping takes three days", "Opening hours of the shop"]
    bow = T.BagOfWords.fit(docs)
    vectors = bow(docs)
    assert vectors.shape == (3, len(bow.vocabulary))
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3))
    hits = T.top_k_similar(bow(["when does the shop open? hours"])[0], vectors, k=2)
    assert hits[0][0] == 2 and hits[0][1] > hits[1][1]
    assert T.top_k_similar(bow(["parcel delivery"])[0], vectors)[0][1] == 0.0  # no shared word
    assert len(T.top_k_similar(vectors[0], vectors, k=10)) == 3
    with pytest.raises(ValueError, match="same d"):
        T.top_k_similar(torch.ones(4), vectors)
    with pytest.raises(TypeError, match="list of texts"):
        bow("a query")


# ----------------------------------------------------------------------------------------------
# chat, NER scoring, words, classifiers, perplexity


def _story_gpt():
    from labkit.data import generate_corpus
    from labkit.models import TinyGPT

    tok = task_tokenizer([generate_corpus("en", 3000, seed=0).text])
    torch.manual_seed(0)
    return TinyGPT(vocab_size=len(tok), n_layer=1, n_head=2, d_model=16, block_size=64), tok


def test_chat_prompt_uses_chatml_when_the_tokenizer_has_no_template_and_chat_replies() -> None:
    model, tok = _story_gpt()
    messages = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Tom had a ball."},
    ]
    prompt = chat_prompt(tok, messages)
    assert prompt == (
        "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nTom had a ball.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    reply = T.chat(model, tok, messages, max_new_tokens=5)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    from labkit.generate import generate

    expected = generate(
        model, torch.tensor([ids]), 5, strategy="greedy", stop_tokens=[tok.eos_token_id]
    )
    assert reply == tok.decode(expected[0, len(ids) :].tolist(), skip_special_tokens=True).strip()
    for bad in (
        [],
        {"role": "user", "content": "hi"},
        [{"role": "user"}],
        [{"role": "user", "content": "a", "x": 1}],
    ):
        with pytest.raises(ValueError, match="role"):
            chat_prompt(tok, bad)


def test_chat_batch_gives_the_replies_chat_gives_one_by_one() -> None:
    from labkit.hf import to_hf

    model, tok = _story_gpt()
    conversations = [
        [{"role": "user", "content": "Tom had a ball."}],
        [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Anna ran."}],
        [{"role": "user", "content": "One day, Tom gave Anna a red ball. She was glad."}],
    ]
    one_by_one = [T.chat(model, tok, c, max_new_tokens=6) for c in conversations]
    assert T.chat_batch(model, tok, conversations, max_new_tokens=6) == one_by_one
    hf_model = to_hf(model).eval()  # a transformers model: one left-padded generate call
    hf_one_by_one = [T.chat(hf_model, tok, c, max_new_tokens=6) for c in conversations]
    side = tok.padding_side
    assert T.chat_batch(hf_model, tok, conversations, max_new_tokens=6) == hf_one_by_one
    assert tok.padding_side == side  # the tokenizer is left as it was
    with pytest.raises(TypeError, match="list of conversations"):
        T.chat_batch(model, tok, conversations[0])


def test_entity_spans_and_f1_score_whole_entities() -> None:
    tags = ["B-PERSON", "O", "B-PLACE", "I-PLACE", "I-PERSON", "B-OBJECT", "B-OBJECT"]
    assert T.entity_spans(tags) == {
        ("PERSON", 0, 1),
        ("PLACE", 2, 4),
        ("PERSON", 4, 5),
        ("OBJECT", 5, 6),
        ("OBJECT", 6, 7),
    }
    truth = [["B-PERSON", "O", "B-PLACE", "I-PLACE"], ["O", "B-OBJECT"]]
    # "New" alone: a miss and a false alarm
    half = [["B-PERSON", "O", "B-PLACE", "O"], ["O", "B-OBJECT"]]
    assert T.entity_f1(truth, truth) == (1.0, 1.0, 1.0)
    assert T.entity_f1(truth, half) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert T.entity_f1(truth, [["O"] * 4, ["O", "O"]]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        T.entity_f1(truth, truth[:1])


def test_split_and_join_words_round_trip_the_ner_sentences() -> None:
    for e in generate_labelled("en", 50, seed=3, task="ner"):
        text = T.join_words(e["tokens"])
        assert T.split_words(text) == e["tokens"]


def test_encode_tagged_labels_only_the_first_piece_of_a_word() -> None:
    from labkit.tokenizers import train_bpe_tokenizer

    examples = generate_labelled("en", 40, seed=4, task="ner")
    bpe = train_bpe_tokenizer(
        [T.join_words(e["tokens"]) for e in examples], vocab_size=150, byte_level=False
    )
    ids, labels = T.encode_tagged(bpe, examples)
    for row, lab, e in zip(ids, labels, examples):
        real = row[row != bpe.pad_token_id][1:]  # drop [CLS]
        assert bpe.decode(real.tolist()) == T.join_words(e["tokens"])  # the ids of the sentence
        assert lab[lab != -100].tolist() == e["labels"]  # one label per word
    assert (labels[:, 1:] == -100).sum() > (ids[:, 1:] == 0).sum()  # some words have several pieces
    with pytest.raises(ValueError, match="labels"):
        T.encode_tagged(bpe, [{"tokens": ["a", "b"], "labels": [0]}])


def test_text_perplexity_and_predict_on_the_chapter_encodings() -> None:
    from labkit.models import TinyBertForSequenceClassification

    model, tok = _story_gpt()
    text = "Tom had a red ball. He went home."
    idx = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        _, loss = model(idx[:, :-1], idx[:, 1:])
    assert text_perplexity(model, tok, text) == pytest.approx(math.exp(float(loss)), rel=1e-5)
    assert text_perplexity(model, tok, [text, text]) == pytest.approx(
        math.exp(float(loss)), rel=1e-5
    )
    with pytest.raises(ValueError, match="fewer than 2 tokens"):
        text_perplexity(model, tok, "Tom")
    clf = TinyBertForSequenceClassification(
        vocab_size=len(tok), num_labels=3, n_layer=1, n_head=2, d_model=16, block_size=16
    )
    rows = T.encode_texts(tok, ["Tom had a ball.", "He went home.", "Tom ran."])
    classes = predict(clf, rows, batch_size=2)
    assert classes.shape == (3,) and classes.dtype == torch.long
    one = predict(clf, T.encode_texts(tok, ["Tom ran."]))
    assert one[0] == classes[2]  # padding does not change a prediction


# ----------------------------------------------------------------------------- harder variants


def test_hard_variants_are_valid_and_out_of_distribution() -> None:
    from labkit.chapters.applications import hard

    examples = hard.ner_hard_examples()
    assert len(examples) == len(hard.NER_HARD) >= 6
    train_shapes = {
        " ".join(t if t != "O" else w for w, t in zip(e["tokens"], e["tags"]))
        for e in generate_labelled("en", 500, seed=2, task="ner")
    }
    for e in examples:
        assert len(e["tokens"]) == len(e["tags"]) and set(e["tags"]) <= set(label_names("ner"))
        shape = " ".join(t if t != "O" else w for w, t in zip(e["tokens"], e["tags"]))
        assert shape not in train_shapes, shape
    pairs = hard.two_sentence_pairs(20, seed=1)
    assert pairs == hard.two_sentence_pairs(20, seed=1)
    assert all(en.count(".") == 2 and zh.count("。") == 2 for en, zh in pairs)
    code = hard.long_code_pairs(50, seed=3)
    short = {q for q, _ in T.code_pairs(2000, seed=0)}
    assert not any(q in short for q, _ in code)
    for _question, program in code:
        assert sum(program.count(op) for op in "+-*") == 3
        assert T.run_program(program) == eval(program)  # digits and + - * only


def test_qa_error_kind_sorts_the_mistakes() -> None:
    from labkit.chapters.applications import hard

    for e in T.qa_examples(40, seed=5, people=2):
        assert hard.qa_error_kind(e, e.answer) == "right"
        assert hard.qa_error_kind(e, "spaceship") == "not in passage"
    e = T.QAExample(
        "Tom lives in Paris. Amy lives in Rome. Tom went to the zoo.",
        "Where does Tom live?",
        "Paris",
        13,
    )
    assert e.context[e.start : e.end] == "Paris"
    assert hard.qa_error_kind(e, "Rome") == "other person"
    assert hard.qa_error_kind(e, "zoo") == "other fact"
