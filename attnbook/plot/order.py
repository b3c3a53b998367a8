"""Word-order diagrams: where a sentence's words sit relative to one anchor word (e.g. the verb).

:func:`word_order` draws several sentences one above the other, each word at
its position *relative to the anchor* (the anchor at 0), with an arc from the
anchor to every other word that has a role and the signed distance on the
arc. It makes "English is SVO, Japanese is SOV" a picture: in English the
subject sits just before the verb and the object after it; in Japanese both
come before the verb, in either order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnbook.plot._axes import PlotInputError, discrete_colours, new_axes
from attnbook.plot.i18n import text as _t
from attnbook.plot.i18n import verbatim
from attnbook.plot.style import style_context

__all__ = ["word_order"]

Row = tuple[str, Sequence[str], Mapping[int, str]]


def _check_rows(rows: Sequence[Row], anchor: str) -> list[tuple[str, list[str], dict[int, str]]]:
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
        raise PlotInputError(
            "rows must be a non-empty list of (label, words, roles) tuples, e.g. "
            "[('English', ['dog', 'chases', 'cat'], {0: 'S', 1: 'V', 2: 'O'})]"
        )
    checked = []
    for k, row in enumerate(rows):
        if not isinstance(row, tuple) or len(row) != 3:
            raise PlotInputError(f"row {k} must be a (label, words, roles) tuple, got {row!r}")
        label, words, roles = row
        words = [str(w) for w in words]
        if not words:
            raise PlotInputError(f"row {k} ({label!r}) has no words")
        if not isinstance(roles, Mapping):
            raise PlotInputError(
                f"row {k} ({label!r}): roles must map word positions to role names, "
                f"e.g. {{0: 'S', 1: 'V'}}, got {type(roles).__name__}"
            )
        for i in roles:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(words):
                raise PlotInputError(
                    f"row {k} ({label!r}): role position {i!r} is not a word position "
                    f"0..{len(words) - 1} (0-indexed)"
                )
        anchors = [i for i, r in roles.items() if r == anchor]
        if len(anchors) != 1:
            raise PlotInputError(
                f"row {k} ({label!r}) must give exactly one word the anchor role {anchor!r}, "
                f"found {len(anchors)}"
            )
        checked.append((str(label), words, dict(roles)))
    return checked


def word_order(
    rows: Sequence[Row],
    *,
    anchor: str = "V",
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Each sentence's words placed relative to its ``anchor`` word, with arcs to the other roles.

    Args:
        rows: one ``(label, words, roles)`` per sentence, drawn top to bottom.
            ``words`` are the sentence's units (words or tokens) in order;
            ``roles`` maps a 0-indexed position in ``words`` to a role name
            such as ``"S"``, ``"O"`` or ``"V"``. Words without a role are drawn
            in grey.
        anchor: the role placed at 0 (exactly one word per row must have it).
        ax: draw into this axes instead of a new figure.
        title: replaces the default title.

    Every arc from the anchor to a word at position ``i`` is labelled with the
    signed offset ``i - anchor_position`` (negative = before the anchor).

    Raises:
        PlotInputError: empty rows, a role position outside the words, or not
            exactly one anchor per row.

    >>> fig = word_order([("English", ["dog", "chases", "cat"], {0: "S", 1: "V", 2: "O"}),
    ...                   ("Japanese", ["犬", "が", "猫", "を", "追う"], {0: "S", 2: "O", 4: "V"})])
    >>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().lstrip("+-").isdigit())
    ['+1', '-1', '-2', '-4']
    """
    checked = _check_rows(rows, anchor)
    role_names = sorted({r for _, _, roles in checked for r in roles.values()})
    colours = dict(zip(role_names, discrete_colours(len(role_names)), strict=True))
    anchors = [next(i for i, r in roles.items() if r == anchor) for _, _, roles in checked]
    left = min(-at for at in anchors)
    right = max(len(words) - 1 - at for (_, words, _), at in zip(checked, anchors, strict=True))
    with style_context():
        fig, ax = new_axes(ax, (7.0, 1.0 + 1.25 * len(checked)))
        for k, ((label, words, roles), at) in enumerate(zip(checked, anchors, strict=True)):
            y = -1.25 * k
            verbatim(fig, [*words, *roles.values()])
            for i, word in enumerate(words):
                role = roles.get(i)
                face = colours[role] if role is not None else (0.92, 0.92, 0.92, 1.0)
                text = word if role is None else f"{word}\n{role}"
                ax.text(
                    i - at,
                    y,
                    text,
                    ha="center",
                    va="center",
                    fontsize="medium",
                    color="white" if role is not None and sum(face[:3]) < 1.6 else "black",
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": face, "edgecolor": "0.4"},
                )
            for i, role in sorted(roles.items()):
                if i == at:
                    continue
                offset = i - at
                # A parabola in data units; longer arcs rise higher so nested arcs do not cross.
                base, height = y + 0.34, 0.12 + 0.07 * abs(offset)
                xs = np.linspace(0, offset, 50)
                ys = base + height * (1 - (2 * xs / offset - 1) ** 2)
                ax.plot(xs, ys, color=colours[role], lw=1.5)
                ax.annotate(
                    "",
                    xy=(xs[-1], ys[-1]),
                    xytext=(xs[-4], ys[-4]),
                    arrowprops={"arrowstyle": "-|>", "color": colours[role], "lw": 1.5},
                )
                ax.text(
                    offset / 2,
                    base + height,
                    f"{offset:+d}",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="0.15",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
                )
            ax.text(left - 0.7, y, label, ha="right", va="center")
        widest = max(len(label) for label, _, _ in checked)
        ax.set_xlim(left - 0.8 - 0.14 * widest, right + 0.8)
        ax.set_ylim(-1.25 * (len(checked) - 1) - 0.7, 1.2)
        ax.set_yticks([])
        ax.set_xticks(range(left, right + 1))
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(_t(fig, "position_relative", anchor=anchor))
        ax.set_title(title or _t(fig, "where_arguments_sit", anchor=anchor))
    return fig
