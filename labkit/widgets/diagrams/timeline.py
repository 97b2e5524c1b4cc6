"""A timeline of milestones as a plotly figure: one row per event, one colour per family.

Taught in chapter 1 (section 2, a short history of language models).

``timeline_figure(events)`` takes ``(year, family, name, note)`` tuples and returns a plotly
figure with one marker per event (its name beside it, the note on hover), one row per event
and one colour per family; show it with :func:`labkit.widgets.show`, which adds the static
picture for viewers without a live kernel::

    from labkit.widgets import show
    from labkit.widgets.diagrams.timeline import timeline_figure

    show(timeline_figure([(1948, "statistical", "Shannon", "n-grams of English")]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labkit.widgets.svg import PALETTE

__all__ = ["timeline_figure"]

#: One milestone: (year, family, name, note); the year may be fractional (2017.5 = mid-2017).
Event = tuple[float, str, str, str]


def timeline_figure(
    events: Sequence[Event], title: str = "A timeline (hover for details)", height: int = 520
) -> Any:
    """A plotly timeline of ``events``: x = year, one row per event, one colour per family.

    Events are drawn top to bottom in the order given; names sit to the right of their marker
    for early years and to the left for late ones, so that they stay inside the plot.

    Taught in chapter 1.
    """
    import plotly.graph_objects as go

    if not events:
        raise ValueError("give at least one event (year, family, name, note)")
    for event in events:
        if len(event) != 4 or not isinstance(event[0], (int, float)):
            raise ValueError(f"each event is (year, family, name, note), got {event!r}")
    years = [e[0] for e in events]
    middle = (min(years) + max(years)) / 2
    families = list(dict.fromkeys(e[1] for e in events))
    fig = go.Figure()
    for k, family in enumerate(families):
        rows = [(i, e) for i, e in enumerate(events) if e[1] == family]
        fig.add_trace(
            go.Scatter(
                x=[e[0] for _, e in rows],
                y=[-i for i, _ in rows],
                mode="markers+text",
                name=family,
                marker={"size": 11, "color": PALETTE[k % len(PALETTE)]},
                text=[e[2] for _, e in rows],
                textposition=["middle left" if e[0] > middle else "middle right" for _, e in rows],
                hovertext=[f"{e[2]} ({int(e[0])}): {e[3]}" for _, e in rows],
                hoverinfo="text",
            )
        )
    span = max(years) - min(years)
    fig.update_layout(
        title=title,
        height=height,
        template="plotly_white",
        legend={"title": "family", "x": 0.02, "y": 0.02},
        xaxis={
            "title": "year",
            "dtick": 10 if span > 30 else 5,
            "range": [min(years) - 0.1 * span, max(years) + 0.05 * span],
        },
        yaxis={"visible": False},
    )
    return fig
