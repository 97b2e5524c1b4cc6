"""Task data and small tools for the applications of chapter 8.

Every data set here is *generated* from the words of labkit's story grammars
(:func:`labkit.data.grammar`), so it is offline, endless, and its right answers are known:

* :func:`translation_pairs` — English sentences and their Chinese translations, word for word
  from a small bilingual dictionary (:data:`EN_ZH`) that pairs words of the English and the
  Chinese grammars, with Chinese word order ("Tom ate apples at the park." →
  "汤姆在公园吃了苹果。");
* :func:`summarisation_pairs` — short stories and a one-sentence summary of what happened;
* :func:`qa_examples` — passages, questions and the answer span in the passage (extractive QA);
* :func:`relation_sentences` — sentences with the (head, relation, tail) facts they state;
* :func:`code_pairs` — arithmetic questions in words and the program that computes them
  (``"what is seven plus two times three?"`` → ``"7+2*3"``), run by :func:`run_program`.

Tools: :func:`bleu` (corpus BLEU, written out; equals ``sacrebleu``), encoding, training and
greedy decoding for :class:`labkit.models.TinyEncoderDecoder` (:func:`encode_pairs`,
:func:`train_seq2seq`, :func:`seq2seq_generate`, :func:`seq2seq_perplexity`), span tagging for
extractive QA (:func:`encode_qa`, :func:`predict_spans`), sequence and token classification
(:func:`encode_texts`, :func:`encode_tagged`, :func:`predict_classes`, :func:`tag_tokens`,
:func:`entity_f1`), story evaluation (:func:`text_perplexity`), chat (:func:`chat_prompt`,
:func:`chat`), knowledge graphs (:func:`extract_triples`, :func:`build_graph`,
:func:`graph_figure`) and search (:data:`FAQ`, :class:`BagOfWords`, :func:`top_k_similar`).

Taught in chapter 8.
"""

from __future__ import annotations

import ast
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "EN_ZH",
    "NAMES",
    "NUMBER_WORDS",
    "QAExample",
    "BleuScore",
    "translation_pairs",
    "summarisation_pairs",
    "qa_examples",
    "relation_sentences",
    "code_pairs",
    "run_program",
    "ngrams",
    "bleu",
    "exact_match",
    "token_f1",
    "task_tokenizer",
    "encode_pairs",
    "seq2seq_generate",
    "seq2seq_perplexity",
    "train_seq2seq",
    "predict_classes",
    "text_perplexity",
    "join_words",
    "encode_texts",
    "encode_tagged",
    "tag_tokens",
    "encode_qa",
    "predict_spans",
    "CHATML_TEMPLATE",
    "chat_prompt",
    "chat",
    "split_words",
    "entity_spans",
    "entity_f1",
    "extract_triples",
    "build_graph",
    "graph_figure",
    "FAQ",
    "FAQ_QUERIES",
    "BagOfWords",
    "top_k_similar",
]

# =========================================================================== word lists

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


def _english_words(symbol: str) -> list[str]:
    """The alternatives of a one-word symbol of the English grammar (``"<toy>"`` → toys)."""
    from labkit.data import grammar

    return ["".join(pieces) for _, pieces in grammar("en").rules[symbol]]


def _check_n(n: Any, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def _two_names(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(list(NAMES), 2)
    return first, second


# =========================================================================== data sets


def translation_pairs(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (English, Chinese) sentence pairs, e.g. ``("Tom ate apples at the park.",
    "汤姆在公园吃了苹果。")``.

    Eight sentence templates, filled from :data:`EN_ZH` and :data:`NAMES`; the Chinese side
    uses Chinese word order (place before the verb, a measure word before a noun). The same
    pair can occur twice. Deterministic for a seed. Taught in chapter 8.
    """
    _check_n(n)
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        en, zh = rng.choice(_TRANSLATION_TEMPLATES)
        h, f = _two_names(rng)
        fill_en, fill_zh = {"H": h, "F": f}, {"H": NAMES[h][0], "F": NAMES[f][0]}
        for slot in [s for s in dict.fromkeys(_SLOT.findall(en)) if s not in ("H", "F")]:  # in order: same draws in every process
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
    _check_n(n)
    rng = random.Random(seed)
    colors, toys, places = list(EN_ZH["<color>"]), list(EN_ZH["<toy>"]), list(EN_ZH["<place>"])
    weather = _english_words("<weather>")
    animals, did = _english_words("<animal>"), _english_words("<animal_did>")
    foods, feelings = _english_words("<food>"), _english_words("<feeling>")
    pairs = []
    for _ in range(n):
        h, f = _two_names(rng)
        he = NAMES[h][1]
        toy, place = rng.choice(toys), rng.choice(places)
        kind = rng.randrange(3)
        if kind == 0:
            event, summary = f"{he} took it to the {place} with {f}.", f"{h} and {f} took the {toy} to the {place}."
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
    _check_n(n)
    if people not in (1, 2):
        raise ValueError(f"people must be 1 or 2, got {people!r}")
    rng = random.Random(seed)
    cities = _english_words("<city>")
    colors, toys, places = list(EN_ZH["<color>"]), list(EN_ZH["<toy>"]), list(EN_ZH["<place>"])
    weather, animals, did = _english_words("<weather>"), _english_words("<animal>"), _english_words("<animal_did>")
    examples = []
    for _ in range(n):
        cast = rng.sample(list(NAMES), people)
        facts, sentences = {}, []
        city, color = rng.sample(cities, people), rng.sample(colors, people)
        toy, place = rng.sample(toys, people), rng.sample(places, people)
        for i, who in enumerate(cast):
            facts[who] = {"city": city[i], "color": color[i], "toy": toy[i], "place": place[i]}
            sentences += [f"{who} lives in {city[i]}.", f"{who} has a {color[i]} {toy[i]}.",
                          f"{who} went to the {place[i]}."]  # fmt: skip
        if people == 1:
            sentences += [f"It was {rng.choice(weather)}.", f"The {rng.choice(animals)} {rng.choice(did)}."]
        rng.shuffle(sentences)
        context = " ".join(sentences)
        who = rng.choice(cast)
        fact = facts[who]
        kind = rng.randrange(4)
        if kind == 0:
            question, answer, anchor = f"Where does {who} live?", fact["city"], f"{who} lives in "
        elif kind == 1:
            question, answer, anchor = f"What does {who} have?", f"{fact['color']} {fact['toy']}", f"{who} has a "
        elif kind == 2:
            question, answer, anchor = f"What colour is the {fact['toy']}?", fact["color"], f"{who} has a "
        else:
            question, answer, anchor = f"Where did {who} go?", fact["place"], f"{who} went to the "
        start = context.index(anchor) + len(anchor)
        examples.append(QAExample(context, question, answer, start))
    return examples


def relation_sentences(
    n: int = 12, seed: int = 0, cast: int | None = None
) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """``n`` sentences of the English grammar's ``<ner>`` kind, each with the facts it states
    as ``(head, relation, tail)`` triples::

        ("Tom went to Paris with Kim.", [("Tom", "visited", "Paris"), ("Tom", "travelled with", "Kim")])

    The facts come from :data:`RELATION_PATTERNS` applied to the true entities. These are the
    sentences the NER data of chapter 5 is made of (``generate_labelled(task="ner")``), so a
    tagger trained on that data finds their entities. With ``cast=k`` the sentences are about
    only ``k`` people (and about ``k // 2 + 1`` cities and objects), so the same entities and
    facts come back again and again -- the material of a knowledge graph. Deterministic for a
    seed. Taught in chapter 8.
    """
    from labkit.data import ENTITY_TYPES, _expand, grammar

    _check_n(n)
    g, rng = grammar("en"), random.Random(seed)
    if cast is None:
        out = []
        for _ in range(n):
            pieces: list[str] = []
            spans: list[tuple[str, int, int]] = []
            _expand(g, "<ner>", rng, pieces, spans)
            text = "".join(pieces)
            entities = sorted((a, b, ENTITY_TYPES[s]) for s, a, b in spans if s in ENTITY_TYPES)
            out.append((text, _facts(text, [(text[a:b], kind, a, b) for a, b, kind in entities])))
        return out
    if isinstance(cast, bool) or not isinstance(cast, int) or not 2 <= cast <= 12:
        raise ValueError(f"cast must be an int from 2 to 12 (people in the sentences), got {cast!r}")
    people = rng.sample(_english_words("<person>") + _english_words("<friend>"), cast)
    words = {"<person>": people, "<friend>": people,
             "<city>": rng.sample(_english_words("<city>"), cast // 2 + 1),
             "<toy>": rng.sample(_english_words("<toy>"), cast // 2 + 1)}  # fmt: skip
    templates = ["".join(pieces) for _, pieces in g.rules["<ner>"]]
    out = []
    for _ in range(n):
        template, text, entities, used = rng.choice(templates), "", [], set()
        for piece in re.split(r"(<\w+>)", template):
            if piece in words:
                word = rng.choice([w for w in words[piece] if w not in used])
                used.add(word)
                entities.append((word, ENTITY_TYPES[piece], len(text), len(text) + len(word)))
                piece = word
            text += piece
        out.append((text, _facts(text, entities)))
    return out


#: Relation extraction by patterns: the sentence with its entities replaced by ``{0}``,
#: ``{1}``, ... (in order) → the facts it states, as (head index, relation, tail index).
RELATION_PATTERNS: dict[str, list[tuple[int, str, int]]] = {
    "{0} went to {1} with {2}.": [(0, "visited", 1), (0, "travelled with", 2)],
    "{0} bought a {1} in {2}.": [(0, "owns", 1), (0, "visited", 2)],
    "In {0}, {1} met {2}.": [(1, "met", 2), (1, "visited", 0)],
    "{0} gave {1} a {2}.": [(0, "gave a gift to", 1), (1, "owns", 2)],
    "{0} lives in {1}.": [(0, "lives in", 1)],
    "{0} sent a {1} from {2} to {3}.": [(0, "visited", 2), (0, "gave a gift to", 3), (3, "owns", 1)],
}


def _facts(text: str, entities: Sequence[tuple[str, str, int, int]]) -> list[tuple[str, str, str]]:
    """Apply :data:`RELATION_PATTERNS` to ``text`` whose entities are (text, type, start, end)."""
    shape, last = [], 0
    for i, (_, _, a, b) in enumerate(entities):
        shape += [text[last:a], f"{{{i}}}"]
        last = b
    shape.append(text[last:])
    rules = RELATION_PATTERNS.get("".join(shape).strip(), [])
    return [(entities[h][0], rel, entities[t][0]) for h, rel, t in rules]


def code_pairs(n: int = 1000, seed: int = 0, max_number: int = 10) -> list[tuple[str, str]]:
    """``n`` (question, program) pairs of a tiny programming language: arithmetic on the
    numbers 0..``max_number`` (at most 20) with ``+ - *`` and parentheses::

        "what is seven plus two times three?"                → "7+2*3"
        "what is the sum of four and nine, times two?"       → "(4+9)*2"

    Run a program with :func:`run_program`. Deterministic for a seed. Taught in chapter 8.
    """
    _check_n(n)
    if isinstance(max_number, bool) or not isinstance(max_number, int) or not 1 <= max_number < len(NUMBER_WORDS):
        raise ValueError(f"max_number must be an int from 1 to {len(NUMBER_WORDS) - 1}, got {max_number!r}")
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
            text, code = f"{phrase} {wa} and {wb}, {word} {wc}", f"({a}{named[phrase]}{b}){ops[word]}{c}"
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
        raise ValueError(f"not a program of this language (only integers, + - * and parentheses): {code!r}")

    return value(tree.body)


# =========================================================================== metrics


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """Count the n-grams (runs of ``n`` consecutive tokens) of a token list. Taught in chapter 8."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class BleuScore:
    """A corpus BLEU score and its parts, as ``sacrebleu`` reports them. Taught in chapter 8.

    ``score`` and ``precisions`` are percentages; ``counts[n-1]`` / ``totals[n-1]`` are the
    matched / proposed n-grams; ``sys_len`` and ``ref_len`` count tokens.
    """

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    counts: tuple[int, ...]
    totals: tuple[int, ...]
    sys_len: int
    ref_len: int

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (f"BLEU = {self.score:.2f} {precisions} (BP = {self.brevity_penalty:.3f} "
                f"ratio = {self.sys_len / max(self.ref_len, 1):.3f} hyp_len = {self.sys_len} "
                f"ref_len = {self.ref_len})")  # fmt: skip


_WORD_TOKENS = re.compile(r"\w+|[^\w\s]")


def _tokenizer(tokenize: str | Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    if callable(tokenize):
        return tokenize
    if tokenize == "words":
        return _WORD_TOKENS.findall
    if tokenize == "chars":
        return lambda text: [ch for ch in text if not ch.isspace()]
    if tokenize == "none":
        return str.split
    raise ValueError(f'tokenize must be "words", "chars", "none" or a function, got {tokenize!r}')


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    max_n: int = 4,
    tokenize: str | Callable[[str], list[str]] = "words",
) -> BleuScore:
    """Corpus BLEU-``max_n`` of ``hypotheses`` against one reference each (Papineni et al., 2002).

    1. Cut each sentence into tokens: ``"words"`` (words and punctuation marks, what
       sacrebleu's default ``13a`` does to simple English), ``"chars"`` (every non-space
       character: sacrebleu's ``zh`` for Chinese), ``"none"`` (split at spaces) or a function.
    2. For n = 1..max_n, over the whole corpus: the *clipped* matches (an n-gram of the
       hypothesis counts at most as often as it occurs in the reference) divided by the
       n-grams the hypotheses propose. These are the n-gram precisions p_n.
    3. The geometric mean of the p_n, times the brevity penalty
       ``BP = exp(1 - ref_len / sys_len)`` when the hypotheses are shorter in total than the
       references (precision alone would reward saying little), else 1.

    ``BLEU = 100 · BP · exp(mean(log p_n))``; 0 when some p_n is 0 (no smoothing). Equals
    ``sacrebleu.corpus_bleu(hypotheses, [references], smooth_method="none")`` with the
    matching ``tokenize``. Taught in chapter 8.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("pass lists of sentences, e.g. bleu(['a cat sat.'], ['the cat sat.']), not one string")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"there are {len(hypotheses)} hypotheses but {len(references)} references; give one reference per hypothesis"
        )
    if not hypotheses:
        raise ValueError("no sentences: BLEU needs at least one hypothesis and its reference")
    _check_n(max_n, "max_n")
    split = _tokenizer(tokenize)
    counts, totals = [0] * max_n, [0] * max_n
    sys_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        h, r = split(hyp), split(ref)
        sys_len, ref_len = sys_len + len(h), ref_len + len(r)
        for n in range(1, max_n + 1):
            hyp_grams, ref_grams = ngrams(h, n), ngrams(r, n)
            counts[n - 1] += sum(min(c, ref_grams[g]) for g, c in hyp_grams.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    precisions = [100.0 * c / t if t else 0.0 for c, t in zip(counts, totals)]
    if sys_len == 0:
        bp = 0.0
    else:
        bp = 1.0 if sys_len >= ref_len else math.exp(1 - ref_len / sys_len)
    if min(counts) == 0:
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(c / t) for c, t in zip(counts, totals)) / max_n) * 100
    return BleuScore(score, tuple(precisions), bp, tuple(counts), tuple(totals), sys_len, ref_len)


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of predictions equal to their reference (after stripping spaces at the
    ends). Taught in chapter 8."""
    if len(predictions) != len(references) or not predictions:
        raise ValueError("give as many predictions as references (at least one)")
    return sum(p.strip() == r.strip() for p, r in zip(predictions, references)) / len(predictions)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD's F1 of two answers: the harmonic mean of word precision and recall (word
    overlap counted with multiplicity, case-insensitive). Taught in chapter 8."""
    p, r = prediction.lower().split(), reference.lower().split()
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return float(p == r)
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


# =========================================================================== encoding


def task_tokenizer(texts: Iterable[str]) -> Any:
    """A word tokenizer for all the tasks' texts, English and Chinese at once.

    English words carry the space before them, as in GPT-2 (``"Tom had"`` → ``"Tom"``,
    ``" had"``), so sequences are half as long as with separate space tokens; Chinese is cut
    into the words of :data:`EN_ZH` and :data:`NAMES` (other Chinese text: one character
    each); each punctuation mark is a token. The vocabulary is every piece of ``texts`` after
    labkit's seven special tokens (``[PAD]`` = 0 ... ``[SEP]`` = 6); unseen pieces become
    ``[UNK]``. ``tok.decode(tok.encode(s)) == s`` for text made of known pieces.
    Taught in chapter 8.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from labkit.tokenizers import SPECIAL_TOKENS

    lexicon = {zh for words in EN_ZH.values() for zh in words.values()} | {zh for zh, _ in NAMES.values()}
    words = sorted(lexicon, key=lambda w: (-len(w), w))  # longest first: maximum matching
    pattern = "|".join([re.escape(w) for w in words] + [r" ?[^\W\p{Han}]+|\p{Han}| ?[^\w\s]|\s+"])
    split = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    pieces: Counter[str] = Counter()
    for text in texts:
        pieces.update(piece for piece, _ in split.pre_tokenize_str(text))
    if not pieces:
        raise ValueError("texts is empty: give the sentences the tokenizer must cover")
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for piece in sorted(pieces, key=lambda p: (-pieces[p], p)):
        vocab.setdefault(piece, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = split
    backend.decoder = decoders.Fuse()  # the pieces already hold their spaces
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, clean_up_tokenization_spaces=False, pad_token="[PAD]",
        unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]", mask_token="[MASK]",
        cls_token="[CLS]", sep_token="[SEP]",
    )  # fmt: skip


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text)["input_ids"])


def _pad(rows: Sequence[Sequence[int]], length: int, pad: int) -> Tensor:
    return torch.tensor([list(r) + [pad] * (length - len(r)) for r in rows], dtype=torch.long)


def _check_fits(longest: int, block_size: int | None, what: str) -> None:
    if block_size is not None and longest > block_size:
        raise ValueError(
            f"the longest {what} has {longest} tokens but block_size is {block_size}; "
            "use a model with a larger block_size or shorter texts"
        )


def encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Turn (source, target) texts into the padded id tensors of
    :class:`labkit.train.Seq2SeqTask`: ``src`` ``(N, S)`` and ``tgt`` ``(N, T+1)`` whose rows
    are ``[BOS] y1 .. yn [EOS] [PAD] ..``. With ``block_size``, a ``ValueError`` says when a
    sequence would not fit the model. Taught in chapter 8.
    """
    if not pairs:
        raise ValueError("pairs is empty: give at least one (source, target) pair")
    src = [_ids(tokenizer, s) for s, _ in pairs]
    tgt = [[tokenizer.bos_token_id, *_ids(tokenizer, t), tokenizer.eos_token_id] for _, t in pairs]
    _check_fits(max(map(len, src)), block_size, "source")
    _check_fits(max(map(len, tgt)) - 1, block_size, "target (with [BOS] or [EOS])")
    pad = tokenizer.pad_token_id
    return _pad(src, max(map(len, src)), pad), _pad(tgt, max(map(len, tgt)), pad)


@torch.no_grad()
def seq2seq_generate(
    model: Any, tokenizer: Any, sources: Sequence[str], max_new_tokens: int | None = None,
    batch_size: int = 256,
) -> list[str]:  # fmt: skip
    """Greedy outputs of an encoder–decoder (:meth:`TinyEncoderDecoder.generate`) for a list
    of source texts, decoded to text without the special tokens. Taught in chapter 8."""
    if isinstance(sources, str):
        raise TypeError("sources must be a list of texts, e.g. [text]")
    model.eval()
    out: list[str] = []
    for i in range(0, len(sources), batch_size):
        chunk = [_ids(tokenizer, s) for s in sources[i : i + batch_size]]
        _check_fits(max(map(len, chunk)), model.config.block_size, "source")
        src = _pad(chunk, max(map(len, chunk)), tokenizer.pad_token_id)
        ids = model.generate(src.to(next(model.parameters()).device), max_new_tokens)
        for row in ids.tolist():
            row = row[1:]  # drop [BOS]
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            out.append(tokenizer.decode(row, skip_special_tokens=True))
    return out


@torch.no_grad()
def seq2seq_perplexity(model: Any, src: Tensor, tgt: Tensor, pad_token_id: int = 0) -> float:
    """Perplexity of the reference targets under a teacher-forced encoder–decoder:
    ``exp(mean cross-entropy per target token)``, padding excluded. Taught in chapter 8."""
    model.eval()
    targets = tgt[:, 1:].masked_fill(tgt[:, 1:] == pad_token_id, -100)
    _, loss = model(src, tgt[:, :-1], targets)
    return math.exp(float(loss))


def train_seq2seq(
    pairs: Sequence[tuple[str, str]],
    *,
    steps: int = 300,
    d_model: int = 128,
    n_layer: int = 1,
    n_head: int = 4,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    **train_options: Any,
) -> tuple[Any, Any, Any]:
    """Train a :class:`~labkit.models.TinyEncoderDecoder` on (source, target) text pairs.

    Builds a :func:`task_tokenizer` on the pairs, encodes them (:func:`encode_pairs`), makes
    a model with room for sources 8 tokens longer than the longest seen (one layer each side,
    width 128: on these tasks a wide layer learns to copy words from the source in fewer steps
    than two narrow ones), seeds it with
    ``seed`` and trains it for ``steps`` steps with :func:`labkit.train.train` (teacher
    forcing, AdamW, cosine schedule). ``train_options`` go to ``train`` (e.g.
    ``time_budget=20``, ``callbacks=[LossPlot()]``, ``progress=True``). Returns
    ``(model in eval mode, tokenizer, TrainResult)``; decode with :func:`seq2seq_generate`.
    Taught in chapter 8 (translation, summarisation, code generation).
    """
    from labkit.models import TinyEncoderDecoder
    from labkit.train import Seq2SeqTask, train

    if isinstance(pairs, str) or not pairs:
        raise ValueError("pairs must be a non-empty list of (source, target) texts")
    tokenizer = task_tokenizer([text for pair in pairs for text in pair])
    src, tgt = encode_pairs(tokenizer, pairs)
    torch.manual_seed(seed)
    model = TinyEncoderDecoder(vocab_size=len(tokenizer), block_size=max(src.shape[1], tgt.shape[1]) + 8,
                               n_layer=n_layer, n_head=n_head, d_model=d_model)  # fmt: skip
    options = {"progress": False, "eval_every": 0, "warmup_steps": max(1, min(20, steps // 10)), **train_options}
    result = train(model, Seq2SeqTask(src, tgt), max_steps=_check_n(steps, "steps"), batch_size=batch_size,
                   lr=lr, seed=seed, **options)  # fmt: skip
    return model.eval(), tokenizer, result


@torch.no_grad()
def predict_classes(model: Any, ids: Tensor, batch_size: int = 512) -> Tensor:
    """The class a sequence classifier (or, per token, a token classifier) picks for each row
    of padded ``ids``: the argmax of its logits, padding masked out. Taught in chapter 8."""
    model.eval()
    return torch.cat([_logits(model, ids[i : i + batch_size]).argmax(-1) for i in range(0, len(ids), batch_size)])


@torch.no_grad()
def text_perplexity(model: Any, tokenizer: Any, texts: str | Sequence[str]) -> float:
    """Perplexity of a causal language model on ``texts``: ``exp`` of the mean negative
    log-likelihood of every token given the tokens before it (the first token of each text
    is only context). Works with a labkit ``TinyGPT`` and with a Hugging Face causal LM;
    texts longer than the model's context are cut. Taught in chapter 8."""
    import torch.nn.functional as F

    if isinstance(texts, str):
        texts = [texts]
    from labkit.generate import context_length

    limit = context_length(model)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    for text in texts:
        ids = list(tokenizer(text)["input_ids"])[: limit or None]
        if len(ids) < 2:
            raise ValueError(f"{text!r} has fewer than 2 tokens: nothing to predict")
        idx = torch.tensor([ids], device=device)
        out = model(idx)
        logits = out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, tuple) else out)
        total += float(F.cross_entropy(logits[0, :-1].float(), idx[0, 1:], reduction="sum"))
        count += len(ids) - 1
    return math.exp(total / count)


def encode_texts(tokenizer: Any, texts: Sequence[str], block_size: int | None = None) -> Tensor:
    """``[CLS] text`` for each text, padded: the input of a sequence classifier, whose
    pooler reads the first position. Taught in chapter 8."""
    rows = [[tokenizer.cls_token_id, *_ids(tokenizer, t)] for t in texts]
    if not rows:
        raise ValueError("texts is empty")
    _check_fits(max(map(len, rows)), block_size, "text")
    return _pad(rows, max(map(len, rows)), tokenizer.pad_token_id)


def _spaced(words: Sequence[str]) -> list[str]:
    """Each word with the space that precedes it in running text: none before the first
    word or before a punctuation mark."""
    return [w if i == 0 or not (w[:1].isalnum() or w[:1] == "_") else " " + w for i, w in enumerate(words)]


def join_words(words: Sequence[str]) -> str:
    """Words and punctuation marks back to running text: ``["Tom", "ran", "."]`` →
    ``"Tom ran."``. Taught in chapter 8."""
    return "".join(_spaced(words))


def _word_pieces(tokenizer: Any, words: Sequence[str]) -> list[list[int]]:
    """The token ids of each word of a sentence as it appears in running text (see
    :func:`join_words`), so that they equal the ids of the whole sentence."""
    return [_ids(tokenizer, piece) or [tokenizer.unk_token_id] for piece in _spaced(words)]


def encode_tagged(
    tokenizer: Any, examples: Sequence[dict[str, Any]], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Token-classification inputs from ``generate_labelled(task="ner")`` examples: ids of
    ``[CLS] word1 word2 ..`` and the labels. A word's label goes to its first token; further
    tokens of the word, ``[CLS]`` and padding get -100 (ignored by the loss). Each word is
    encoded as it appears in running text ("Tom went" → ``"Tom"``, ``" went"``), so the ids
    are those of the sentence. Taught in chapter 8."""
    if not examples:
        raise ValueError("examples is empty")
    rows, labels = [], []
    for e in examples:
        if len(e["tokens"]) != len(e["labels"]):
            raise ValueError(f"{len(e['tokens'])} tokens but {len(e['labels'])} labels in {e['tokens']!r}")
        row, lab = [tokenizer.cls_token_id], [-100]
        for pieces, label in zip(_word_pieces(tokenizer, e["tokens"]), e["labels"]):
            row += pieces
            lab += [label] + [-100] * (len(pieces) - 1)
        rows.append(row)
        labels.append(lab)
    _check_fits(max(map(len, rows)), block_size, "sentence")
    length = max(map(len, rows))
    return _pad(rows, length, tokenizer.pad_token_id), _pad(labels, length, -100)


@torch.no_grad()
def tag_tokens(model: Any, tokenizer: Any, tokens: Sequence[str], label_names: Sequence[str]) -> list[str]:
    """The tag a token classifier gives each word of one sentence (a list of words and
    punctuation marks, as in ``generate_labelled(task="ner")``): the prediction at the
    word's first token. Taught in chapter 8."""
    model.eval()
    ids, labels = encode_tagged(tokenizer, [{"tokens": list(tokens), "labels": [0] * len(tokens)}])
    predicted = _logits(model, ids)[0].argmax(-1)
    return [label_names[i] for i in predicted[labels[0] != -100].tolist()]


def _context_tokens(tokenizer: Any, context: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of ``context`` and, for each, the ``(start, end)`` characters it covers in it
    (leading spaces not counted). The context is encoded as running text after the question,
    i.e. with a space in front, so its first word is the same token as everywhere else."""
    enc = tokenizer(" " + context, add_special_tokens=False, return_offsets_mapping=True)
    spans = []
    for a, b in enc["offset_mapping"]:
        piece = (" " + context)[a:b]
        a += len(piece) - len(piece.lstrip())
        spans.append((max(a - 1, 0), max(b - 1, 0)))
    return list(enc["input_ids"]), spans


def encode_qa(
    tokenizer: Any, examples: Sequence[QAExample], block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Extractive QA as token tagging: the input is ``[CLS] question [SEP] context`` and the
    label of each context token is 1 inside the answer span, 0 outside (-100 for the question,
    the special tokens and padding). Works with any fast tokenizer (labkit's
    :func:`task_tokenizer`, MiniLM's WordPiece ...). Taught in chapter 8."""
    if not examples:
        raise ValueError("examples is empty")
    rows, labels = [], []
    for ex in examples:
        head = [tokenizer.cls_token_id, *_ids(tokenizer, ex.question), tokenizer.sep_token_id]
        ids, spans = _context_tokens(tokenizer, ex.context)
        tags = [int(ex.start <= a < ex.end) for a, _ in spans]
        rows.append(head + ids)
        labels.append([-100] * len(head) + tags)
    _check_fits(max(map(len, rows)), block_size, "question + context")
    length = max(map(len, rows))
    return _pad(rows, length, tokenizer.pad_token_id), _pad(labels, length, -100)


def _logits(model: Any, ids: Tensor) -> Tensor:
    """A classifier's logits for padded ``ids``, padding masked out (labkit or HF model)."""
    device = next(model.parameters()).device
    out = model(ids.to(device), attention_mask=(ids != 0).long().to(device))
    return (out.logits if hasattr(out, "logits") else out).cpu()


@torch.no_grad()
def predict_spans(model: Any, tokenizer: Any, examples: Sequence[QAExample]) -> list[str]:
    """Answers of a QA span tagger (see :func:`encode_qa`): the most confident context token
    and its neighbours that are also tagged "inside" (probability > 0.5), as the text of the
    context they cover. Taught in chapter 8."""
    model.eval()
    ids, labels = encode_qa(tokenizer, examples)
    probs = _logits(model, ids).softmax(-1)[..., 1]
    answers = []
    for ex, p, lab in zip(examples, probs, labels):
        first = int((lab != -100).nonzero()[0])
        _, spans = _context_tokens(tokenizer, ex.context)
        scores = p[first : first + len(spans)]
        best = int(scores.argmax())
        lo = hi = best
        while lo > 0 and scores[lo - 1] > 0.5:
            lo -= 1
        while hi + 1 < len(spans) and scores[hi + 1] > 0.5:
            hi += 1
        answers.append(ex.context[spans[lo][0] : spans[hi][1]].strip(" .,?!"))
    return answers


# =========================================================================== chat

#: The ChatML chat template (what SmolLM2 and many other chat models use), for tokenizers that
#: have none: ``<|im_start|>role\ncontent<|im_end|>`` per message.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_prompt(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """The text a chat model really reads for ``messages`` (a list of ``{"role", "content"}``
    dicts): the tokenizer's own chat template, or :data:`CHATML_TEMPLATE` when it has none,
    ending with the assistant's turn opened. Taught in chapter 8."""
    if isinstance(messages, dict) or not messages:
        raise ValueError('messages must be a non-empty list of {"role": ..., "content": ...} dicts')
    for m in messages:
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise ValueError(f'each message is a dict with exactly "role" and "content", got {m!r}')
    template = None if getattr(tokenizer, "chat_template", None) else CHATML_TEMPLATE
    return tokenizer.apply_chat_template(list(messages), chat_template=template, add_generation_prompt=True,
                                         tokenize=False)  # fmt: skip


@torch.no_grad()
def chat(model: Any, tokenizer: Any, messages: Sequence[dict[str, str]], max_new_tokens: int = 40) -> str:
    """One assistant turn: format ``messages`` with :func:`chat_prompt`, decode greedily for
    at most ``max_new_tokens`` tokens (stopping at the end-of-turn token), and return the
    reply's text. A Hugging Face model uses its own ``generate`` (with its key-value cache);
    a labkit model uses :func:`labkit.generate.generate`. Taught in chapter 8."""
    from labkit.generate import generate

    prompt = chat_prompt(tokenizer, messages)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    stop = [t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
            if t is not None and t != tokenizer.unk_token_id]  # fmt: skip
    if hasattr(model, "generate") and hasattr(model, "generation_config"):
        out = model.generate(ids.to(model.device), attention_mask=torch.ones_like(ids).to(model.device),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop or None,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)  # fmt: skip
    else:
        out = generate(model, ids, max_new_tokens, strategy="greedy", stop_tokens=stop)
    return tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True).strip()


# =========================================================================== knowledge graphs


_WORD = re.compile(r"\w+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Words and punctuation marks, as in ``generate_labelled(task="ner")``:
    ``"In New York, Tom ran."`` → ``["In", "New", "York", ",", "Tom", "ran", "."]``
    (:func:`join_words` undoes it). Taught in chapter 8."""
    return _WORD.findall(text)


def entity_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The entities of a BIO tag sequence as ``(type, first, last + 1)`` word spans; an
    ``I-`` tag that does not continue an entity of its type starts a new one. Taught in
    chapter 8."""
    spans, current = set(), None
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag[:2] in ("B-", "I-") else None
        if current and (tag.startswith("B-") or kind != current[0]):
            spans.add((current[0], current[1], i))
            current = None
        if kind and current is None:
            current = (kind, i)
    return spans


def entity_f1(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> tuple[float, float, float]:
    """Entity-level ``(precision, recall, F1)`` of a tagger, as NER is scored (CoNLL,
    ``seqeval``): an entity counts only if its type and both ends are right. Taught in
    chapter 8."""
    if len(true_tags) != len(predicted_tags):
        raise ValueError("give one predicted tag sequence per true one")
    tp = n_true = n_pred = 0
    for t, p in zip(true_tags, predicted_tags):
        if len(t) != len(p):
            raise ValueError(f"{len(t)} true tags but {len(p)} predicted in one sentence")
        a, b = entity_spans(t), entity_spans(p)
        tp, n_true, n_pred = tp + len(a & b), n_true + len(a), n_pred + len(b)
    precision, recall = tp / max(n_pred, 1), tp / max(n_true, 1)
    return precision, recall, (2 * precision * recall / (precision + recall) if tp else 0.0)


def extract_triples(tokens: Sequence[str], tags: Sequence[str]) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Information extraction from one tagged sentence: entities from the BIO ``tags``
    (e.g. a NER model's), then relations by :data:`RELATION_PATTERNS`.

    Returns ``(triples, entity_types)``: the ``(head, relation, tail)`` facts and each
    entity's type (PERSON, PLACE, OBJECT). Unknown sentence shapes give no triples.
    Taught in chapter 8.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags: give one tag per token")
    text, starts = "", []
    for piece in _spaced(tokens):  # rebuild the sentence (see join_words)
        starts.append(len(text) + len(piece) - len(piece.lstrip(" ")))
        text += piece
    entities: list[tuple[str, str, int, int]] = []
    for i, (tok, tag) in enumerate(zip(tokens, tags)):
        end = starts[i] + len(tok)
        if tag.startswith("B-") or (tag.startswith("I-") and (not entities or entities[-1][1] != tag[2:])):
            entities.append((tok, tag[2:], starts[i], end))
        elif tag.startswith("I-"):
            name, kind, a, _ = entities[-1]
            entities[-1] = (text[a:end], kind, a, end)
    return _facts(text, entities), {name: kind for name, kind, _, _ in entities}


def build_graph(
    triples: Iterable[tuple[str, str, str]],
    entity_types: dict[str, str] | None = None,
    aliases: dict[str, str] | None = None,
) -> Any:
    """Fuse facts into one knowledge graph (a ``networkx.MultiDiGraph``).

    Entity fusion: each name is normalised (spaces, case) and mapped through ``aliases``
    (e.g. ``{"NYC": "New York"}``), so every mention of one entity becomes one node, which
    counts its ``mentions`` and keeps its ``kind``. Fact fusion: the same (head, relation,
    tail) from several sentences becomes one edge whose ``count`` says how often it was
    stated. Taught in chapter 8.
    """
    import networkx as nx

    aliases = {_norm(k): v for k, v in (aliases or {}).items()}
    types = {_norm(k): v for k, v in (entity_types or {}).items()}
    canonical: dict[str, str] = {}  # normalised name -> the first spelling seen

    def node(name: str) -> str:
        key = _norm(name)
        if key in aliases:
            name, key = aliases[key], _norm(aliases[key])
        return canonical.setdefault(key, " ".join(name.split()))

    graph = nx.MultiDiGraph()
    for triple in triples:
        if len(triple) != 3:
            raise ValueError(f"a fact is (head, relation, tail), got {triple!r}")
        head, relation, tail = triple
        h, t = node(head), node(tail)
        for name, raw in ((h, head), (t, tail)):
            if name not in graph:
                graph.add_node(name, mentions=0, kind=types.get(_norm(raw), types.get(_norm(name), "ENTITY")))
            graph.nodes[name]["mentions"] += 1
        if graph.has_edge(h, t, key=relation):
            graph.edges[h, t, relation]["count"] += 1
        else:
            graph.add_edge(h, t, key=relation, relation=relation, count=1)
    return graph


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


_KIND_COLORS = {"PERSON": "#1f77b4", "PLACE": "#2ca02c", "OBJECT": "#ff7f0e"}


def graph_figure(graph: Any, title: str = "", seed: int = 0) -> tuple[Any, Any]:
    """Draw a knowledge graph: a plotly figure and a static SVG picture of the same layout
    (``networkx.spring_layout``, seeded). Nodes are coloured by kind and sized by mentions;
    each edge is labelled with its relation (× count when stated more than once).

    Returns ``(plotly_figure, StaticFigure)``. Taught in chapter 8.
    """
    import networkx as nx
    import plotly.graph_objects as go

    from labkit.widgets.fallback import FONT, StaticFigure, _esc

    if graph.number_of_nodes() == 0:
        raise ValueError("the graph is empty: add some facts first")
    pos = nx.spring_layout(nx.Graph(graph), seed=seed, k=1.2 / math.sqrt(graph.number_of_nodes()))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    W, H, M = 720, 480, 60

    def px(v: Any) -> tuple[float, float]:
        return (M + (v[0] - x0) / ((x1 - x0) or 1) * (W - 2 * M),
                M / 2 + (y1 - v[1]) / ((y1 - y0) or 1) * (H - M))  # fmt: skip

    def label(data: dict) -> str:
        return data["relation"] + (f" ×{data['count']}" if data["count"] > 1 else "")

    fig = go.Figure(layout={"template": "plotly_white", "width": W, "height": H, "title": title,
                            "showlegend": False, "xaxis": {"visible": False}, "yaxis": {"visible": False},
                            "margin": {"l": 10, "r": 10, "t": 40, "b": 10}})  # fmt: skip
    svg = ['<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_esc(title)}</text>',
           '<defs><marker id="kg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#999"/></marker></defs>']  # fmt: skip
    for h, t, data in graph.edges(data=True):
        (a, b), (c, d) = pos[h], pos[t]
        fig.add_scatter(x=[a, c], y=[b, d], mode="lines", line={"color": "#bbb", "width": 1}, hoverinfo="skip")
        fig.add_annotation(x=c, y=d, ax=a, ay=b, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowcolor="#999", standoff=9, text="")  # fmt: skip
        fig.add_annotation(x=(a + c) / 2, y=(b + d) / 2, text=label(data), showarrow=False,
                           font={"size": 9, "color": "#666"})  # fmt: skip
        (sa, sb), (sc, sd) = px(pos[h]), px(pos[t])
        length = math.hypot(sc - sa, sd - sb) or 1
        ec, ed = sc - (sc - sa) * 10 / length, sd - (sd - sb) * 10 / length  # stop at the circle
        svg.append(f'<line x1="{sa:.1f}" y1="{sb:.1f}" x2="{ec:.1f}" y2="{ed:.1f}" stroke="#bbb" '
                   'marker-end="url(#kg-arrow)"/>')  # fmt: skip
        svg.append(f'<text x="{(sa + sc) / 2:.1f}" y="{(sb + sd) / 2 - 3:.1f}" text-anchor="middle" '
                   f'font-size="9" fill="#666">{_esc(label(data))}</text>')  # fmt: skip
    names = list(graph.nodes)
    kinds = [graph.nodes[n]["kind"] for n in names]
    sizes = [8 + 4 * min(graph.nodes[n]["mentions"], 6) for n in names]
    fig.add_scatter(
        x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", text=names,
        textposition="top center", marker={"size": sizes, "color": [_KIND_COLORS.get(k, "#888") for k in kinds]},
        hovertext=[f"{n} ({k}), {graph.nodes[n]['mentions']} mention(s)" for n, k in zip(names, kinds)],
        hoverinfo="text",
    )
    for n, kind, size in zip(names, kinds, sizes):
        x, y = px(pos[n])
        svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size / 2:.1f}" fill="{_KIND_COLORS.get(kind, "#888")}"/>')
        svg.append(f'<text x="{x:.1f}" y="{y - size / 2 - 3:.1f}" text-anchor="middle" font-size="11">{_esc(n)}</text>')
    legend = "".join(
        f'<circle cx="{14 + 90 * i}" cy="{H - 12}" r="5" fill="{c}"/>'
        f'<text x="{22 + 90 * i}" y="{H - 8}" font-size="11">{k}</text>'
        for i, (k, c) in enumerate(_KIND_COLORS.items())
    )
    body = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'style="{FONT}">{"".join(svg)}{legend}</svg>')  # fmt: skip
    return fig, StaticFigure(body, alt=title or "knowledge graph")


# =========================================================================== search


#: A toy shop's frequently asked questions and their answers: the documents of chapter 8's
#: customer-service search.
FAQ: list[tuple[str, str]] = [
    ("How do I return a toy?", "Bring it back within 30 days with the receipt and we refund the full price."),
    ("When will my order arrive?", "Parcels are delivered within three to five working days."),
    ("What are your opening hours?", "The shop is open from 9 am to 6 pm, Monday to Saturday."),
    ("Which payment methods do you accept?", "Cash, debit and credit cards, and mobile payments."),
    ("Is this kite safe for small children?", "The kite is tested for ages 4 and up; younger children need an adult."),
    ("Do you send orders to other countries?", "Yes, we ship to most countries in Europe and Asia."),
    ("How can I reset my password?", "Click 'forgot password' on the sign-in page and follow the email we send."),
    ("Are batteries included with the toy car?", "No, the toy car needs four AA batteries, sold separately."),
    ("Can you wrap a present for me?", "Gift wrapping is free: tick the box at checkout."),
    ("Where is the shop?", "We are at 12 Market Street, next to the library."),
]

#: Customer questions in other words than the FAQ's, each with the index of the FAQ entry
#: that answers it. Most share few or no words with that entry.
FAQ_QUERIES: list[tuple[str, int]] = [
    ("my parcel still hasn't come", 1),
    ("I want my money back for a broken doll", 0),
    ("are you open on sunday?", 2),
    ("can I pay by card", 3),
    ("is it ok for a three-year-old to fly it?", 4),
    ("do you deliver to Japan", 5),
    ("I forgot my login", 6),
    ("what does the remote-control car need to run", 7),
    ("it's a birthday gift, could you make it look nice", 8),
    ("what's your address", 9),
    ("how long does shipping take", 1),
    ("the puzzle is missing pieces, can I bring it back", 0),
]



@dataclass
class BagOfWords:
    """TF-IDF vectors: the classic lexical representation for search.

    ``BagOfWords.fit(documents)`` learns the vocabulary (lower-cased words) and each word's
    inverse document frequency ``idf = log((1 + N) / (1 + df)) + 1`` (rare words weigh more);
    calling it on texts gives their L2-normalised vectors ``(len(texts), V)``. Words outside
    the vocabulary are ignored, so two texts that share no word have similarity 0 however
    close their meanings — what sentence embeddings fix. Taught in chapter 8.
    """

    vocabulary: dict[str, int]
    idf: Tensor

    @classmethod
    def fit(cls, documents: Sequence[str]) -> BagOfWords:
        """Learn the vocabulary and IDF weights of ``documents``."""
        if isinstance(documents, str) or not documents:
            raise ValueError("documents must be a non-empty list of texts")
        words = [_words(d) for d in documents]
        vocabulary = {w: i for i, w in enumerate(sorted({w for ws in words for w in ws}))}
        df = torch.zeros(len(vocabulary))
        for ws in words:
            for w in set(ws):
                df[vocabulary[w]] += 1
        return cls(vocabulary, torch.log((1 + len(documents)) / (1 + df)) + 1)

    def __call__(self, texts: Sequence[str]) -> Tensor:
        """The TF-IDF vectors of ``texts``, one row each, L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, e.g. bow([query])")
        counts = torch.zeros(len(texts), len(self.vocabulary))
        for row, text in enumerate(texts):
            for w in _words(text):
                if w in self.vocabulary:
                    counts[row, self.vocabulary[w]] += 1
        return torch.nn.functional.normalize(counts * self.idf, dim=-1)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def top_k_similar(query: Tensor, documents: Tensor, k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` documents most similar to ``query`` by cosine similarity, as
    ``(index, similarity)`` pairs, best first. ``query`` is ``(d,)``, ``documents`` ``(N, d)``.
    Taught in chapter 8."""
    if query.dim() != 1 or documents.dim() != 2 or documents.shape[1] != query.shape[0]:
        raise ValueError(
            f"query must be (d,) and documents (N, d) with the same d, got {tuple(query.shape)} and "
            f"{tuple(documents.shape)}"
        )
    sims = torch.nn.functional.normalize(documents.float(), dim=-1) @ torch.nn.functional.normalize(
        query.float(), dim=0
    )
    k = min(k, len(sims))
    values, index = sims.topk(k)
    return [(int(i), float(v)) for i, v in zip(index, values)]
