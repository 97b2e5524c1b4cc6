"""Chapter 8's generated data sets: translation, summarisation, extractive QA, spoken arithmetic.

Every data set is *generated* from the words of labkit's story grammars
(:func:`labkit.data.grammar`), so it is offline, endless, and its right answers are known.
Each generator is deterministic for a seed, in every process. Taught in chapter 8.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from labkit._util import check_positive_int
from labkit.data import grammar

__all__ = [
    "EN_ZH",
    "NAMES",
    "NUMBER_WORDS",
    "ZH_WORDS",
    "QAExample",
    "code_pairs",
    "english_words",
    "qa_examples",
    "run_program",
    "summarisation_pairs",
    "translation_pairs",
]

# --------------------------------------------------------------------------- word lists

#: English names of the story grammar → (Chinese transliteration, pronoun).
NAMES: dict[str, tuple[str, str]] = {
    "Tom": ("汤姆", "He"), "Anna": ("安娜", "She"), "Ben": ("本", "He"), "Lily": ("莉莉", "She"),
    "Max": ("马克斯", "He"), "Mia": ("米娅", "She"), "Sam": ("山姆", "He"), "Emma": ("艾玛", "She"),
    "Jack": ("杰克", "He"), "Lucy": ("露西", "She"), "Leo": ("利奥", "He"), "Amy": ("艾米", "She"),
}  # fmt: skip

#: A bilingual dictionary, by word class: each English word of labkit's English grammar is
#: paired with a word of the Chinese grammar (``labkit.data.grammar("zh")``).
EN_ZH: dict[str, dict[str, str]] = {
    "<color>": {"red": "红色", "blue": "蓝色", "green": "绿色", "yellow": "黄色", "white": "白色",
                "black": "黑色", "purple": "紫色", "pink": "粉色"},
    "<toy>": {"ball": "球", "kite": "风筝", "doll": "娃娃", "car": "小车", "book": "书",
              "hat": "帽子", "cup": "杯子", "key": "钥匙"},
    "<place>": {"park": "公园", "school": "学校", "garden": "花园", "shop": "商店",
                "beach": "海边", "zoo": "动物园", "library": "图书馆", "river": "河边"},
    "<food>": {"apples": "苹果", "cake": "蛋糕", "eggs": "鸡蛋", "rice": "米饭"},
    "<animal>": {"dog": "小狗", "cat": "小猫", "bird": "小鸟", "duck": "小鸭", "rabbit": "兔子",
                 "horse": "小马", "frog": "青蛙"},
    "<animal_did>": {"ran away": "跑了", "fell asleep": "睡着了", "came back": "回来了",
                     "jumped": "跳了起来", "got lost": "不见了"},
    "<feeling>": {"happy": "高兴", "sad": "难过", "tired": "累", "hungry": "饿", "scared": "害怕",
                  "angry": "生气", "sleepy": "困", "bored": "无聊", "excited": "激动"},
    "<count>": {"2": "两", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八",
                "9": "九"},
}  # fmt: skip

#: The Chinese words of :data:`EN_ZH` and :data:`NAMES`: the lexicon that cuts the Chinese
#: side of the translation pairs into words (``task_tokenizer(texts, lexicon=ZH_WORDS)``).
ZH_WORDS: tuple[str, ...] = tuple(
    sorted(
        {zh for words in EN_ZH.values() for zh in words.values()} | {zh for zh, _ in NAMES.values()}
    )
)

# Translation templates: (English, Chinese) with the same slots. {H}/{F}: two different names.
_TRANSLATION_TEMPLATES: list[tuple[str, str]] = [
    ("{H} had a {color} {toy}.", "{H}有一个{color}的{toy}。"),
    ("{H} went to the {place}.", "{H}去了{place}。"),
    ("{H} ate {food} at the {place}.", "{H}在{place}吃了{food}。"),
    ("{H} and {F} went to the {place}.", "{H}和{F}去了{place}。"),
    ("{H} gave {F} a {toy}.", "{H}送给{F}一个{toy}。"),
    ("{H} was {feeling}.", "{H}很{feeling}。"),
    ("The {animal} {animal_did}.", "{animal}{animal_did}。"),
    ("There were {count} {animal}s in the {place}.", "{place}有{count}只{animal}。"),
]
_SLOT = re.compile(r"\{(\w+)\}")

#: Number words for the spoken arithmetic of :func:`code_pairs`.
NUMBER_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)  # fmt: skip


def english_words(symbol: str) -> list[str]:
    """The alternatives of a one-word symbol of the English grammar (``"<toy>"`` → the toys).

    Taught in chapter 8 (the words every generated data set is made of).
    """
    return ["".join(pieces) for _, pieces in grammar("en").rules[symbol]]


def _two_names(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(list(NAMES), 2)
    return first, second


# --------------------------------------------------------------------------- data sets


def translation_pairs(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (English, Chinese) sentence pairs, e.g. ``("Tom ate apples at the park.",
    "汤姆在公园吃了苹果。")``.

    Eight sentence templates, filled from :data:`EN_ZH` and :data:`NAMES`; the Chinese side
    uses Chinese word order (place before the verb, a measure word before a noun). The same
    pair can occur twice. Deterministic for a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        en, zh = rng.choice(_TRANSLATION_TEMPLATES)
        h, f = _two_names(rng)
        fill_en, fill_zh = {"H": h, "F": f}, {"H": NAMES[h][0], "F": NAMES[f][0]}
        # the slots in order (not a set): the same draws in every process
        for slot in [s for s in dict.fromkeys(_SLOT.findall(en)) if s not in ("H", "F")]:
            word = rng.choice(list(EN_ZH[f"<{slot}>"]))
            fill_en[slot], fill_zh[slot] = word, EN_ZH[f"<{slot}>"][word]
        pairs.append((en.format(**fill_en), zh.format(**fill_zh)))
    return pairs


def summarisation_pairs(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (story, summary) pairs. A story of 3–5 sentences has one event that matters
    (someone takes, gives or loses their toy) among sentences that do not (the weather, an
    animal, a snack); the summary names who did what with which toy, where::

        "Lily had a red kite. It was windy. She took it to the park with Ben. They were happy."
        → "Lily and Ben took the kite to the park."

    Writing it needs more than copying: resolve "She" and "it", skip the colour and the
    small talk. Words come from labkit's English grammar (the toys, colours and places of
    :data:`EN_ZH`). Deterministic for a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    rng = random.Random(seed)
    colors, toys, places = list(EN_ZH["<color>"]), list(EN_ZH["<toy>"]), list(EN_ZH["<place>"])
    weather = english_words("<weather>")
    animals, did = english_words("<animal>"), english_words("<animal_did>")
    foods, feelings = english_words("<food>"), english_words("<feeling>")
    pairs = []
    for _ in range(n):
        h, f = _two_names(rng)
        he = NAMES[h][1]
        toy, place = rng.choice(toys), rng.choice(places)
        kind = rng.randrange(3)
        if kind == 0:
            event = f"{he} took it to the {place} with {f}."
            summary = f"{h} and {f} took the {toy} to the {place}."
        elif kind == 1:
            event, summary = f"{he} gave it to {f} at the {place}.", f"{h} gave the {toy} to {f}."
        else:
            event, summary = f"{he} lost it at the {place}.", f"{h} lost the {toy} at the {place}."
        noise = [
            f"It was {rng.choice(weather)}.",
            f"The {rng.choice(animals)} {rng.choice(did)}.",
            f"{rng.choice([x for x in NAMES if x != h])} ate {rng.choice(foods)}.",
        ]
        rng.shuffle(noise)
        before, after = noise[: rng.randint(0, 1)], noise[2 : 2 + rng.randint(0, 1)]
        ending = rng.choice([f"{he} was {rng.choice(feelings)}.", f"{he} went home.", "The end."])
        story = [f"{h} had a {rng.choice(colors)} {toy}.", *before, event, *after, ending]
        pairs.append((" ".join(story), summary))
    return pairs


@dataclass(frozen=True)
class QAExample:
    """One extractive question-answering example: the answer is ``context[start:end]``.

    Taught in chapter 8.
    """

    context: str
    question: str
    answer: str
    start: int

    @property
    def end(self) -> int:
        """Where the answer ends in ``context`` (exclusive)."""
        return self.start + len(self.answer)


def qa_examples(n: int = 500, seed: int = 0, people: int = 1) -> list[QAExample]:
    """``n`` short passages, each with one question whose answer is a span of the passage
    (SQuAD-style extractive QA)::

        "It was windy. Tom has a red ball. The cat fell asleep. Tom went to the zoo.
         Tom lives in Paris."
        "Where does Tom live?" → "Paris"

    Each person has a city, a toy with a colour, and a place they went to; the question asks
    for one of them ("Where does Tom live?", "What does Tom have?" → "red ball", "Where did
    Tom go?", "What colour is the ball?"). With ``people=1`` the passage is about one person
    plus two sentences that answer nothing (the weather, an animal): the model must match the
    question's *type* to the right sentence. With ``people=2`` there are two people and no
    filler, and the model must also *bind* each fact to the right person -- much harder for a
    tiny model (chapter 8 lets you try). Sentences are shuffled. Words come from labkit's
    English grammar. Deterministic for a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    if people not in (1, 2):
        raise ValueError(f"people must be 1 or 2, got {people!r}")
    rng = random.Random(seed)
    cities = english_words("<city>")
    colors, toys, places = list(EN_ZH["<color>"]), list(EN_ZH["<toy>"]), list(EN_ZH["<place>"])
    weather, animals = english_words("<weather>"), english_words("<animal>")
    did = english_words("<animal_did>")
    examples = []
    for _ in range(n):
        cast = rng.sample(list(NAMES), people)
        facts, sentences = {}, []
        city, color = rng.sample(cities, people), rng.sample(colors, people)
        toy, place = rng.sample(toys, people), rng.sample(places, people)
        for i, who in enumerate(cast):
            facts[who] = {"city": city[i], "color": color[i], "toy": toy[i], "place": place[i]}
            sentences += [
                f"{who} lives in {city[i]}.",
                f"{who} has a {color[i]} {toy[i]}.",
                f"{who} went to the {place[i]}.",
            ]
        if people == 1:
            sentences += [
                f"It was {rng.choice(weather)}.",
                f"The {rng.choice(animals)} {rng.choice(did)}.",
            ]
        rng.shuffle(sentences)
        context = " ".join(sentences)
        who = rng.choice(cast)
        fact = facts[who]
        kind = rng.randrange(4)
        if kind == 0:
            question, answer, anchor = f"Where does {who} live?", fact["city"], f"{who} lives in "
        elif kind == 1:
            question, anchor = f"What does {who} have?", f"{who} has a "
            answer = f"{fact['color']} {fact['toy']}"
        elif kind == 2:
            question, answer = f"What colour is the {fact['toy']}?", fact["color"]
            anchor = f"{who} has a "
        else:
            question, answer, anchor = f"Where did {who} go?", fact["place"], f"{who} went to the "
        start = context.index(anchor) + len(anchor)
        examples.append(QAExample(context, question, answer, start))
    return examples


def code_pairs(n: int = 1000, seed: int = 0, max_number: int = 10) -> list[tuple[str, str]]:
    """``n`` (question, program) pairs of a tiny programming language: arithmetic on the
    numbers 0..``max_number`` (at most 20) with ``+ - *`` and parentheses::

        "what is seven plus two times three?"                → "7+2*3"
        "what is the sum of four and nine, times two?"       → "(4+9)*2"

    Run a program with :func:`run_program`. Deterministic for a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    top = len(NUMBER_WORDS) - 1
    if (
        isinstance(max_number, bool)
        or not isinstance(max_number, int)
        or not 1 <= max_number <= top
    ):
        raise ValueError(f"max_number must be an int from 1 to {top}, got {max_number!r}")
    rng = random.Random(seed)
    ops = {"plus": "+", "minus": "-", "times": "*"}
    named = {"the sum of": "+", "the difference between": "-", "the product of": "*"}
    pairs = []
    for _ in range(n):
        a, b, c = (rng.randint(0, max_number) for _ in range(3))
        wa, wb, wc = NUMBER_WORDS[a], NUMBER_WORDS[b], NUMBER_WORDS[c]
        kind = rng.randrange(4)
        if kind == 0:
            word = rng.choice(list(ops))
            text, code = f"{wa} {word} {wb}", f"{a}{ops[word]}{b}"
        elif kind == 1:
            w1, w2 = rng.choice(list(ops)), rng.choice(list(ops))
            text, code = f"{wa} {w1} {wb} {w2} {wc}", f"{a}{ops[w1]}{b}{ops[w2]}{c}"
        elif kind == 2:
            phrase = rng.choice(list(named))
            text, code = f"{phrase} {wa} and {wb}", f"{a}{named[phrase]}{b}"
        else:
            phrase, word = rng.choice(list(named)), rng.choice(list(ops))
            text = f"{phrase} {wa} and {wb}, {word} {wc}"
            code = f"({a}{named[phrase]}{b}){ops[word]}{c}"
        pairs.append((f"what is {text}?", code))
    return pairs


_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
}


def run_program(code: str) -> int:
    """Run a program of :func:`code_pairs`' language (integers, ``+ - *``, parentheses) and
    return its value. Anything else — a syntax error, a name, a call — raises ``ValueError``;
    nothing is passed to Python's ``eval``. Taught in chapter 8.
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not a valid program: {code!r}") from None

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(
            f"not a program of this language (only integers, + - * and parentheses): {code!r}"
        )

    return value(tree.body)
