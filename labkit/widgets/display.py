"""Static pictures of the widgets, and the switch between widgets and pictures.

A widget needs a live kernel and a browser extension. A notebook viewed on GitHub, exported
with nbconvert, run by nbval, or opened before its cells were run has neither. So every
labkit widget also carries a *static fallback*: a small SVG picture of its current state
(drawn by :mod:`labkit.widgets.svg`), wrapped in ``text/html`` as
``<img src="data:image/svg+xml;base64,...">``. That form needs no JavaScript and no network,
passes the HTML sanitisers of JupyterLab and GitHub, and is displayed even in a notebook that
is not "trusted".

When a widget is displayed, the output holds both the live widget view and this picture;
front ends that run widgets show the widget, all others show the picture. The switch::

    labkit.widgets.set_display("static")   # pictures only (slides, docs, no widget support)
    labkit.widgets.set_display("auto")     # the default: widget + picture
    # or set the environment variable LABKIT_WIDGETS=static before importing

Taught in chapter 0 (how the course's interactive pictures work).
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DISPLAY_MODES", "FallbackMixin", "StaticFigure", "display_mode", "set_display"]

#: The display modes: ``"auto"`` (live widget + static picture) or ``"static"`` (picture only).
DISPLAY_MODES = ("auto", "static")
_mode = os.environ.get("LABKIT_WIDGETS", "auto").strip().lower() or "auto"
if _mode not in DISPLAY_MODES:
    _mode = "auto"


def set_display(mode: str) -> None:
    """Choose how labkit widgets display: ``"auto"`` (widget + static picture) or ``"static"``.

    ``"static"`` shows only the picture: useful for slides, for exporting documentation, or
    in an editor whose widget support is broken. Taught in chapter 0.
    """
    global _mode
    if mode not in DISPLAY_MODES:
        raise ValueError(f"display mode must be one of {DISPLAY_MODES}, got {mode!r}")
    _mode = mode


def display_mode() -> str:
    """The current display mode (see :func:`set_display`). Taught in chapter 0."""
    return _mode


@dataclass
class StaticFigure:
    """An SVG picture that displays itself in any notebook front end.

    ``fig.svg`` is the SVG text; ``fig.save("plot.svg")`` writes it (``.html`` also works).
    Taught in chapter 0.
    """

    svg: str
    alt: str = "labkit figure"
    width: int = 0

    def to_html(self) -> str:
        """The picture as one ``<img>`` tag with the SVG inside a data URI (no JavaScript)."""
        data = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        width = f' width="{self.width}"' if self.width else ""
        alt = html.escape(self.alt, quote=True)
        return f'<img src="data:image/svg+xml;base64,{data}" alt="{alt}"{width}/>'

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        # Short, so a notebook's text/plain output stays small (the SVG goes to text/html).
        return f"<StaticFigure {self.alt!r}: {len(self.svg):,} characters of SVG>"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the picture to ``path`` (``.svg`` or ``.html``) and return the path."""
        path = Path(path)
        if path.suffix.lower() not in (".svg", ".html"):
            raise ValueError(f"save as .svg or .html, got {path.name!r}")
        text = self.svg if path.suffix.lower() == ".svg" else self.to_html()
        path.write_text(text, encoding="utf-8")
        return path


class FallbackMixin:
    """Adds the static picture to a widget's notebook output.

    A widget class mixes this in and implements ``static() -> StaticFigure``. The output
    bundle then holds the widget view *and* ``text/html`` with the picture (or only the
    picture in ``"static"`` mode). Taught in chapter 0.
    """

    def static(self) -> StaticFigure:  # pragma: no cover - every widget overrides it
        """The widget's current state as a static picture."""
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        """Display through a handle, so :meth:`refresh_static` can update the output later."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        handle = display(data, metadata=metadata or {}, raw=True, display_id=True)
        if handle is not None:
            self.__dict__.setdefault("_static_handles", []).append(handle)

    def refresh_static(self) -> None:
        """Redraw the stored picture of every output showing this widget (e.g. after training,
        so the saved notebook shows the finished loss curve, not an empty one)."""
        for handle in self.__dict__.get("_static_handles", []):
            bundle = self._repr_mimebundle_()
            data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
            handle.update(data, metadata=metadata or {}, raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        picture = self.static().to_html()
        name = type(self).__name__
        plain = f"<labkit {name}: run the cell to interact with it>"
        if _mode == "static":
            return {"text/plain": plain, "text/html": picture}
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if bundle is None:  # the widget was closed
            return {"text/plain": plain, "text/html": picture}
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        data = {**data, "text/plain": plain, "text/html": picture}
        return (data, metadata) if metadata else data
