"""Where attention sits in the Transformer: the encoder and the decoder as two buildings.

:func:`attention_kinds` draws the original encoder–decoder Transformer
(Vaswani et al. 2017) as two buildings of stacked floors. Each attention
floor carries a small picture of its mask, so the three kinds of attention
are told apart by what a query may see:

* **encoder self-attention** -- every source token sees every source token
  (a full square);
* **decoder causal self-attention** -- a target token sees itself and the
  target tokens before it (a lower triangle);
* **cross-attention** -- target tokens (queries) look at the encoder's
  output for every source token (keys and values): a full rectangle,
  target rows × source columns.

A decoder-only model (GPT, Llama) is the right-hand building without its
cross-attention floor. The drawing is pure geometry: no randomness, the same
bytes every time; its labels come from :mod:`attnbook.plot.messages`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from attnbook.plot._axes import PlotInputError, discrete_colours, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.style import style_context

__all__ = ["attention_kinds"]

_FLOOR_H, _GAP, _WIDTH = 0.9, 0.18, 3.2


def _mask(kind: str, n_target: int = 4, n_source: int = 5) -> np.ndarray:
    """The boolean mask a kind of attention uses: rows are queries, columns keys."""
    if kind == "encoder":
        return np.ones((n_source, n_source), dtype=bool)
    if kind == "causal":
        return np.tril(np.ones((n_target, n_target), dtype=bool))
    return np.ones((n_target, n_source), dtype=bool)  # cross: target rows, source columns


def _draw_mask(ax: Axes, mask: np.ndarray, x: float, y: float, colour, size: float = 0.13):
    """The mask as a grid of cells with its top-left corner at ``(x, y)``; hidden cells hatched."""
    rows, cols = mask.shape
    for i in range(rows):
        for j in range(cols):
            visible = bool(mask[i, j])
            ax.add_patch(
                Rectangle(
                    (x + j * size, y - (i + 1) * size),
                    size,
                    size,
                    facecolor=colour if visible else "white",
                    edgecolor="0.35",
                    hatch=None if visible else "////",
                    linewidth=0.5,
                )
            )


def _building(ax: Axes, x0: float, floors, colours, name: str) -> list[float]:
    """One building: its floors bottom-up, its name on top; returns each floor's centre height.

    ``floors``: ``(label, kind)`` from the ground up; kind ``None`` is a feed-forward floor.
    """
    centres = []
    for k, (label, kind) in enumerate(floors):
        y = 1.0 + k * (_FLOOR_H + _GAP)
        face = colours[kind] if kind else (0.93, 0.93, 0.93, 1.0)
        ax.add_patch(
            FancyBboxPatch(
                (x0, y),
                _WIDTH,
                _FLOOR_H,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=(*face[:3], 0.28) if kind else face,
                edgecolor=face if kind else "0.5",
                linewidth=2.0 if kind else 1.0,
            )
        )
        ax.text(
            x0 + 0.15,
            y + _FLOOR_H / 2,
            label,
            ha="left",
            va="center",
            fontsize="medium",
            wrap=True,
        )
        if kind:
            mask = _mask(kind)
            size = 0.13
            _draw_mask(
                ax,
                mask,
                x0 + _WIDTH - 0.15 - mask.shape[1] * size,
                y + _FLOOR_H / 2 + mask.shape[0] * size / 2,
                face,
                size,
            )
        centres.append(y + _FLOOR_H / 2)
    top = 1.0 + len(floors) * (_FLOOR_H + _GAP) - _GAP
    # The frame of the building: one block of N identical layers.
    ax.add_patch(
        Rectangle(
            (x0 - 0.12, 0.88),
            _WIDTH + 0.24,
            top - 0.76,
            fill=False,
            edgecolor="0.3",
            linewidth=1.2,
            linestyle=(0, (4, 3)),
        )
    )
    ax.text(
        x0 + (0.35 if len(floors) == 2 else 0.5) * _WIDTH,
        top + 0.3,
        name,
        ha="center",
        va="bottom",
        fontsize="x-large",
    )
    ax.text(x0 + _WIDTH + 0.2, 0.95, "× N", ha="left", va="bottom", fontsize="medium", color="0.3")
    return centres


def attention_kinds(*, ax: Axes | None = None, title: str | None = None) -> Figure:
    """The three kinds of attention in the encoder and decoder "buildings".

    Left, the encoder: self-attention in which every source token sees every
    other, then a feed-forward floor. Right, the decoder: causal
    self-attention, cross-attention to the encoder's output, a feed-forward
    floor. Each attention floor shows its mask (rows = queries, columns =
    keys; hatched cells are keys the query may not see). The encoder reads
    the source tokens, the decoder the target tokens so far, and the
    decoder's top scores the next token.

    Args:
        ax: draw into this axes instead of a new figure.
        title: a title (none by default; a caption usually says it).

    >>> fig = attention_kinds()
    >>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().endswith("attention"))
    ['causal self-attention', 'cross-attention', 'self-attention']
    """
    if title is not None and not isinstance(title, str):
        raise PlotInputError(f"title must be a string or None, got {type(title).__name__}")
    colours = dict(zip(("encoder", "causal", "cross"), discrete_colours(3), strict=True))
    with style_context():
        fig, ax = new_axes(ax, (9.0, 5.6))
        enc_x, dec_x = 0.4, 5.4
        feed_forward = _t(fig, "arch_feed_forward")
        encoder_floors = ((_t(fig, "arch_self_attention"), "encoder"), (feed_forward, None))
        decoder_floors = (
            (_t(fig, "arch_causal_self_attention"), "causal"),
            (_t(fig, "arch_cross_attention"), "cross"),
            (feed_forward, None),
        )
        enc = _building(ax, enc_x, encoder_floors, colours, _t(fig, "arch_encoder"))
        dec = _building(ax, dec_x, decoder_floors, colours, _t(fig, "arch_decoder"))
        # Inputs below, output above.
        ax.annotate(
            "",
            xy=(enc_x + _WIDTH / 2, 0.86),
            xytext=(enc_x + _WIDTH / 2, 0.35),
            arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.5},
        )
        ax.text(enc_x + _WIDTH / 2, 0.3, _t(fig, "arch_source_tokens"), ha="center", va="top")
        ax.annotate(
            "",
            xy=(dec_x + _WIDTH / 2, 0.86),
            xytext=(dec_x + _WIDTH / 2, 0.35),
            arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.5},
        )
        ax.text(dec_x + _WIDTH / 2, 0.3, _t(fig, "arch_target_so_far"), ha="center", va="top")
        dec_top = dec[-1] + _FLOOR_H / 2
        ax.annotate(
            "",
            xy=(dec_x + _WIDTH / 2, dec_top + 0.95),
            xytext=(dec_x + _WIDTH / 2, dec_top + 0.5),
            arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.5},
        )
        ax.text(
            dec_x + _WIDTH / 2, dec_top + 1.0, _t(fig, "arch_next_token"), ha="center", va="bottom"
        )
        # The encoder's output (the top of its building) feeds the keys and
        # values of the decoder's cross-attention: up, across, down, in.
        frame_top = enc[-1] + _FLOOR_H / 2 + 0.12
        x_out, x_mid = enc_x + _WIDTH * 0.85, (enc_x + _WIDTH + dec_x) / 2 + 0.1
        y_up = frame_top + 0.35
        ax.plot(
            [x_out, x_out, x_mid, x_mid],
            [frame_top, y_up, y_up, dec[1]],
            color=colours["cross"],
            lw=2.0,
            solid_joinstyle="round",
        )
        ax.annotate(
            "",
            xy=(dec_x - 0.02, dec[1]),
            xytext=(x_mid - 0.01, dec[1]),
            arrowprops={"arrowstyle": "-|>", "color": colours["cross"], "lw": 2.0},
        )
        ax.text(
            x_mid + 0.1,
            y_up + 0.08,
            _t(fig, "arch_keys_values"),
            ha="center",
            va="bottom",
            fontsize="small",
            color="0.2",
        )
        ax.set_xlim(0, 9.4)
        ax.set_ylim(-0.2, dec_top + 1.5)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title)
    return fig
