"""The one matrix drawer behind every heatmap, and a labelled heatmap of any weight matrix.

:func:`draw_matrix` puts a ``[Q, K]`` matrix on axes with its query (row) and
key (column) labels, optionally writes the values in the cells, and draws
cells a query cannot see (a causal map's future keys) as masked, in
:data:`HIDDEN_COLOUR`, outside the colour scale. Every heatmap of attnbook
goes through it: :func:`weights_heatmap` (model-free, Part I),
:func:`attnbook.plot.heatmap` (a model's maps), the panels of
:func:`attnbook.plot.explanation_comparison` and the toy model's
:func:`attnbook.toy.plot.head_heatmap`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, Rectangle

from attnbook.plot._axes import PlotInputError, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.i18n import verbatim
from attnbook.plot.style import CMAP, style_context

__all__ = ["HIDDEN_COLOUR", "annotate_cells", "draw_matrix", "hidden_legend", "weights_heatmap"]

HIDDEN_COLOUR = "0.88"
"""Face colour of the cells a query cannot see (hatched; masked out of the colour scale)."""

_HIDDEN_EDGE, _HIDDEN_HATCH = "0.6", "///"


def draw_matrix(
    ax: Axes,
    matrix: np.ndarray,
    rows: Sequence[str] | None,
    cols: Sequence[str] | None,
    *,
    cmap: str = CMAP,
    hidden: np.ndarray | None = None,
    image: Mapping[str, Any] | None = None,
    xticks: Mapping[str, Any] | None = None,
    yticks: Mapping[str, Any] | None = None,
    ticks: Mapping[str, Any] | None = None,
) -> AxesImage:
    """Draw ``matrix`` ``[Q, K]`` on ``ax``: rows are queries, columns keys.

    Args:
        ax: the axes (inside :func:`~attnbook.plot.style.style_context`).
        matrix: ``[Q, K]`` values.
        rows, cols: ``Q`` and ``K`` tick labels; ``None`` for neither ticks
            nor labels and the frame kept (small multiples).
        cmap: colour map name.
        hidden: optional bool ``[Q, K]``, ``True`` where the query cannot see
            the key; those cells are masked out of the colour scale and drawn
            hatched in :data:`HIDDEN_COLOUR`, so "cannot see" is not "weight 0".
        image: extra keywords of ``ax.imshow`` (``norm``, ``vmin``, ``aspect``, ...).
        xticks, yticks: extra keywords of ``ax.set_xticks`` / ``set_yticks``.
        ticks: keywords of ``ax.tick_params``.

    Returns:
        The image (for a colour bar).
    """
    q, k = matrix.shape
    if hidden is not None:
        hidden = np.asarray(hidden, dtype=bool)
        matrix = np.ma.masked_array(matrix, mask=hidden)
    drawn = ax.imshow(matrix, cmap=cmap, **dict(image or {}))
    if hidden is not None:
        for i, j in zip(*np.nonzero(hidden), strict=True):
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    facecolor=HIDDEN_COLOUR,
                    edgecolor=_HIDDEN_EDGE,
                    hatch=_HIDDEN_HATCH,
                    linewidth=0,
                )
            )
    if rows is None or cols is None:
        ax.set_xticks([])
        ax.set_yticks([])
        return drawn
    ax.set_xticks(range(k), labels=list(cols), **dict(xticks or {}))
    ax.set_yticks(range(q), labels=list(rows), **dict(yticks or {}))
    ax.tick_params(**dict(ticks or {"length": 0}))
    ax.spines[:].set_visible(False)
    return drawn


def hidden_legend(ax: Axes, fig: Figure) -> None:
    """A legend entry above ``ax`` saying what the hatched cells are."""
    ax.legend(
        handles=[
            Patch(
                facecolor=HIDDEN_COLOUR,
                edgecolor=_HIDDEN_EDGE,
                hatch=_HIDDEN_HATCH,
                label=_t(fig, "masked_cells"),
            )
        ],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        frameon=False,
        fontsize="small",
        borderaxespad=0.2,
    )


def annotate_cells(
    ax: Axes,
    matrix: np.ndarray,
    colour_of: Callable[[float], str],
    *,
    fmt: str = ".2f",
    fontsize: str = "small",
    hidden: np.ndarray | None = None,
) -> None:
    """Write each value of ``matrix`` ``[Q, K]`` in its cell (hidden cells stay empty)."""
    q, k = matrix.shape
    for i in range(q):
        for j in range(k):
            if hidden is not None and hidden[i, j]:
                continue
            value = matrix[i, j]
            ax.text(
                j,
                i,
                format(value, fmt),
                ha="center",
                va="center",
                fontsize=fontsize,
                color=colour_of(value),
            )


def weights_heatmap(
    weights,
    queries: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    colorbar_label: str | None = None,
    decimals: int = 2,
    mask=None,
) -> Figure:
    """Draw a ``[T, S]`` matrix: query rows (who looks) × key columns (who is looked at).

    Args:
        weights: ``[T, S]`` tensor or array; booleans are drawn as 0/1.
        queries: ``T`` row labels (default ``q0, q1, …``).
        keys: ``S`` column labels (default ``k0, k1, …``).
        ax: draw into this axes instead of a new figure.
        annotate: write each value in its cell.
        title, vmin, vmax, colorbar_label, decimals: presentation.
        mask: optional ``[T, S]`` boolean, the library's convention (``True`` =
            the query may see the key, e.g. :func:`~attnbook.causal_mask`).
            Cells it hides are drawn hatched in grey and left unannotated, so
            "cannot see" is not confused with "gives weight 0"; a legend
            entry says so.

    Returns:
        The figure, with a colour bar labelled ``colorbar_label``.

    >>> import torch
    >>> fig = weights_heatmap(torch.eye(2), ["a", "b"], ["x", "y"])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['x', 'y']
    >>> from attnbook import causal_mask
    >>> fig = weights_heatmap(torch.eye(3), mask=causal_mask(3))  # 3 cells hatched, not "0.00"
    >>> [t.get_text() for t in fig.axes[0].texts].count("0.00"), len(fig.axes[0].patches)
    (3, 3)
    """
    matrix = torch.as_tensor(weights).detach().to("cpu", torch.float64).numpy()
    if matrix.ndim != 2:
        raise PlotInputError(
            f"weights must be a 2-D [queries, keys] matrix, got shape {matrix.shape}; "
            "select one batch element / head first"
        )
    t, s = matrix.shape
    queries = [f"q{i}" for i in range(t)] if queries is None else [str(q) for q in queries]
    keys = [f"k{j}" for j in range(s)] if keys is None else [str(k) for k in keys]
    if len(queries) != t or len(keys) != s:
        raise PlotInputError(
            f"got {len(queries)} query and {len(keys)} key labels for a {t}×{s} matrix"
        )
    hidden = np.zeros((t, s), dtype=bool)
    if mask is not None:
        visible = torch.as_tensor(mask).detach().to("cpu")
        if visible.dtype != torch.bool or tuple(visible.shape) != (t, s):
            raise PlotInputError(
                f"mask must be a boolean [T, S] = [{t}, {s}] matrix (True = visible), got "
                f"{visible.dtype} of shape {tuple(visible.shape)}"
            )
        hidden = ~visible.numpy()
    with style_context():
        fig, ax = new_axes(ax, (0.9 + 0.6 * s, 0.6 + 0.5 * t))
        long_keys = max(map(len, keys)) > 3
        image = draw_matrix(
            ax,
            matrix,
            queries,
            keys,
            hidden=hidden,
            image={"vmin": vmin, "vmax": vmax, "aspect": "auto"},
            xticks={"rotation": 45 if long_keys else 0, "ha": "right" if long_keys else "center"},
        )
        if hidden.any():
            hidden_legend(ax, fig)
        verbatim(fig, [*queries, *keys])
        ax.set_xlabel(_t(fig, "key_looked_at"))
        ax.set_ylabel(_t(fig, "query_looking"))
        if annotate:
            norm = image.norm

            def colour_of(value: Any) -> str:
                dark = np.isfinite(value) and np.asarray(norm(value)).item() < 0.6
                return "white" if dark else "black"

            annotate_cells(ax, matrix, colour_of, fmt=f".{decimals}f", hidden=hidden)
        if title:
            ax.set_title(title)
        if colorbar_label is None:
            colorbar_label = _t(fig, "attention_weight")
        fig.colorbar(image, ax=ax, label=colorbar_label, shrink=0.9)
    return fig
