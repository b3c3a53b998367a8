"""The book's plumbing, for hidden cells only (``:tags: [hide-input]``).

Chapters never call ``myst_nb.glue`` or ``assert`` in visible cells; a hidden
cell beside the visible one does::

    import book

    book.glue("w_dog", float(weights[1, 0]))           # {glue:text}`w_dog:.3f`
    book.claim(weights[1, 0] > weights[1, 1], "chased attends more to dog than to itself")
    book.text("winner", en="The subject wins.", ja="主語が勝ちます。")  # {glue:text}`winner`
    book.figure("fig-ch2-weights", fig, ja={"our three tokens": "三つのトークン"})
    book.table("tbl-ch5-seed", df, ja={"seed's illustration": "シードの図"})

Both editions are built from one execution, so every value that differs by
language is glued twice: under its name (English) and under
``<name>@ja`` (Japanese). The Japanese build (``attnbook_sphinx``) makes
``{glue:text}`name```, ``{glue:figure}`` and ``{glue:}`` take the ``@ja``
variant where there is one; English pages see exactly what they saw before.

The kernel finds this module because ``docs/conf.py`` puts ``docs/tools`` on
``PYTHONPATH``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from myst_nb import glue as _myst_glue

from attnbook.plot import i18n as _language

__all__ = [
    "ClaimError",
    "BookError",
    "claim",
    "figure",
    "glue",
    "table",
    "text",
    "variant",
]

#: Languages that get their own glued variant (English is the plain name).
VARIANTS = ("ja",)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")


class BookError(Exception):
    """Book plumbing used the wrong way (the message says how to fix it)."""


class ClaimError(AssertionError):
    """A sentence of the book is no longer true for the computed result."""


def variant(name: str, lang: str) -> str:
    """The glue key of ``name`` in edition ``lang``: ``name`` for English, ``name@ja`` for Japanese."""
    return name if lang == "en" else f"{name}@{lang}"


def _glue(name: str, value: object) -> None:
    _myst_glue(name, value, display=False)


def glue(name: str, value: object) -> None:
    """Glue a number or identifier for ``{glue:text}`name```; the same in both editions.

    Prose that differs by language goes through :func:`text`, figures
    through :func:`figure`, tables with prose labels through :func:`table`.
    """
    if isinstance(value, Figure):
        raise BookError(f"glue {name!r}: use book.figure(name, fig, ja={{...}}) for figures")
    _glue(name, value)


def claim(condition: object, what: str) -> None:
    """Fail the build unless ``condition`` holds; ``what`` is the sentence of the prose it checks.

    Raises:
        ClaimError: "claim failed: <what>" when the condition is false.
        BookError: the arguments are swapped or the condition is not one truth value.
    """
    if isinstance(condition, str) or not isinstance(what, str) or not what.strip():
        raise BookError(
            "book.claim(condition, 'what the prose claims'): condition first, then text"
        )
    try:
        holds = bool(condition)
    except (TypeError, ValueError, RuntimeError) as err:  # e.g. a tensor of several values
        raise BookError(
            f"claim {what!r}: the condition must be one truth value, not {type(condition).__name__} "
            "(use .all() / .any())"
        ) from err
    if not holds:
        raise ClaimError(f"claim failed: {what}")


def text(name: str, *, en: str, ja: str) -> None:
    """Glue a sentence chosen by code, in both languages, for ``{glue:text}`name```.

    Glued text is pasted as plain text (no Markdown): keep emphasis and roles
    outside it.
    """
    for lang, value in (("en", en), ("ja", ja)):
        if not isinstance(value, str) or not value.strip():
            raise BookError(f"text {name!r}: {lang}= must be a non-empty string")
    if not _JAPANESE.search(ja):
        raise BookError(f"text {name!r}: ja= has no Japanese in it: {ja!r}")
    _glue(name, en)
    _glue(variant(name, "ja"), ja)


class _PNG:
    """Already rendered PNG bytes, glued like a figure (IPython asks ``_repr_png_``)."""

    def __init__(self, data: bytes, size: str):
        self.data, self.size = data, size

    def _repr_png_(self) -> bytes:
        return self.data

    def __repr__(self) -> str:
        return self.size


def figure(name: str, fig: Figure, ja: Mapping[str, str] | None = None) -> None:
    """Glue ``fig`` for ``{glue:figure} name``: the figure as it is, and a Japanese copy.

    The Japanese copy has attnbook's own labels in Japanese and every other
    text that is a key of ``ja`` replaced by its value (titles, annotations,
    legend entries, category tick labels the chapter passed in). To keep a
    text as it is in Japanese (a formula, a name), map it to itself.

    Raises:
        BookError: the Japanese copy still shows English words (listed), an
            entry of ``ja`` matches no text, or a glyph is missing from the fonts.
    """
    if not isinstance(fig, Figure):
        raise BookError(f"figure {name!r}: expected a matplotlib Figure, got {type(fig).__name__}")
    japanese = _language.translate(fig, "ja", ja)  # a copy, taken before any layout
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        _glue(name, fig)
    png, problems = _language.render_checked(japanese)
    if problems:
        listed = "\n  ".join(problems)
        raise BookError(
            f"figure {name!r}: the Japanese figure is not fully Japanese:\n  {listed}\n"
            "Add texts the chapter passed in to book.figure(..., ja={'English': '日本語'}); "
            "labels attnbook draws itself belong in attnbook/plot/messages.py."
        )
    w, h = japanese.get_size_inches() * japanese.dpi
    _glue(variant(name, "ja"), _PNG(png, f"<Figure size {w:g}x{h:g} (ja)>"))


def _translate_labels(labels: pd.Index, table: Mapping[str, str], used: set[str]) -> pd.Index:
    def tr(x: object) -> object:
        if isinstance(x, str) and x in table:
            used.add(x)
            return table[x]
        return x

    if isinstance(labels, pd.MultiIndex):
        return labels.set_levels([[tr(x) for x in level] for level in labels.levels]).set_names(
            [tr(n) for n in labels.names]
        )
    return pd.Index([tr(x) for x in labels], name=tr(labels.name))


def table(name: str, df: pd.DataFrame | pd.Series, ja: Mapping[str, str] | None = None) -> None:
    """Glue a table for ``{glue:} name``: as it is, and with its prose labels in Japanese.

    Every row or column label, index or column name, and string cell equal to
    a key of ``ja`` is replaced by its value; identifiers (tokens, API column
    names) are left out of ``ja`` and stay.

    Raises:
        BookError: not a DataFrame/Series, or an entry of ``ja`` matches nothing.
    """
    if not isinstance(df, (pd.DataFrame, pd.Series)):
        raise BookError(
            f"table {name!r}: expected a pandas DataFrame or Series, got {type(df).__name__} "
            "(round the numbers with df.round(3) instead of a Styler)"
        )
    table_ = dict(ja or {})
    used: set[str] = set()
    japanese = df.copy()
    japanese.index = _translate_labels(df.index, table_, used)
    if isinstance(df, pd.DataFrame):
        japanese.columns = _translate_labels(df.columns, table_, used)
        cells = japanese.select_dtypes(include=["object", "string"]).columns
        frame = japanese
    else:
        japanese.name = table_.get(df.name, df.name) if isinstance(df.name, str) else df.name
        if isinstance(df.name, str) and df.name in table_:
            used.add(df.name)
        cells = [None] if df.dtype == object else []
        frame = None

    def tr(x: object) -> object:
        if isinstance(x, str) and x in table_:
            used.add(x)
            return table_[x]
        return x

    for column in cells:
        if frame is None:
            japanese = japanese.map(tr)
        else:
            japanese[column] = frame[column].map(tr)
    unused = sorted(set(table_) - used)
    if unused:
        raise BookError(f"table {name!r}: ja entries match no label or cell: {unused}")
    _glue(name, df)
    _glue(variant(name, "ja"), japanese)
