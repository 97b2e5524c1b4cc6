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
    assert svg.count("<circle") == 5 + 1  # the measured points stay points (+ legend swatch)


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


def _lines(svg: str, color: str) -> list[tuple[float, float, float, float]]:
    """The ``<line>`` elements drawn in ``color``: (x1, y1, x2, y2)."""
    found = re.findall(
        r'<line x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)" '
        rf'stroke="{color}"',
        svg,
    )
    return [tuple(float(v) for v in f) for f in found]  # type: ignore[misc]


def _bars_and_caps(svg: str, color: str) -> tuple[list, list]:
    lines = _lines(svg, color)
    return [ln for ln in lines if ln[0] == ln[2]], [ln for ln in lines if ln[1] == ln[3]]


def test_error_bars_are_drawn_with_caps_in_the_trace_colour() -> None:
    fig = go.Figure(
        go.Scatter(
            x=[1, 2, 3],
            y=[1.0, 2.0, 3.0],
            mode="markers",
            marker={"color": "#123456"},
            error_y={"type": "data", "array": [0.5, 0.25, 0.0]},  # no bar where the error is 0
        )
    )
    svg = static_picture(fig).svg
    bars, caps = _bars_and_caps(svg, "#123456")
    assert len(bars) == 2 and len(caps) == 4
    circles = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    # symmetric by default: the point sits in the middle of its bar; the bars scale with the data
    for (_, top, _, bottom), cy in zip(bars, circles):
        assert (top + bottom) / 2 == pytest.approx(cy, abs=0.2)
    assert bars[0][3] - bars[0][1] == pytest.approx(2 * (bars[1][3] - bars[1][1]), rel=0.02)


def test_error_bars_on_a_log_axis_are_placed_like_the_data_and_clipped_at_zero() -> None:
    fig = go.Figure(layout={"yaxis": {"type": "log"}})
    fig.add_scatter(
        x=[1, 2, 3],
        y=[1.0, 10.0, 100.0],
        mode="markers",
        marker={"color": "#654321"},
        # the first lower end is 1 - 2 < 0: clipped to the bottom of the axis, without a cap
        error_y={"type": "data", "array": [1.0, 10.0, 100.0], "arrayminus": [2.0, 5.0, 50.0]},
    )
    svg = static_picture(fig).svg
    bars, caps = _bars_and_caps(svg, "#654321")
    assert len(bars) == 3 and len(caps) == 5
    circles = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    # 5 … 20 around 10 and 50 … 200 around 100: equal halves in log10 units (log10 2 each)
    for (_, top, _, bottom), cy in zip(bars[1:], circles[1:]):
        assert bottom - cy == pytest.approx(cy - top, abs=0.3)
    height = float(re.search(r'<rect x="0" y="0" width="[\d.]+" height="([\d.]+)"', svg)[1])
    assert bars[0][3] == pytest.approx(height)  # clipped to the axis, not lost
    assert "nan" not in svg and "inf" not in svg
    # symmetric=True uses ``array`` both ways even when an arrayminus is given
    fig.update_traces(error_y={"symmetric": True})
    bars, _ = _bars_and_caps(static_picture(fig).svg, "#654321")
    assert len(bars) == 3


def test_constant_and_percent_error_bars() -> None:
    from labkit.widgets.figures import _error_ends

    ys = [10.0, 20.0]
    lo, hi = _error_ends(go.Scatter(y=ys, error_y={"type": "constant", "value": 1}).error_y, ys)
    assert list(lo) == [9.0, 19.0] and list(hi) == [11.0, 21.0]
    lo, hi = _error_ends(go.Scatter(y=ys, error_y={"type": "percent", "value": 50}).error_y, ys)
    assert list(lo) == [5.0, 10.0] and list(hi) == [15.0, 30.0]
    assert _error_ends(go.Scatter(y=ys).error_y, ys) is None


def _seed_figure() -> go.Figure:
    """The chapter 9 picture: per-seed lowest/highest markers (one legend entry for both),
    means with error bars, the live run and a dashed fit, on log-log axes."""
    n = [3.4e3, 1.3e4, 2.6e4, 5.7e4, 1.0e5]
    mean = [1.47, 1.17, 0.89, 0.62, 0.52]
    fig = go.Figure(layout={"xaxis": {"type": "log"}, "yaxis": {"type": "log"}})
    for ys, name in (
        ([m * 0.9 for m in mean], "lowest and highest seed"),
        ([m * 1.1 for m in mean], None),
    ):
        fig.add_scatter(
            x=n,
            y=ys,
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 12, "color": "#999"},
            name=name,
            showlegend=name is not None,
        )
    fig.add_scatter(
        x=n,
        y=mean,
        mode="markers",
        marker={"size": 9, "color": "#2ca02c"},
        error_y={"type": "data", "array": [m * 0.05 for m in mean]},
        name="stored seeds: mean ± 1 s.d.",
    )
    fig.add_scatter(x=n, y=mean, mode="markers", marker={"symbol": "x"}, name="this run")
    fig.add_scatter(x=n, y=mean, mode="lines", line={"dash": "dash"}, name="fit to the means")
    return fig


def test_every_named_trace_has_a_legend_entry_drawn_like_it() -> None:
    svg = static_picture(_seed_figure()).svg
    bars, caps = _bars_and_caps(svg, "#2ca02c")
    assert len(bars) == 5 + 1 and len(caps) == 10 + 2  # five error bars + the legend swatch's
    legend = dict(
        (label, float(x))
        for x, label in re.findall(
            r'<text x="([-\d.]+)" y="[\d.]+" font-size="10" text-anchor="start"[^>]*>([^<]*)<',
            svg,
        )
    )
    names = [
        "lowest and highest seed",
        "stored seeds: mean ± 1 s.d.",
        "this run",
        "fit to the means",
    ]
    assert set(legend) == set(names)  # no "trace 1" for the hidden second seed trace
    assert all(x >= 0 for x in legend.values())  # inside the plot area, not cut off on the left
    assert svg.count('stroke-dasharray="4,2"') == 1  # the fit's swatch is a dashed line
    # the markers keep their symbol and colour: grey dashes (5 + 5 + the swatch), crosses
    assert len([ln for ln in _lines(svg, "#999") if ln[1] == ln[3] and ln[2] - ln[0] > 11]) == 10
    assert len(_lines(svg, "#999")) >= 11


def test_hidden_legend_entries_in_a_marker_only_figure() -> None:
    fig = go.Figure()
    fig.add_scatter(x=[1, 2], y=[1, 2], mode="markers", name="shown")
    fig.add_scatter(x=[1, 2], y=[2, 1], mode="markers", name="hidden", showlegend=False)
    svg = static_picture(fig).svg
    assert ">shown<" in svg and ">hidden<" not in svg
