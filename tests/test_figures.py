"""labkit.widgets.show / static_picture: plotly figures with a static SVG picture beside them."""

from __future__ import annotations

import base64
import re

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from labkit.widgets import show, static_picture
from labkit.widgets.svg import Axis, bar_chart


def _tick_labels(svg: str) -> dict[str, float]:
    """The y-axis tick labels of a chart (right-aligned text left of the frame) → their y."""
    found = re.findall(
        r'<text x="-7.0" y="([-\d.]+)"[^>]*text-anchor="end"[^>]*>([^<]*)</text>', svg
    )
    return {label: float(y) - 3.5 for y, label in found}


def _polyline_ys(svg: str) -> list[list[float]]:
    return [
        [float(p.split(",")[1]) for p in pts.split()]
        for pts in re.findall(r'<polyline points="([^"]+)"', svg)
    ]


def test_line_figure_becomes_svg_with_names_and_log_axis() -> None:
    fig = go.Figure(layout={"title": "<b>Scaling</b>", "xaxis": {"type": "log", "title": "params"}})
    fig.add_scatter(x=[1e3, 1e4, 1e5], y=[3.0, 2.0, 1.5], name="val loss", mode="lines+markers")
    fig.add_scatter(x=[1e3, 1e5], y=[2.9, 1.4], name="fit", line={"dash": "dash"})
    pic = static_picture(fig)
    assert pic.svg.startswith("<svg") and "polyline" in pic.svg
    assert "val loss" in pic.svg and "fit" in pic.svg and "stroke-dasharray" in pic.svg
    assert ">1000<" in pic.svg and ">100k<" in pic.svg  # log-axis ticks: the values themselves
    assert pic.alt == "Scaling"  # HTML tags stripped from the title


def test_subplots_bars_heatmap_markers_all_drawn() -> None:
    fig = make_subplots(rows=1, cols=3, subplot_titles=["bars", "heat", "points"])
    fig.add_bar(x=["a", "b"], y=[1.0, 3.0], row=1, col=1)
    fig.add_heatmap(z=[[1, 2], [3, 4]], row=1, col=2)
    fig.add_scatter(x=[1, 2, 3], y=[1, 4, 9], mode="markers", text=["p", "q", "r"], row=1, col=3)
    svg = static_picture(fig).svg
    assert svg.count("<rect") >= 3  # background + two bars
    assert "data:image/png;base64" in svg  # the heatmap
    assert svg.count("<circle") == 3 and ">q<" in svg
    for title in ("bars", "heat", "points"):
        assert f">{title}<" in svg


def test_log_y_is_labelled_with_real_values_not_logs() -> None:
    fig = go.Figure(layout={"yaxis": {"type": "log", "title": "loss"}})
    fig.add_scatter(x=[1, 2, 3], y=[10.0, 100.0, 1000.0], mode="lines")
    svg = static_picture(fig).svg
    assert "log10" not in svg and ">loss<" in svg
    assert set(_tick_labels(svg)) >= {"10", "100", "1000"}
    # evenly spaced decades: the log axis places values by their log10
    ys = [_tick_labels(svg)[v] for v in ("10", "100", "1000")]
    assert abs((ys[0] - ys[1]) - (ys[1] - ys[2])) < 0.2


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(TypeError, match="plotly Figure"):
        static_picture([1, 2, 3])
    with pytest.raises(ValueError, match="no traces"):
        static_picture(go.Figure())


def test_show_puts_plotly_json_and_picture_in_one_output(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda data, raw=False: shown.append((data, raw))
    )
    fig = go.Figure(go.Bar(x=["a", "b"], y=[2, 1]), layout={"title": "counts"})
    show(fig)
    ((data, raw),) = shown
    assert raw and data["application/vnd.plotly.v1+json"]["data"][0]["type"] == "bar"
    uri = data["text/html"].split('src="')[1].split('"')[0]
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and "counts" in svg
    assert len(data["text/plain"]) < 80


def test_bars_with_a_reference_line_on_a_log_axis() -> None:
    fig = go.Figure(
        go.Bar(x=["uni", "bi", "tri"], y=[20.0, 8.0, 3.0], name="models"),
        layout={"yaxis": {"type": "log", "title": "perplexity"}},
    )
    fig.add_scatter(
        x=["uni", "bi", "tri"], y=[1.5] * 3, mode="lines", name="floor", line={"dash": "dash"}
    )
    svg = static_picture(fig).svg
    assert svg.count("<rect") >= 4 and "polyline" in svg and ">floor<" in svg
    assert "log10" not in svg and ">perplexity<" in svg


def _ngram_figure() -> go.Figure:
    """The chapter 1 picture: test perplexities on a log axis with the entropy floor."""
    names = ["unigram", "bigram", "trigram", "4-gram", "5-gram", "6-gram"]
    ppl = [22.706, 8.736, 3.605, 2.296, 2.060, 2.115]
    fig = go.Figure(
        go.Bar(x=names, y=ppl, text=[f"{p:.2f}" for p in ppl], name="n-gram model"),
        layout={
            "yaxis": {
                "title": "perplexity (log scale; lower is better)",
                "type": "log",
                "range": [0, 1.5],
                "tickvals": [1, 1.5, 2, 3, 5, 10, 20],
            }
        },
    )
    fig.add_scatter(
        x=names, y=[1.497] * 6, mode="lines", line={"dash": "dash"}, name="floor e^H = 1.50"
    )
    return fig


def test_log_bars_show_real_values_and_the_floor_at_its_height() -> None:
    svg = static_picture(_ngram_figure()).svg
    # the bars are labelled with the perplexities, not their log10 (1.36, 0.94, ...)
    assert ">22.71<" in svg and ">2.06<" in svg and ">1.36<" not in svg
    assert "log10" not in svg and svg.count("log scale") == 1
    ticks = _tick_labels(svg)
    assert {"1", "1.5", "2", "3", "5", "10", "20"} <= set(ticks)
    # the floor line (1.497) is drawn at the height of the tick "1.5", not at log10 = 0.18
    (floor,) = _polyline_ys(svg)
    assert all(abs(y - ticks["1.5"]) < 1.0 for y in floor)
    # range [0, 1.5] in log10 units: the axis runs from 1 (bottom) to 10^1.5 ≈ 31.6
    assert ticks["1"] > ticks["20"] and ticks["1"] == max(ticks.values())


def test_bar_chart_log_axis_places_bars_by_log_height() -> None:
    svg = bar_chart(["a", "b"], [10.0, 100.0], yaxis=Axis(log=True, lim=(1, 100)), annotate=True)
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#1f77b4"', svg)]
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.01)  # log10: 1 vs 2
    assert ">10.00<" in svg and ">100.00<" in svg


def test_rangemode_tozero_starts_the_static_axis_at_zero() -> None:
    def picture(**yaxis: object) -> str:
        fig = go.Figure(layout={"yaxis": {"title": "gradient norm", **yaxis}})
        fig.add_scatter(x=[1, 2, 3, 4], y=[0.38, 0.33, 0.29, 0.25], name="pre-LN")
        fig.add_scatter(x=[1, 2, 3, 4], y=[0.43, 0.45, 0.42, 0.37], name="post-LN")
        return static_picture(fig).svg

    assert "0" not in _tick_labels(picture())  # autorange: starts near the data
    assert "0" in _tick_labels(picture(rangemode="tozero"))
    ticks = _tick_labels(picture(range=[0, 1]))
    assert {"0", "1"} <= set(ticks) and "0.2" in ticks


def test_timeline_has_year_ticks_and_no_row_numbers() -> None:
    fig = go.Figure(
        layout={
            "xaxis": {"title": "year", "dtick": 10, "range": [1940, 2028]},
            "yaxis": {"visible": False},
            "legend": {"x": 0.02, "y": 0.02},
        }
    )
    for lane, rows in {"old": [(1948, 0), (1985, -1)], "new": [(2017.5, -2), (2022.9, -3)]}.items():
        fig.add_scatter(
            x=[r[0] for r in rows],
            y=[r[1] for r in rows],
            mode="markers+text",
            name=lane,
            text=[f"{lane} {i}" for i in range(len(rows))],
        )
    svg = static_picture(fig).svg
    assert ">2000<" in svg and ">1940<" in svg and ">2020<" in svg
    assert "2e3" not in svg
    assert _tick_labels(svg) == {}  # the hidden y axis shows no row numbers


def test_log_log_line_chart_has_real_valued_ticks() -> None:
    fig = go.Figure(
        layout={
            "xaxis": {"type": "log", "title": "non-embedding parameters N"},
            "yaxis": {"type": "log", "title": "validation loss - entropy floor"},
        }
    )
    n = [3.4e3, 1.3e4, 2.6e4, 5.7e4, 1.0e5]
    fig.add_scatter(x=n, y=[1.47, 1.17, 0.89, 0.62, 0.52], mode="markers", name="measured")
    fig.add_scatter(x=n, y=[1.6, 1.05, 0.85, 0.66, 0.55], mode="lines", name="fit")
    svg = static_picture(fig).svg
    assert "log10" not in svg
    assert {"0.6", "1", "1.4"} & set(_tick_labels(svg))
    assert not [t for t in _tick_labels(svg) if t.startswith("-")]  # no log10 values like -0.2
    assert ">10k<" in svg and ">100k<" in svg
    assert svg.count("<circle") == 5  # the measured points stay points


def test_tick_labels_are_plain_numbers() -> None:
    from labkit.widgets.axes import _fmt

    assert [_fmt(v) for v in (0, 0.5, 1.5, 20, 1960, 2000, 10_000, 3e6, 1e-3)] == [
        "0",
        "0.5",
        "1.5",
        "20",
        "1960",
        "2000",
        "10k",
        "3M",
        "1e-3",
    ]
