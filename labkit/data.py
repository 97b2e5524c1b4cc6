"""Data for the course, all offline: generated corpora, your own text files, blocks and batches,
checksummed downloads, and cleaning / de-duplication.

* ``generate_corpus("en" | "zh")`` — stories and dialogues from a small probabilistic grammar,
  with the **exact entropy per character** of the process that made them (the floor that no
  model's loss can beat). Taught in chapters 1 and 4.
* ``load_text``, ``train_val_split``, ``pack_blocks``, ``get_batch`` — from a text file to
  training batches. Taught in chapter 4.
* ``download`` — optional public corpora (Tiny Shakespeare), verified by SHA-256 and cached.
* ``clean_text``, ``is_junk``, ``find_boilerplate``, ``dedup_exact``, ``dedup_near`` and
  ``messy_corpus`` — data preparation before pretraining. Taught in chapter 4.
* ``generate_labelled`` — labelled sentences (sentiment, topic, named entities) for
  fine-tuning. Taught in chapter 5.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import html
import math
import os
import random
import re
import tempfile
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

# =========================================================================== grammars
#
# A grammar maps a symbol like "<toy>" to its alternatives. Each alternative is a template:
# literal text with symbols in angle brackets, e.g. "<name> had a <toy>. ". A list gives
# equally likely alternatives; a dict gives weights. Writing the grammar in templates keeps
# it small and readable; the functions below turn it into probabilities.

RawGrammar = dict[str, "list[str] | dict[str, float]"]

_SYMBOL = re.compile(r"(<[^<>\s]+>)")


def _is_symbol(piece: str) -> bool:
    return piece.startswith("<") and piece.endswith(">") and _SYMBOL.fullmatch(piece) is not None


def _english_grammar() -> RawGrammar:
    """English "simple stories": a child, a thing, friends, places, feelings, the weather."""
    heroes = {"Tom": "he", "Anna": "she", "Ben": "he", "Lily": "she", "Max": "he", "Mia": "she",
              "Sam": "he", "Zoe": "she", "Leo": "he", "Emma": "she", "Jack": "he", "Rosa": "she",
              "Finn": "he", "Ivy": "she", "Noah": "he", "Ella": "she", "Owen": "he", "Ruby": "she",
              "Luke": "he", "Nora": "she", "Adam": "he", "Lucy": "she", "Eli": "he", "Amy": "she"}
    pronouns = {"he": {"he": "he", "He": "He", "kid": "boy"},
                "she": {"he": "she", "He": "She", "kid": "girl"}}
    g: RawGrammar = {
        "<story>": [f"<story_{h}>" for h in heroes],
        # The hero's friends: other names, so "Tom ... gave it to Kim" never names Tom twice.
        "<friend>": ["Kim", "Ali", "Bo", "Dan", "Eva", "Gus", "Hana", "Ian", "Jon", "Kai", "Lea",
                     "Ned", "Ola", "Pat", "Raj", "Sia", "Ted", "Uma", "Val", "Wes", "Yara",
                     "Zack", "Cal", "Dot", "Fay", "Gil", "Hal", "Ira", "Joy", "Kit", "Liv", "Mae",
                     "Nia", "Pia", "Rex", "Tia"],
        # An optional size, an optional colour, then the thing itself.
        "<thing>": ["<size> <color> <toy>", "<color> <toy>", "<size> <toy>", "<toy>"],
        "<size>": ["big", "small", "tiny", "huge", "long", "short", "new", "soft", "shiny",
                   "funny"],
        "<color>": ["red", "blue", "green", "pink", "gray", "gold", "black", "white", "brown",
                    "purple", "yellow", "silver", "dark", "striped"],
        "<toy>": ["ball", "kite", "doll", "car", "book", "boat", "drum", "hat", "train", "robot",
                  "puzzle", "cup", "bell", "sock", "coin", "map", "key", "shell", "spoon",
                  "plane", "sled", "flute", "bike", "lamp", "rope", "cap", "fan", "jar", "pen",
                  "bag", "bowl", "card", "clock", "comb", "horn", "mask", "net", "tent",
                  "whistle", "kettle", "basket", "scarf", "stone", "wagon", "shoe", "puppet"],
        "<place>": ["park", "garden", "forest", "beach", "school", "kitchen", "river", "farm",
                    "zoo", "yard", "lake", "hill", "shop", "barn", "pond", "city", "market",
                    "library", "cave", "field", "bakery", "harbor", "meadow", "castle"],
        "<where>": {"": 3, " in the <place>": 2, " near the <place>": 1, " by the <place>": 1,
                    " under the <spot>": 1, " on the <spot>": 1},
        "<spot>": ["bed", "table", "chair", "sofa", "tree", "bench", "rug", "stairs", "roof",
                   "bridge"],
        "<when>": {"": 4, " at <hour>": 1, " at noon": 1, " at night": 1, " in the morning": 1,
                   " after lunch": 1, " for <number> days": 1},
        "<hour>": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"],
        "<feeling>": ["happy", "sad", "tired", "hungry", "scared", "excited", "proud", "angry",
                      "sleepy", "bored", "glad", "calm", "shy", "busy"],
        "<animal>": ["dog", "cat", "bird", "frog", "duck", "cow", "pig", "goat", "hen", "owl",
                     "bee", "ant", "horse", "rabbit", "lamb", "crab", "bear", "seal", "snail",
                     "mole"],
        "<animal_did>": ["barked", "sat down", "ran away", "came back", "fell asleep", "jumped",
                         "looked at them", "sang", "hid", "ate a bug", "swam", "got lost"],
        "<food>": ["cake", "soup", "bread", "rice", "pie", "apples", "cookies", "eggs", "jam",
                   "pasta", "grapes", "corn", "plums", "nuts", "fish", "beans"],
        "<weather>": ["sunny", "rainy", "windy", "cold", "warm", "snowy", "foggy", "hot"],
        "<together>": ["played", "ran", "sang", "danced", "laughed", "sat", "ate", "read",
                       "swam", "hid", "talked", "waited"],
        "<verb>": ["saw", "washed", "painted", "dropped", "fixed", "kicked", "threw", "hugged",
                   "opened", "carried", "found", "drew", "sold", "broke", "cleaned", "lost",
                   "bought", "hid", "wanted", "shared"],
        "<number>": [str(k) for k in range(2, 100)],
        "<age>": [str(k) for k in range(3, 13)],
    }
    for hero, gender in heroes.items():
        w = {"H": hero, **pronouns[gender]}
        rules: RawGrammar = {
            "<story_{H}>": ["<intro_{H}><body_{H}>"],
            "<intro_{H}>": [
                "{H} had a <thing>. ",
                "{H} found a <thing> in the <place>. ",
                "One day, <friend> gave {H} a <thing>. ",
                "{H} was <age>. {He} had a <thing>. ",
                "{H} had <number> <toy>s. ",
            ],
            # After each sentence the story goes on (3 in 4) or ends (1 in 4).
            "<body_{H}>": {"<sentence_{H}><body_{H}>": 3, "<ending_{H}>": 1},
            "<sentence_{H}>": {
                "{He} <did><when>. ": 3,
                "Then {he} <did><when>. ": 2,
                "<friend> <verb> the <thing><where><when>. ": 2,
                "{He} and <friend> <together><where><when>. ": 2,
                "<friend> gave {H} <number> <toy>s. ": 1,
                "<friend> was <feeling>. ": 1,
                "{He} felt <feeling>. ": 1,
                '<friend> said, "<said_{H}>" ': 2,
                "The <animal> <animal_did><where>. ": 1,
                "It was <weather>. ": 1,
                "There were <number> <animal>s in the <place>. ": 1,
            },
            "<said_{H}>": [
                "Can I play with your <toy>, {H}?",
                "I like your <toy>!",
                "Let us go to the <place>!",
                "I am <feeling>.",
                "Do you want some <food>?",
                "I have <number> <toy>s.",
                "Hello, {H}!",
            ],
            "<ending_{H}>": [
                "In the end, {he} was <feeling>.\n\n",
                "That night, {he} dreamed of the <place>.\n\n",
                "{He} went home.\n\n",
                "The end.\n\n",
            ],
        }
        g.update(_fill(rules, w))
    g["<did>"] = [
        "gave it to <friend>",
        "showed it to <friend>",
        "<verb> the <thing><where>",
        "played with it<where>",
        "took it to the <place>",
        "hid it under the <spot>",
        "ate <food> with <friend>",
        "went to the <place> with <friend>",
        "ran to the <place>",
        "found <number> coins<where>",
    ]
    # Single labelled sentences for chapter 5 (see generate_labelled): sentiment, topic, NER.
    g.update({
        "<person>": list(heroes),
        "<positive>": ["<person> loved the <thing>.", "<person> liked the <thing> a lot.",
                       "The <thing> was <good>.", "<person> was <glad>.",
                       "<person> did not feel <unhappy>.", "What a <good> <toy>!"],
        "<negative>": ["<person> hated the <thing>.", "<person> did not like the <thing>.",
                       "The <thing> was <bad>.", "<person> was <unhappy>.",
                       "<person> did not feel <glad>.", "What a <bad> <toy>!"],
        "<good>": ["great", "lovely", "nice", "perfect", "wonderful", "beautiful", "fun"],
        "<bad>": ["bad", "broken", "boring", "dirty", "terrible", "horrible", "silly"],
        "<glad>": ["happy", "glad", "calm", "proud", "excited", "cheerful"],
        "<unhappy>": ["sad", "angry", "scared", "bored", "upset", "lonely"],
        "<topic_weather>": ["It was <weather>.", "It was <weather> in the <place>.",
                            "The sky was <sky>.", "It rained<when>.", "The wind blew<when>."],
        "<sky>": ["blue", "gray", "dark", "clear", "cloudy"],
        "<topic_animals>": ["The <animal> <animal_did><where>.",
                            "There were <number> <animal>s in the <place>.",
                            "<person> fed the <animal>.", "<friend> saw a <animal><where>."],
        "<topic_food>": ["<person> ate <food><where>.", "<person> cooked <food> for <friend>.",
                         "Do you want some <food>?", "<friend> baked <food><when>."],
        "<topic_play>": ["<person> played with a <thing>.",
                         "<person> and <friend> <together><where>.",
                         "<person> threw the <toy> to <friend>.", "<friend> won the game."],
        "<ner>": ["<person> went to <city> with <friend>.", "<person> bought a <toy> in <city>.",
                  "In <city>, <person> met <friend>.", "<person> gave <friend> a <toy>.",
                  "<friend> lives in <city>.", "<person> sent a <toy> from <city> to <friend>."],
        "<city>": ["Paris", "London", "Berlin", "Rome", "Tokyo", "Madrid", "Cairo", "Lima",
                   "New York", "Cape Town", "Hong Kong", "San Francisco", "Rio de Janeiro"],
    })
    return g


def _chinese_grammar() -> RawGrammar:
    """Chinese short stories and dialogues; can say "今天天气不错。"."""
    heroes = {"小明": "他", "小红": "她", "小刚": "他", "小丽": "她", "小华": "他", "小芳": "她",
              "大伟": "他", "美美": "她", "阿强": "他", "玲玲": "她", "东东": "他", "兰兰": "她"}
    g: RawGrammar = {
        "<document>": {"<story>": 3, "<dialogue>": 2},
        "<story>": [f"<story_{h}>" for h in heroes],
        "<dialogue>": [f"<dialogue_{a}_{b}>" for a in heroes for b in heroes if a != b],
        # The weather: "今天天气不错。" is one of these sentences.
        "<weather_sentence>": ["<day>天气<weather>。", "<day><weather_event>。"],
        "<day>": ["今天", "明天", "昨天", "早上", "晚上", "中午", "周末"],
        "<weather>": ["不错", "很好", "很冷", "很热", "晴朗", "真好", "不好", "暖和"],
        "<weather_event>": ["下雨了", "下雪了", "刮风了", "出太阳了", "有雾"],
        "<color>": ["红色", "蓝色", "绿色", "黄色", "白色", "黑色", "紫色", "粉色"],
        "<toy>": ["球", "风筝", "娃娃", "小车", "书", "积木", "帽子", "气球", "铅笔", "杯子",
                  "钥匙", "雨伞", "玩具熊", "口琴"],
        "<place>": ["公园", "学校", "河边", "花园", "商店", "海边", "家里", "动物园", "山上",
                    "图书馆", "超市", "操场"],
        "<feeling>": ["高兴", "开心", "难过", "累", "饿", "害怕", "生气", "困", "无聊", "激动"],
        "<food>": ["苹果", "面条", "饺子", "米饭", "蛋糕", "包子", "西瓜", "鸡蛋", "香蕉"],
        "<animal>": ["小狗", "小猫", "小鸟", "小鸭", "兔子", "小鱼", "小马", "青蛙"],
        "<animal_did>": ["跑了", "睡着了", "叫了起来", "回来了", "跳了起来", "不见了", "吃饱了"],
        "<activity>": ["唱歌", "跳舞", "画画", "看书", "放风筝", "踢球", "游泳", "散步"],
        "<count>": ["两", "三", "四", "五", "六", "七", "八", "九", "十"],
        "<greeting>": ["你好", "早上好", "嗨", "晚上好"],
        "<proposal>": ["我们去<place>玩吧。", "我们一起<activity>吧。", "我们去吃<food>吧。",
                       "你想去<place>吗？"],
        "<answer>": ["好啊！", "好的，走吧。", "不行，我要写作业。", "太好了！", "我不想去。"],
        # One more exchange: a remark and a reply that fits it.
        "<like_reply>": ["喜欢。", "不喜欢。", "很喜欢！"],
        "<have_reply>": ["有。", "没有。", "我有两个。"],
        "<agree_reply>": ["是啊。", "真的吗？", "太好了。"],
        "<feel_reply>": ["我也是。", "为什么？", "别担心。"],
    }
    for hero, he in heroes.items():
        w = {"H": hero, "he": he}
        friends = [name for name in heroes if name != hero]
        g.update(_fill({
            "<story_{H}>": {"<weather_sentence><intro_{H}><body_{H}>": 1,
                            "<intro_{H}><body_{H}>": 1},
            "<friend_{H}>": friends,
            "<intro_{H}>": [
                "{H}有一个<color>的<toy>。",
                "{H}在<place>找到了一个<toy>。",
                "<friend_{H}>送给{H}一个<toy>。",
                "{H}有<count>个<toy>。",
            ],
            "<body_{H}>": {"<sentence_{H}><body_{H}>": 3, "<ending_{H}>": 1},
            "<sentence_{H}>": [
                "{he}<did_{H}>。",
                "然后{he}<did_{H}>。",
                "<friend_{H}>很<feeling>。",
                "{he}觉得很<feeling>。",
                "<friend_{H}>说：“<said_{H}>”",
                "<animal><animal_did>。",
                "他们一起去<place><activity>。",
                "<place>有<count>只<animal>。",
            ],
            "<did_{H}>": [
                "把它给了<friend_{H}>",
                "和<friend_{H}>去<place>玩",
                "在<place>吃了<food>",
                "把它丢在<place>了",
                "很喜欢它",
                "去<place>找<friend_{H}>",
                "买了<count>个<food>",
            ],
            "<said_{H}>": [
                "{H}，你的<toy>真好看！",
                "我们去<place>吧！",
                "我也想要一个<toy>。",
                "<weather_sentence>",
            ],
            "<ending_{H}>": [
                "最后，{he}回家了。\n\n",
                "晚上，{he}睡得很好。\n\n",
                "{he}今天很<feeling>。\n\n",
            ],
        }, w))
    for a in heroes:
        for b in heroes:
            if a != b:
                w = {"A": a, "B": b}
                g.update(_fill({
                    "<dialogue_{A}_{B}>": [
                        "{A}：<greeting>，{B}！\n{B}：<greeting>！<weather_sentence>\n"
                        "{A}：<proposal>\n{B}：<answer>\n<more_{A}_{B}>"
                    ],
                    "<more_{A}_{B}>": {"<exchange_{A}_{B}><more_{A}_{B}>": 1, "\n": 1},
                    "<exchange_{A}_{B}>": [
                        "{A}：你喜欢<food>吗？\n{B}：<like_reply>\n",
                        "{A}：你有<toy>吗？\n{B}：<have_reply>\n",
                        "{A}：<weather_sentence>\n{B}：<agree_reply>\n",
                        "{A}：我很<feeling>。\n{B}：<feel_reply>\n",
                    ],
                }, w))
    # Single labelled sentences for chapter 5 (see generate_labelled): sentiment, topic, NER.
    g.update({
        "<person>": list(heroes),
        "<friend>": ["李雷", "韩梅梅", "王芳", "张伟", "刘洋", "陈静", "赵磊", "孙悦"],
        "<positive>": ["<person>很喜欢这个<toy>。", "这个<toy>真<good>。", "<person>很<glad>。",
                       "<person>一点也不<unhappy>。"],
        "<negative>": ["<person>不喜欢这个<toy>。", "这个<toy>真<bad>。", "<person>很<unhappy>。",
                       "<person>一点也不<glad>。"],
        "<good>": ["好看", "好玩", "漂亮", "可爱", "不错"],
        "<bad>": ["难看", "无聊", "脏", "旧", "难用"],
        "<glad>": ["高兴", "开心", "激动", "满意"],
        "<unhappy>": ["难过", "生气", "害怕", "失望"],
        "<topic_weather>": ["<weather_sentence>", "<place>的天气<weather>。"],
        "<topic_animals>": ["<animal><animal_did>。", "<place>有<count>只<animal>。",
                            "<person>喂了<animal>。"],
        "<topic_food>": ["<person>吃了<food>。", "<person>买了<count>个<food>。",
                         "<friend>做了<food>。"],
        "<topic_play>": ["<person>在<place><activity>。", "<person>有一个<color>的<toy>。",
                         "<person>和<friend>一起<activity>。"],
        "<ner>": ["<person>去了<city>。", "<person>和<friend>在<city>见面了。",
                  "<person>在<city>买了一个<toy>。", "<person>送给<friend>一个<toy>。",
                  "<friend>住在<city>。"],
        "<city>": ["北京", "上海", "广州", "深圳", "杭州", "成都", "西安", "南京", "武汉", "香港"],
    })
    return g


def _fill(rules: RawGrammar, words: dict[str, str]) -> RawGrammar:
    """Fill ``{H}``-style placeholders in symbol names and templates (one copy per hero)."""
    out: RawGrammar = {}
    for symbol, options in rules.items():
        if isinstance(options, dict):
            out[symbol.format(**words)] = {t.format(**words): p for t, p in options.items()}
        else:
            out[symbol.format(**words)] = [t.format(**words) for t in options]
    return out


@dataclass(frozen=True)
class Grammar:
    """A probabilistic grammar, compiled: for each symbol, its alternatives and probabilities.

    ``rules[symbol]`` is a list of ``(probability, pieces)`` where ``pieces`` is a tuple of
    literal strings and symbols. Taught in chapter 1.
    """

    rules: dict[str, list[tuple[float, tuple[str, ...]]]]
    start: str
    lang: str = ""

    @functools.cached_property
    def _cumulative(self) -> dict[str, list[float]]:
        cum = {}
        for symbol, options in self.rules.items():
            total, acc = 0.0, []
            for p, _ in options:
                total += p
                acc.append(total)
            cum[symbol] = acc
        return cum


def compile_grammar(raw: RawGrammar, start: str, lang: str = "") -> Grammar:
    """Turn templates (see ``_english_grammar``) into a ``Grammar`` with probabilities.

    Checks that every symbol used is defined. Taught in chapter 1.
    """
    rules: dict[str, list[tuple[float, tuple[str, ...]]]] = {}
    for symbol, options in raw.items():
        if isinstance(options, list) and len(set(options)) != len(options):
            raise ValueError(f"grammar symbol {symbol} lists the same alternative twice")
        weighted = options if isinstance(options, dict) else {t: 1.0 for t in options}
        total = float(sum(weighted.values()))
        rules[symbol] = [
            (w / total, tuple(p for p in _SYMBOL.split(t) if p)) for t, w in weighted.items()
        ]
    for symbol, options in rules.items():
        for _, pieces in options:
            for piece in pieces:
                if _is_symbol(piece) and piece not in rules:
                    raise ValueError(f"grammar symbol {symbol} uses {piece}, which is not defined")
    if start not in rules:
        raise ValueError(f"the start symbol {start} is not defined in the grammar")
    return Grammar(rules=rules, start=start, lang=lang)


@functools.cache
def grammar(lang: str = "en") -> Grammar:
    """The grammar behind ``generate_corpus(lang)``: ``"en"`` (stories) or ``"zh"``.

    Taught in chapter 1.
    """
    if lang == "en":
        return compile_grammar(_english_grammar(), "<story>", "en")
    if lang == "zh":
        return compile_grammar(_chinese_grammar(), "<document>", "zh")
    raise ValueError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")


LANGUAGES = {"en": "English simple stories", "zh": "Chinese short stories and dialogues"}


def sample(g: Grammar, rng: random.Random, symbol: str | None = None) -> tuple[str, float]:
    """Sample one string from ``symbol`` (default: the start symbol).

    Returns ``(text, nll)`` where ``nll`` is the sum of ``-log p`` over every choice made, in
    nats: the negative log-probability of the text under the true process (the grammar is
    unambiguous, so there is exactly one way to make each text). Taught in chapter 1.
    """
    pieces: list[str] = []
    nll = _expand(g, symbol or g.start, rng, pieces, None)
    return "".join(pieces), nll


def _expand(
    g: Grammar,
    symbol: str,
    rng: random.Random,
    out: list[str],
    spans: list[tuple[str, int, int]] | None,
) -> float:
    """Append the expansion of ``symbol`` to ``out``; return the nats of the choices made.

    When ``spans`` is a list, also record ``(symbol, start, end)`` character spans.
    """
    options = g.rules[symbol]
    cumulative = g._cumulative[symbol]
    i = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(options) - 1)
    p, pieces = options[i]
    nll = -math.log(p)
    start = sum(map(len, out)) if spans is not None else 0
    for piece in pieces:
        if _is_symbol(piece):
            nll += _expand(g, piece, rng, out, spans)
        else:
            out.append(piece)
    if spans is not None:
        spans.append((symbol, start, sum(map(len, out))))
    return nll


@dataclass(frozen=True)
class GrammarStats:
    """Exact expectations for one document of a grammar. Taught in chapter 1."""

    entropy_per_doc: float  # E[nats of choices per document]
    chars_per_doc: float  # E[characters per document], separator included
    entropy_per_char: float  # entropy_per_doc / chars_per_doc, in nats

    @property
    def bits_per_char(self) -> float:
        """The same entropy in bits per character."""
        return self.entropy_per_char / math.log(2)


def grammar_stats(g: Grammar, symbol: str | None = None) -> GrammarStats:
    """Compute a grammar's exact entropy per document and per character.

    For each symbol X with alternatives i (probability p_i, pieces r_i):

        H(X) = Σ_i p_i · ( −log p_i + Σ_{Y in r_i} H(Y) )        nats of choices
        L(X) = Σ_i p_i · ( Σ_{literals t in r_i} len(t) + Σ_{Y in r_i} L(Y) )   characters

    Symbols may recur (a story goes on sentence after sentence), so these are linear
    equations ``v = b + M v`` with ``M[X, Y] = Σ_i p_i · (count of Y in r_i)``; we solve
    ``(I − M) v = b``. Documents are independent and each ends with a separator no choice can
    produce inside a document, and the grammar is unambiguous (different choices → different
    text), so H(start) is the entropy of one document's text, and the entropy *rate* of an
    endless stream of documents is H(start) / L(start) nats per character. Taught in chapter 1.
    """
    symbols = list(g.rules)
    index = {s: k for k, s in enumerate(symbols)}
    n = len(symbols)
    m = np.zeros((n, n))
    b_entropy = np.zeros(n)
    b_chars = np.zeros(n)
    for s, options in g.rules.items():
        x = index[s]
        for p, pieces in options:
            if p > 0:
                b_entropy[x] -= p * math.log(p)
            for piece in pieces:
                if _is_symbol(piece):
                    m[x, index[piece]] += p
                else:
                    b_chars[x] += p * len(piece)
    radius = max(abs(np.linalg.eigvals(m))) if n else 0.0
    if radius >= 1 - 1e-9:
        raise ValueError(
            "this grammar's documents have no finite expected length (a symbol recurs too "
            "often); lower the weight of the recursive alternatives"
        )
    solve = np.linalg.solve(np.eye(n) - m, np.stack([b_entropy, b_chars], axis=1))
    x = index[symbol or g.start]
    h, length = float(solve[x, 0]), float(solve[x, 1])
    return GrammarStats(h, length, h / length)


def count_parses(g: Grammar, text: str, symbol: str | None = None) -> int:
    """Count the ways ``symbol`` (default: the start symbol) can produce exactly ``text``.

    1 for every text the grammar makes means no text can be made by two different choice
    sequences — what makes ``grammar_stats`` the entropy of the *text*. Taught in chapter 1.
    """
    memo: dict[tuple[str, int], dict[int, int]] = {}

    def ends(sym: str, pos: int) -> dict[int, int]:
        """Map each end position reachable by parsing ``sym`` from ``pos`` to its parse count."""
        if not _is_symbol(sym):
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


def enumerate_strings(
    g: Grammar, symbol: str, limit: int = 200_000
) -> list[tuple[str, float]]:
    """List every ``(text, probability)`` derivation of a non-recursive ``symbol``.

    Raises ``ValueError`` for a recursive symbol or more than ``limit`` derivations.
    Taught in chapter 1.
    """

    def expand(sym: str, stack: tuple[str, ...]) -> list[tuple[str, float]]:
        if not _is_symbol(sym):
            return [(sym, 1.0)]
        if sym in stack:
            raise ValueError(f"{sym} is recursive: it has infinitely many strings")
        out: list[tuple[str, float]] = []
        for p, pieces in g.rules[sym]:
            partial = [("", p)]
            for piece in pieces:
                partial = [(a + b, q * r) for a, q in partial for b, r in expand(piece, stack + (sym,))]
                if len(partial) > limit:
                    raise ValueError(f"{symbol} has more than {limit} derivations")
            out += partial
            if len(out) > limit:
                raise ValueError(f"{symbol} has more than {limit} derivations")
        return out

    return expand(symbol, ())


# =========================================================================== corpora


@dataclass(repr=False)
class Corpus:
    """A generated corpus: whole documents, each ending with a blank line ("\\n\\n").

    ``entropy_per_char`` is the exact entropy rate of the generating process (nats per
    character): the lowest cross-entropy any model can reach on this kind of text, in the
    long run. ``nll`` is the negative log-likelihood of *this* text under the true process,
    so ``sample_nll_per_char`` is the loss the perfect model gets on it (close to, but not
    exactly, ``entropy_per_char``). Taught in chapters 1 and 4.
    """

    text: str
    documents: list[str]
    lang: str
    seed: int
    entropy_per_char: float
    nll: float

    @property
    def sample_nll_per_char(self) -> float:
        """The true process's loss on this very text, in nats per character."""
        return self.nll / len(self.text)

    @property
    def bits_per_char(self) -> float:
        """``entropy_per_char`` in bits."""
        return self.entropy_per_char / math.log(2)

    def __len__(self) -> int:
        return len(self.text)

    def __repr__(self) -> str:
        return (
            f"Corpus(lang={self.lang!r}, seed={self.seed}, {len(self.text):,} characters, "
            f"{len(self.documents):,} documents, entropy {self.entropy_per_char:.4f} nats/char)"
        )


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")


def generate_corpus(lang: str = "en", n_chars: int = 100_000, seed: int = 0) -> Corpus:
    """Generate whole documents until the text has at least ``n_chars`` characters.

    ``lang="en"``: simple English stories ("Tom had a red ball. He gave it to Kim. ...").
    ``lang="zh"``: Chinese short stories and dialogues ("今天天气不错。...").
    Deterministic for a given ``seed``. Slice ``corpus.text[:n]`` for an exact length.

    ``corpus.entropy_per_char`` is exact: E[nats of choices per document] / E[characters per
    document] (see ``grammar_stats``). A model that sees only a short context (a block of
    64 characters, say) may not know which hero a "she" refers to, so its own floor is a
    little higher.

    >>> generate_corpus("en", 1_000, seed=0).entropy_per_char  # doctest: +ELLIPSIS
    0.40...

    Taught in chapters 1 and 4.
    """
    _check_lang(lang)
    if isinstance(n_chars, bool) or not isinstance(n_chars, int) or n_chars < 1:
        raise ValueError(f"n_chars must be a positive int, got {n_chars!r}")
    g = grammar(lang)
    rng = random.Random(seed)
    documents: list[str] = []
    total_chars, total_nll = 0, 0.0
    while total_chars < n_chars:
        doc, nll = sample(g, rng)
        documents.append(doc)
        total_chars += len(doc)
        total_nll += nll
    return Corpus(
        text="".join(documents),
        documents=documents,
        lang=lang,
        seed=seed,
        entropy_per_char=corpus_entropy(lang),
        nll=total_nll,
    )


@functools.cache
def corpus_entropy(lang: str = "en") -> float:
    """The exact entropy of ``generate_corpus(lang)`` text, in nats per character.

    See ``grammar_stats`` for the formula. Taught in chapters 1 and 4.
    """
    _check_lang(lang)
    return grammar_stats(grammar(lang)).entropy_per_char


# Labelled tasks for chapter 5: task -> {label name: grammar symbol}, and entity types for NER.
LABELLED_TASKS: dict[str, dict[str, str]] = {
    "sentiment": {"negative": "<negative>", "positive": "<positive>"},
    "topic": {
        "weather": "<topic_weather>",
        "animals": "<topic_animals>",
        "food": "<topic_food>",
        "play": "<topic_play>",
    },
    "ner": {},
}
ENTITY_TYPES: dict[str, str] = {
    "<person>": "PERSON",
    "<friend>": "PERSON",
    "<city>": "PLACE",
    "<toy>": "OBJECT",
}
_TOKEN = re.compile(r"\w+|[^\w\s]")


def label_names(task: str) -> list[str]:
    """The label names of a task, in label-id order. For ``"ner"``: BIO tags.

    Taught in chapter 5.
    """
    if task not in LABELLED_TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(LABELLED_TASKS)}")
    if task == "ner":
        types = sorted(set(ENTITY_TYPES.values()))
        return ["O"] + [f"{bio}-{t}" for t in types for bio in ("B", "I")]
    return list(LABELLED_TASKS[task])


def generate_labelled(
    lang: str = "en", n: int = 1000, seed: int = 0, task: str = "sentiment"
) -> list[dict[str, Any]]:
    """Generate ``n`` labelled sentences for fine-tuning (chapter 5).

    * ``task="sentiment"`` or ``"topic"``: dicts ``{"text", "label", "label_name"}``; the
      labels are drawn uniformly; ``label`` indexes ``label_names(task)``.
    * ``task="ner"``: dicts ``{"tokens", "tags", "labels"}`` with one BIO tag per token
      (words and punctuation for English, characters for Chinese), entity types PERSON,
      PLACE and OBJECT; ``labels`` index ``label_names("ner")``.

    Sentences come from a small grammar, so the same sentence can occur more than once.
    Deterministic for a seed. Taught in chapter 5.
    """
    _check_lang(lang)
    names = label_names(task)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    g = grammar(lang)
    rng = random.Random(seed)
    examples: list[dict[str, Any]] = []
    for _ in range(n):
        if task != "ner":
            label = rng.randrange(len(names))
            text, _ = sample(g, rng, LABELLED_TASKS[task][names[label]])
            examples.append({"text": text, "label": label, "label_name": names[label]})
            continue
        out: list[str] = []
        spans: list[tuple[str, int, int]] = []
        _expand(g, "<ner>", rng, out, spans)
        text = "".join(out)
        if lang == "zh":
            tokens = [(ch, i, i + 1) for i, ch in enumerate(text)]
        else:
            tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        entities = [(ENTITY_TYPES[s], a, b) for s, a, b in spans if s in ENTITY_TYPES]
        tags = []
        for _, start, end in tokens:
            tag = "O"
            for kind, a, b in entities:
                if a <= start and end <= b:
                    tag = ("B-" if start == a else "I-") + kind
            tags.append(tag)
        examples.append({
            "tokens": [t for t, _, _ in tokens],
            "tags": tags,
            "labels": [names.index(t) for t in tags],
        })
    return examples


# =========================================================================== your own text


def load_text(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file, with clear errors for the usual problems.

    * missing file → ``FileNotFoundError`` naming the full path;
    * not UTF-8 → ``ValueError`` naming the byte offset (and line) of the first bad byte;
    * empty or only whitespace → ``ValueError``.

    A leading byte-order mark is dropped. Taught in chapter 4.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"no such file: {path.resolve()} (current folder: {Path.cwd()}); check the name "
            "and the folder"
        )
    if path.is_dir():
        raise IsADirectoryError(f"{path.resolve()} is a folder; give the path of a text file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path} is not valid UTF-8: byte offset {exc.start} (line {line}) has the byte "
            f"0x{data[exc.start]:02x}. The file was probably saved in another encoding "
            "(e.g. Latin-1, Windows-1252 or GBK); re-save it as UTF-8 in your editor, or "
            "convert it, e.g. `iconv -f GBK -t UTF-8 old.txt > new.txt`."
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        what = "empty" if not text else "only whitespace"
        raise ValueError(f"{path} is {what}: there is no text to train on; put some text in it")
    return text


def train_val_split(data: Any, val_fraction: float = 0.1) -> tuple[Any, Any]:
    """Split text (or token ids) into ``(train, val)``: the first part and the last part.

    A contiguous split, not a shuffle: shuffled overlapping pieces would leak training text
    into validation. Works on ``str``, lists, NumPy arrays and tensors. Taught in chapter 4.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (e.g. 0.1), got {val_fraction}")
    n = len(data)
    n_val = max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise ValueError(f"cannot split {n} item(s) into train and validation; use more data")
    return data[: n - n_val], data[n - n_val :]


def _as_ids(ids: Any, name: str = "ids") -> torch.Tensor:
    tensor = torch.as_tensor(ids)
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {tensor.dtype}")
    if tensor.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one long sequence of ids), got shape {tuple(tensor.shape)}")
    return tensor.long()


def pack_blocks(ids: Any, block_size: int) -> torch.Tensor:
    """Cut one long sequence of token ids into rows of ``block_size + 1`` ids.

    Row ``i`` is ``ids[i*block_size : i*block_size + block_size + 1]``: inputs are
    ``rows[:, :-1]``, targets (shifted by one) ``rows[:, 1:]``; consecutive rows share one id
    so that every id after the first is a target exactly once. A short tail is dropped.
    Returns a ``LongTensor`` of shape ``(N, block_size + 1)``. Taught in chapter 4.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    tensor = _as_ids(ids)
    if len(tensor) < block_size + 1:
        raise ValueError(
            f"the data has {len(tensor)} tokens, but one block needs block_size + 1 = "
            f"{block_size + 1} (inputs plus targets shifted by one); use a smaller block_size "
            "or more text"
        )
    return tensor.unfold(0, block_size + 1, block_size).contiguous()


@functools.lru_cache(maxsize=32)
def _offsets(length: int) -> torch.Tensor:
    return torch.arange(length)


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample a random batch ``(x, y)`` of shape ``(batch_size, block_size)`` from 1-D ids.

    Each row starts at a random position ``i``: ``x = data[i : i+block_size]`` and
    ``y = data[i+1 : i+block_size+1]`` (the next token at every position). Vectorised:
    one index tensor ``starts[:, None] + arange(block_size + 1)``, no Python loop.
    Pass a seeded ``torch.Generator`` for repeatable batches. Taught in chapter 4.
    """
    data = _as_ids(data, "data")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(data) < block_size + 1:
        raise ValueError(
            f"the data has {len(data)} tokens, but a block_size of {block_size} needs at least "
            f"{block_size + 1} (inputs plus targets shifted by one); use a smaller block_size "
            "or more text"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    index = starts[:, None] + _offsets(block_size + 1)
    chunk = data[index.to(data.device)]
    x, y = chunk[:, :-1], chunk[:, 1:]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


# =========================================================================== downloads

# name -> (url, sha256, file name). The SHA-256 of Tiny Shakespeare (1,115,394 bytes) is the
# published hash of that file (as given in the course brief; widely quoted).
DATASETS: dict[str, tuple[str, str, str]] = {
    "tinyshakespeare": (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "tinyshakespeare.txt",
    ),
}


class DownloadError(ConnectionError):
    """A download failed (offline, time-out, HTTP error); the message says where to put the
    file by hand."""


class ChecksumError(ValueError):
    """A downloaded file does not have the expected SHA-256."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, as 64 hex digits. Taught in chapter 4."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> Path:
    """Fetch a public corpus once, check its SHA-256, and return its path in the cache.

    ``name`` is a key of ``DATASETS`` (e.g. ``"tinyshakespeare"``); ``url`` / ``sha256``
    override the registry, or describe a file that is not in it. The cache is
    ``home_dir()/"data"`` unless ``cache_dir`` is given. A cached file with the right hash
    is returned without touching the network. Otherwise the file is downloaded (time-out
    ``timeout`` seconds per network operation) to a temporary file, verified, then renamed
    into place, so a broken download never looks like a good one.

    Errors: ``ValueError`` for an unknown name; ``DownloadError`` when offline (it names the
    URL and the exact path where you can place the file by hand); ``ChecksumError`` when the
    bytes are not the expected ones. Taught in chapter 4.
    """
    from tqdm.auto import tqdm

    from labkit.env import home_dir

    if name in DATASETS:
        known_url, known_sha, filename = DATASETS[name]
    elif url and sha256:
        known_url, known_sha, filename = url, sha256, name
    else:
        raise ValueError(
            f"unknown dataset {name!r}; known names: {', '.join(sorted(DATASETS))} "
            "(or pass url=... and sha256=... for another file)"
        )
    url, expected = url or known_url, (sha256 or known_sha).lower()
    folder = Path(cache_dir).expanduser() if cache_dir is not None else home_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename

    stale = ""
    if path.exists():
        actual = sha256_file(path)
        if actual == expected:
            return path
        stale = (
            f" The file already at {path} has SHA-256 {actual}, not the expected {expected}: "
            "replace it with a correct copy or delete it."
        )
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=filename, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except (OSError, ValueError) as exc:  # URLError, HTTPError, time-outs, refused, bad URL
        tmp.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"could not download {name!r} from {url} ({reason}). If you are offline, fetch that "
            f"URL on another machine or in a browser and place the file at {path} — labkit "
            f"checks its SHA-256 ({expected}) and then uses it without the network.{stale}"
        ) from exc
    actual = digest.hexdigest()
    if actual != expected:
        tmp.unlink(missing_ok=True)
        raise ChecksumError(
            f"the file downloaded from {url} has SHA-256 {actual}, but {expected} was expected: "
            f"it is damaged or not the file labkit expects, so nothing was saved to {path}. "
            "Try again later, or place a correct copy there by hand."
        )
    os.replace(tmp, path)
    return path


# =========================================================================== cleaning

_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
_WORDS = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff]+")


def clean_text(doc: str) -> str:
    """Clean one document: drop HTML (tags, scripts, entities) and control characters,
    collapse runs of spaces, strip each line and drop empty lines. Taught in chapter 4.
    """
    text = _SCRIPT.sub(" ", doc)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def is_junk(line: str) -> bool:
    """Heuristic: True for a line that is not prose — HTML only, or mostly symbols/digits.

    A line is junk when, after ``clean_text``, it has fewer than 3 letters or letters make up
    less than 60 % of its non-space characters. Taught in chapter 4.
    """
    text = clean_text(line)
    chars = [ch for ch in text if not ch.isspace()]
    letters = sum(ch.isalpha() for ch in chars)
    return letters < 3 or letters < 0.6 * len(chars)


def normalize(text: str) -> str:
    """Canonical form for comparing documents: cleaned, NFKC, lower-case, single spaces.

    Taught in chapter 4.
    """
    return " ".join(unicodedata.normalize("NFKC", clean_text(text)).lower().split())


def find_boilerplate(docs: Sequence[str], min_fraction: float = 0.05, min_docs: int = 3) -> set[str]:
    """Lines (normalised) that occur in many documents — menus, footers, "Subscribe!".

    A line is boilerplate when it appears in at least ``min_docs`` documents and in at least
    ``min_fraction`` of them. Taught in chapter 4.
    """
    counts: Counter[str] = Counter()
    for doc in docs:
        counts.update({normalize(line) for line in doc.split("\n")} - {""})
    need = max(min_docs, math.ceil(min_fraction * len(docs)))
    return {line for line, count in counts.items() if count >= need}


def clean_documents(docs: Sequence[str], min_fraction: float = 0.05) -> list[str]:
    """Clean a corpus: drop junk lines and boilerplate lines, then ``clean_text`` each document.

    Returns one (possibly empty) string per input document. Taught in chapter 4.
    """
    boilerplate = find_boilerplate(docs, min_fraction)
    cleaned = []
    for doc in docs:
        lines = [
            line for line in doc.split("\n")
            if not is_junk(line) and normalize(line) not in boilerplate
        ]
        cleaned.append(clean_text("\n".join(lines)))
    return cleaned


def find_exact_duplicates(docs: Sequence[str]) -> dict[int, int]:
    """Map the index of each duplicate to the index of the first copy (after ``normalize``).

    Taught in chapter 4.
    """
    first: dict[str, int] = {}
    removed: dict[int, int] = {}
    for i, doc in enumerate(docs):
        key = hashlib.sha1(normalize(doc).encode("utf-8")).hexdigest()
        if key in first:
            removed[i] = first[key]
        else:
            first[key] = i
    return removed


def dedup_exact(docs: Sequence[str]) -> list[str]:
    """Keep the first copy of each document (compared after ``normalize``). Taught in chapter 4."""
    removed = find_exact_duplicates(docs)
    return [doc for i, doc in enumerate(docs) if i not in removed]


def shingles(text: str, n: int = 3) -> set[str]:
    """The set of n-word "shingles" of a text (Chinese: n characters). Taught in chapter 4."""
    words = _WORDS.findall(normalize(text))
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity |a ∩ b| / |a ∪ b| of two sets. Taught in chapter 4."""
    return len(a & b) / len(a | b) if a or b else 1.0


def find_near_duplicates(
    docs: Sequence[str], threshold: float = 0.8, num_perm: int = 128, n: int = 3, seed: int = 1
) -> dict[int, int]:
    """Map the index of each near-duplicate to the index of an earlier document it copies.

    Two documents are near-duplicates when the Jaccard similarity of their word shingles
    (``shingles(doc, n)``) is at least ``threshold``. MinHash (``num_perm`` hash functions)
    estimates that similarity from small signatures, and locality-sensitive hashing
    (``datasketch.MinHashLSH``) finds candidate pairs without comparing every pair. The LSH
    index is built for a lower similarity (0.75 × ``threshold``: built for ``threshold``
    itself it would miss about half of the pairs right at the threshold), and each candidate
    is then checked with the MinHash estimate. The first document of a group is kept.
    Deterministic for a ``seed``. Taught in chapter 4.
    """
    from datasketch import MinHash, MinHashLSH

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    lsh = MinHashLSH(threshold=0.75 * threshold, num_perm=num_perm)
    signatures: dict[int, MinHash] = {}
    removed: dict[int, int] = {}
    for i, doc in enumerate(docs):
        grams = shingles(doc, n)
        if not grams:
            continue
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch([g.encode("utf-8") for g in sorted(grams)])
        matches = sorted(
            int(key) for key in lsh.query(signature)
            if signature.jaccard(signatures[int(key)]) >= threshold
        )
        if matches:
            removed[i] = matches[0]
        else:
            lsh.insert(str(i), signature)
            signatures[i] = signature
    return removed


def dedup_near(
    docs: Sequence[str], threshold: float = 0.8, num_perm: int = 128
) -> list[str]:
    """Drop near-duplicate documents (MinHash + LSH; see ``find_near_duplicates``).

    Taught in chapter 4.
    """
    removed = find_near_duplicates(docs, threshold, num_perm)
    return [doc for i, doc in enumerate(docs) if i not in removed]


# =========================================================================== a messy corpus

BOILERPLATE = [
    "Subscribe to our newsletter!",
    "Click here to read more stories.",
    "Copyright 2024 Story Time Inc. All rights reserved.",
    "Share this story with your friends!",
    "Advertisement",
    "Follow us for a new story every day.",
]
JUNK_LINES = [
    '<div class="ad-banner"></div>',
    "<br/><br/><br/>",
    '<img src="pixel.gif" width="1" height="1">',
    "<script>track('page_view');</script>",
    "&nbsp;&nbsp;&nbsp;",
    "==========",
    "\x00\x07\x1b[0m",
    "0101 1100 0011 1010",
]
_JUNK_SYMBOLS = "#$%&*@!~^+=|{}[];:?/\\"


@dataclass(repr=False)
class MessyCorpus:
    """Raw documents plus a record of every mess injected into them (so cleaning can be
    measured). ``exact_duplicates`` / ``near_duplicates`` map a document's index to the index
    of the earlier document it copies; ``junk_lines`` maps a document's index to the junk
    lines put into it. Taught in chapter 4.
    """

    docs: list[str]
    exact_duplicates: dict[int, int] = field(default_factory=dict)
    near_duplicates: dict[int, int] = field(default_factory=dict)
    boilerplate: list[str] = field(default_factory=list)
    junk_lines: dict[int, list[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"MessyCorpus({len(self.docs)} documents: {len(self.exact_duplicates)} exact and "
            f"{len(self.near_duplicates)} near duplicates, {len(self.junk_lines)} with junk lines)"
        )


def _change_words(text: str, rng: random.Random, k: int) -> str:
    """Replace ``k`` words of ``text`` by other words of the same kind (colour, toy, place...)."""
    raw = _english_grammar()
    pools = [raw[s] for s in ("<color>", "<toy>", "<place>", "<feeling>", "<animal>", "<food>")]
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if any(w.strip(".,!?\"") in p for p in pools)]
    for i in rng.sample(spots, min(k, len(spots))):
        bare = words[i].strip(".,!?\"")
        pool = next(p for p in pools if bare in p)
        words[i] = words[i].replace(bare, rng.choice([w for w in pool if w != bare]))
    return " ".join(words)


def messy_corpus(
    n_docs: int = 200,
    seed: int = 0,
    duplicate_fraction: float = 0.1,
    near_duplicate_fraction: float = 0.1,
) -> MessyCorpus:
    """A web-like corpus for the cleaning lesson: stories with boilerplate lines, junk lines
    (HTML, symbols, control characters), exact duplicates and near-duplicates (one or two
    words changed). Each document is several English stories, one per line.

    Returns a ``MessyCorpus`` that records what was injected. Deterministic for a seed.
    Taught in chapter 4.
    """
    if isinstance(n_docs, bool) or not isinstance(n_docs, int) or n_docs < 1:
        raise ValueError(f"n_docs must be a positive int, got {n_docs!r}")
    rng = random.Random(seed)
    g = grammar("en")
    result = MessyCorpus(docs=[], boilerplate=list(BOILERPLATE))
    originals: list[tuple[int, str]] = []  # (index, story lines before any mess)

    def dress(i: int, body: str) -> str:
        """Add boilerplate and junk lines around/inside a document's story lines."""
        lines = body.split("\n")
        if rng.random() < 0.6:
            lines.insert(0, rng.choice(BOILERPLATE))
        if rng.random() < 0.6:
            lines.append(rng.choice(BOILERPLATE))
        if rng.random() < 0.4:
            junk = rng.choice(JUNK_LINES) if rng.random() < 0.7 else "".join(
                rng.choice(_JUNK_SYMBOLS) for _ in range(rng.randint(5, 20))
            )
            lines.insert(rng.randint(0, len(lines)), junk)
            result.junk_lines[i] = [junk]
        return "\n".join(lines)

    for i in range(n_docs):
        roll = rng.random()
        if originals and roll < duplicate_fraction:
            j, _ = rng.choice(originals)
            result.docs.append(result.docs[j])
            result.exact_duplicates[i] = j
            if j in result.junk_lines:
                result.junk_lines[i] = list(result.junk_lines[j])
        elif originals and roll < duplicate_fraction + near_duplicate_fraction:
            j, body = rng.choice(originals)
            result.docs.append(dress(i, _change_words(body, rng, rng.randint(1, 2))))
            result.near_duplicates[i] = j
        else:
            stories = [sample(g, rng)[0].strip() for _ in range(rng.randint(4, 6))]
            body = "\n".join(stories)
            originals.append((i, body))
            result.docs.append(dress(i, body))
    return result
