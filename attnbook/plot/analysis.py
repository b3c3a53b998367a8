"""Figures for :mod:`attnbook.analysis`: head statistics per layer, and three views of one sentence.

* :func:`statistics_profile` -- Clark et al.'s attention to [CLS] / [SEP] /
  punctuation (or any statistic), every head as a dot, the layer mean as a line.
* :func:`entropy_profile` -- head entropy per layer beside uniform attention's.
* :func:`explanation_comparison` -- raw weights, norm-based ‖αf(x)‖ and rollout
  of one sentence side by side.

Layer and head ids are 0-indexed, and the axes say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.ids import short_model_name
from attnbook.plot._axes import (
    PlotInputError,
    discrete_colours,
    new_axes,
    new_axes_row,
    plot_layer,
)
from attnbook.plot.i18n import msg, verbatim
from attnbook.plot.i18n import text as _t
from attnbook.plot.matrix import draw_matrix
from attnbook.plot.messages import MESSAGES
from attnbook.plot.style import CMAP, style_context

__all__ = ["statistics_profile", "entropy_profile", "explanation_comparison"]


def _label(column: str) -> object:
    """The legend label of a statistic: a message for head_statistics' columns, else its name."""
    key = f"stat_{column}"
    return msg(key) if key in MESSAGES else column


def _check_stats(stats: Any, columns: Sequence[str]) -> None:
    if not isinstance(stats, pd.DataFrame) or not {"layer", "head"} <= set(stats.columns):
        raise PlotInputError(
            "expected the DataFrame from attnbook.analysis.head_statistics (columns layer, head, ...)"
        )
    missing = [c for c in columns if c not in stats.columns]
    if missing:
        raise PlotInputError(
            f"no column {missing[0]!r} in the statistics; choose from "
            f"{[c for c in stats.columns if c not in ('layer', 'head', 'n_queries')]}"
        )


def _head_x(stats: pd.DataFrame, width: float = 0.5) -> np.ndarray:
    """x position of each head's dot: its layer, spread by head id so dots do not overlap."""
    heads = stats["head"].to_numpy()
    count = max(int(heads.max()) + 1, 1)
    return stats["layer"].to_numpy() + (heads - (count - 1) / 2) * (width / count)


def statistics_profile(
    stats: pd.DataFrame,
    columns: Sequence[str] = ("to_cls", "to_sep", "to_punct"),
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Head statistics layer by layer: one dot per head, a line through each layer's mean.

    Args:
        stats: from :func:`attnbook.analysis.head_statistics`.
        columns: which statistics to draw (each in its own colour).
        ax: draw into this axes instead of a new figure.
        title: replaces the default title.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"layer": [0, 0, 1, 1], "head": [0, 1, 0, 1],
    ...                       "to_cls": [0.2, 0.4, 0.6, 0.8]})
    >>> fig = statistics_profile(stats, ["to_cls"])
    >>> [round(float(y), 3) for y in fig.axes[0].lines[0].get_ydata()]  # layer means
    [0.3, 0.7]
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise PlotInputError("give at least one statistic, e.g. columns=['to_cls']")
    _check_stats(stats, columns)
    stats = stats.sort_values(["layer", "head"])
    means = stats.groupby("layer")[columns].mean()
    x = _head_x(stats)
    with style_context():
        fig, ax = new_axes(ax, (6.0, 3.8))
        for column, colour in zip(columns, discrete_colours(len(columns)), strict=True):
            label = _t(fig, "stat_mean", label=_label(column))
            ax.plot(means.index, means[column], "-", color=colour, lw=2, label=label)
            ax.scatter(x, stats[column], s=12, color=colour, alpha=0.55, linewidths=0)
        ax.set_xticks(sorted(stats["layer"].unique()))
        ax.set_xlabel(_t(fig, "layer_dots_heads"))
        ax.set_ylabel(_t(fig, "average_attention" if columns[0].startswith("to_") else "value"))
        if all(c.startswith("to_") or c in ("prev", "next") for c in columns):
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(title or _t(fig, "where_attention_goes"))
        ax.legend(fontsize="small", frameon=False)
    return fig


def entropy_profile(
    stats: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Entropy of every head per layer (dots), the layer mean, and uniform attention's entropy.

    A head far below the dashed uniform line focuses on few tokens; one near it
    spreads its attention evenly ("broad" heads).

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"layer": [0, 1], "head": [0, 0], "entropy": [0.5, 1.5],
    ...                       "uniform_entropy": [2.0, 2.0]})
    >>> [line.get_label() for line in entropy_profile(stats).axes[0].lines]
    ['mean over heads', 'uniform attention']
    """
    _check_stats(stats, ["entropy", "uniform_entropy"])
    stats = stats.sort_values(["layer", "head"])
    per_layer = stats.groupby("layer")[["entropy", "uniform_entropy"]].mean()
    (dots, line) = discrete_colours(2)
    with style_context():
        fig, ax = new_axes(ax, (6.0, 3.8))
        ax.scatter(_head_x(stats), stats["entropy"], s=12, color=dots, alpha=0.6, linewidths=0)
        ax.plot(
            per_layer.index,
            per_layer["entropy"],
            "-",
            lw=2,
            color=dots,
            label=_t(fig, "mean_over_heads_plain"),
        )
        ax.plot(
            per_layer.index,
            per_layer["uniform_entropy"],
            "--",
            color="0.35",
            label=_t(fig, "uniform_attention"),
        )
        ax.set_xticks(list(per_layer.index))
        ax.set_xlabel(_t(fig, "layer_dots_heads"))
        ax.set_ylabel(_t(fig, "stat_entropy"))
        ax.set_ylim(bottom=0)
        ax.set_title(title or _t(fig, "entropy_per_head"))
        ax.legend(fontsize="small", frameon=False)
    return fig


def explanation_comparison(
    norms: Any,
    layer: int = -1,
    *,
    cmap: str = CMAP,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Raw attention, norm-based attention and rollout of one sentence, side by side.

    Panels (rows = queries, columns = keys, each row scaled to sum to 1):

    1. raw weights of ``layer``, averaged over its heads;
    2. Kobayashi et al.'s ``‖sum_h α f_h(x)‖`` of ``layer``, row-normalised;
    3. Abnar & Zuidema's rollout through layers ``0..layer``.

    Args:
        norms: from :func:`attnbook.analysis.attention_norms`.
        layer: 0-indexed (negative counts from the end; default the last).
        axes: three axes to draw into instead of a new figure.

    >>> from attnbook.analysis import attention_norms
    >>> fig = explanation_comparison(attention_norms("The cat sat."), layer=2)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['raw attention (head mean)', 'norm-based ‖αf(x)‖', 'rollout, layers 0–2']
    """
    from attnbook.analysis.rollout import attention_rollout

    needed = ("attentions", "layer_norms", "tokens", "normalized")
    if not all(hasattr(norms, name) for name in needed):
        raise PlotInputError(
            "expected AttentionNorms from attnbook.analysis.attention_norms(text), got "
            f"{type(norms).__name__}"
        )
    layer = plot_layer(layer, norms.attentions.shape[0])
    panels = [
        norms.attentions[layer].mean(0),
        norms.normalized("layer")[layer],
        attention_rollout(norms.attentions[: layer + 1]),
    ]
    tokens = list(norms.tokens)
    n = len(tokens)
    side = min(2.2 + 0.3 * n, 7.0)
    with style_context():
        fig, axes = new_axes_row(axes, 3, (3 * side + 2.4, side + 0.6))
        verbatim(fig, tokens)
        titles = [
            _t(fig, "raw_attention_head_mean"),
            _t(fig, "norm_based"),
            _t(fig, "rollout_layers", last=layer) if layer else _t(fig, "rollout_layer_0"),
        ]
        for ax, panel, title in zip(axes, panels, titles, strict=True):
            data = panel.detach().float().cpu().numpy()
            image = draw_matrix(
                ax,
                data,
                tokens,
                tokens,
                cmap=cmap,
                image={"vmin": 0.0, "interpolation": "nearest"},
                xticks={"rotation": 90, "fontsize": "small"},
                yticks={"fontsize": "small"},
            )
            ax.set_title(title)
            ax.set_xlabel(_t(fig, "key"))
            fig.colorbar(image, ax=ax, shrink=0.7, label=_t(fig, "share_of_row"))
        axes[0].set_ylabel(_t(fig, "query"))
        model = short_model_name(getattr(norms, "model_id", ""))
        fig.suptitle(_t(fig, "three_views", model=model, layer=layer), fontsize="medium")
    return fig
