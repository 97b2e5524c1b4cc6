"""Knowledge graphs in chapter 8: sentences that state facts, information extraction from a
tagged sentence (entities, then relations by pattern), fusion of the facts into one graph,
and a picture of it. Taught in chapter 8.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence

import networkx as nx
import plotly.graph_objects as go

from labkit._util import check_positive_int
from labkit.chapters.applications.datasets import english_words
from labkit.chapters.applications.encoding import spaced_words
from labkit.data import ENTITY_TYPES, expand, grammar
from labkit.widgets import StaticFigure, static_picture

__all__ = [
    "RELATION_PATTERNS",
    "build_graph",
    "extract_triples",
    "graph_figure",
    "relation_sentences",
]

#: Relation extraction by patterns: the sentence with its entities replaced by ``{0}``,
#: ``{1}``, ... (in order) → the facts it states, as (head index, relation, tail index).
RELATION_PATTERNS: dict[str, list[tuple[int, str, int]]] = {
    "{0} went to {1} with {2}.": [(0, "visited", 1), (0, "travelled with", 2)],
    "{0} bought a {1} in {2}.": [(0, "owns", 1), (0, "visited", 2)],
    "In {0}, {1} met {2}.": [(1, "met", 2), (1, "visited", 0)],
    "{0} gave {1} a {2}.": [(0, "gave a gift to", 1), (1, "owns", 2)],
    "{0} lives in {1}.": [(0, "lives in", 1)],
    "{0} sent a {1} from {2} to {3}.": [
        (0, "visited", 2),
        (0, "gave a gift to", 3),
        (3, "owns", 1),
    ],
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


def relation_sentences(
    n: int = 12, seed: int = 0, cast: int | None = None
) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """``n`` sentences of the English grammar's ``<ner>`` kind, each with the facts it states
    as ``(head, relation, tail)`` triples::

        ("Tom went to Paris with Kim.",
         [("Tom", "visited", "Paris"), ("Tom", "travelled with", "Kim")])

    The facts come from :data:`RELATION_PATTERNS` applied to the true entities. These are the
    sentences the NER data of chapter 5 is made of (``generate_labelled(task="ner")``), so a
    tagger trained on that data finds their entities. With ``cast=k`` the sentences are about
    only ``k`` people (and about ``k // 2 + 1`` cities and objects), so the same entities and
    facts come back again and again -- the material of a knowledge graph. Deterministic for a
    seed. Taught in chapter 8.
    """
    check_positive_int(n, "n")
    g, rng = grammar("en"), random.Random(seed)
    if cast is None:
        out = []
        for _ in range(n):
            pieces: list[str] = []
            spans: list[tuple[str, int, int]] = []
            expand(g, "<ner>", rng, pieces, spans)
            text = "".join(pieces)
            entities = sorted((a, b, ENTITY_TYPES[s]) for s, a, b in spans if s in ENTITY_TYPES)
            out.append((text, _facts(text, [(text[a:b], kind, a, b) for a, b, kind in entities])))
        return out
    if isinstance(cast, bool) or not isinstance(cast, int) or not 2 <= cast <= 12:
        raise ValueError(
            f"cast must be an int from 2 to 12 (people in the sentences), got {cast!r}"
        )
    people = rng.sample(english_words("<person>") + english_words("<friend>"), cast)
    words = {
        "<person>": people,
        "<friend>": people,
        "<city>": rng.sample(english_words("<city>"), cast // 2 + 1),
        "<toy>": rng.sample(english_words("<toy>"), cast // 2 + 1),
    }
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


def extract_triples(
    tokens: Sequence[str], tags: Sequence[str]
) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Information extraction from one tagged sentence: entities from the BIO ``tags``
    (e.g. a NER model's), then relations by :data:`RELATION_PATTERNS`.

    Returns ``(triples, entity_types)``: the ``(head, relation, tail)`` facts and each
    entity's type (PERSON, PLACE, OBJECT). Unknown sentence shapes give no triples.
    Taught in chapter 8.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags: give one tag per token")
    text, starts = "", []
    for piece in spaced_words(tokens):  # rebuild the sentence (see join_words)
        starts.append(len(text) + len(piece) - len(piece.lstrip(" ")))
        text += piece
    entities: list[tuple[str, str, int, int]] = []
    for i, (tok, tag) in enumerate(zip(tokens, tags)):
        end = starts[i] + len(tok)
        continues = tag.startswith("I-") and entities and entities[-1][1] == tag[2:]
        if tag.startswith("B-") or (tag.startswith("I-") and not continues):
            entities.append((tok, tag[2:], starts[i], end))
        elif tag.startswith("I-"):
            name, kind, a, _ = entities[-1]
            entities[-1] = (text[a:end], kind, a, end)
    return _facts(text, entities), {name: kind for name, kind, _, _ in entities}


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def build_graph(
    triples: Iterable[tuple[str, str, str]],
    entity_types: dict[str, str] | None = None,
    aliases: dict[str, str] | None = None,
) -> nx.MultiDiGraph:
    """Fuse facts into one knowledge graph (a ``networkx.MultiDiGraph``).

    Entity fusion: each name is normalised (spaces, case) and mapped through ``aliases``
    (e.g. ``{"NYC": "New York"}``), so every mention of one entity becomes one node, which
    counts its ``mentions`` and keeps its ``kind``. Fact fusion: the same (head, relation,
    tail) from several sentences becomes one edge whose ``count`` says how often it was
    stated. Taught in chapter 8.
    """
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
                kind = types.get(_norm(raw), types.get(_norm(name), "ENTITY"))
                graph.add_node(name, mentions=0, kind=kind)
            graph.nodes[name]["mentions"] += 1
        if graph.has_edge(h, t, key=relation):
            graph.edges[h, t, relation]["count"] += 1
        else:
            graph.add_edge(h, t, key=relation, relation=relation, count=1)
    return graph


_KIND_COLORS = {"PERSON": "#1f77b4", "PLACE": "#2ca02c", "OBJECT": "#ff7f0e"}


def graph_figure(
    graph: nx.MultiDiGraph, title: str = "", seed: int = 0
) -> tuple[go.Figure, StaticFigure]:
    """Draw a knowledge graph: a plotly figure (``networkx.spring_layout``, seeded) and its
    static picture (:func:`labkit.widgets.static_picture`). Nodes are coloured by kind and
    sized by mentions; each edge is labelled with its relation (× count when stated more
    than once).

    Returns ``(plotly_figure, StaticFigure)``, ready for :func:`labkit.widgets.show`.
    Taught in chapter 8.
    """
    if graph.number_of_nodes() == 0:
        raise ValueError("the graph is empty: add some facts first")
    pos = nx.spring_layout(nx.Graph(graph), seed=seed, k=1.2 / math.sqrt(graph.number_of_nodes()))
    fig = go.Figure(
        layout={
            "template": "plotly_white",
            "width": 720,
            "height": 480,
            "title": title,
            "showlegend": False,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        }
    )
    for h, t, data in graph.edges(data=True):
        (a, b), (c, d) = pos[h], pos[t]
        label = data["relation"] + (f" ×{data['count']}" if data["count"] > 1 else "")
        fig.add_scatter(
            x=[a, c], y=[b, d], mode="lines", line={"color": "#bbb", "width": 1}, hoverinfo="skip"
        )
        fig.add_annotation(
            x=c,
            y=d,
            ax=a,
            ay=b,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowcolor="#999",
            standoff=9,
            text="",
        )
        fig.add_annotation(
            x=(a + c) / 2,
            y=(b + d) / 2,
            text=label,
            showarrow=False,
            font={"size": 9, "color": "#666"},
        )
    names = list(graph.nodes)
    kinds = [graph.nodes[n]["kind"] for n in names]
    fig.add_scatter(
        x=[pos[n][0] for n in names],
        y=[pos[n][1] for n in names],
        mode="markers+text",
        text=names,
        textposition="top center",
        marker={
            "size": [8 + 4 * min(graph.nodes[n]["mentions"], 6) for n in names],
            "color": [_KIND_COLORS.get(k, "#888") for k in kinds],
        },
        hovertext=[
            f"{n} ({k}), {graph.nodes[n]['mentions']} mention(s)" for n, k in zip(names, kinds)
        ],
        hoverinfo="text",
    )
    return fig, static_picture(fig)
