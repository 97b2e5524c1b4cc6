"""Interactive pictures for the course, each with a static fallback.

Taught across the course: the attention explorer in chapters 2–3, the softmax-temperature,
√d_k and positional-encoding widgets in chapter 2, the live loss plot in chapter 4, the
embedding projector in chapter 3 and the sampling explorer in chapter 8.

Every widget works offline (its JavaScript ships inside labkit; nothing loads from a CDN),
and also stores a static SVG picture of itself in the notebook, shown wherever widgets cannot
run (GitHub, nbconvert HTML, a notebook opened before it was run). See
:mod:`labkit.widgets.display` and :func:`set_display`.

One file per widget: ``attention`` (the explorer), ``attention_live`` (the explorer kept
live while a model trains), ``softmax_temperature``, ``sqrt_dk_scaling``,
``positional_encoding``, ``sampling``, ``loss_plot`` and ``embedding_projector``; ``base``
holds what the small ones share, ``figures`` pairs any plotly figure with a picture, ``svg``
draws the pictures, ``tokens`` makes token strings readable; ``diagrams`` draws the course's
conceptual diagrams.

On Google Colab, importing this module turns on Colab's custom widget manager, which
third-party widgets such as these need.
"""

from __future__ import annotations

import sys

from labkit.widgets.attention import AttentionExplorer, explore
from labkit.widgets.attention_live import AttentionLive
from labkit.widgets.display import StaticFigure, display_mode, set_display
from labkit.widgets.embedding_projector import EmbeddingProjector
from labkit.widgets.figures import show, static_picture
from labkit.widgets.loss_plot import LossPlot
from labkit.widgets.positional_encoding import PositionalEncodingExplorer
from labkit.widgets.sampling import SamplingExplorer
from labkit.widgets.softmax_temperature import SoftmaxTemperature
from labkit.widgets.sqrt_dk_scaling import SqrtDkScaling
from labkit.widgets.tokens import readable_tokens

__all__ = [
    "AttentionExplorer",
    "AttentionLive",
    "EmbeddingProjector",
    "LossPlot",
    "PositionalEncodingExplorer",
    "SamplingExplorer",
    "SoftmaxTemperature",
    "SqrtDkScaling",
    "StaticFigure",
    "display_mode",
    "enable_colab_widgets",
    "explore",
    "readable_tokens",
    "set_display",
    "show",
    "static_picture",
]


def enable_colab_widgets() -> bool:
    """On Google Colab, turn on the custom widget manager (needed by anywidget); else do nothing.

    Called when ``labkit.widgets`` is imported. Returns True when it was turned on.
    Taught in chapter 0.
    """
    if "google.colab" not in sys.modules:
        return False
    from google.colab import output  # type: ignore[import-not-found]

    output.enable_custom_widget_manager()
    return True


enable_colab_widgets()
