"""The theme's words on Japanese pages (docs/tools/theme_ja.py), on a two-page mini book.

The mini book uses the book's theme and options; it is built in English with
and without the extension (the pages must be identical) and in Japanese
(none of the English the themes would leave may remain).
"""

from __future__ import annotations

import gettext
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("sphinx_book_theme")

TOOLS = Path(__file__).resolve().parents[1] / "docs" / "tools"
sys.path.insert(0, str(TOOLS))

import theme_ja  # noqa: E402

CONF = f"""
import sys
sys.path.insert(0, {str(TOOLS)!r})
project = "mini"
author = "the attnbook authors"
copyright = "2026, the attnbook authors"
extensions = ["sphinx_copybutton"] + EXTRA
html_theme = "sphinx_book_theme"
html_theme_options = {{
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}}
html_context = {{"default_mode": "auto"}}
html_last_updated_fmt = None
"""

PAGES = {
    "index.rst": "Mini\n====\n\nHello.\n\n.. toctree::\n\n   two\n\nA section\n---------\n\nText.\n",
    "two.rst": "Two\n===\n\nText.\n\n.. code-block:: python\n\n   print(1)\n\nB\n-\n\nMore.\n",
}


def _build(tmp_path: Path, name: str, language: str, with_extension: bool) -> Path:
    import sphinx.locale
    from sphinx.cmd.build import build_main

    src = tmp_path / name
    src.mkdir()
    extra = '["theme_ja"]' if with_extension else "[]"
    (src / "conf.py").write_text(f"EXTRA = {extra}\n" + CONF)
    for page, text in PAGES.items():
        (src / page).write_text(text)
    out = src / "_build"
    # Sphinx keeps its translators in the process: start each build afresh.
    sphinx.locale.translators.clear()
    try:
        status = build_main(["-q", "-b", "html", "-D", f"language={language}", str(src), str(out)])
    finally:
        sphinx.locale.translators.clear()
    assert status == 0
    return out


class _Strings(HTMLParser):
    """Text and the reader-facing attributes of a page, scripts and styles left out."""

    ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-tooltip"}

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        self.found += [v for k, v in attrs if k in self.ATTRIBUTES and v]

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.found.append(data.strip())


def strings(page: Path) -> list[str]:
    parser = _Strings()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mini")
    return {
        "en": _build(tmp, "en", "en", with_extension=True),
        "en-plain": _build(tmp, "en-plain", "en", with_extension=False),
        "ja": _build(tmp, "ja", "ja", with_extension=True),
        "ja-plain": _build(tmp, "ja-plain", "ja", with_extension=False),
    }


def _files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in {".html", ".js"} and ".doctrees" not in p.parts
    }


def test_the_english_pages_do_not_change(mini):
    assert _files(mini["en"]) == _files(mini["en-plain"])


def test_without_the_extension_the_theme_leaves_english_on_japanese_pages(mini):
    # The reference: the gaps are real (if a theme release fills one, drop it from the tables).
    left = set(strings(mini["ja-plain"] / "two.html"))
    assert "Search..." in left and "Toggle primary sidebar" in left and "Color mode" in left


def test_japanese_pages_have_none_of_the_themes_english(mini):
    for name in ("index.html", "two.html"):
        found = strings(mini["ja"] / name)
        english = [s for s in found if any(e in s for e in theme_ja.ENGLISH_LEFT)]
        assert english == [], f"{name}: English theme strings on a Japanese page"
        joined = "\n".join(found)
        for japanese in ("検索...", "カラーモード", "システム設定", "この見出しへのリンク"):
            assert japanese in joined, f"{name}: {japanese!r} missing"
        assert theme_ja.HARDCODED["Toggle primary sidebar"] in joined
        assert "attnbook 執筆チーム" in joined and "© 2026, attnbook 執筆チーム" in joined


def test_every_word_a_japanese_page_shows_is_japanese_or_allowed(mini):
    # Latin-letter words left in the theme's strings of a Japanese page (the
    # page's own headings are English here): only key names and file types.
    allowed = {
        "Ctrl",
        "K",
        "PDF",
        "pdf",
        "rst",
        "md",
        "Mini",
        "Two",
        "A section",
        "B",
        "Hello.",
        "Text.",
    }
    allowed |= {"More.", "print", "mini", "attnbook", "Copyright", "©", "(", ")"}
    for name in ("index.html", "two.html"):
        words = []
        for s in strings(mini["ja"] / name):
            words += re.findall(r"[A-Za-z][A-Za-z.]*(?: [A-Za-z][A-Za-z.]*)*", s)
        assert sorted({w for w in words if w not in allowed}) == [], name


def test_the_japanese_copy_button_speaks_japanese(mini):
    script = (mini["ja"] / "_static" / "copybutton.js").read_text(encoding="utf-8")
    assert "'ja': " in script and "クリップボードにコピー" in script
    english = (mini["en"] / "_static" / "copybutton.js").read_text(encoding="utf-8")
    assert "'ja': " not in english


def test_copybutton_without_its_message_table_fails_loudly():
    with pytest.raises(RuntimeError, match="message table"):
        theme_ja.with_japanese_copybutton("const labels = {}")


def test_hard_coded_attributes_are_replaced_exactly():
    page = '<button title="Toggle primary sidebar"><nav aria-label="Main">Main Page'
    out = theme_ja.translated_attributes(page)
    assert 'title="ナビゲーションの表示を切り替え"' in out
    assert 'aria-label="ナビゲーション"' in out
    assert out.endswith(">Main Page")  # text is not touched, only whole attribute values
    assert theme_ja.translated_attributes('title="Main menu"') == 'title="Main menu"'


def test_the_catalogues_are_readable_by_gettext(tmp_path):
    locale_dir = theme_ja.write_catalogues(tmp_path)
    for domain, messages in theme_ja.MESSAGES.items():
        t = gettext.translation(domain, str(locale_dir), languages=["ja"])
        for english, japanese in messages.items():
            assert t.gettext(english) == japanese


def test_the_search_messages_come_after_sphinxs_japanese_ones(mini):
    page = (mini["ja"] / "two.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script src="_static/([^"?]+)', page)
    assert scripts.index(theme_ja.SEARCH_SCRIPT) > scripts.index("translations.js")
    script = (mini["ja"] / "_static" / theme_ja.SEARCH_SCRIPT).read_text(encoding="utf-8")
    assert "Documentation.addTranslations(" in script and "${resultCount} ページ" in script
    assert theme_ja.SEARCH_SCRIPT not in (mini["en"] / "two.html").read_text(encoding="utf-8")
