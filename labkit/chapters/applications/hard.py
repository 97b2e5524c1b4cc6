"""Harder test sets for chapter 8's tasks: inputs of a shape the training data never had, so
the tiny models make real mistakes worth reading. Named entities in new sentence shapes,
translation of two sentences at once, and spoken arithmetic with four numbers. (The harder
question-answering set is :func:`~labkit.chapters.applications.qa_examples` with
``people=2``.) Taught in chapter 8.
"""

from __future__ import annotations

import random
import re

from labkit._util import check_positive_int
from labkit.chapters.applications.datasets import NUMBER_WORDS, QAExample, translation_pairs

__all__ = [
    "NER_HARD",
    "long_code_pairs",
    "ner_hard_examples",
    "qa_error_kind",
    "two_sentence_pairs",
]

#: Sentences built from the words of the NER training data in shapes it never shows (lists
#: joined by "and", two clauses, a missing "from", a place before "with"), each word
#: written ``word/TAG`` with its right BIO tag.
NER_HARD: list[str] = [
    "In/O Paris/B-PLACE ,/O Nora/B-PERSON met/O Kim/B-PERSON and/O gave/O Leo/B-PERSON a/O "
    "kite/B-OBJECT ./O",
    "Tom/B-PERSON and/O Anna/B-PERSON went/O to/O Rome/B-PLACE ./O",
    "Ella/B-PERSON gave/O Kim/B-PERSON a/O kite/B-OBJECT in/O New/B-PLACE York/I-PLACE ./O",
    "In/O Hong/B-PLACE Kong/I-PLACE ,/O Ben/B-PERSON bought/O a/O kite/B-OBJECT and/O a/O "
    "drum/B-OBJECT ./O",
    "Leo/B-PERSON went/O to/O Cairo/B-PLACE and/O Lima/B-PLACE with/O Mia/B-PERSON ./O",
    "Zoe/B-PERSON lives/O in/O London/B-PLACE with/O Sam/B-PERSON ./O",
    "Rosa/B-PERSON sent/O a/O puppet/B-OBJECT to/O Ivy/B-PERSON in/O Tokyo/B-PLACE ./O",
    "Kai/B-PERSON met/O Ruby/B-PERSON and/O Finn/B-PERSON in/O Cape/B-PLACE Town/I-PLACE ./O",
]


def ner_hard_examples() -> list[dict[str, list[str]]]:
    """:data:`NER_HARD` as examples shaped like :func:`labkit.data.generate_labelled`'s NER
    data: ``{"tokens": [...], "tags": [...]}``. Taught in chapter 8."""
    examples = []
    for line in NER_HARD:
        tokens, tags = zip(*(item.rsplit("/", 1) for item in line.split()))
        examples.append({"tokens": list(tokens), "tags": list(tags)})
    return examples


def two_sentence_pairs(n: int = 100, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` translation pairs of *two* sentences each, e.g. ``("Tom was sad. Amy went to the
    park.", "汤姆很难过。艾米去了公园。")``: every sentence comes from
    :func:`~labkit.chapters.applications.translation_pairs`' templates, but a model trained on
    one sentence at a time has never had to carry on after the first full stop. Deterministic
    for a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    first, second = translation_pairs(n, seed=seed), translation_pairs(n, seed=seed + 10_000)
    return [(a_en + " " + b_en, a_zh + b_zh) for (a_en, a_zh), (b_en, b_zh) in zip(first, second)]


def long_code_pairs(n: int = 100, seed: int = 0, max_number: int = 10) -> list[tuple[str, str]]:
    """``n`` (question, program) pairs with *four* numbers and three operators, e.g.
    ``("what is two plus three times four minus one?", "2+3*4-1")``: longer than anything in
    :func:`~labkit.chapters.applications.code_pairs` (at most three numbers). Deterministic for
    a seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    rng = random.Random(seed)
    ops = {"plus": "+", "minus": "-", "times": "*"}
    pairs = []
    for _ in range(n):
        numbers = [rng.randint(0, max_number) for _ in range(4)]
        words = [rng.choice(list(ops)) for _ in range(3)]
        text = NUMBER_WORDS[numbers[0]]
        code = str(numbers[0])
        for word, number in zip(words, numbers[1:]):
            text += f" {word} {NUMBER_WORDS[number]}"
            code += f"{ops[word]}{number}"
        pairs.append((f"what is {text}?", code))
    return pairs


_QA_FACT = re.compile(r"(\w+) (lives in|has a|went to the) ([^.]+)\.")


def qa_error_kind(example: QAExample, prediction: str) -> str:
    """Sort a QA prediction: ``"right"``; ``"other person"`` (the same kind of fact, about
    someone else in the passage); ``"other fact"`` (some other words of the passage); or
    ``"not in passage"``. For the error analysis of ``qa_examples(..., people=2)``. Taught
    in chapter 8."""
    if prediction == example.answer:
        return "right"
    facts = list(_QA_FACT.finditer(example.context))
    gold = [m for m in facts if m.start(3) <= example.start < m.end(3)]
    for m in facts:
        if gold and m.group(2) == gold[0].group(2) and m.group(1) != gold[0].group(1):
            if prediction == m.group(3) or prediction in m.group(3).split():
                return "other person"
    if prediction and prediction in example.context:
        return "other fact"
    return "not in passage"
