"""Figures of a model's attention (:class:`~attnbook.maps.AttentionMaps`).

* :func:`heatmap` -- one head: queries as rows, keys as columns, like the book's tables.
* :func:`head_grid` -- every head as small multiples on one shared colour scale.
* :func:`layer_profile` -- attention from one word to some keys, layer by layer.
* :func:`line_view` -- the static two-column line view (BertViz's picture, for print).

Layer and head ids are 0-indexed, as everywhere in attnbook; titles say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from attnbook.ids import short_model_name
from attnbook.plot._axes import PlotInputError, discrete_colours, new_axes
from attnbook.plot.i18n import msg, verbatim
from attnbook.plot.i18n import text as _t
from attnbook.plot.matrix import annotate_cells, draw_matrix
from attnbook.plot.style import CMAP, style_context

if TYPE_CHECKING:
    from attnbook.maps.types import KeySpec  # a word, or (word, occurrence)

__all__ = ["heatmap", "head_grid", "layer_profile", "line_view"]


def _check_maps(maps: Any) -> None:
    if not (hasattr(maps, "attentions") and hasattr(maps, "head")):
        raise PlotInputError(
            f"expected an AttentionMaps (from attnbook.attend(text)), got {type(maps).__name__}"
        )


def _weights(maps: Any, layer: int, head: int) -> np.ndarray:
    # head() validates the ids and raises attnbook's Layer/HeadOutOfRangeError.
    return maps.head(layer, head).detach().float().cpu().numpy()


def _model_name(maps: Any) -> str:
    return short_model_name(getattr(maps, "model_id", ""))


def _axes_tokens(maps: Any) -> tuple[list[str], list[str]]:
    """Query (row) and key (column) tokens; the same list for self-attention."""
    query, key = getattr(maps, "query", None), getattr(maps, "key", None)
    if query is not None and key is not None:
        return list(query.tokens), list(key.tokens)
    return list(maps.tokens), list(maps.tokens)


def _hidden(maps: Any) -> np.ndarray | None:
    """Bool ``[Q, K]`` of the keys a query cannot see (causal maps), else ``None``."""
    if not getattr(maps, "causal", False) or not callable(getattr(maps, "visible_keys", None)):
        return None
    return (~maps.visible_keys()).numpy()


def _text_colour(rgba: tuple[float, ...]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def heatmap(
    maps: Any,
    layer: int,
    head: int,
    *,
    ax: Axes | None = None,
    annotate: bool = False,
    fmt: str = ".2f",
    cmap: str = CMAP,
    vmax: float | None = None,
    colorbar: bool = True,
    title: str | None = None,
) -> Figure:
    """Heatmap of one head: query tokens as rows, key tokens as columns.

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps`.
        layer, head: 0-indexed ids (negative ids count from the end).
        ax: draw into this axes instead of a new figure.
        annotate: write each weight in its cell (with ``fmt``), like a table.
        vmax: top of the colour scale; default the largest weight shown
            (the bottom is always 0).
        colorbar: add a colour bar labelled "attention weight".
        title: replaces the default "model — layer l, head h (0-indexed)".

    >>> from attnbook.maps import attend
    >>> fig = heatmap(attend("The dog chased the cat."), 2, 5)
    >>> fig.axes[0].get_title()
    'all-MiniLM-L6-v2 — layer 2, head 5 (0-indexed)'
    """
    _check_maps(maps)
    weights = _weights(maps, layer, head)
    rows, cols = _axes_tokens(maps)
    hidden = _hidden(maps)
    n = max(len(rows), len(cols))
    norm = Normalize(0.0, float(weights.max()) if vmax is None else vmax)
    side = min(3.0 + 0.42 * n, 16.0)
    with style_context():
        fig, ax = new_axes(ax, (side + (1.2 if colorbar else 0), side))
        # Long inputs: labels about half a row high (a row is 72 * side / n points).
        label_size = None if n <= 30 else max(4.0, min(10.0, 0.5 * 72 * side / n))
        image = draw_matrix(
            ax,
            weights,
            rows,
            cols,
            cmap=cmap,
            hidden=hidden,
            image={"norm": norm, "aspect": "equal", "interpolation": "nearest"},
            xticks={"rotation": 90, "fontsize": label_size},
            yticks={"fontsize": label_size},
            ticks={"top": False, "bottom": True, "length": 0},
        )
        verbatim(fig, rows if rows == cols else [*rows, *cols])
        ax.set_xlabel(_t(fig, "key_attended_to"))
        ax.set_ylabel(_t(fig, "query_attending"))
        if title is None:
            layer_id, head_id = layer % maps.num_layers, head % maps.num_heads
            title = _t(
                fig, "model_layer_head", model=_model_name(maps), layer=layer_id, head=head_id
            )
        ax.set_title(title)
        if annotate:
            colormap = matplotlib.colormaps[cmap]

            def colour_of(w: float) -> str:
                return _text_colour(colormap(norm(w)))

            size = "x-small" if n > 10 else "small"
            annotate_cells(ax, weights, colour_of, fmt=fmt, fontsize=size, hidden=hidden)
        if colorbar:
            fig.colorbar(image, ax=ax, shrink=0.8, label=_t(fig, "attention_weight"))
    return fig


def head_grid(
    maps: Any,
    layers: Sequence[int] | None = None,
    *,
    heads: Sequence[int] | None = None,
    cmap: str = CMAP,
    vmax: float | None = None,
    panel_size: float = 1.1,
) -> Figure:
    """Every head of the chosen layers as small heatmaps on one shared colour scale.

    Rows are layers, columns heads (0-indexed); each panel has queries as rows
    and keys as columns, in token order. One colour bar serves all panels.

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps`.
        layers: layer ids to show (default: all).
        heads: head ids to show (default: all).
        vmax: top of the shared colour scale; default the largest weight shown.
        panel_size: width and height of one panel in inches.

    >>> from attnbook.maps import attend
    >>> fig = head_grid(attend("The dog chased the cat."), layers=[0, 5], heads=[0, 1, 2])
    >>> len(fig.axes)  # 2 x 3 panels and one colour bar
    7
    """
    _check_maps(maps)
    layers = list(range(maps.num_layers)) if layers is None else list(layers)
    heads = list(range(maps.num_heads)) if heads is None else list(heads)
    if not layers or not heads:
        raise PlotInputError("head_grid needs at least one layer and one head")
    panels = np.stack([np.stack([_weights(maps, lay, hd) for hd in heads]) for lay in layers])
    hidden = _hidden(maps)
    norm = Normalize(0.0, float(panels.max()) if vmax is None else vmax)
    with style_context():
        fig = Figure(
            figsize=(panel_size * len(heads) + 1.6, panel_size * len(layers) + 0.9),
            layout="constrained",
        )
        grid = fig.subplots(len(layers), len(heads), squeeze=False)
        images = []
        for r, lay in enumerate(layers):
            for c, hd in enumerate(heads):
                ax = grid[r, c]
                images.append(
                    draw_matrix(
                        ax,
                        panels[r, c],
                        None,
                        None,
                        cmap=cmap,
                        hidden=hidden,
                        image={"norm": norm, "interpolation": "nearest"},
                    )
                )
                if r == 0:
                    ax.set_title(_t(fig, "head_n", head=hd % maps.num_heads), fontsize="small")
                if c == 0:
                    ax.set_ylabel(_t(fig, "layer_n", layer=lay % maps.num_layers), fontsize="small")
        # Every panel shares one norm: the last image stands for all of them.
        fig.colorbar(images[-1], ax=grid, shrink=0.6, label=_t(fig, "attention_weight"))
        fig.suptitle(_t(fig, "every_head", model=_model_name(maps)), fontsize="medium")
    return fig


def layer_profile(
    maps: Any,
    query: str,
    keys: KeySpec | Sequence[KeySpec],
    *,
    occurrence: int = 0,
    ax: Axes | None = None,
) -> Figure:
    """Attention from ``query`` to each key across layers: max (solid) and mean (dashed) over heads.

    Words split into pieces follow Clark et al.'s rule (mean over the query's
    pieces, sum over a key's), as in :meth:`AttentionMaps.layer_profile`, which
    computes the numbers. A key is a word or ``(word, occurrence)``.

    >>> from attnbook.maps import attend
    >>> fig = layer_profile(attend("The dog chased the cat."), "chased", ["dog", "cat"])
    >>> [line.get_label() for line in fig.axes[0].lines][:2]
    ['dog: max over heads', 'dog: mean over heads']
    """
    _check_maps(maps)
    key_list = [keys] if isinstance(keys, (str, tuple)) else list(keys)
    if not key_list:
        raise PlotInputError("give at least one key, e.g. keys=['dog', 'cat']")
    profiles = [maps.layer_profile(query, key, occurrence=occurrence) for key in key_list]
    with style_context():
        fig, ax = new_axes(ax, (6.0, 3.8))
        for key, profile, colour in zip(
            key_list, profiles, discrete_colours(len(key_list)), strict=True
        ):
            if isinstance(key, str):
                label: object = key
            else:
                label = msg("word_occurrence", word=key[0], occurrence=key[1])
            ax.plot(
                profile.index,
                profile["max"],
                "o-",
                color=colour,
                label=_t(fig, "max_over_heads", label=label),
            )
            ax.plot(
                profile.index,
                profile["mean"],
                "s--",
                color=colour,
                alpha=0.8,
                label=_t(fig, "mean_over_heads", label=label),
            )
        ax.set_xticks(range(maps.num_layers))
        ax.set_xlabel(_t(fig, "layer_0_indexed"))
        ax.set_ylabel(_t(fig, "attention_weight_from", query=query))
        ax.set_ylim(0, 1.02)
        ax.set_title(_t(fig, "attention_from_by_layer", model=_model_name(maps), query=query))
        ax.legend(fontsize="small", frameon=False)
    return fig


def _query_rows(maps: Any, n: int, query: str | int | None) -> list[int]:
    """The rows (query positions) to draw: all, one position, or a word's pieces on the query axis."""
    if query is None:
        return list(range(n))
    if isinstance(query, bool):
        raise PlotInputError(f"query must be a word, a token or a position, got {query!r}")
    if isinstance(query, int):
        if not -n <= query < n:
            raise PlotInputError(
                f"query position {query} is out of range for {n} query tokens "
                f"(0-indexed: 0..{n - 1})"
            )
        return [query % n]
    if getattr(maps, "is_self_attention", True):
        return list(maps.token_index(query))
    return list(maps.token_index(query, axis="query"))


def line_view(
    maps: Any,
    layer: int,
    head: int,
    *,
    query: str | int | None = None,
    threshold: float = 0.01,
    colour: str = "#3b528b",
    ax: Axes | None = None,
) -> Figure:
    """Static line view of one head: query tokens on the left, key tokens on the right.

    Each line joins a query to a key; its opacity is the attention weight
    (weights below ``threshold`` are not drawn). With ``query`` (a word, a
    token such as ``"[CLS]"`` or a 0-indexed position) only that query's lines
    are drawn and its label is highlighted.

    Each side shows its own axis: for self-attention the same ``T`` tokens
    twice; for cross-attention (``maps.cross`` of
    :func:`attnbook.attend_seq2seq`) the ``T`` target tokens (the queries) on
    the left and the ``S`` source tokens (the keys) on the right, and
    ``query`` is looked up among the target tokens.

    >>> from attnbook.maps import attend
    >>> fig = line_view(attend("The dog chased the cat."), 2, 5, query="chased")
    >>> fig.axes[0].get_title()
    'all-MiniLM-L6-v2 — layer 2, head 5 (0-indexed), from “chased”'
    """
    if all(hasattr(maps, name) for name in ("encoder", "decoder", "cross")):
        raise PlotInputError(
            "line_view draws one kind of attention: pass pair.cross (target -> source), "
            "pair.decoder or pair.encoder of a Seq2SeqMaps"
        )
    _check_maps(maps)
    weights = _weights(maps, layer, head)  # [Q, K]
    left, right = _axes_tokens(maps)
    rows = _query_rows(maps, len(left), query)
    n = max(len(left), len(right))
    rgb = matplotlib.colors.to_rgb(colour)
    segments, colours = [], []
    for i in rows:
        for j in range(len(right)):
            w = float(weights[i, j])
            if w >= threshold:
                segments.append([(0.0, -i), (1.0, -j)])
                colours.append((*rgb, min(1.0, w)))
    with style_context():
        fig, ax = new_axes(ax, (4.2, 1.2 + 0.32 * n))
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=2.2))
        focus = set(rows) if query is not None else set()
        # A box, not bold: IPAexGothic has no bold face, so CJK tokens would not change.
        box = {"boxstyle": "round,pad=0.25", "facecolor": (*rgb, 0.18), "edgecolor": "none"}
        verbatim(fig, left if left == right else [*left, *right])
        # Row by row, left then right (the order self-attention's figures were always drawn in).
        for i in range(n):
            if i < len(left):
                left_box = box if i in focus else None
                ax.text(-0.04, -i, left[i], ha="right", va="center", bbox=left_box)
            if i < len(right):
                ax.text(1.04, -i, right[i], ha="left", va="center")
        ax.set_xlim(-0.6, 1.6)
        ax.set_ylim(-n + 0.5, 0.8)
        ax.text(
            -0.04, 0.7, _t(fig, "query"), ha="right", va="bottom", fontsize="small", color="0.4"
        )
        ax.text(1.04, 0.7, _t(fig, "key"), ha="left", va="bottom", fontsize="small", color="0.4")
        ax.axis("off")
        layer_id, head_id = layer % maps.num_layers, head % maps.num_heads
        model = _model_name(maps)
        if query is None:
            title = _t(fig, "model_layer_head", model=model, layer=layer_id, head=head_id)
        else:
            shown = query if isinstance(query, str) else left[rows[0]]
            title = _t(
                fig, "model_layer_head_from", model=model, layer=layer_id, head=head_id, query=shown
            )
        ax.set_title(title, fontsize="small", pad=16)
    return fig
