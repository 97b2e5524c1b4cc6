"""Data preparation before pretraining: cleaning, junk and boilerplate lines, de-duplication.

``clean_text``, ``is_junk``, ``normalize``, ``find_boilerplate``, ``clean_documents``, exact
de-duplication (``find_exact_duplicates``, ``dedup_exact``), near de-duplication with shingles,
Jaccard similarity and MinHash + LSH (``find_near_duplicates``, ``dedup_near``), and
``messy_corpus``, a web-like corpus that records every mess put into it so the cleaning can be
measured. Taught in chapter 4.
"""

from __future__ import annotations

import hashlib
import html
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from labkit._util import check_positive_int
from labkit.data.corpus import grammar
from labkit.data.grammar_en import english_rules
from labkit.data.pcfg import sample

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
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
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


def find_boilerplate(
    docs: Sequence[str], min_fraction: float = 0.05, min_docs: int = 3
) -> set[str]:
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
            line
            for line in doc.split("\n")
            if not is_junk(line) and normalize(line) not in boilerplate
        ]
        cleaned.append(clean_text("\n".join(lines)))
    return cleaned


# --------------------------------------------------------------------------- de-duplication


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
    from datasketch import MinHash, MinHashLSH  # imported here: only this lesson needs it

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
            int(key)
            for key in lsh.query(signature)
            if signature.jaccard(signatures[int(key)]) >= threshold
        )
        if matches:
            removed[i] = matches[0]
        else:
            lsh.insert(str(i), signature)
            signatures[i] = signature
    return removed


def dedup_near(docs: Sequence[str], threshold: float = 0.8, num_perm: int = 128) -> list[str]:
    """Drop near-duplicate documents (MinHash + LSH; see ``find_near_duplicates``).

    Taught in chapter 4.
    """
    removed = find_near_duplicates(docs, threshold, num_perm)
    return [doc for i, doc in enumerate(docs) if i not in removed]


# --------------------------------------------------------------------------- a messy corpus

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
    raw = english_rules()
    pools = [raw[s] for s in ("<color>", "<toy>", "<place>", "<feeling>", "<animal>", "<food>")]
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if any(w.strip('.,!?"') in p for p in pools)]
    for i in rng.sample(spots, min(k, len(spots))):
        bare = words[i].strip('.,!?"')
        pool = next(p for p in pools if bare in p)
        words[i] = words[i].replace(bare, rng.choice([w for w in pool if w != bare]))
    return " ".join(words)


def _dress(body: str, rng: random.Random) -> tuple[str, str | None]:
    """Add boilerplate and junk lines around/inside a document's story lines.

    Returns the document and the junk line put into it (``None`` if none).
    """
    lines = body.split("\n")
    if rng.random() < 0.6:
        lines.insert(0, rng.choice(BOILERPLATE))
    if rng.random() < 0.6:
        lines.append(rng.choice(BOILERPLATE))
    junk = None
    if rng.random() < 0.4:
        if rng.random() < 0.7:
            junk = rng.choice(JUNK_LINES)
        else:
            junk = "".join(rng.choice(_JUNK_SYMBOLS) for _ in range(rng.randint(5, 20)))
        lines.insert(rng.randint(0, len(lines)), junk)
    return "\n".join(lines), junk


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
    check_positive_int(n_docs, "n_docs")
    rng = random.Random(seed)
    g = grammar("en")
    result = MessyCorpus(docs=[], boilerplate=list(BOILERPLATE))
    originals: list[tuple[int, str]] = []  # (index, story lines before any mess)

    def add(i: int, body: str) -> None:
        doc, junk = _dress(body, rng)
        result.docs.append(doc)
        if junk is not None:
            result.junk_lines[i] = [junk]

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
            add(i, _change_words(body, rng, rng.randint(1, 2)))
            result.near_duplicates[i] = j
        else:
            stories = [sample(g, rng)[0].strip() for _ in range(rng.randint(4, 6))]
            body = "\n".join(stories)
            originals.append((i, body))
            add(i, body)
    return result
