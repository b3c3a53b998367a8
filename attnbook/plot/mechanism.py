"""Figures for Part I (the mechanism): why attention scores are divided by sqrt(d_k).

The numbers come from :mod:`attnbook.experiments`; these functions only draw
them. Each returns the :class:`~matplotlib.figure.Figure` and accepts an
``ax`` (or ``axes`` for two-panel figures) to draw into an existing layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from attnbook import experiments
from attnbook.plot._axes import discrete_colours, new_axes, new_axes_row
from attnbook.plot.i18n import text as _t
from attnbook.plot.style import style_context

__all__ = ["softmax_saturation", "dot_product_variance", "softmax_gradient"]

_UNSCALED = "#b5367a"  # magenta-red: unscaled q·k
_SCALED = "#21918c"  # viridis teal: q·k / sqrt(d_k)


def _fmt(x: float) -> str:
    return f"{x:g}"


def softmax_saturation(
    scores: Sequence[float] = (1.0, 2.0, 3.0),
    scales: Sequence[float] | None = None,
    *,
    highlight: Sequence[float] = (1.0, 10.0),
    ax: Axes | None = None,
) -> Figure:
    """Softmax weights of ``scores × scale`` as the scale grows (log x axis).

    One line per score; the dotted verticals mark the ``highlight`` scales,
    e.g. ``[1, 2, 3]`` (scale 1) against ``[10, 20, 30]`` (scale 10).

    >>> fig = softmax_saturation()
    >>> fig.axes[0].get_ylabel()
    'softmax weight'
    """
    if scales is None:
        scales = np.geomspace(0.05, 30, 121).tolist()
    table = experiments.softmax_saturation(scores, list(scales) + list(highlight))
    with style_context():
        fig, ax = new_axes(ax, (6.0, 3.6))
        colours = discrete_colours(len(table.position.unique()))
        for (pos, rows), colour in zip(table.groupby("position"), colours, strict=True):
            rows = rows.sort_values("scale")
            ax.plot(
                rows.scale,
                rows.weight,
                color=colour,
                lw=2,
                label=_t(fig, "score_at_position", score=_fmt(rows.score.iloc[0]), position=pos),
            )
        for s in highlight:
            marks = table[table.scale == float(s)]
            ax.axvline(float(s), color="0.5", lw=0.8, ls=":")
            ax.scatter(marks.scale, marks.weight, color="0.15", s=14, zorder=3)
            scaled = ", ".join(_fmt(v) for v in marks.scaled_score)
            ax.annotate(
                f"×{_fmt(float(s))}: [{scaled}]",
                (float(s), 1.02),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(_t(fig, "scale_factor"))
        ax.set_ylabel(_t(fig, "softmax_weight"))
        listed = ", ".join(_fmt(s) for s in scores)
        ax.set_title(_t(fig, "softmax_times_scale", scores=listed), pad=18)
        ax.legend(loc="center left", fontsize="small", frameon=False)
    return fig


def dot_product_variance(
    d_ks: Sequence[int] = experiments.DEFAULT_D_KS,
    n_samples: int = 10_000,
    seed: int = 0,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Measured variance of ``q·k`` against ``d_k`` (log-log), with the theory lines.

    Unscaled scores follow ``var = d_k``; scaled scores ``q·k / sqrt(d_k)``
    stay at 1. Error bars are ±2 standard errors of the measurement.

    >>> fig = dot_product_variance(d_ks=[1, 16, 256], n_samples=500)
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
    ('log', 'log')
    """
    table = experiments.dot_product_variance(d_ks, n_samples=n_samples, seed=seed)
    d = table.d_k.to_numpy()
    with style_context():
        fig, ax = new_axes(ax, (6.0, 4.0))
        ax.plot(d, table.theory, color=_UNSCALED, lw=1, ls="--", label=_t(fig, "theory_var_dk"))
        ax.errorbar(
            d,
            table.variance,
            yerr=2 * table.standard_error,
            fmt="o",
            ms=5,
            color=_UNSCALED,
            label=_t(fig, "measured_qk"),
        )
        ax.plot(d, table.theory_scaled, color=_SCALED, lw=1, ls="--", label=_t(fig, "theory_var_1"))
        ax.errorbar(
            d,
            table.variance_scaled,
            yerr=2 * table.standard_error / d,
            fmt="s",
            ms=5,
            color=_SCALED,
            label=_t(fig, "measured_qk_scaled"),
        )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel(_t(fig, "dk_dimension_log"))
        ax.set_ylabel(_t(fig, "score_variance_log"))
        ax.set_title(_t(fig, "variance_title", n=f"{n_samples:,}"))
        ax.legend(fontsize="small", frameon=False)
    return fig


def softmax_gradient(
    d_ks: Sequence[int] = experiments.DEFAULT_D_KS,
    n_keys: int = 16,
    n_samples: int = 2_000,
    seed: int = 0,
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Two panels against ``d_k``: softmax entropy and the size of its Jacobian.

    Left: mean entropy of the attention weights (nats) with its maximum
    ``log n_keys``. Right: mean Frobenius norm of the softmax Jacobian, how
    strongly the weights respond to a change in the scores. Unscaled scores
    saturate softmax as ``d_k`` grows; scaled scores do not.

    >>> fig = softmax_gradient(d_ks=[1, 64], n_samples=100)
    >>> [a.get_xlabel().split(" ")[0] for a in fig.axes]
    ['d_k', 'd_k']
    """
    table = experiments.softmax_gradient(d_ks, n_keys=n_keys, n_samples=n_samples, seed=seed)
    with style_context():
        fig, (left, right) = new_axes_row(axes, 2, (9.0, 3.6))
        for scaled, colour, marker, label in (
            (False, _UNSCALED, "o", _t(fig, "qk_unscaled")),
            (True, _SCALED, "s", _t(fig, "qk_scaled")),
        ):
            rows = table[table.scaled == scaled]
            left.plot(rows.d_k, rows.entropy, marker=marker, color=colour, label=label)
            right.plot(rows.d_k, rows.jacobian_norm, marker=marker, color=colour, label=label)
        left.axhline(table.max_entropy.iloc[0], color="0.5", ls=":", lw=1)
        left.annotate(
            _t(fig, "uniform_log", n=n_keys),
            (1, table.max_entropy.iloc[0]),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize="small",
            color="0.35",
        )
        left.set_ylim(bottom=0)
        left.set_ylabel(_t(fig, "weights_entropy"))
        left.set_title(_t(fig, "how_spread"))
        right.set_ylim(bottom=0)
        right.set_ylabel(_t(fig, "jacobian_norm"))
        right.set_title(_t(fig, "how_responsive"))
        for a in (left, right):
            a.set_xscale("log", base=2)
            a.xaxis.set_major_formatter(ScalarFormatter())
            a.set_xlabel(_t(fig, "dk_log"))
            a.legend(fontsize="small", frameon=False)
        fig.suptitle(
            _t(fig, "softmax_random_keys", keys=n_keys, queries=f"{n_samples:,}"),
            fontsize="medium",
        )
    return fig
