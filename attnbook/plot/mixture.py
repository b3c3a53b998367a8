"""Where the output of attention comes from: one query's weighted mix of the values.

Attention's output for a query is ``sum_s w_s * v_s``. :func:`value_mix` draws
that sum as stacked bars, one bar per value dimension and one coloured segment
per key, so a reader sees which key contributed how much to every number of
the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.plot._axes import PlotInputError, discrete_colours, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.i18n import verbatim
from attnbook.plot.style import style_context

__all__ = ["value_mix"]


def _labels(given: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}{i}" for i in range(n)]
    labels = [str(x) for x in given]
    if len(labels) != n:
        raise PlotInputError(f"got {len(labels)} {what} labels for {n} {what}s")
    return labels


def value_mix(
    weights,
    values,
    keys: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    decimals: int = 3,
) -> Figure:
    """Stacked bars of ``w_s * v_s``: how one query's output is mixed from the values.

    Bar ``j`` stands for value dimension ``j``; its segment of key ``s`` has
    height ``weights[s] * values[s, j]``. Positive parts stack upwards and
    negative parts downwards, so the bar's net height is the output
    ``(weights @ values)[j]``, which is also written above (or below) the bar.

    Args:
        weights: ``[S]`` attention weights of one query (usually summing to 1).
        values: ``[S, d_v]`` value vectors, one row per key.
        keys: ``S`` names of the keys (legend); default ``k0, k1, …``.
        features: ``d_v`` names of the value dimensions (x axis); default ``v0, v1, …``.
        ax: draw into this axes instead of a new figure.
        title: optional title.
        decimals: digits of the output written at each bar.

    Returns:
        The figure.

    Raises:
        PlotInputError: wrong shapes, wrong number of labels, or non-finite numbers.

    >>> import torch
    >>> fig = value_mix(torch.tensor([0.75, 0.25]), torch.tensor([[1.0, 0.0], [1.0, 1.0]]),
    ...                 ["a", "b"], ["x", "y"])
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['1.000', '0.250']
    """
    w = torch.as_tensor(weights).detach().to("cpu", torch.float64).numpy()
    v = torch.as_tensor(values).detach().to("cpu", torch.float64).numpy()
    if w.ndim != 1:
        raise PlotInputError(
            f"weights must be one query's [S] row, got shape {w.shape}; select the query first"
        )
    if v.ndim != 2 or v.shape[0] != w.shape[0]:
        raise PlotInputError(
            f"values must be [S, d_v] with S = {w.shape[0]} (one row per weight), "
            f"got shape {v.shape}"
        )
    if not (np.isfinite(w).all() and np.isfinite(v).all()):
        raise PlotInputError("weights and values must be finite numbers")
    n_keys, d_v = v.shape
    keys = _labels(keys, n_keys, "k", "key")
    features = _labels(features, d_v, "v", "value dimension")
    parts = w[:, None] * v  # [S, d_v]
    total = parts.sum(axis=0)  # [d_v] = weights @ values
    with style_context():
        fig, ax = new_axes(ax, (1.6 + 1.1 * d_v, 3.6))
        x = np.arange(d_v)
        verbatim(fig, [*keys, *features])
        up = np.zeros(d_v)
        down = np.zeros(d_v)
        for s, colour in zip(range(n_keys), discrete_colours(n_keys), strict=True):
            height = parts[s]
            bottom = np.where(height >= 0, up, down)
            ax.bar(
                x,
                height,
                bottom=bottom,
                width=0.6,
                color=colour,
                edgecolor="white",
                linewidth=0.8,
                label=_t(fig, "key_with_weight", key=keys[s], weight=f"{w[s]:.{decimals}f}"),
            )
            up = up + np.clip(height, 0, None)
            down = down + np.clip(height, None, 0)
        span = max(float(up.max() - down.min()), 1e-12)
        for j in range(d_v):
            above = total[j] >= 0
            y = up[j] + 0.02 * span if above else down[j] - 0.02 * span
            ax.text(
                x[j],
                y,
                f"{total[j]:.{decimals}f}",
                ha="center",
                va="bottom" if above else "top",
                fontsize="small",
            )
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(x, features)
        ax.set_xlim(-0.6, d_v - 0.4)
        ax.set_ylim(min(0.0, float(down.min())) - 0.1 * span, float(up.max()) + 0.15 * span)
        ax.set_xlabel(_t(fig, "value_dimension"))
        ax.set_ylabel(_t(fig, "weight_times_value"))
        if title:
            ax.set_title(title)
        ax.legend(fontsize="small", frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig
