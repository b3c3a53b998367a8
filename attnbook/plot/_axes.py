"""Helpers shared by the figure modules: new figures, colours, argument checks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.errors import AttnbookError, HeadOutOfRangeError, LayerOutOfRangeError
from attnbook.ids import check_id
from attnbook.plot.style import CMAP, FONT_FAMILY


class PlotInputError(AttnbookError, ValueError):
    """A figure function was given arguments it cannot draw."""


class PlotLayerOutOfRangeError(PlotInputError, LayerOutOfRangeError):
    """A figure function was given a layer id the model does not have."""


class PlotHeadOutOfRangeError(PlotInputError, HeadOutOfRangeError):
    """A figure function was given a head id the model does not have."""


def plot_layer(layer: object, count: int) -> int:
    """The one range check (:func:`attnbook.ids.check_id`) for a figure's layer id."""
    return check_id(layer, count, "layer", PlotLayerOutOfRangeError)


def plot_head(head: object, count: int) -> int:
    """The one range check (:func:`attnbook.ids.check_id`) for a figure's head id."""
    return check_id(head, count, "head", PlotHeadOutOfRangeError)


def use_book_fonts(ax: Axes) -> None:
    """Give the texts ``ax`` already holds attnbook's fonts (Japanese fallback included).

    Axes made outside :func:`~attnbook.plot.style.style_context` (a caller's
    ``plt.subplots()``) created their tick labels, title and axis labels with
    the caller's ``font.family``; text set on them later keeps that font, so
    Japanese tokens would render as empty boxes. ``tick_params`` also covers
    the tick labels matplotlib creates later.
    """
    ax.tick_params(which="both", labelfontfamily=FONT_FAMILY)
    for axis in (ax.xaxis, ax.yaxis):
        axis.label.set_fontfamily(FONT_FAMILY)
        axis.get_offset_text().set_fontfamily(FONT_FAMILY)
    private = vars(ax)  # matplotlib has no public accessor for the left and right title texts
    for title in (ax.title, private["_left_title"], private["_right_title"]):
        title.set_fontfamily(FONT_FAMILY)


def _root_figure(ax: Axes) -> Figure:
    """The figure ``ax`` is drawn in (the top one when ``ax`` sits in a subfigure)."""
    fig = ax.get_figure(root=True)
    if fig is None:
        raise PlotInputError(
            "ax belongs to no figure; make it with fig.add_subplot() or plt.subplots()"
        )
    return fig


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: ``ax`` and its figure, or a fresh single-axes figure.

    Fresh figures are plain :class:`~matplotlib.figure.Figure` objects, not
    pyplot figures, so drawing many of them neither leaks memory through
    pyplot's figure registry nor shows each one twice in a notebook. A given
    ``ax`` gets attnbook's fonts (:func:`use_book_fonts`).
    """
    if ax is not None:
        if not isinstance(ax, Axes):
            raise PlotInputError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        use_book_fonts(ax)
        return _root_figure(ax), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def new_axes_row(
    axes: Sequence[Axes] | None, n: int, figsize: tuple[float, float]
) -> tuple[Figure, list[Axes]]:
    """Like :func:`new_axes` for ``n`` panels side by side."""
    if axes is not None:
        axes = list(axes)
        if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
            raise PlotInputError(f"axes must be a sequence of {n} matplotlib Axes")
        for ax in axes:
            use_book_fonts(ax)
        return _root_figure(axes[0]), axes
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def discrete_colours(n: int, cmap: str = CMAP) -> list[tuple[float, float, float, float]]:
    """``n`` colours spread along ``cmap`` (avoiding its brightest end, which fades on white)."""
    colormap = matplotlib.colormaps[cmap]
    if n == 1:
        return [colormap(0.35)]
    return [colormap(0.85 * i / (n - 1)) for i in range(n)]
