"""Tokenisers: characters, words and BPE, all as Hugging Face ``PreTrainedTokenizerFast``.

Taught in chapter 1 (tokenisation: characters vs words vs BPE, and Chinese text).

Every tokeniser here is built from the Hugging Face ``tokenizers`` library (a ``Tokenizer``
with a model, a pre-tokeniser and a decoder) and wrapped in a
``transformers.PreTrainedTokenizerFast``, so it works with ``tok(text)``, ``tok.decode``,
``save_pretrained`` / ``from_pretrained`` and ``transformers.pipeline``.

Shared rules:

* Seven special tokens with fixed ids: ``[PAD]``=0, ``[UNK]``=1, ``[BOS]``=2, ``[EOS]``=3,
  ``[MASK]``=4, ``[CLS]``=5, ``[SEP]``=6 (``tok.pad_token_id`` etc. all work).
* Encoding adds nothing: ``tok.encode(s)`` / ``tok(s)["input_ids"]`` are the text's own
  tokens, with no ``[BOS]``/``[EOS]`` (language-model training wants the raw ids).
* Decoding is exact: ``tok.decode(tok.encode(s)) == s`` for English and Chinese, spaces,
  tabs and newlines included, as long as every piece of ``s`` is in the vocabulary.
* Unknown symbols: the character and word tokenisers map a character (or word) they never
  saw to ``[UNK]``, so decoding cannot give it back. ``find_unknown(tok, s)`` lists such
  pieces and ``encode_strict(tok, s)`` raises a ``ValueError`` naming them and the fix.
  Byte-level BPE (the default BPE) never needs ``[UNK]``: any UTF-8 text is a byte sequence.
* Text is taken as it is: no lower-casing, no Unicode normalisation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

__all__ = [
    "SPECIAL_TOKENS",
    "DEFAULT_ZH_LEXICON",
    "train_char_tokenizer",
    "train_word_tokenizer",
    "train_bpe_tokenizer",
    "segment_chinese",
    "pre_tokenize",
    "bpe_merges",
    "bpe_merges_by_hand",
    "find_unknown",
    "encode_strict",
    "tokenizer_kind",
    "save_tokenizer",
    "load_tokenizer",
]

#: The special tokens, in id order: ``[PAD]`` is 0, ``[UNK]`` is 1, ... ``[SEP]`` is 6.
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")

_SPECIAL_KWARGS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "bos_token": "[BOS]",
    "eos_token": "[EOS]",
    "mask_token": "[MASK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
}

# Pre-tokenisation patterns (Oniguruma regexes run by the `tokenizers` library).
# Every character of the input is matched by exactly one piece, so nothing is lost.
CHAR_PATTERN = r"[\s\S]"  # any single character, newline included
EN_WORD_PATTERN = r"\w+|[^\w\s]|\s"  # a run of letters/digits, one punctuation mark, one space
# GPT-2's split: words keep their leading space (" cat"), spaces before a word stay with it.
BPE_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

#: A small Chinese lexicon for ``segment_chinese`` (forward maximum matching).
DEFAULT_ZH_LEXICON: tuple[str, ...] = tuple(
    """
    今天 明天 昨天 天气 不错 晴天 下雨 下雪 刮风 太阳 月亮 星星 天空 早上 上午 中午 下午 晚上
    每天 现在 以前 以后 时候 有时候 时间 一起 一点 一些 一个 一天 一直 已经 还是 或者 如果
    虽然 但是 可是 因为 所以 然后 就是 不是 没有 还有 非常 真的 特别 很多 许多 所有 大家
    我们 你们 他们 她们 它们 自己 这个 那个 这里 那里 哪里 什么 为什么 怎么 怎么样 多少
    喜欢 知道 觉得 认为 希望 需要 想要 可以 应该 能够 开始 结束 回家 出去 看见 听见 看到
    听到 说话 告诉 回答 问题 答案 帮助 学习 工作 休息 睡觉 吃饭 喝水 跑步 唱歌 跳舞 看书
    读书 写字 玩耍 散步 旅行 朋友 老师 学生 同学 妈妈 爸爸 哥哥 姐姐 弟弟 妹妹 爷爷 奶奶
    孩子 小孩 男孩 女孩 小猫 小狗 小鸟 小鱼 兔子 老虎 熊猫 公园 学校 家里 花园 森林 河边
    山上 城市 商店 医院 图书馆 房子 门口 桌子 椅子 苹果 香蕉 米饭 面包 牛奶 鸡蛋 水果
    蔬菜 东西 地方 故事 生活 世界 中国 北京 上海 中文 英文 汉字 语言 文字 词语 句子 意思
    电脑 手机 模型 人工智能 机器 机器学习 语言模型 高兴 开心 快乐 难过 生气 害怕 累了 漂亮
    可爱 聪明 勇敢 善良 美丽 安静 热闹 重要 简单 容易 困难 最后 第一 你好 谢谢 再见
    对不起 没关系 不客气 欢迎
    """.split()
)


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError(f"{name} is empty: give the tokeniser some training text")
    return text


def _split(pattern: str) -> pre_tokenizers.PreTokenizer:
    """A pre-tokeniser that cuts text into the regex's matches and keeps every character."""
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    """Register the special tokens and wrap a ``tokenizers.Tokenizer`` for ``transformers``."""
    for i, token in enumerate(SPECIAL_TOKENS):
        if backend.token_to_id(token) != i:
            raise AssertionError(f"{token} must have id {i}")  # a bug in this module, not yours
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, clean_up_tokenization_spaces=False, **_SPECIAL_KWARGS
    )


def _word_level(vocab: Iterable[str], pattern: str) -> PreTrainedTokenizerFast:
    """A WordLevel tokeniser: specials first, then ``vocab`` in the given order."""
    ids = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for token in vocab:
        ids.setdefault(token, len(ids))
    backend = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    backend.pre_tokenizer = _split(pattern)
    backend.decoder = decoders.Fuse()  # join the tokens with nothing in between
    return _wrap(backend)


# --------------------------------------------------------------------------------------------
# Character level
# --------------------------------------------------------------------------------------------


def train_char_tokenizer(text: str, extra_chars: str = "") -> PreTrainedTokenizerFast:
    """Build a character tokeniser: one token per character of ``text`` (and ``extra_chars``).

    Spaces, tabs and newlines are characters too. The vocabulary is the special tokens
    followed by the distinct characters sorted by code point, so the same text always gives
    the same ids. A character not in the vocabulary becomes ``[UNK]``; add it with
    ``extra_chars=`` (or use ``encode_strict`` to fail loudly instead).

    Taught in chapter 1.
    """
    _check_text(text)
    if not isinstance(extra_chars, str):
        raise TypeError(
            f"extra_chars must be a str of characters, got {type(extra_chars).__name__}"
        )
    return _word_level(sorted(set(text) | set(extra_chars)), CHAR_PATTERN)


# --------------------------------------------------------------------------------------------
# Word level (English and Chinese)
# --------------------------------------------------------------------------------------------


def _check_lexicon(lexicon: Iterable[str] | None) -> list[str]:
    if isinstance(lexicon, str):
        raise TypeError('lexicon must be a list of words, e.g. ["今天", "天气"], not one str')
    words = list(DEFAULT_ZH_LEXICON if lexicon is None else lexicon)
    for word in words:
        if not isinstance(word, str) or not word or any(ch.isspace() for ch in word):
            raise ValueError(
                f"lexicon entries must be non-empty strings without spaces, got {word!r}"
            )
    return words


def segment_chinese(text: str, lexicon: Iterable[str] | None = None) -> list[str]:
    """Cut Chinese text into words by forward maximum matching.

    From left to right, take the longest lexicon word that starts here; if none does, take
    one character. ``segment_chinese("今天天气不错。")`` gives ``["今天", "天气", "不错", "。"]``.
    ``lexicon`` defaults to ``DEFAULT_ZH_LEXICON``. Simple and fast, but greedy: it can be
    wrong where a longer word swallows the start of the next one.

    Taught in chapter 1.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = set(_check_lexicon(lexicon))
    longest = max((len(w) for w in words), default=1)
    pieces, i = [], 0
    while i < len(text):
        for length in range(min(longest, len(text) - i), 0, -1):
            if length == 1 or text[i : i + length] in words:
                pieces.append(text[i : i + length])
                i += length
                break
    return pieces


def _zh_word_pattern(lexicon: list[str]) -> str:
    # A regex tries alternatives left to right, so listing the lexicon longest-first makes
    # the tokenizers library do exactly the forward maximum matching of `segment_chinese`.
    # Anything else: a run of non-Chinese letters/digits, one Chinese character, one mark.
    words = sorted(set(lexicon), key=lambda w: (-len(w), w))
    return "|".join([re.escape(w) for w in words] + [r"[^\W\p{Han}]+|\p{Han}|[^\w\s]|\s"])


def train_word_tokenizer(
    text: str, lang: str = "en", min_freq: int = 1, lexicon: Iterable[str] | None = None
) -> PreTrainedTokenizerFast:
    """Build a word tokeniser from ``text``.

    ``lang="en"``: a word is a run of letters or digits; every punctuation mark and every
    whitespace character (space, tab, newline) is a token of its own, so decoding just
    joins the tokens and gives the text back exactly (``"Hi  you"`` is ``Hi``, `` ``, `` ``,
    ``you``). ``lang="zh"``: Chinese has no spaces, so words come from ``segment_chinese``
    with ``lexicon`` (default ``DEFAULT_ZH_LEXICON``); non-Chinese runs are cut as in English.

    Words seen fewer than ``min_freq`` times are left out and become ``[UNK]``. The
    vocabulary is ordered by frequency (most frequent first), ties alphabetically.

    Taught in chapter 1.
    """
    _check_text(text)
    if lang == "en":
        if lexicon is not None:
            raise ValueError(
                'a lexicon is only used with lang="zh"; English words are cut at spaces'
            )
        pattern = EN_WORD_PATTERN
    elif lang == "zh":
        pattern = _zh_word_pattern(_check_lexicon(lexicon))
    else:
        raise ValueError(f'lang must be "en" or "zh", got {lang!r}')
    if not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
    counts = Counter(piece for piece, _ in _split(pattern).pre_tokenize_str(text))
    vocab = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return _word_level(vocab, pattern)


# --------------------------------------------------------------------------------------------
# BPE
# --------------------------------------------------------------------------------------------


def _bpe_pre_tokenizer(byte_level: bool) -> pre_tokenizers.PreTokenizer:
    if byte_level:
        # GPT-2's split, then every byte shown as a printable character (space -> "Ġ").
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return _split(BPE_PATTERN)


def train_bpe_tokenizer(
    text_or_iterator: str | Iterable[str],
    vocab_size: int = 512,
    byte_level: bool = True,
    min_freq: int = 0,
) -> PreTrainedTokenizerFast:
    """Train a BPE tokeniser with the ``tokenizers`` library's ``BpeTrainer``.

    Text is first split GPT-2 style (words keep their leading space), then BPE starts from
    single symbols and repeatedly merges the most frequent adjacent pair until the vocabulary
    (special tokens included) has ``vocab_size`` entries (or no pair is left, or the best
    pair occurs fewer than ``min_freq`` times).

    ``byte_level=True`` (default): the symbols are the 256 bytes of UTF-8, so any text can be
    encoded, nothing is ever ``[UNK]``, and ``vocab_size`` must be at least 263 (7 specials
    + 256 bytes). ``byte_level=False``: the symbols are the characters seen in training;
    an unseen character becomes ``[UNK]``.

    ``text_or_iterator`` is one string or an iterable of strings (e.g. documents or lines;
    keep the newlines in them if you want newlines learned). Training is deterministic.

    Taught in chapter 1.
    """
    if isinstance(text_or_iterator, str):
        texts: Iterable[str] = [_check_text(text_or_iterator)]
    elif isinstance(text_or_iterator, Iterable):
        texts = text_or_iterator
    else:
        raise TypeError(f"give a str or an iterable of str, got {type(text_or_iterator).__name__}")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if byte_level and vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ValueError(
            f"vocab_size={vocab_size} is too small for byte-level BPE: it needs 7 special "
            "tokens + 256 bytes = 263 before any merge; ask for more, or use byte_level=False"
        )
    backend = Tokenizer(models.BPE(unk_token=None if byte_level else "[UNK]"))
    backend.pre_tokenizer = _bpe_pre_tokenizer(byte_level)
    backend.decoder = decoders.ByteLevel() if byte_level else decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_freq,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if byte_level else [],
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    if backend.get_vocab_size() > vocab_size:
        raise ValueError(
            f"the text has {backend.get_vocab_size() - len(SPECIAL_TOKENS)} distinct characters, "
            f"more than vocab_size={vocab_size} allows; ask for a larger vocab_size or use "
            "byte_level=True"
        )
    return _wrap(backend)


def pre_tokenize(tok: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Show the pieces ``tok`` cuts ``text`` into before its model runs (words, spaces...).

    For byte-level BPE the pieces are shown in byte-level form (a space is ``"Ġ"``).

    Taught in chapter 1.
    """
    pre = _backend(tok).pre_tokenizer
    if pre is None:
        return [text]
    return [piece for piece, _ in pre.pre_tokenize_str(text)]


def bpe_merges(tok: PreTrainedTokenizerFast) -> list[tuple[str, str]]:
    """Return a BPE tokeniser's merges in the order they were learned.

    Taught in chapter 1.
    """
    model = json.loads(_backend(tok).to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"this is a {model.get('type')} tokeniser, not BPE: it has no merges")
    # Older `tokenizers` versions store a merge as "a b", newer ones as ["a", "b"].
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def _merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every ``a, b`` in ``symbols`` (left to right, no overlaps) by ``a + b``."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def bpe_merges_by_hand(text: str, n_merges: int, byte_level: bool = False) -> list[tuple[str, str]]:
    """Learn ``n_merges`` BPE merges with plain Python: the algorithm, step by step.

    1. Cut the text into words the same way ``train_bpe_tokenizer`` does and count them.
    2. Write every word as a list of single symbols (characters, or bytes if ``byte_level``).
    3. Count every adjacent pair of symbols over all words (weighted by word count), merge
       the most frequent pair everywhere, remember the merge; repeat.

    Ties go to the pair whose symbols entered the vocabulary first (single symbols in code
    point order, then merged ones in the order they were made) — the rule the ``tokenizers``
    library uses, so this gives the same merges as ``train_bpe_tokenizer`` on the same text.

    Taught in chapter 1.
    """
    _check_text(text)
    if not isinstance(n_merges, int) or n_merges < 0:
        raise ValueError(f"n_merges must be an integer >= 0, got {n_merges!r}")
    words = Counter(piece for piece, _ in _bpe_pre_tokenizer(byte_level).pre_tokenize_str(text))
    splits = {word: list(word) for word in words}
    order = {symbol: i for i, symbol in enumerate(sorted({ch for word in words for ch in word}))}
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            symbols = splits[word]
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += count
        if not pairs:
            break  # every word is a single symbol: nothing left to merge
        best = min(pairs, key=lambda p: (-pairs[p], order[p[0]], order[p[1]]))
        merges.append(best)
        order.setdefault(best[0] + best[1], len(order))
        splits = {word: _merge_pair(symbols, best) for word, symbols in splits.items()}
    return merges


# --------------------------------------------------------------------------------------------
# Unknown symbols
# --------------------------------------------------------------------------------------------


def _backend(tok: object) -> Tokenizer:
    if not isinstance(tok, PreTrainedTokenizerFast):
        raise TypeError(
            f"expected a transformers.PreTrainedTokenizerFast (from labkit.tokenizers), "
            f"got {type(tok).__name__}"
        )
    return tok.backend_tokenizer


def find_unknown(tok: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Return the distinct pieces of ``text`` that ``tok`` would turn into ``[UNK]``.

    Taught in chapter 1.
    """
    encoding = _backend(tok).encode(text, add_special_tokens=False)
    unknown = [
        text[start:end]
        for token_id, (start, end) in zip(encoding.ids, encoding.offsets)
        if token_id == tok.unk_token_id and text[start:end] != tok.unk_token
    ]
    return list(dict.fromkeys(unknown))


def encode_strict(tok: PreTrainedTokenizerFast, text: str) -> list[int]:
    """Encode ``text`` like ``tok.encode``, but raise ``ValueError`` instead of using ``[UNK]``.

    The message names the unknown characters (or words) and how to fix it.

    Taught in chapter 1.
    """
    unknown = find_unknown(tok, text)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        kind = tokenizer_kind(tok)
        if kind == "char":
            fix = (
                f"retrain with train_char_tokenizer(text, extra_chars={''.join(unknown)!r}), "
                "or use train_bpe_tokenizer(text) (byte-level BPE never needs [UNK])"
            )
        elif kind == "word":
            fix = (
                "retrain train_word_tokenizer on text that contains them (or with a lower "
                "min_freq), or use train_bpe_tokenizer(text) (byte-level BPE never needs [UNK])"
            )
        else:
            fix = "retrain on text that contains them, or use train_bpe_tokenizer(text, byte_level=True)"
        raise ValueError(
            f"the tokeniser has no token for {shown}; they would become [UNK]. Fix: {fix}"
        )
    return tok.encode(text)


# --------------------------------------------------------------------------------------------
# Kind, save and load
# --------------------------------------------------------------------------------------------


def tokenizer_kind(tok: PreTrainedTokenizerFast) -> str:
    """Say which kind of tokeniser ``tok`` is: ``"char"``, ``"word"``, ``"bpe"``,
    ``"byte_bpe"``, or ``"other"`` (not made by labkit). Read from the tokeniser itself, so it
    also works after ``load_tokenizer``.

    Taught in chapter 1.
    """
    spec = json.loads(_backend(tok).to_str())
    model, pre = spec["model"].get("type"), spec.get("pre_tokenizer") or {}
    if model == "WordLevel" and pre.get("type") == "Split":
        return "char" if pre.get("pattern") == {"Regex": CHAR_PATTERN} else "word"
    if model == "BPE":
        return "byte_bpe" if pre.get("type") == "ByteLevel" else "bpe"
    return "other"


def save_tokenizer(tok: PreTrainedTokenizerFast, directory: str | Path) -> Path:
    """Save ``tok`` into ``directory`` (created if needed) with ``save_pretrained``.

    The directory holds ``tokenizer.json`` and ``tokenizer_config.json``; any
    ``transformers`` code can load it with ``PreTrainedTokenizerFast.from_pretrained``.

    Taught in chapter 1.
    """
    _backend(tok)
    path = Path(directory).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file; give a directory to save the tokeniser in")
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(path))
    return path


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokeniser saved by ``save_tokenizer`` (or any ``save_pretrained`` directory).

    Only reads local files: a missing directory is a ``FileNotFoundError``, never a download.

    Taught in chapter 1.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        hint = " (that is a file: give the directory that holds it)" if path.is_file() else ""
        raise FileNotFoundError(
            f"no tokeniser directory at {path}{hint}; save one first with "
            "save_tokenizer(tok, directory)"
        )
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"{path} has no tokenizer.json; is it the directory you gave save_tokenizer?"
        )
    return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
