"""Self-contained interactive HTML views: :func:`head_view` and :func:`model_view`.

The page fragment holds its own CSS and JavaScript (``view.css`` and
``view.js``, inlined) and the quantised weights (:mod:`attnbook.view.payload`);
it loads nothing from the network, so it works offline, in Jupyter, as a
myst-nb cell output on a static site, and saved as a standalone file.
"""

from __future__ import annotations

import html as html_lib
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from attnbook.errors import HeadOutOfRangeError, LayerOutOfRangeError
from attnbook.ids import check_id, short_model_name
from attnbook.view.payload import ViewInputError, build_payload, json_for_script


class ViewLayerOutOfRangeError(ViewInputError, LayerOutOfRangeError):
    """A view was asked to show a layer the model does not have (0-indexed)."""


class ViewHeadOutOfRangeError(ViewInputError, HeadOutOfRangeError):
    """A view was asked to show a head the model does not have (0-indexed)."""


__all__ = ["LANGUAGES", "AttentionView", "head_view", "model_view"]

LANGUAGES = ("en", "ja")
"""Languages of the views' controls and captions (both are in every view)."""

# Shown only without JavaScript; view.css hides the one not in the page's language.
_NOSCRIPT = (
    "<noscript>"
    '<span class="ab-nojs-en">This interactive attention view needs JavaScript.</span>'
    '<span class="ab-nojs-ja" lang="ja">この対話型のアテンションビューには JavaScript が必要です。</span>'
    "</noscript>"
)


@cache
def _asset(name: str) -> str:
    return resources.files("attnbook.view").joinpath(name).read_text(encoding="utf-8")


def _inline_script(js: str) -> str:
    # view.js is ours, but guard anyway: "</script" inside it would end the element early.
    if "</script" in js.lower():
        raise ViewInputError("view.js must not contain '</script'")
    return js


@dataclass(frozen=True)
class AttentionView:
    """An interactive view: display it in Jupyter, or :meth:`save` it as a page.

    Attributes:
        kind: ``"head"`` or ``"model"``.
        payload: the JSON-ready data (see :func:`attnbook.view.payload.build_payload`).
    """

    kind: str
    payload: dict[str, Any] = field(repr=False)

    @property
    def lang(self) -> str | None:
        """The language asked for with ``lang=``, or None: the page's language decides."""
        return self.payload.get("view", {}).get("lang")

    @property
    def html(self) -> str:
        """The HTML fragment: one ``<div class="attnbook-view">`` with inline CSS and JS.

        It carries the English and the Japanese labels; in the browser the view
        uses its ``lang`` (when one was given) or else the page's (the nearest
        ``lang`` attribute, e.g. ``<html lang="ja">``). So one fragment serves
        both editions of the book.
        """
        lang = f' lang="{self.lang}"' if self.lang else ""
        return (
            f'<div class="attnbook-view" data-kind="{self.kind}"{lang}>'
            f"<style>{_asset('view.css')}</style>"
            f'<script type="application/json" class="attnbook-data">'
            f"{json_for_script(self.payload)}</script>"
            f"{_NOSCRIPT}"
            f"<script>{_inline_script(_asset('view.js'))}</script>"
            "</div>"
        )

    def _repr_html_(self) -> str:
        return self.html

    def page(self, title: str | None = None) -> str:
        """A complete standalone HTML page around :attr:`html`."""
        if title is None:
            model = self.payload.get("model_name") or short_model_name(self.payload.get("model"))
            if self.lang == "ja":
                title = "attnbook " + {"head": "ヘッド", "model": "モデル"}[self.kind] + "ビュー"
            else:
                title = f"attnbook {self.kind} view"
            title += f": {model}" if model else ""
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="{self.lang or "en"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light dark">'
            f"<title>{html_lib.escape(title)}</title></head>\n"
            f"<body>\n{self.html}\n</body></html>\n"
        )

    def save(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write :meth:`page` to ``path`` (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(self.page(title), encoding="utf-8")
        return path

    def __len__(self) -> int:
        """Size of :attr:`html` in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))


def _view(
    kind: str,
    maps: Any,
    layer: int,
    head: int,
    words: bool,
    top_k: int | None,
    threshold: float,
    dense_limit: int,
    lang: str | None,
    part: str | None = None,
) -> AttentionView:
    if lang is not None and lang not in LANGUAGES:
        raise ViewInputError(
            f"lang must be one of {LANGUAGES} or None (the page's language), got {lang!r}"
        )
    payload = build_payload(maps, words=words, top_k=top_k, dense_limit=dense_limit)
    names = [p["name"] for p in payload["parts"]]
    if part is None:
        part = "cross" if "cross" in names else names[0]
    if part not in names:
        raise ViewInputError(f"part must be one of {names} (or None), got {part!r}")
    shown = payload["parts"][names.index(part)]
    layer = check_id(layer, shown["layers"], "layer", ViewLayerOutOfRangeError)
    head = check_id(head, shown["heads"], "head", ViewHeadOutOfRangeError)
    if not 0 <= threshold < 1:
        raise ViewInputError(f"threshold must be in [0, 1), got {threshold!r}")
    payload["view"] = {
        "kind": kind,
        "layer": layer % shown["layers"],
        "head": head % shown["heads"],
        "threshold": float(threshold),
    }
    if len(names) > 1:
        payload["view"]["part"] = part
    if lang is not None:
        payload["view"]["lang"] = lang
    return AttentionView(kind, payload)


def head_view(
    maps: Any,
    *,
    layer: int = 0,
    head: int = 0,
    words: bool = True,
    top_k: int | None = None,
    threshold: float = 0.01,
    dense_limit: int = 128,
    lang: str | None = None,
    part: str | None = None,
) -> AttentionView:
    """Interactive line view of one head, with layer and head selectors.

    Queries are on the left and keys on the right; a line's opacity is the
    weight. Given the maps of :func:`attnbook.attend_seq2seq`, it shows the
    cross-attention: target tokens on the left, source tokens on the right. Hovering or focusing (Tab) a token shows only its lines. A
    "whole words" box switches to the word-level maps (``maps.to_words()``).

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps`.
        layer, head: what is shown first (0-indexed).
        words: embed the word-level maps too.
        top_k: keep only each query's ``k`` largest weights (default: all up to
            ``dense_limit`` tokens, the top 8 beyond; see :mod:`attnbook.view.payload`).
        threshold: lines for weights below this are not drawn.
        lang: ``"en"`` or ``"ja"`` for the controls and captions; None (the
            default) follows the page the view is shown in (``<html lang>``).
        part: for a :class:`~attnbook.seq2seq.Seq2SeqMaps`, the kind of
            attention shown first: ``"encoder"``, ``"decoder"`` or ``"cross"``
            (the default; a selector switches between them). In the cross
            part the target's tokens (the queries) are on the left and the
            source's (the keys) on the right.

    >>> from attnbook.maps import attend
    >>> view = head_view(attend("The dog chased the cat."), layer=2, head=5)
    >>> view.kind, "<script src" in view.html, len(view) < 100_000
    ('head', False, True)
    """
    return _view("head", maps, layer, head, words, top_k, threshold, dense_limit, lang, part)


def model_view(
    maps: Any,
    *,
    layer: int = 0,
    head: int = 0,
    words: bool = True,
    top_k: int | None = None,
    threshold: float = 0.01,
    dense_limit: int = 128,
    lang: str | None = None,
    part: str | None = None,
) -> AttentionView:
    """Every head at once as small line views (rows = layers, columns = heads).

    Clicking a small view (or pressing Enter on it) opens that head in the
    large line view below; hovering a token there filters every small view to
    that token's lines. Arguments as for :func:`head_view`.

    >>> from attnbook.maps import attend
    >>> model_view(attend("The dog chased the cat.")).kind
    'model'
    """
    return _view("model", maps, layer, head, words, top_k, threshold, dense_limit, lang, part)
