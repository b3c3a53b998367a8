"""The theme's own words in Japanese on Japanese pages: what its catalogues leave in English.

sphinx-book-theme and pydata-sphinx-theme do ship Japanese catalogues, and
``-D language=ja`` uses them ("Print to PDF" becomes 「PDFに印刷」), but they
are incomplete for the versions we pin (sphinx-book-theme 1.4, pydata 0.20,
Sphinx 9.0, sphinx-copybutton 0.5):

- messages missing or untranslated in a catalogue: sphinx-book-theme's
  ``booktheme`` catalogue has no "Search" (the search box said "Search..."),
  pydata's leaves "Color mode" and "System Settings" empty, Sphinx's own
  leaves "Link to this heading" and the other permalinks' titles empty, and
  pydata's keeps "© Copyright" in its footer (``MESSAGES``);
- words written into the templates without gettext (the sidebar toggles'
  tooltips, the navigation landmarks' ``aria-label``), which no catalogue can
  reach (``HARDCODED``, replaced as exact attribute values on Japanese pages);
- sphinx-copybutton's messages, a table in its script without Japanese
  (``COPYBUTTON``, added to the Japanese edition's ``copybutton.js``);
- the search page's result count, empty in Sphinx's Japanese catalogue for
  scripts (``SEARCH_MESSAGES``, added by a script after ``translations.js``).

This extension fills exactly these gaps, only when the language is ``ja``:
the English edition is built as before. ``ENGLISH_LEFT`` lists the English
theme strings the site test (``tests/test_site_browser.py``) looks for on every
Japanese page; a string the themes add in a new version and leave in English
is caught there, then belongs in one of the tables here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

LANGUAGE = "ja"

#: gettext catalogue (domain) -> {English message: Japanese}, for messages the
#: theme translates through gettext but whose Japanese catalogue lacks them.
#: ``sphinx`` is the domain of Sphinx's and pydata-sphinx-theme's templates;
#: this catalogue is consulted after Sphinx's own and before pydata's.
MESSAGES = {
    "sphinx": {
        "Color mode": "カラーモード",
        "System Settings": "システム設定",
        "Link to this heading": "この見出しへのリンク",
        "Link to this definition": "この定義へのリンク",
        "Link to this term": "この用語へのリンク",
        "Link to this image": "この図へのリンク",
        "Link to this table": "この表へのリンク",
        "Link to this code": "このコードへのリンク",
        "Link to this equation": "この式へのリンク",
        "Link to this toctree": "この目次へのリンク",
        "Keyword-only parameters separator (PEP 3102)": "キーワード専用引数の区切り (PEP 3102)",
        "Positional-only parameter separator (PEP 570)": "位置専用引数の区切り (PEP 570)",
        # pydata's footer; its Japanese catalogue keeps the English "Copyright".
        "© Copyright %(copyright)s.": "© %(copyright)s",
        "Collapse Sidebar": "サイドバーを閉じる",
        "Expand Sidebar": "サイドバーを開く",
    },
    "booktheme": {
        # The theme's search box shows translation("Search") + "...".
        "Search": "検索",
    },
}

#: Attribute values the templates write in English without gettext.
HARDCODED = {
    "Toggle primary sidebar": "ナビゲーションの表示を切り替え",
    "Toggle secondary sidebar": "ページ内の目次の表示を切り替え",
    "Main": "ナビゲーション",
    "Page": "ページ内の目次",
    # myst-nb's toggle of a hidden cell (its visible label is Japanese already).
    "Toggle hidden content": "隠れた内容の表示を切り替え",
}
_ATTRIBUTE = re.compile(
    r'\b(title|aria-label)="(' + "|".join(re.escape(k) for k in HARDCODED) + ')"'
)

#: sphinx-copybutton's messages (its script picks them by ``<html lang>``).
COPYBUTTON = {
    "copy": "コピー",
    "copy_to_clipboard": "クリップボードにコピー",
    "copy_success": "コピーしました",
    "copy_failure": "コピーできませんでした",
}
_COPYBUTTON_TABLE = "const messages = {"

#: Messages of Sphinx's search page script that its Japanese catalogue for
#: scripts (``translations.js``) leaves empty: the page showed no result count.
SEARCH_MESSAGES = {
    "Search finished, found one page matching the search query.": [
        "検索が終わりました。${resultCount} ページが見つかりました。"
    ],
    ", in ": " — ",
}
SEARCH_SCRIPT = "attnbook-search-ja.js"

#: The book's own metadata in the theme's footer and byline, in Japanese.
CONTEXT = {"author": "attnbook 執筆チーム", "copyright": "2026, attnbook 執筆チーム"}

#: English the theme would show a reader of a Japanese page if a gap reopened:
#: every English string of the tables above, and the English metadata.
ENGLISH_LEFT = sorted(
    {m for table in MESSAGES.values() for m in table if m != "Search"}
    | set(HARDCODED)
    | {"Search...", "Copy to clipboard", "Copied!", "Failed to copy", "the attnbook authors"}
    | {"Search finished", "matching the search query", "© Copyright"}
)


def translated_attributes(page: str) -> str:
    """``page`` with the hard-coded English attribute values (``HARDCODED``) in Japanese."""
    return _ATTRIBUTE.sub(lambda m: f'{m.group(1)}="{html.escape(HARDCODED[m.group(2)])}"', page)


def with_japanese_copybutton(script: str) -> str:
    """sphinx-copybutton's ``copybutton.js`` with a ``ja`` entry in its message table."""
    if _COPYBUTTON_TABLE not in script:
        raise RuntimeError(
            "copybutton.js has no message table any more: update docs/tools/theme_ja.py "
            "for this version of sphinx-copybutton"
        )
    entry = f"\n  '{LANGUAGE}': {json.dumps(COPYBUTTON, ensure_ascii=False)},"
    return script.replace(_COPYBUTTON_TABLE, _COPYBUTTON_TABLE + entry, 1)


def search_script() -> str:
    """A script that adds ``SEARCH_MESSAGES`` to Sphinx's Japanese messages (after translations.js)."""
    catalog = {"locale": LANGUAGE, "plural_expr": "0", "messages": SEARCH_MESSAGES}
    return (
        "// Sphinx's search messages its Japanese catalogue lacks (docs/tools/theme_ja.py).\n"
        f"Documentation.addTranslations({json.dumps(catalog, ensure_ascii=False)});\n"
    )


def write_catalogues(locale_dir: Path) -> Path:
    """``MESSAGES`` as compiled catalogues ``<locale_dir>/ja/LC_MESSAGES/<domain>.mo``."""
    for domain, messages in MESSAGES.items():
        catalog = Catalog(locale=LANGUAGE, domain=domain)
        for english, japanese in messages.items():
            catalog.add(english, japanese)
        target = locale_dir / LANGUAGE / "LC_MESSAGES" / f"{domain}.mo"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            write_mo(f, catalog)
    return locale_dir


def _page_context(app, pagename, templatename, context, doctree):
    for key, value in CONTEXT.items():
        if context.get(key):
            context[key] = value


def _translate_rendered_pages(app):
    if app.builder.format != "html":
        return
    # After Sphinx's translations.js (priority 500), which it completes.
    app.add_js_file(SEARCH_SCRIPT, priority=600)
    templates = app.builder.templates
    render = templates.render

    def render_japanese(template, context):
        return translated_attributes(render(template, context))

    templates.render = render_japanese


def _write_scripts(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    (Path(app.outdir) / "_static" / SEARCH_SCRIPT).write_text(search_script(), encoding="utf-8")
    script = Path(app.outdir) / "_static" / "copybutton.js"
    if script.is_file():
        text = script.read_text(encoding="utf-8")
        if f"'{LANGUAGE}':" not in text:
            script.write_text(with_japanese_copybutton(text), encoding="utf-8")


def digest() -> str:
    """A hash of every table here: a changed table makes Sphinx rewrite every page."""
    tables = [MESSAGES, HARDCODED, COPYBUTTON, SEARCH_MESSAGES, CONTEXT]
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()[:16]


def setup(app):
    if (app.config.language or "en") == LANGUAGE:
        # An "html" configuration value: when it changes, the HTML builder
        # counts every page as outdated (the tables are not templates it tracks).
        app.add_config_value("attnbook_theme_ja_digest", digest(), "html")
        # Registered now, before the theme registers its own catalogues at
        # builder creation: ours fill the gaps of Sphinx's catalogue (after it
        # in the lookup) and of the themes'.
        locale_dir = write_catalogues(Path(app.doctreedir) / "theme-locale")
        for domain in MESSAGES:
            app.add_message_catalog(domain, str(locale_dir))
        app.connect("builder-inited", _translate_rendered_pages)
        # After the theme's handler, which sets the author from the configuration.
        app.connect("html-page-context", _page_context, priority=900)
        app.connect("build-finished", _write_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
