"""A labelled heatmap of any weight matrix: the Part I picture of attention.

Model-free: it takes a plain ``[T, S]`` tensor (weights from
:func:`attnbook.scaled_dot_product_attention`, or a mask) with names for the
queries (rows) and keys (columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.plot._axes import PlotInputError, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.i18n import verbatim
from attnbook.plot.style import CMAP, style_context

__all__ = ["weights_heatmap"]


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
) -> Figure:
    """Draw a ``[T, S]`` matrix: query rows (who looks) × key columns (who is looked at).

    Args:
        weights: ``[T, S]`` tensor or array; booleans are drawn as 0/1.
        queries: ``T`` row labels (default ``q0, q1, …``).
        keys: ``S`` column labels (default ``k0, k1, …``).
        ax: draw into this axes instead of a new figure.
        annotate: write each value in its cell.
        title, vmin, vmax, colorbar_label, decimals: presentation.

    Returns:
        The figure, with a colour bar labelled ``colorbar_label``.

    >>> import torch
    >>> fig = weights_heatmap(torch.eye(2), ["a", "b"], ["x", "y"])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['x', 'y']
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
    with style_context():
        fig, ax = new_axes(ax, (0.9 + 0.6 * s, 0.6 + 0.5 * t))
        image = ax.imshow(matrix, cmap=CMAP, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(
            range(s),
            keys,
            rotation=45 if max(map(len, keys)) > 3 else 0,
            ha="right" if max(map(len, keys)) > 3 else "center",
        )
        ax.set_yticks(range(t), queries)
        verbatim(fig, [*queries, *keys])
        ax.set_xlabel(_t(fig, "key_looked_at"))
        ax.set_ylabel(_t(fig, "query_looking"))
        ax.tick_params(length=0)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        if annotate:
            norm = image.norm
            for i in range(t):
                for j in range(s):
                    value = matrix[i, j]
                    dark = np.isfinite(value) and norm(value) < 0.6
                    ax.text(
                        j,
                        i,
                        f"{value:.{decimals}f}",
                        ha="center",
                        va="center",
                        fontsize="small",
                        color="white" if dark else "black",
                    )
        if title:
            ax.set_title(title)
        if colorbar_label is None:
            colorbar_label = _t(fig, "attention_weight")
        fig.colorbar(image, ax=ax, label=colorbar_label, shrink=0.9)
    return fig
