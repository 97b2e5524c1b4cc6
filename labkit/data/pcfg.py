"""Probabilistic grammars: templates → probabilities, sampling, and the exact entropy.

A grammar maps a symbol like ``"<toy>"`` to its alternatives. Each alternative is a template:
literal text with symbols in angle brackets, e.g. ``"<name> had a <toy>. "``. A list gives
equally likely alternatives; a dict gives weights. Writing the grammar in templates keeps it
small and readable; ``compile_grammar`` turns it into probabilities, ``sample`` draws a text
(with its exact negative log-probability) and ``grammar_stats`` solves for the exact entropy
per character. The course's two grammars are in ``grammar_en`` and ``grammar_zh``.

Taught in chapter 1 (and used by chapter 4's entropy floor).
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import re
from dataclasses import dataclass

import numpy as np

RawGrammar = dict[str, "list[str] | dict[str, float]"]
"""Templates: symbol → equally likely alternatives (list) or weighted alternatives (dict)."""

_SYMBOL = re.compile(r"(<[^<>\s]+>)")


def is_symbol(piece: str) -> bool:
    """True for a grammar symbol such as ``"<toy>"``, False for literal text.

    Taught in chapter 1.
    """
    return piece.startswith("<") and piece.endswith(">") and _SYMBOL.fullmatch(piece) is not None


def fill_templates(rules: RawGrammar, words: dict[str, str]) -> RawGrammar:
    """Fill ``{H}``-style placeholders in symbol names and templates (one copy per hero).

    Used to write the course's grammars (chapter 1).
    """
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
        """For each symbol, the running sums of its alternatives' probabilities."""
        cum = {}
        for symbol, options in self.rules.items():
            total, acc = 0.0, []
            for p, _ in options:
                total += p
                acc.append(total)
            cum[symbol] = acc
        return cum


def compile_grammar(raw: RawGrammar, start: str, lang: str = "") -> Grammar:
    """Turn templates (see ``grammar_en.english_rules``) into a ``Grammar`` with probabilities.

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
                if is_symbol(piece) and piece not in rules:
                    raise ValueError(f"grammar symbol {symbol} uses {piece}, which is not defined")
    if start not in rules:
        raise ValueError(f"the start symbol {start} is not defined in the grammar")
    return Grammar(rules=rules, start=start, lang=lang)


def sample(g: Grammar, rng: random.Random, symbol: str | None = None) -> tuple[str, float]:
    """Sample one string from ``symbol`` (default: the start symbol).

    Returns ``(text, nll)`` where ``nll`` is the sum of ``-log p`` over every choice made, in
    nats: the negative log-probability of the text under the true process (the grammar is
    unambiguous, so there is exactly one way to make each text). Taught in chapter 1.
    """
    pieces: list[str] = []
    nll = expand(g, symbol or g.start, rng, pieces, None)
    return "".join(pieces), nll


def expand(
    g: Grammar,
    symbol: str,
    rng: random.Random,
    out: list[str],
    spans: list[tuple[str, int, int]] | None,
) -> float:
    """Append the expansion of ``symbol`` to ``out``; return the nats of the choices made.

    When ``spans`` is a list, also record ``(symbol, start, end)`` character spans (how the
    named-entity labels of chapters 5 and 8 are made). Taught in chapter 1.
    """
    options = g.rules[symbol]
    cumulative = g._cumulative[symbol]
    i = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(options) - 1)
    p, pieces = options[i]
    nll = -math.log(p)
    start = sum(map(len, out)) if spans is not None else 0
    for piece in pieces:
        if is_symbol(piece):
            nll += expand(g, piece, rng, out, spans)
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
                if is_symbol(piece):
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
