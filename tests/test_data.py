"""Tests for labkit.data: generated corpora and their exact entropy, text files, batches,
downloads (local server and pre-filled cache only) and cleaning / de-duplication."""

from __future__ import annotations

import functools
import hashlib
import math
import random
import socket
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from labkit import data
from labkit.data import (
    ChecksumError,
    DownloadError,
    clean_documents,
    clean_text,
    compile_grammar,
    corpus_entropy,
    dedup_exact,
    dedup_near,
    download,
    find_exact_duplicates,
    find_near_duplicates,
    generate_corpus,
    generate_labelled,
    get_batch,
    grammar,
    grammar_stats,
    is_junk,
    label_names,
    load_text,
    messy_corpus,
    pack_blocks,
    sample,
    train_val_split,
)
from labkit.data.pcfg import Grammar, expand, is_symbol
from labkit.env import home_dir

# --------------------------------------------------------------------------- grammar tools
# Brute-force checks that the grammars are unambiguous (one derivation per text), which is what
# makes grammar_stats the entropy of the *text*. They live here because only the tests use them.


def count_parses(g: Grammar, text: str, symbol: str | None = None) -> int:
    """Count the ways ``symbol`` (default: the start symbol) can produce exactly ``text``."""
    memo: dict[tuple[str, int], dict[int, int]] = {}

    def ends(sym: str, pos: int) -> dict[int, int]:
        """Map each end position reachable by parsing ``sym`` from ``pos`` to its parse count."""
        if not is_symbol(sym):
            return {pos + len(sym): 1} if text.startswith(sym, pos) else {}
        key = (sym, pos)
        if key not in memo:
            total: Counter[int] = Counter()
            for _, pieces in g.rules[sym]:
                states: Counter[int] = Counter({pos: 1})
                for piece in pieces:
                    nxt: Counter[int] = Counter()
                    for here, count in states.items():
                        for end, ways in ends(piece, here).items():
                            nxt[end] += count * ways
                    states = nxt
                total.update(states)
            memo[key] = dict(total)
        return memo[key]

    return ends(symbol or g.start, 0).get(len(text), 0)


def enumerate_strings(g: Grammar, symbol: str, limit: int = 200_000) -> list[tuple[str, float]]:
    """List every ``(text, probability)`` derivation of a non-recursive ``symbol``."""

    def derive(sym: str, stack: tuple[str, ...]) -> list[tuple[str, float]]:
        if not is_symbol(sym):
            return [(sym, 1.0)]
        if sym in stack:
            raise ValueError(f"{sym} is recursive: it has infinitely many strings")
        out: list[tuple[str, float]] = []
        for p, pieces in g.rules[sym]:
            partial = [("", p)]
            for piece in pieces:
                partial = [
                    (a + b, q * r) for a, q in partial for b, r in derive(piece, stack + (sym,))
                ]
                if len(partial) > limit:
                    raise ValueError(f"{symbol} has more than {limit} derivations")
            out += partial
            if len(out) > limit:
                raise ValueError(f"{symbol} has more than {limit} derivations")
        return out

    return derive(symbol, ())


def test_grammar_tools_on_a_tiny_grammar() -> None:
    g = compile_grammar({"<s>": ["a<x>", "<x>b"], "<x>": ["b", "a"]}, "<s>")
    texts = sorted(enumerate_strings(g, "<s>"))
    assert texts == [("aa", 0.25), ("ab", 0.25), ("ab", 0.25), ("bb", 0.25)]
    assert count_parses(g, "ab") == 2  # ambiguous: a<x> and <x>b both make "ab"
    assert count_parses(g, "bb") == 1 and count_parses(g, "ba") == 0
    with pytest.raises(ValueError, match="recursive"):
        enumerate_strings(compile_grammar({"<s>": {"a<s>": 0.5, "b": 0.5}}, "<s>"), "<s>")


# --------------------------------------------------------------------------- grammar maths


def test_stats_of_a_recursive_grammar_match_the_formula() -> None:
    # S -> "a" S (prob p) | "b\n" (1 - p): a geometric number of a's, then "b\n".
    p = 0.7
    g = compile_grammar({"<s>": {"a<s>": p, "b\n": 1 - p}}, "<s>")
    stats = grammar_stats(g)
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert stats.entropy_per_doc == pytest.approx(h / (1 - p), rel=1e-12)
    assert stats.chars_per_doc == pytest.approx(p / (1 - p) + 2, rel=1e-12)
    assert stats.bits_per_char == pytest.approx(stats.entropy_per_char / math.log(2))


def test_a_grammar_that_never_stops_is_rejected() -> None:
    g = compile_grammar({"<s>": {"a<s><s>": 0.6, "b": 0.4}}, "<s>")  # mean 1.2 children
    with pytest.raises(ValueError, match="no finite expected length"):
        grammar_stats(g)


def test_undefined_symbol_is_reported() -> None:
    with pytest.raises(ValueError, match="uses <missing>"):
        compile_grammar({"<s>": ["x<missing>"]}, "<s>")


@pytest.mark.parametrize(
    ("lang", "symbol"),
    [
        ("en", "<thing>"),
        ("en", "<said_Tom>"),
        ("en", "<where>"),
        ("en", "<ending_Anna>"),
        ("zh", "<positive>"),
        ("zh", "<weather_sentence>"),
        ("zh", "<intro_小明>"),
        ("zh", "<exchange_小明_小红>"),
        ("zh", "<said_小红>"),
    ],
)
def test_sub_grammars_are_injective_and_their_entropy_is_exact(lang: str, symbol: str) -> None:
    """Enumerate every derivation: all strings differ, and the DP equals the brute force."""
    g = grammar(lang)
    strings = enumerate_strings(g, symbol)
    texts = [text for text, _ in strings]
    assert len(set(texts)) == len(texts), "two different choice sequences gave the same text"
    assert sum(p for _, p in strings) == pytest.approx(1.0)
    stats = grammar_stats(g, symbol)
    assert stats.entropy_per_doc == pytest.approx(-sum(p * math.log(p) for _, p in strings))
    assert stats.chars_per_doc == pytest.approx(sum(p * len(t) for t, p in strings))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sampled_documents_have_exactly_one_derivation(lang: str) -> None:
    g = grammar(lang)
    docs = generate_corpus(lang, 12_000, seed=7).documents
    assert len(docs) >= 60
    for doc in docs:
        assert doc.endswith("\n\n") and "\n\n" not in doc[:-2]
        assert count_parses(g, doc) == 1, doc
    assert count_parses(g, docs[0] + docs[1]) == 0  # one document at a time


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stated_entropy_matches_the_true_log_likelihood_within_one_percent(lang: str) -> None:
    """The true process's own loss on a long sample (sum of -log p of every choice made,
    divided by the characters) matches the exact entropy rate."""
    corpus = generate_corpus(lang, 500_000, seed=0)
    assert corpus.entropy_per_char == corpus_entropy(lang)
    assert corpus.sample_nll_per_char == pytest.approx(corpus.entropy_per_char, rel=0.01)
    # the nll is recomputable document by document from the grammar
    rng = random.Random(0)
    first = [sample(grammar(lang), rng) for _ in range(3)]
    assert [t for t, _ in first] == corpus.documents[:3]


def test_expand_records_the_span_of_every_symbol() -> None:
    g = grammar("en")
    out: list[str] = []
    spans: list[tuple[str, int, int]] = []
    nll = expand(g, "<ner>", random.Random(4), out, spans)
    text = "".join(out)
    assert (text, nll) == sample(g, random.Random(4), "<ner>")
    assert spans[-1] == ("<ner>", 0, len(text))  # the outermost symbol is recorded last
    assert len(spans) > 3
    for symbol, start, end in spans:  # each span is a text that its symbol makes
        assert count_parses(g, text[start:end], symbol) == 1


def test_package_names_are_the_functions_not_the_submodules() -> None:
    # the submodules are labkit.data.pcfg and labkit.data.downloads, so importing them never
    # replaces the functions that `from labkit.data import grammar, download` always gave.
    import labkit.data.downloads
    import labkit.data.pcfg  # noqa: F401

    assert callable(data.grammar) and isinstance(data.grammar("en"), Grammar)
    assert callable(data.download) and data.download.__name__ == "download"
    assert data.sha256_file.__module__ == "labkit._util"


def test_entropy_is_moderate() -> None:
    # low enough for a tiny char model to approach, high enough to be worth modelling
    assert 0.3 < corpus_entropy("en") < 1.3
    assert 0.3 < corpus_entropy("zh") < 1.3


# --------------------------------------------------------------------------- corpora


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_corpus_is_deterministic_and_sized(lang: str) -> None:
    a = generate_corpus(lang, 5_000, seed=1)
    b = generate_corpus(lang, 5_000, seed=1)
    c = generate_corpus(lang, 5_000, seed=2)
    assert a.text == b.text and a.nll == b.nll
    assert a.text != c.text
    assert len(a) >= 5_000 and len(a.text) - len(a.documents[-1]) < 5_000
    assert "".join(a.documents) == a.text
    assert f"{len(a.text):,} characters" in repr(a) and a.text[:20] not in repr(a)


def test_english_corpus_reads_like_simple_stories() -> None:
    text = generate_corpus("en", 20_000, seed=0).text
    assert text.isascii()
    for phrase in (" had a ", " gave ", " was "):
        assert phrase in text


def test_chinese_grammar_says_todays_weather_is_nice() -> None:
    g = grammar("zh")
    assert count_parses(g, "今天天气不错。", "<weather_sentence>") == 1
    text = generate_corpus("zh", 100_000, seed=0).text
    assert "今天天气不错。" in text and "明天天气很好。" in text
    assert "：" in text  # dialogues too


def test_bad_corpus_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown language 'fr'.*\['en', 'zh'\]"):
        generate_corpus("fr")
    with pytest.raises(ValueError, match="positive int"):
        generate_corpus("en", 0)


# --------------------------------------------------------------------------- labelled data


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("task", ["sentiment", "topic"])
def test_labelled_sentences(lang: str, task: str) -> None:
    examples = generate_labelled(lang, 400, seed=0, task=task)
    names = label_names(task)
    assert examples == generate_labelled(lang, 400, seed=0, task=task)
    assert {e["label"] for e in examples} == set(range(len(names)))
    for e in examples:
        assert names[e["label"]] == e["label_name"]
        symbol = data.LABELLED_TASKS[task][e["label_name"]]
        assert count_parses(grammar(lang), e["text"], symbol) >= 1


def test_sentiment_negation_flips_the_label() -> None:
    examples = generate_labelled("en", 600, seed=3, task="sentiment")
    negated = [e for e in examples if " did not " in e["text"]]
    assert {e["label_name"] for e in negated} == {"positive", "negative"}
    for e in negated:
        # "did not like" is negative, "did not feel sad" is positive
        assert (e["label_name"] == "negative") == (
            " did not like " in e["text"]
            or any(
                f" did not feel {w}." in e["text"]
                for w in ("happy", "glad", "calm", "proud", "excited", "cheerful")
            )
        )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ner_tags_align_with_tokens(lang: str) -> None:
    names = label_names("ner")
    assert names[0] == "O" and "B-PERSON" in names and "I-PLACE" in names
    for e in generate_labelled(lang, 200, seed=1, task="ner"):
        assert len(e["tokens"]) == len(e["tags"]) == len(e["labels"])
        assert [names[i] for i in e["labels"]] == e["tags"]
        for prev, tag in zip(["O", *e["tags"]], e["tags"]):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:]  # an I- tag continues an entity
        assert "B-PERSON" in e["tags"]
    example = generate_labelled(lang, 50, seed=2, task="ner")
    if lang == "zh":
        assert all(len(t) == 1 for e in example for t in e["tokens"])
    else:
        city = [e for e in example if "York" in e["tokens"] or "Kong" in e["tokens"]]
        for e in city:
            i = e["tokens"].index("York" if "York" in e["tokens"] else "Kong")
            assert e["tags"][i - 1 : i + 1] == ["B-PLACE", "I-PLACE"]


def test_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown task 'parsing'.*sentiment"):
        generate_labelled("en", 5, task="parsing")


# --------------------------------------------------------------------------- text files


def test_load_text_reads_utf8_and_drops_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeff今天天气不错。\nhello".encode())
    assert load_text(path) == "今天天气不错。\nhello"
    assert load_text(str(path)) == "今天天气不错。\nhello"


def test_load_text_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no such file: .*nope\.txt"):
        load_text(tmp_path / "nope.txt")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_text(tmp_path)


def test_load_text_empty_and_blank_files(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text(" \n\t\n")
    with pytest.raises(ValueError, match=r"empty\.txt is empty: there is no text"):
        load_text(tmp_path / "empty.txt")
    with pytest.raises(ValueError, match="only whitespace"):
        load_text(tmp_path / "blank.txt")


def test_load_text_invalid_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\ncafé".encode("latin-1"))  # é is 0xe9, at byte 14
    with pytest.raises(ValueError) as info:
        load_text(path)
    message = str(info.value)
    assert "latin1.txt is not valid UTF-8" in message
    assert "byte offset 14 (line 2)" in message and "0xe9" in message
    assert "re-save it as UTF-8" in message
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("今天天气不错".encode("gbk"))
    with pytest.raises(ValueError, match="byte offset 0 .*GBK"):
        load_text(gbk)


# --------------------------------------------------------------------------- splits, blocks


def test_train_val_split() -> None:
    train, val = train_val_split("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")
    ids = torch.arange(1000)
    train, val = train_val_split(ids)
    assert len(train) == 900 and len(val) == 100 and val[0] == 900
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_val_split("abc", 1.5)
    with pytest.raises(ValueError, match="cannot split 1 item"):
        train_val_split("a", 0.5)


def test_pack_blocks() -> None:
    blocks = pack_blocks(list(range(10)), 3)
    assert blocks.dtype == torch.long and blocks.shape == (3, 4)
    assert blocks.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    # every id after the first is a target exactly once
    assert torch.equal(blocks[:, 1:].flatten(), torch.arange(1, 10))
    with pytest.raises(ValueError, match=r"has 3 tokens, but one block needs block_size \+ 1 = 4"):
        pack_blocks([1, 2, 3], 3)
    with pytest.raises(TypeError, match="integer token ids"):
        pack_blocks(torch.rand(10), 3)


def test_get_batch_shapes_and_shift() -> None:
    ids = torch.arange(100, 1100)
    x, y = get_batch(ids, block_size=16, batch_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y[:, -1], x[:, -1] + 1)
    # each row is a contiguous slice of the data
    assert torch.equal(x - x[:, :1], torch.arange(16).expand(8, 16))
    assert int(y.max()) <= 1099
    x2, _ = get_batch(ids, 16, 8, generator=torch.Generator().manual_seed(0), device="cpu")
    assert torch.equal(x, x2)


def test_get_batch_uses_every_start_position() -> None:
    ids = torch.arange(10)
    starts = set()
    for seed in range(40):
        x, y = get_batch(ids, 8, 4, generator=torch.Generator().manual_seed(seed))
        starts.update(x[:, 0].tolist())
        assert int(y[:, -1].max()) <= 9
    assert starts == {0, 1}  # 10 tokens hold exactly two windows of 8 + 1


def test_get_batch_too_short() -> None:
    with pytest.raises(ValueError, match=r"has 8 tokens, but a block_size of 8 needs at least 9"):
        get_batch(torch.arange(8), 8, 2)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(torch.zeros(2, 20, dtype=torch.long), 4, 2)


# --------------------------------------------------------------------------- downloads


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path):
    """A local HTTP server on 127.0.0.1 serving the files of a temporary folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/corpus.txt"


PAYLOAD = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50).encode()
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_from_a_local_server(server, tmp_path: Path) -> None:
    root, base = server
    (root / "corpus.txt").write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    path = download(
        "corpus.txt", cache, url=f"{base}/corpus.txt", sha256=PAYLOAD_SHA, progress=False
    )
    assert path == cache / "corpus.txt" and path.read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["corpus.txt"]  # no temporary file left
    (root / "corpus.txt").unlink()  # second call: served from the cache, no request
    assert download("corpus.txt", cache, url=f"{base}/corpus.txt", sha256=PAYLOAD_SHA) == path


def test_cache_hit_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        data.DATASETS, "tinyshakespeare", (_closed_port_url(), PAYLOAD_SHA, "tinyshakespeare.txt")
    )
    cached = home_dir() / "data" / "tinyshakespeare.txt"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(PAYLOAD)
    assert download("tinyshakespeare") == cached


def test_registry_has_tiny_shakespeare() -> None:
    url, sha, filename = data.DATASETS["tinyshakespeare"]
    assert url.startswith("https://") and url.endswith("tinyshakespeare/input.txt")
    assert len(sha) == 64 and int(sha, 16) >= 0 and filename.endswith(".txt")


def test_stale_cache_is_replaced_by_a_verified_download(server, tmp_path: Path) -> None:
    root, base = server
    (root / "corpus.txt").write_bytes(PAYLOAD)
    (tmp_path / "corpus.txt").write_bytes(b"truncated")
    path = download(
        "corpus.txt", tmp_path, url=f"{base}/corpus.txt", sha256=PAYLOAD_SHA, progress=False
    )
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_names_both_hashes_and_saves_nothing(server, tmp_path: Path) -> None:
    root, base = server
    (root / "corpus.txt").write_bytes(PAYLOAD + b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        download("corpus.txt", cache, url=f"{base}/corpus.txt", sha256=PAYLOAD_SHA, progress=False)
    message = str(info.value)
    assert PAYLOAD_SHA in message
    assert hashlib.sha256(PAYLOAD + b"tampered").hexdigest() in message
    assert str(cache / "corpus.txt") in message
    assert list(cache.iterdir()) == []


def test_offline_download_says_where_to_put_the_file(tmp_path: Path) -> None:
    url = _closed_port_url()
    with pytest.raises(DownloadError) as info:
        download("corpus.txt", tmp_path, url=url, sha256=PAYLOAD_SHA, timeout=2, progress=False)
    message = str(info.value)
    assert isinstance(info.value, ConnectionError)
    assert url in message and f"place the file at {tmp_path / 'corpus.txt'}" in message
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_a_download_error(server, tmp_path: Path) -> None:
    _, base = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("x.txt", tmp_path, url=f"{base}/missing.txt", sha256=PAYLOAD_SHA, progress=False)


def test_unknown_dataset_lists_the_known_names() -> None:
    with pytest.raises(
        ValueError, match=r"unknown dataset 'tiny_shakespeare'; known names: tinyshakespeare"
    ):
        download("tiny_shakespeare")


# --------------------------------------------------------------------------- cleaning


def test_clean_text() -> None:
    raw = (
        "<p>Tom &amp; Anna</p>\x00\x07 played\t\t in the   park."
        "<script>var x = '<b>';</script>\n\n\n<br/>Bye"
    )
    assert clean_text(raw) == "Tom & Anna played in the park.\nBye"
    assert clean_text("今天 <b>天气</b>不错。") == "今天 天气 不错。"


def test_is_junk() -> None:
    for line in ['<div class="ad"></div>', "#$%&*@!~^", "&nbsp;&nbsp;", "0101 1100", "\x1b[0m", ""]:
        assert is_junk(line), line
    for line in ["Tom had a red ball.", "今天天气不错。", "Mia had 48 bags."]:
        assert not is_junk(line), line


def test_cleaning_and_dedup_find_what_messy_corpus_injected() -> None:
    messy = messy_corpus(120, seed=0)
    assert messy.exact_duplicates and messy.near_duplicates and messy.junk_lines
    assert messy_corpus(120, seed=0).docs == messy.docs
    assert sum(any(b in doc for b in messy.boilerplate) for doc in messy.docs) > 30

    clean = clean_documents(messy.docs)
    for i, lines in messy.junk_lines.items():
        for junk in lines:
            assert junk not in clean[i]
    assert not any(b.lower() in doc.lower() for doc in clean for b in messy.boilerplate)

    assert find_exact_duplicates(clean) == messy.exact_duplicates
    assert find_near_duplicates(clean) == {**messy.exact_duplicates, **messy.near_duplicates}
    unique = dedup_exact(clean)
    assert len(unique) == len(clean) - len(messy.exact_duplicates)
    assert len(dedup_near(unique)) == len(clean) - len(messy.exact_duplicates) - len(
        messy.near_duplicates
    )


def test_near_dedup_on_chinese_text() -> None:
    docs = generate_corpus("zh", 3_000, seed=5).documents[:20]
    base = "".join(docs)
    variant = base.replace("。", "！", 1)
    found = find_near_duplicates([base, "完全不同的一段话。" * 30, variant])
    assert found == {2: 0}
