"""Show attnbook figures in Jupyter as reproducible PNGs.

attnbook draws on plain :class:`~matplotlib.figure.Figure` objects (not
pyplot), which IPython displays only once pyplot's inline backend has been
activated. Registering a PNG formatter for ``Figure`` makes a figure display
as the last value of a cell, and be stored by ``myst_nb.glue``, whatever
backend is active; the bytes come from :func:`attnbook.plot.figure_bytes`, so
the same figure gives the same image in every build.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from attnbook.plot.style import figure_bytes


def _png(fig: Figure) -> bytes:
    return figure_bytes(fig, "png")


def register_figure_formatter() -> bool:
    """Register the PNG formatter in the running IPython shell, if there is one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["image/png"].for_type(Figure, _png)
    return True
