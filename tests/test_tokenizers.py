"""Tests for labkit.tokenizers: character, word and BPE tokenisers as PreTrainedTokenizerFast."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

from labkit.tokenizers import (
    SPECIAL_TOKENS,
    bpe_merges,
    bpe_merges_by_hand,
    encode_strict,
    find_unknown,
    load_tokenizer,
    pre_tokenize,
    save_tokenizer,
    segment_chinese,
    tokenizer_kind,
    train_bpe_tokenizer,
    train_char_tokenizer,
    train_word_tokenizer,
)

EN = "The cat sat on the mat.\nThe dog  sat on the log!\n\n\tIt's 3.14, isn't it?  "
ZH = "今天天气不错。我们一起去公园散步吧！\n小猫喜欢吃鱼，小狗喜欢跑步。"
MIXED = "LLM 是 language model 的缩写。\nTokens: 今天 + weather = 今天天气\n"
SAMPLES = [EN, ZH, MIXED, " leading and trailing \n", "a\r\nb"]
CORPUS = "".join(SAMPLES) * 3

BUILDERS = {
    "char": lambda text: train_char_tokenizer(text),
    "word_en": lambda text: train_word_tokenizer(text, lang="en"),
    "word_zh": lambda text: train_word_tokenizer(text, lang="zh"),
    "byte_bpe": lambda text: train_bpe_tokenizer(text, vocab_size=300),
    "char_bpe": lambda text: train_bpe_tokenizer(text, vocab_size=150, byte_level=False),
}
KINDS = {
    "char": "char",
    "word_en": "word",
    "word_zh": "word",
    "byte_bpe": "byte_bpe",
    "char_bpe": "bpe",
}


@pytest.fixture(scope="module")
def trained() -> dict[str, PreTrainedTokenizerFast]:
    return {name: build(CORPUS) for name, build in BUILDERS.items()}


# ---------------------------------------------------------------- shared behaviour, every kind


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("sample", SAMPLES)
def test_round_trip_is_exact(trained, name, sample):
    tok = trained[name]
    ids = tok.encode(sample)
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == sample
    assert tok(sample)["input_ids"] == ids


@pytest.mark.parametrize("name", BUILDERS)
def test_special_tokens_have_fixed_ids(trained, name):
    tok = trained[name]
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(7))
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    assert (tok.mask_token_id, tok.cls_token_id, tok.sep_token_id) == (4, 5, 6)
    assert tok.mask_token == "[MASK]" and tok.pad_token == "[PAD]"


@pytest.mark.parametrize("name", BUILDERS)
def test_encoding_adds_no_bos_or_eos(trained, name):
    tok = trained[name]
    ids = tok.encode("The cat")
    assert ids == tok("The cat")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == tok.tokenize("The cat")
    assert not set(ids) & set(range(7))


@pytest.mark.parametrize("name", BUILDERS)
def test_padding_uses_id_zero(trained, name):
    tok = trained[name]
    batch = tok(["The", "The cat sat"], padding=True)
    short, long = batch["input_ids"]
    assert len(short) == len(long) and short[-1] == 0
    assert batch["attention_mask"][0][-1] == 0


@pytest.mark.parametrize("name", BUILDERS)
def test_training_is_deterministic(trained, name):
    again = BUILDERS[name](CORPUS)
    assert again.get_vocab() == trained[name].get_vocab()
    assert again.encode(MIXED) == trained[name].encode(MIXED)


@pytest.mark.parametrize("name", BUILDERS)
def test_kind_is_read_from_the_tokenizer(trained, name):
    assert tokenizer_kind(trained[name]) == KINDS[name]


def test_kind_of_a_foreign_tokenizer_is_other():
    foreign = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    )
    assert tokenizer_kind(foreign) == "other"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=1, max_size=40), name=st.sampled_from(sorted(BUILDERS)))
def test_any_text_round_trips_through_a_tokenizer_trained_on_it(text, name):
    build = BUILDERS[name]
    if name == "char_bpe":
        build = lambda t: train_bpe_tokenizer(t, vocab_size=60, byte_level=False)  # noqa: E731
    tok = build(text)
    assert tok.decode(tok.encode(text)) == text


# ---------------------------------------------------------------- character level


def test_char_vocab_is_sorted_characters():
    tok = train_char_tokenizer("hello world\n", extra_chars="z")
    tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
    assert tokens[:7] == list(SPECIAL_TOKENS)
    assert tokens[7:] == sorted(set("hello world\nz"))
    assert tok.convert_ids_to_tokens(tok.encode("lo w")) == ["l", "o", " ", "w"]


def test_char_unknown_becomes_unk_and_strict_names_the_fix():
    tok = train_char_tokenizer("hello world")
    ids = tok.encode("hello Zoë")
    assert ids.count(tok.unk_token_id) == 2
    assert tok.decode(ids) != "hello Zoë"
    assert find_unknown(tok, "Zoë Zoë") == ["Z", "ë"]
    with pytest.raises(ValueError, match="extra_chars='Zë'") as err:
        encode_strict(tok, "hello Zoë")
    assert "'Z'" in str(err.value) and "train_bpe_tokenizer" in str(err.value)
    fixed = train_char_tokenizer("hello world", extra_chars="Zë")
    assert fixed.decode(encode_strict(fixed, "hello Zoë")) == "hello Zoë"


def test_literal_special_token_text_is_not_reported_unknown():
    tok = train_char_tokenizer("abc")
    assert tok.encode("a[UNK]") == [tok.convert_tokens_to_ids("a"), 1]
    assert find_unknown(tok, "a[UNK]") == []


# ---------------------------------------------------------------- word level


def test_english_words_spaces_and_punctuation_are_separate_tokens():
    tok = train_word_tokenizer("Hi  you!\nHi there.")
    assert pre_tokenize(tok, "Hi  you!\n") == ["Hi", " ", " ", "you", "!", "\n"]
    assert tok.convert_ids_to_tokens(tok.encode("Hi  you!\n")) == ["Hi", " ", " ", "you", "!", "\n"]


def test_word_vocab_is_by_frequency_and_min_freq_drops_rare_words():
    text = "b a b c a b\n"
    tok = train_word_tokenizer(text)
    assert tok.convert_ids_to_tokens(list(range(7, len(tok)))) == [" ", "b", "a", "\n", "c"]
    rare = train_word_tokenizer(text, min_freq=2)
    assert "c" not in rare.get_vocab()
    assert rare.encode("c")[0] == rare.unk_token_id
    with pytest.raises(ValueError, match="min_freq"):
        encode_strict(rare, "a c")


def test_segment_chinese_by_forward_maximum_matching():
    assert segment_chinese("今天天气不错。") == ["今天", "天气", "不错", "。"]
    assert segment_chinese("北京大学", lexicon=["北京", "北京大学", "大学"]) == ["北京大学"]
    assert segment_chinese("北京大学", lexicon=["大学"]) == ["北", "京", "大学"]
    assert segment_chinese("") == []


@pytest.mark.parametrize("sentence", ["今天天气不错。", ZH, "我们喜欢人工智能和语言模型！"])
def test_chinese_word_tokenizer_segments_like_segment_chinese(sentence):
    tok = train_word_tokenizer(sentence, lang="zh")
    assert pre_tokenize(tok, sentence) == segment_chinese(sentence)
    assert tok.convert_ids_to_tokens(tok.encode(sentence)) == segment_chinese(sentence)


def test_chinese_word_tokenizer_with_custom_lexicon():
    tok = train_word_tokenizer("北京大学很大。", lang="zh", lexicon=["北京大学", "很大"])
    assert tok.tokenize("北京大学很大。") == ["北京大学", "很大", "。"]


def test_chinese_text_is_shorter_in_words_than_in_characters():
    chars, words = train_char_tokenizer(ZH), train_word_tokenizer(ZH, lang="zh")
    assert len(words.encode(ZH)) < len(chars.encode(ZH)) == len(ZH)


# ---------------------------------------------------------------- BPE


@pytest.mark.parametrize("byte_level,vocab_size", [(True, 300), (False, 120)])
def test_bpe_vocab_size_is_respected(byte_level, vocab_size):
    tok = train_bpe_tokenizer(CORPUS * 5, vocab_size=vocab_size, byte_level=byte_level)
    assert len(tok) == vocab_size
    assert len(bpe_merges(tok)) > 0


def test_byte_level_bpe_never_needs_unk():
    tok = train_bpe_tokenizer(EN, vocab_size=270)
    unseen = "Ωμέγα 🙂 naïve\n日本語"
    assert find_unknown(tok, unseen) == []
    assert tok.decode(encode_strict(tok, unseen)) == unseen


def test_character_bpe_uses_unk_for_unseen_characters():
    tok = train_bpe_tokenizer(EN, vocab_size=80, byte_level=False)
    assert find_unknown(tok, "The Ω") == ["Ω"]
    with pytest.raises(ValueError, match="byte_level=True"):
        encode_strict(tok, "The Ω")


def test_bpe_trains_from_an_iterator_of_lines():
    lines = [line + "\n" for line in EN.split("\n")]
    tok = train_bpe_tokenizer(iter(lines), vocab_size=280)
    assert tok.decode(tok.encode(EN + "\n")) == EN + "\n"
    assert tok.get_vocab() == train_bpe_tokenizer(list(lines), vocab_size=280).get_vocab()


def test_bpe_learns_frequent_words_as_single_tokens():
    tok = train_bpe_tokenizer("the cat and the hat and the bat\n" * 50, vocab_size=300)
    assert tok.tokenize(" the") == ["Ġthe"]
    assert len(tok.encode("the cat and the hat")) < len("the cat and the hat")


@pytest.mark.parametrize("byte_level", [False, True])
def test_merges_by_hand_match_the_tokenizers_library(byte_level):
    text = CORPUS * 2
    base = 263 if byte_level else 7 + len(set(text))
    tok = train_bpe_tokenizer(text, vocab_size=base + 60, byte_level=byte_level)
    library = bpe_merges(tok)
    assert len(library) >= 60
    assert bpe_merges_by_hand(text, len(library), byte_level=byte_level) == library


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(alphabet="aab c\n今", min_size=1, max_size=60),
    merges=st.integers(1, 20),
    byte_level=st.booleans(),
)
def test_merges_by_hand_match_the_library_on_random_text(text, merges, byte_level):
    base = 263 if byte_level else 7 + len(set(text))
    library = bpe_merges(train_bpe_tokenizer(text, base + merges, byte_level=byte_level))
    assert bpe_merges_by_hand(text, len(library), byte_level=byte_level) == library


def test_merges_by_hand_stop_when_nothing_is_left_to_merge():
    assert bpe_merges_by_hand("ab", 10) == [("a", "b")]


# ---------------------------------------------------------------- save and load


@pytest.mark.parametrize("name", BUILDERS)
def test_save_and_load_give_identical_ids(trained, name, tmp_path):
    tok = trained[name]
    directory = save_tokenizer(tok, tmp_path / "nested" / name)
    assert (directory / "tokenizer.json").is_file()
    loaded = load_tokenizer(directory)
    plain = PreTrainedTokenizerFast.from_pretrained(str(directory))
    for other in (loaded, plain):
        assert other.encode(MIXED) == tok.encode(MIXED)
        assert other.decode(tok.encode(MIXED)) == tok.decode(tok.encode(MIXED))
        assert other.mask_token_id == 4 and other.pad_token_id == 0
        assert tokenizer_kind(other) == KINDS[name]
    assert json.loads(loaded.backend_tokenizer.to_str()) == json.loads(
        tok.backend_tokenizer.to_str()
    )


def test_load_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_tokenizer"):
        load_tokenizer(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "empty")


def test_save_into_a_file_path_is_a_clear_error(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="directory"):
        save_tokenizer(train_char_tokenizer("ab"), target)


def test_works_in_a_transformers_pipeline():
    from transformers import GPT2Config, GPT2LMHeadModel, pipeline

    tok = train_char_tokenizer("hello world\n")
    config = GPT2Config(
        vocab_size=len(tok),
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_positions=32,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    generate = pipeline(
        "text-generation", model=GPT2LMHeadModel(config), tokenizer=tok, device="cpu"
    )
    out = generate("hello", max_new_tokens=4, do_sample=False)[0]["generated_text"]
    # An untrained model may pick a special token (dropped from the text), so at most 4 more.
    assert out.startswith("hello") and len(out) <= len("hello") + 4
    assert set(out) <= set("hello world\n")


# ---------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        train_char_tokenizer("")
    with pytest.raises(TypeError, match="str"):
        train_word_tokenizer(["a list"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='"en" or "zh"'):
        train_word_tokenizer("text", lang="fr")
    with pytest.raises(ValueError, match="min_freq"):
        train_word_tokenizer("text", min_freq=0)
    with pytest.raises(ValueError, match="263"):
        train_bpe_tokenizer("text", vocab_size=100)
    with pytest.raises(ValueError, match="distinct characters"):
        train_bpe_tokenizer("abcdefghij", vocab_size=10, byte_level=False)
    with pytest.raises(ValueError, match="lexicon"):
        segment_chinese("今天", lexicon=["今 天"])
    with pytest.raises(TypeError, match="list of words"):
        segment_chinese("今天", lexicon="今天")
    with pytest.raises(ValueError, match='lang="zh"'):
        train_word_tokenizer("text", lexicon=["text"])
    with pytest.raises(TypeError, match="PreTrainedTokenizerFast"):
        save_tokenizer("not a tokenizer", "somewhere")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not BPE"):
        bpe_merges(train_char_tokenizer("ab"))
