"""labkit.widgets.show / static_picture: plotly figures with a static SVG picture beside them."""

from __future__ import annotations

import base64

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from labkit.widgets import show, static_picture


def test_line_figure_becomes_svg_with_names_and_log_axis() -> None:
    fig = go.Figure(layout={"title": "<b>Scaling</b>", "xaxis": {"type": "log", "title": "params"}})
    fig.add_scatter(x=[1e3, 1e4, 1e5], y=[3.0, 2.0, 1.5], name="val loss", mode="lines+markers")
    fig.add_scatter(x=[1e3, 1e5], y=[2.9, 1.4], name="fit", line={"dash": "dash"})
    pic = static_picture(fig)
    assert pic.svg.startswith("<svg") and "polyline" in pic.svg
    assert "val loss" in pic.svg and "fit" in pic.svg and "stroke-dasharray" in pic.svg
    assert "1e3" in pic.svg and "1e5" in pic.svg  # log-axis ticks
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


def test_log_y_is_drawn_as_log10_values() -> None:
    fig = go.Figure(layout={"yaxis": {"type": "log", "title": "loss"}})
    fig.add_scatter(x=[1, 2, 3], y=[10.0, 100.0, 1000.0], mode="lines")
    assert "log10 loss" in static_picture(fig).svg


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
    assert "log10 perplexity" in svg
