"""Generated corpora: stories and dialogues with an exact entropy, and labelled sentences.

* ``generate_corpus("en" | "zh")`` — whole documents from the grammars of ``grammar_en`` and
  ``grammar_zh``, with the **exact entropy per character** of the process that made them (the
  floor that no model's loss can beat). Taught in chapters 1 and 4.
* ``generate_labelled`` — labelled sentences (sentiment, topic, named entities) for
  fine-tuning. Taught in chapter 5.
"""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass
from typing import Any

from labkit._util import check_positive_int
from labkit.data.grammar_en import english_rules
from labkit.data.grammar_zh import chinese_rules
from labkit.data.pcfg import Grammar, compile_grammar, expand, grammar_stats, sample

LANGUAGES = {"en": "English simple stories", "zh": "Chinese short stories and dialogues"}


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")


@functools.cache
def grammar(lang: str = "en") -> Grammar:
    """The grammar behind ``generate_corpus(lang)``: ``"en"`` (stories) or ``"zh"``.

    Taught in chapter 1.
    """
    if lang == "en":
        return compile_grammar(english_rules(), "<story>", "en")
    if lang == "zh":
        return compile_grammar(chinese_rules(), "<document>", "zh")
    raise ValueError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")


@functools.cache
def corpus_entropy(lang: str = "en") -> float:
    """The exact entropy of ``generate_corpus(lang)`` text, in nats per character.

    See ``grammar_stats`` for the formula. Taught in chapters 1 and 4.
    """
    _check_lang(lang)
    return grammar_stats(grammar(lang)).entropy_per_char


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
    check_positive_int(n_chars, "n_chars")
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


# --------------------------------------------------------------------------- labelled sentences

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


def _tagged_sentence(g: Grammar, rng: random.Random, lang: str, names: list[str]) -> dict[str, Any]:
    """One ``<ner>`` sentence as tokens with BIO tags (characters for Chinese)."""
    out: list[str] = []
    spans: list[tuple[str, int, int]] = []
    expand(g, "<ner>", rng, out, spans)
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
    return {
        "tokens": [t for t, _, _ in tokens],
        "tags": tags,
        "labels": [names.index(t) for t in tags],
    }


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
    check_positive_int(n, "n")
    g = grammar(lang)
    rng = random.Random(seed)
    examples: list[dict[str, Any]] = []
    for _ in range(n):
        if task == "ner":
            examples.append(_tagged_sentence(g, rng, lang, names))
            continue
        label = rng.randrange(len(names))
        text, _ = sample(g, rng, LABELLED_TASKS[task][names[label]])
        examples.append({"text": text, "label": label, "label_name": names[label]})
    return examples
