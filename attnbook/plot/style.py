"""Shared look and reproducible output for every attnbook figure.

* Colour: ``viridis`` (perceptually uniform, readable in grey and by most
  colour-blind readers) for attention weights.
* Fonts: DejaVu Sans for Latin text with IPAexGothic (bundled by
  ``matplotlib-fontja``) as the fallback, so Japanese tokens such as 「猫」 render
  instead of as empty boxes.
* Determinism: :func:`save` and :func:`figure_bytes` write SVG, PNG and PDF
  with no timestamps or software versions and with a fixed SVG hash salt, and
  lay a figure out only once (see :func:`save`), so the same figure gives the
  same bytes in every run, every process and every save.

Figures are drawn inside :func:`style_context`, which applies these settings
temporarily instead of changing matplotlib's global state for the caller.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import matplotlib

# Importing matplotlib_fontja registers IPAexGothic with matplotlib's font manager.
import matplotlib_fontja  # noqa: F401
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from attnbook.errors import AttnbookError

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "CMAP",
    "FONT_FAMILY",
    "RC",
    "SAVE_FORMATS",
    "FigureFormatError",
    "style_context",
    "save",
    "figure_bytes",
]

CMAP = "viridis"
# matplotlib >= 3.6 falls back glyph by glyph along this list.
FONT_FAMILY = ["DejaVu Sans", "IPAexGothic"]

RC: dict[RcKeyType, Any] = {
    "font.family": FONT_FAMILY,
    "image.cmap": CMAP,
    "svg.hashsalt": "attnbook",
    # Text as paths: the SVG looks the same without the fonts installed.
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
}

SAVE_FORMATS = ("svg", "png", "pdf")

# Keys each backend would otherwise fill with a date or a version string.
_METADATA = {
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


class FigureFormatError(AttnbookError, ValueError):
    """A figure was asked to be saved in a format attnbook cannot write reproducibly."""


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply attnbook's matplotlib settings for the duration of a ``with`` block."""
    with matplotlib.rc_context(RC):
        yield


def _format_of(path: str | os.PathLike[str] | None, fmt: str | None) -> str:
    if fmt is None:
        if path is None:
            raise FigureFormatError("give a format: one of " + ", ".join(SAVE_FORMATS))
        fmt = Path(path).suffix.lstrip(".")
    fmt = fmt.lower()
    if fmt not in SAVE_FORMATS:
        raise FigureFormatError(
            f"cannot save a figure as {fmt!r}; use one of {', '.join(SAVE_FORMATS)} "
            "(e.g. a path ending in .svg)"
        )
    return fmt


def _freeze_layout(fig: Figure) -> None:
    """Run the figure's layout engine (e.g. constrained layout) once, then switch it off.

    Constrained layout starts from the current positions and, with colour bars
    or fixed-aspect images, lands a few hundredths of a point elsewhere on every
    draw, so without this a figure saved a second time (or saved after a
    notebook displayed it) would not give the same bytes. Laying out once from
    the state the figure was built in, and keeping that layout, makes every
    later save and display draw the same picture in every process.
    """
    engine = fig.get_layout_engine()
    if engine is None or isinstance(engine, PlaceHolderLayoutEngine):
        return
    engine.execute(fig)
    fig.set_layout_engine("none")
    # Kept so that a translated copy (attnbook.plot.i18n.translate), whose
    # labels have other sizes, can be laid out afresh.
    # (An attribute of the figure rather than a side table: a pickled copy carries it.)
    vars(fig)["_attnbook_layout_engine"] = engine


def _savefig(
    fig: Figure, target: str | os.PathLike[str] | IO[bytes], fmt: str, dpi: float | None
) -> None:
    with style_context():
        _freeze_layout(fig)
        fig.savefig(target, format=fmt, metadata=_METADATA[fmt], dpi=dpi or RC["savefig.dpi"])


def save(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,  # noqa: A002 - mirrors Figure.savefig
    dpi: float | None = None,
) -> Path:
    """Write ``fig`` to ``path`` (SVG, PNG or PDF) reproducibly and return the path.

    The format comes from ``format`` or the file suffix. The same figure saved
    twice, in one process or two, gives byte-identical files. To make that so,
    the first save (or notebook display) lays the figure out with its layout
    engine (e.g. constrained layout) and then keeps that layout: artists added
    to the figure afterwards are not laid out again.

    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = save(fig, f"{d}/a.svg").read_bytes()
    ...     b = save(fig, f"{d}/b.svg").read_bytes()
    >>> a == b
    True
    >>> plt.close(fig)
    """
    fmt = _format_of(path, format)
    path = Path(path)
    _savefig(fig, path, fmt, dpi)
    return path


def figure_bytes(fig: Figure, format: str = "svg", *, dpi: float | None = None) -> bytes:  # noqa: A002
    """The bytes :func:`save` would write for ``fig`` in ``format``, without a file."""
    fmt = _format_of(None, format)
    buf = io.BytesIO()
    _savefig(fig, buf, fmt, dpi)
    return buf.getvalue()
