"""Word tokenisers: English words, Chinese words by maximum matching, many task texts at
once, and a BERT-style word tokeniser with ``[CLS] ... [SEP]``.

Taught in chapter 1 (words and Chinese segmentation); ``train_bert_tokenizer`` in chapter 5,
``task_tokenizer`` in chapter 8.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from labkit._util import check_positive_int
from labkit.tokenizers.base import (
    EN_WORD_PATTERN,
    SPECIAL_TOKENS,
    _check_text,
    _split,
    _word_level,
    _wrap,
)

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
# Words of many task texts at once (chapter 8), and the chat template
# --------------------------------------------------------------------------------------------


# A word keeps the space before it (GPT-2 style), so does a punctuation mark; other Chinese
# than the lexicon's words is one character each; runs of whitespace stay whole.
_TASK_PATTERN = r" ?[^\W\p{Han}]+|\p{Han}| ?[^\w\s]|\s+"


def task_tokenizer(
    texts: Iterable[str], lexicon: Iterable[str] | None = None
) -> PreTrainedTokenizerFast:
    """A word tokeniser for many short texts at once, English and Chinese.

    English words carry the space before them, as in GPT-2 (``"Tom had"`` → ``"Tom"``,
    ``" had"``), so sequences are half as long as with separate space tokens; Chinese is cut
    into the words of ``lexicon`` by maximum matching (default ``DEFAULT_ZH_LEXICON``; other
    Chinese text: one character each); each punctuation mark is a token. The vocabulary is
    every piece of ``texts``, most frequent first, after the seven special tokens; unseen
    pieces become ``[UNK]``. ``tok.decode(tok.encode(s)) == s`` for text made of known pieces.

    Taught in chapter 8 (one tokeniser for each task's texts).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of texts, e.g. [text]")
    words = sorted(set(_check_lexicon(lexicon)), key=lambda w: (-len(w), w))  # longest first
    pattern = "|".join([re.escape(w) for w in words] + [_TASK_PATTERN])
    split = _split(pattern)
    pieces: Counter[str] = Counter()
    for text in texts:
        pieces.update(piece for piece, _ in split.pre_tokenize_str(text))
    if not pieces:
        raise ValueError("texts is empty: give the sentences the tokenizer must cover")
    return _word_level(sorted(pieces, key=lambda p: (-pieces[p], p)), pattern)


# --------------------------------------------------------------------------------------------
# A BERT-style word tokenizer (chapter 5)
# --------------------------------------------------------------------------------------------


def train_bert_tokenizer(texts: Iterable[str], min_freq: int = 1) -> PreTrainedTokenizerFast:
    """A BERT-style word tokenizer trained on ``texts``.

    Words are runs of letters/digits, every punctuation mark is its own token, spaces are
    dropped (BERT's basic tokenizer does the same), and ``tok(text)`` gives
    ``[CLS] w1 w2 ... [SEP]`` like BERT's. The seven labkit special tokens keep their ids
    (``[PAD]`` = 0 ... ``[SEP]`` = 6). Works with ``transformers``' padding, truncation,
    ``DataCollatorWithPadding`` and ``is_split_into_words=True``. Unlike
    :func:`train_word_tokenizer` it keeps no space tokens, so decoding puts spaces between the
    tokens. Taught in chapter 5.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings (documents), not one str")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("give a non-empty list of strings to train the tokenizer on")
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )
    trainer = trainers.WordLevelTrainer(
        min_frequency=check_positive_int(min_freq, "min_freq"),
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return _wrap(backend)
