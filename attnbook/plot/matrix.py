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
from matplotlib.patches import Patch, Rectangle

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
        shown = np.ma.masked_array(matrix, mask=hidden)
        image = ax.imshow(shown, cmap=CMAP, vmin=vmin, vmax=vmax, aspect="auto")
        if hidden.any():
            for i, j in zip(*np.nonzero(hidden), strict=True):
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor="0.88",
                        edgecolor="0.6",
                        hatch="///",
                        linewidth=0,
                    )
                )
            ax.legend(
                handles=[
                    Patch(
                        facecolor="0.88",
                        edgecolor="0.6",
                        hatch="///",
                        label=_t(fig, "masked_cells"),
                    )
                ],
                loc="lower left",
                bbox_to_anchor=(0.0, 1.0),
                frameon=False,
                fontsize="small",
                borderaxespad=0.2,
            )
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
                    if hidden[i, j]:
                        continue
                    value = matrix[i, j]
                    dark = np.isfinite(value) and np.asarray(norm(value)).item() < 0.6
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
