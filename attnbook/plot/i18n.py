"""Figure labels in English or Japanese.

Every label attnbook draws itself (axis and colour-bar labels, "layer",
"head", legends, annotations, default titles) comes from :data:`MESSAGES`, in
the language chosen with :func:`set_language` or the :func:`language` context
manager (English by default)::

    with attnbook.plot.i18n("ja"):
        fig = attnbook.plot.heatmap(maps, layer=5, head=0)  # Japanese labels

A figure also remembers which of its texts are messages and which are
verbatim data (tokens, model names), so that :func:`translate` can turn a
finished English figure, including text its caller added, into a Japanese
copy, and :func:`untranslated` can list the English words a translated figure
still shows. The book uses both to give each edition its own figure.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from unittest import mock

from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.text import Text
from matplotlib.ticker import Formatter

from attnbook.errors import AttnbookError
from attnbook.plot.messages import MESSAGES
from attnbook.plot.style import FONT_FAMILY

__all__ = [
    "LANGUAGES",
    "FigureLanguageError",
    "Message",
    "get_language",
    "language",
    "set_language",
    "translate",
    "untranslated",
]

#: The languages attnbook can label figures in.
LANGUAGES = ("en", "ja")

_current = "en"


class FigureLanguageError(AttnbookError, ValueError):
    """An unknown figure language, or a figure whose translation is incomplete."""


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise FigureLanguageError(
            f"unknown figure language {lang!r}; use one of {', '.join(LANGUAGES)}"
        )
    return lang


def get_language() -> str:
    """The language attnbook labels new figures in: ``"en"`` or ``"ja"``."""
    return _current


def set_language(lang: str) -> None:
    """Label every figure drawn from now on in ``lang`` (``"en"`` or ``"ja"``)."""
    global _current
    _current = _check(lang)


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """Label the figures drawn inside a ``with`` block in ``lang``, then restore the setting."""
    previous = _current
    set_language(lang)
    try:
        yield
    finally:
        set_language(previous)


@dataclass(frozen=True)
class Message:
    """One entry of :data:`MESSAGES` with its arguments.

    Arguments that are themselves :class:`Message` objects are translated
    too; any other argument (a token, a layer id, a model name) is data and
    stays as it is in every language.
    """

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str) -> str:
        if self.key not in MESSAGES:
            raise KeyError(f"no figure message {self.key!r} in attnbook.plot.messages")
        values = {k: v.render(lang) if isinstance(v, Message) else v for k, v in self.args}
        return MESSAGES[self.key][_check(lang)].format(**values)

    def data(self) -> list[str]:
        """The verbatim (untranslated) arguments, as they appear in the text."""
        out: list[str] = []
        for _, v in self.args:
            out.extend(v.data() if isinstance(v, Message) else [str(v)])
        return out


def msg(key: str, /, **args: object) -> Message:
    """A :class:`Message` (not yet rendered); use it as an argument of another message."""
    return Message(key, tuple(sorted(args.items())))


@dataclass
class _Record:
    """What a figure knows about its own texts: drawn text -> message, and verbatim data."""

    messages: dict[str, Message] = field(default_factory=dict)
    verbatim: set[str] = field(default_factory=set)


def _record(fig: Figure) -> _Record:
    # Kept on the figure itself (not in a side table) so that pickled copies carry it.
    state = vars(fig)
    if "_attnbook_language" not in state:
        state["_attnbook_language"] = _Record()
    record: _Record = state["_attnbook_language"]
    return record


def remember(fig: Figure, message: Message) -> str:
    """Tell ``fig`` that it shows ``message`` (rendered in the current language); return that text."""
    drawn = message.render(_current)
    record = _record(fig)
    record.messages[drawn] = message
    record.verbatim.update(s for s in message.data() if s)
    return drawn


def text(fig: Figure, key: str, /, **args: object) -> str:
    """The message ``key`` in the current language, remembered by ``fig`` for :func:`translate`."""
    return remember(fig, msg(key, **args))


def verbatim(fig: Figure, strings: Iterable[object]) -> None:
    """Mark ``strings`` (tokens, words of a sentence) as data that no edition translates."""
    _record(fig).verbatim.update(str(s) for s in strings if str(s))


# --- translating a finished figure -------------------------------------------


class _TranslatedTicks(Formatter):
    """Wraps an axis formatter and translates the strings it produces (e.g. category names)."""

    def __init__(self, base: Formatter, table: Mapping[str, str], used: set[str]):
        self.base, self.table, self.used = base, table, used

    def set_axis(self, axis):
        self.axis = axis
        self.base.set_axis(axis)

    def _tr(self, s: str) -> str:
        if s in self.table:
            self.used.add(s)
            return self.table[s]
        return s

    def __call__(self, x, pos=None):
        return self._tr(self.base(x, pos))

    def format_ticks(self, values):
        return [self._tr(s) for s in self.base.format_ticks(values)]

    def set_locs(self, locs):
        self.base.set_locs(locs)

    def get_offset(self):
        return self.base.get_offset()

    def format_data(self, value):
        return self.base.format_data(value)

    def format_data_short(self, value):
        return self.base.format_data_short(value)


def _copy(fig: Figure) -> Figure:
    """An independent copy of ``fig`` that can still be laid out again."""
    try:
        copy = pickle.loads(pickle.dumps(fig))
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        raise FigureLanguageError(
            f"cannot copy this figure to translate it ({err}); a lambda or local function "
            "in it (e.g. a FuncFormatter) cannot be copied: use a module-level function"
        ) from err
    engine = getattr(copy, "_attnbook_layout_engine", None)
    if engine is not None:
        # The figure was saved already and its layout frozen
        # (attnbook.plot.style._freeze_layout): lay the copy out afresh,
        # since its texts change size.
        copy.set_layout_engine(engine)
    return copy


def translate(fig: Figure, lang: str, table: Mapping[str, str] | None = None) -> Figure:
    """A copy of ``fig`` whose texts are in ``lang``; ``fig`` itself is not changed.

    Texts attnbook drew from :data:`MESSAGES` are rendered again in ``lang``
    (as is any text equal to one of its fixed labels, unless it is data);
    any other text (title, annotation, legend entry, tick label) that equals a
    key of ``table`` is replaced by its value. The copy is laid out again
    when it is saved, so longer labels get room.

    Raises:
        FigureLanguageError: an unknown language, or ``table`` entries that
            match no text of the figure (usually a typo or a stale entry).
    """
    _check(lang)
    table = dict(table or {})
    copy = _copy(fig)
    record = _record(copy)
    # A caller's own text that is word for word one of attnbook's labels
    # (e.g. ``ax.set_ylabel("mean distance (tokens)")``) gets its translation
    # too, unless it is data (a token that happens to be "key").
    mapping = {
        entry["en"]: entry[lang]
        for entry in MESSAGES.values()
        if "{" not in entry["en"] and entry["en"] not in record.verbatim
    }
    mapping.update({drawn: m.render(lang) for drawn, m in record.messages.items()})
    mapping.update(table)
    used: set[str] = set()
    produced = set(mapping.values())
    changed = []
    for t in copy.findobj(Text):
        s = t.get_text()
        if s in mapping:
            used.add(s)
            changed.append(t)
            t.set_text(mapping[s])
            # Text a caller added outside attnbook's style has no Japanese font.
            t.set_fontfamily(FONT_FAMILY)
    for ax in copy.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                getter = getattr(axis, f"get_{which}_formatter")
                setter = getattr(axis, f"set_{which}_formatter")
                setter(_TranslatedTicks(getter(), mapping, used))
        ax.tick_params(which="both", labelfontfamily=FONT_FAMILY)
    vars(copy)["_attnbook_translation"] = (lang, produced, used, set(table))
    _fit_axis_labels(copy, {id(t) for t in changed})
    return copy


#: Axis labels are shrunk to fit their axes, but not below this share of their size.
MIN_LABEL_SCALE = 0.6


def _fit_axis_labels(fig: Figure, changed: set[int]) -> None:
    """Shrink translated axis labels (colour-bar labels too) that are longer than their axes.

    A Japanese label is often longer than the English one; rotated beside a
    short colour bar it would run into the title. Laid out once as it will be
    saved, each translated label longer than its axes gets a smaller font
    (at least :data:`MIN_LABEL_SCALE` of its size); the layout runs again when
    the figure is saved.
    """
    from matplotlib.backend_bases import _get_renderer  # type: ignore[attr-defined]  # private, not in the stubs; the renderer savefig uses

    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        engine.execute(fig)
    renderer = _get_renderer(fig)
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        for label, room in ((ax.xaxis.label, box.width), (ax.yaxis.label, box.height)):
            if id(label) not in changed or not label.get_visible() or room <= 0:
                continue
            extent = label.get_window_extent(renderer)
            along = extent.width if label is ax.xaxis.label else extent.height
            if along > room:
                scale = max(MIN_LABEL_SCALE, room / along)
                label.set_fontsize(float(label.get_fontsize()) * scale)


_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")
_WORD = re.compile(r"[A-Za-z]{2,}")


@contextlib.contextmanager
def _recording_drawn_text(drawn: dict[int, Text]) -> Iterator[None]:
    original = Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text():
            drawn[id(self)] = self
        return original(self, renderer)

    with mock.patch.object(Text, "draw", draw):
        yield


def untranslated(fig: Figure) -> list[str]:
    """The English words a figure made by :func:`translate` still shows, one entry per text.

    The figure is drawn once (that decides which texts and tick labels are
    shown). Allowed are: texts the translation produced, verbatim data
    (tokens, model names), numbers, single letters (``q``, ``k``) and math in
    ``$…$``. ``table`` entries that matched no text are listed too, since
    they are mistakes as well.

    Returns:
        ``["'<text>': <words>", …]``, empty when the figure is fully translated.
    """
    return render_checked(fig)[1]


def render_checked(fig: Figure, fmt: str = "png") -> tuple[bytes, list[str]]:
    """Draw a figure made by :func:`translate` as :func:`~attnbook.plot.save` would.

    Returns the bytes and :func:`untranslated`'s list; a glyph missing from
    the fonts raises (a warning turned into an error).
    """
    info = getattr(fig, "_attnbook_translation", None)
    if info is None:
        raise FigureLanguageError("this check needs a figure made by attnbook.plot.translate()")
    lang, produced, used, table_keys = info
    from attnbook.plot.style import figure_bytes

    drawn: dict[int, Text] = {}
    with _recording_drawn_text(drawn), warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        data = figure_bytes(fig, fmt)
    verbatim_data = _record(fig).verbatim
    # Longest first, and only as whole words: the token "the" must not hide "theory".
    strip = [
        re.compile(rf"(?<![A-Za-z]){re.escape(v)}(?![A-Za-z])")
        for v in sorted(verbatim_data, key=len, reverse=True)
    ]
    problems = []
    for t in drawn.values():
        s = t.get_text()
        if lang == "en" or s in produced or s in verbatim_data:
            continue
        rest = _MATH.sub(" ", s)
        for pattern in strip:
            rest = pattern.sub(" ", rest)
        words = _WORD.findall(rest)
        if words:
            problems.append(f"{s!r}: {', '.join(words)}")
    unused = sorted(table_keys - used)
    problems.extend(f"{k!r}: this ja entry matches no text in the figure" for k in unused)
    return data, sorted(set(problems))
