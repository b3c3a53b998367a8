"""Figures of an encoder-decoder's attention (:class:`~attnbook.seq2seq.Seq2SeqMaps`).

* :func:`cross_heatmap` -- one cross-attention head: target tokens as rows (the
  decoder's queries), source tokens as columns (the encoder's keys), drawn by
  the one matrix drawer, :func:`attnbook.plot.weights_heatmap`.

Layer and head ids are 0-indexed, as everywhere in attnbook; titles say so.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.ids import short_model_name
from attnbook.plot._axes import PlotInputError, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.matrix import weights_heatmap

__all__ = ["cross_heatmap"]


def cross_heatmap(
    maps: Any,
    layer: int,
    head: int,
    *,
    words: bool = False,
    ax: Axes | None = None,
    annotate: bool = False,
    decimals: int = 2,
    vmax: float = 1.0,
    title: str | None = None,
) -> Figure:
    """Heatmap of one cross-attention head: ``[T, S]``, target rows × source columns.

    Row ``i`` is the decoder reading target token ``i`` (its input under
    teacher forcing: the start token, then the target shifted right); its
    weights over the source tokens sum to 1.

    Args:
        maps: a :class:`~attnbook.seq2seq.Seq2SeqMaps`.
        layer, head: 0-indexed decoder layer and head (negative ids count from the end).
        words: draw the word-level map (``maps.to_words()``): target words ×
            source words.
        ax: draw into this axes instead of a new figure.
        annotate: write each weight in its cell, with ``decimals`` decimals.
        vmax: top of the colour scale (the bottom is 0).
        title: replaces the default "model — cross-attention, layer l, head h
            (0-indexed)"; ``""`` for none.

    Returns:
        The figure, with a colour bar labelled "attention weight". Axis labels,
        title and colour bar are in the plot language
        (:func:`attnbook.plot.language`); the tokens are drawn as they are.
    """
    cross = getattr(maps, "cross", None)
    if cross is None or not hasattr(maps, "to_words"):
        raise PlotInputError(
            "expected a Seq2SeqMaps (from attnbook.attend_seq2seq(source, target)), got "
            f"{type(maps).__name__}; for one text's attention use attnbook.plot.heatmap"
        )
    if words:
        maps = maps.to_words()
        cross = maps.cross
    weights = cross.head(layer, head)  # checks the ids: Layer/HeadOutOfRangeError
    t, s = weights.shape
    rows, cols = list(cross.query_tokens), list(cross.key_tokens)
    fig, ax = new_axes(ax, (1.6 + 0.45 * s, 1.0 + 0.4 * t))
    weights_heatmap(weights, rows, cols, ax=ax, annotate=annotate, vmax=vmax, decimals=decimals)
    word_level = cross.level == "word"
    if word_level:
        ax.set_xlabel(_t(fig, "source_word_key"))
        ax.set_ylabel(_t(fig, "target_word_query"))
    else:
        ax.set_xlabel(_t(fig, "source_key"))
        ax.set_ylabel(_t(fig, "target_query"))
    if title is None:
        title = _t(
            fig,
            "model_cross_layer_head",
            model=short_model_name(getattr(maps, "model_id", "")),
            layer=layer % cross.num_layers,
            head=head % cross.num_heads,
        )
    if title:
        ax.set_title(title, fontsize="medium")
    return fig
