"""Conceptual diagrams of the course, drawn as static SVG pictures by labkit code.

Each module draws one diagram (for example ``multihead``: the data flow of multi-head
attention, taught in chapter 2) and returns a :class:`~labkit.widgets.display.StaticFigure`,
so the picture re-renders wherever the notebook runs (Colab, JupyterLab, GitHub) and is
stored in the notebook as a plain SVG output. Taught across the course, starting in chapter 2.
"""
