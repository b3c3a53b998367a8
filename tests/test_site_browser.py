"""The built book in a real browser (Debian chromium via Playwright), network blocked.

Runs over the site that ``nox -s docs`` writes (``docs/_build/html``, or the
directory in ``$ATTNBOOK_SITE``), served by a local ``http.server`` thread:
run ``nox -s docs site-tests`` or ``pytest -m site`` after a build. Every
request that does not go to that local server is blocked and recorded, so a
page that needs the network fails here.

Skipped, with the reason, when the site has not been built or chromium /
Playwright are missing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
from browser import block_network, launch_chromium, playwright_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.site]

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("ATTNBOOK_SITE", ROOT / "docs" / "_build" / "html")).resolve()
EDITIONS = ("en", "ja")
# Pages that are not the book's pages: Sphinx's generated index and search page
# (search has its own test), and the copied sources.
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
SKIPPED_DIRS = {"_static", "_sources", "_images", "jupyter_execute", "_downloads"}

if not (SITE / "en" / "index.html").is_file():
    pytest.skip(
        f"the site is not built: {SITE / 'en' / 'index.html'} is missing "
        "(run `nox -s docs` first, or point ATTNBOOK_SITE at a built site)",
        allow_module_level=True,
    )
playwright_api = playwright_or_skip()


def book_pages(edition: str) -> list[str]:
    """Paths (relative to the site root, POSIX) of an edition's pages."""
    base = SITE / edition
    pages = []
    for path in sorted(base.rglob("*.html")):
        rel = path.relative_to(base)
        if rel.name in SKIPPED_PAGES or SKIPPED_DIRS & set(rel.parts[:-1]):
            continue
        pages.append(f"{edition}/{rel.as_posix()}")
    return pages


PAGES = [page for edition in EDITIONS for page in book_pages(edition)]
CHAPTERS = [p for p in PAGES if "/chapters/" in p]

# What a notebook prints for an object without a readable form, with its memory
# address: noise for the reader, and a page that changes from build to build.
OBJECT_REPR = re.compile(r"&lt;[\w.]+(?: object)? at 0x[0-9a-f]+&gt;")


@pytest.mark.parametrize("page", CHAPTERS)
def test_no_output_is_an_object_address(page):
    found = OBJECT_REPR.findall((SITE / page).read_text(encoding="utf-8"))
    assert not found, f"{page} shows {found[:3]} (end the cell's last line with ';')"


# ----- the local server and the browser --------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def site_url():
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    with launch_chromium(playwright_api) as b:
        yield b


# Wait until the layout stops moving: MathJax has typeset, every image (lazy ones
# too) is decoded and fonts are in. Otherwise elements shift under the mouse.
SETTLE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


class Tab:
    """A browser context that may only talk to the local server; records what went wrong."""

    def __init__(self, browser, base: str, **context_options):
        self.base = base
        self.context = browser.new_context(**context_options)
        self.errors: list[str] = []  # console errors and uncaught exceptions
        self.blocked: list[str] = []  # requests that tried to leave the machine
        self.failed: list[str] = []  # local requests that failed or returned >= 400
        block_network(self.context, (base, "data:", "blob:"), self.blocked)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on(
            "requestfailed",
            lambda r: (
                self.failed.append(f"{r.url} ({r.failure})") if r.url.startswith(base) else None
            ),
        )
        self.page.on(
            "response",
            lambda r: self.failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None,
        )

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text} @ {message.location.get('url', '')}")

    def open(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        # Let deferred scripts (theme, MathJax, views) run and log their errors.
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate(SETTLE)
        return self.page

    def problems(self) -> dict[str, list[str]]:
        return {
            k: v
            for k, v in {
                "errors": self.errors,
                "blocked": self.blocked,
                "failed": self.failed,
            }.items()
            if v
        }

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser, site_url):
    tabs: list[Tab] = []

    def make(**context_options) -> Tab:
        tabs.append(Tab(browser, site_url, **context_options))
        return tabs[-1]

    yield make
    for t in tabs:
        t.close()


def other_edition(page: str) -> str:
    edition, rest = page.split("/", 1)
    return f"{'ja' if edition == 'en' else 'en'}/{rest}"


# ----- every page ------------------------------------------------------------


def test_both_editions_have_the_same_pages():
    en = {p.split("/", 1)[1] for p in PAGES if p.startswith("en/")}
    ja = {p.split("/", 1)[1] for p in PAGES if p.startswith("ja/")}
    assert en == ja
    assert any(p.startswith("chapters/") for p in en), "no chapter pages were built"


ASSET_URLS = """() => [
  ...[...document.querySelectorAll('img[src]')].map(e => ['img', e.src]),
  ...[...document.querySelectorAll('link[rel~=stylesheet][href]')].map(e => ['css', e.href]),
  ...[...document.querySelectorAll('link[rel~=preload][href]')].map(e => ['preload', e.href]),
  ...[...document.querySelectorAll('script[src]')].map(e => ['script', e.src]),
  ...[...document.querySelectorAll('source[srcset], img[srcset]')].map(e => ['srcset', e.srcset]),
]"""

BROKEN_IMAGES = """() => [...document.images]
  .filter(i => i.loading !== 'lazy' || i.complete)
  .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"""


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_cleanly_from_the_site_itself(tab, page):
    t = tab()
    p = t.open(page)
    assert p.title(), f"{page} has no title"
    assets = p.evaluate(ASSET_URLS)
    foreign = [(kind, url) for kind, url in assets if not url.startswith(t.base)]
    assert foreign == [], f"{page} references assets outside the site"
    assert p.evaluate(BROKEN_IMAGES) == [], f"{page} has images that did not load"
    assert t.problems() == {}, f"{page}: {t.problems()}"
    edition = page.split("/", 1)[0]
    assert p.get_attribute("html", "lang") == edition


@pytest.mark.parametrize("page", PAGES)
def test_language_switcher_points_to_the_same_page(tab, site_url, page):
    p = tab().open(page)
    links = p.eval_on_selector_all(".attnbook-lang-switch a", "els => els.map(e => e.href)")
    targets = {urllib.parse.urlsplit(href).path.lstrip("/") for href in links}
    assert other_edition(page) in targets, f"{page}: switcher links {links}"
    for target in targets:
        assert (SITE / target).is_file(), f"{page}: the switcher links to a missing page {target}"


@pytest.mark.parametrize("page", CHAPTERS[:1] + [p for p in CHAPTERS if p.startswith("ja/")][:1])
def test_clicking_the_language_switcher_lands_on_the_translation(tab, page):
    t = tab()
    p = t.open(page)
    target = other_edition(page)
    p.click(f".attnbook-lang-switch a[href$='{target.split('/', 1)[1]}'][href*='{target[:2]}/']")
    p.wait_for_url(t.base + target)
    assert p.get_attribute("html", "lang") == target[:2]
    # The same chapter: as many figures, but each edition has its own (Japanese
    # labels in the Japanese edition), so no image file is shared between them.
    figures = "els => els.map(e => e.getAttribute('src').split('/').pop())"
    here = p.eval_on_selector_all("main img", figures)
    there = tab().open(page).eval_on_selector_all("main img", figures)
    assert len(here) == len(there) > 0
    assert not set(here) & set(there)
    assert t.problems() == {}


# ----- light / dark theme ------------------------------------------------------

THEME_FIX = (
    "the theme's inline script sets data-mode from localStorage or the template variable "
    '"default_mode"; with neither (a first visit) it is "" and pydata-sphinx-theme logs '
    '"Got invalid theme mode". Fix: html_context["default_mode"] = "auto" in docs/conf.py'
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_first_visit_has_a_valid_theme_mode_that_follows_the_os(tab, scheme):
    t = tab(color_scheme=scheme)  # a fresh context: empty localStorage, like a first visit
    p = t.open(CHAPTERS[0] if CHAPTERS else "en/index.html")
    invalid = [e for e in t.errors if "invalid theme mode" in e]
    assert invalid == [], THEME_FIX
    assert p.get_attribute("html", "data-mode") in {"auto", "light", "dark"}, THEME_FIX
    assert p.get_attribute("html", "data-theme") == scheme


# ----- the root page ---------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "edition"), [("ja-JP", "ja"), ("en-US", "en"), ("fr-FR", "en"), ("ja", "ja")]
)
def test_root_page_routes_by_browser_language(tab, locale, edition):
    t = tab(locale=locale)
    t.page.goto(t.base + "index.html")
    t.page.wait_for_url(f"{t.base}{edition}/index.html")
    assert t.page.get_attribute("html", "lang") == edition
    assert t.problems() == {}


def test_root_page_links_work_without_javascript(tab):
    t = tab(java_script_enabled=False)
    p = t.page
    p.goto(t.base + "index.html")  # not t.open(): nothing to wait for without scripts
    hrefs = p.eval_on_selector_all("a[hreflang]", "els => els.map(e => e.getAttribute('href'))")
    assert sorted(hrefs) == ["en/index.html", "ja/index.html"]
    assert all((SITE / h).is_file() for h in hrefs)


# ----- search ------------------------------------------------------------------

RESULTS = "#search-results ul.search li"
SEARCH_DONE = """() => {
  const s = document.querySelector('#search-results .search-summary, #search-results p');
  return s && !/^\\s*$/.test(s.textContent) && !/Preparing|Searching|準備|検索中/.test(s.textContent)
      || document.querySelectorAll('#search-results ul.search li').length > 0;
}"""


def search(tab, edition: str, word: str) -> tuple[list[str], Tab]:
    t = tab()
    p = t.open(f"{edition}/search.html?q={urllib.parse.quote(word)}")
    p.wait_for_function(SEARCH_DONE, timeout=20_000)
    p.wait_for_timeout(300)  # results are appended one by one
    return p.eval_on_selector_all(f"{RESULTS} a", "els => els.map(e => e.href)"), t


@pytest.mark.parametrize(
    ("edition", "word", "expected_page"),
    [
        ("ja", "ソフトマックス", "chapters/02-scaled-dot-product.html"),
        ("en", "softmax", "chapters/02-scaled-dot-product.html"),
    ],
)
def test_search_finds_a_word_of_the_edition(tab, edition, word, expected_page):
    page_text = (SITE / edition / expected_page).read_text(encoding="utf-8")
    assert word in page_text, f"test premise: {word!r} should be on {edition}/{expected_page}"
    links, t = search(tab, edition, word)
    paths = {urllib.parse.urlsplit(link).path.lstrip("/") for link in links}
    assert f"{edition}/{expected_page}" in paths, f"search for {word!r} found {sorted(paths)}"
    assert all(path.startswith(f"{edition}/") for path in paths)
    assert t.problems() == {}


def test_search_control_an_absent_word_finds_nothing(tab):
    links, t = search(tab, "en", "zqxjvwk")
    assert links == []
    assert t.problems() == {}


def test_japanese_edition_does_not_find_english_only_words(tab):
    # The Japanese index holds the translated text: an English prose word of
    # chapter 2 that the translation does not use must not be found there.
    ja_text = (SITE / "ja" / "chapters" / "02-scaled-dot-product.html").read_text("utf-8")
    en_text = (SITE / "en" / "chapters" / "02-scaled-dot-product.html").read_text("utf-8")
    word = next(
        (
            w
            for w in ("sharpens", "steps", "ingredients", "weights")
            if w in en_text and w not in ja_text
        ),
        None,
    )
    if word is None:
        pytest.skip("no English-only word on chapter 2 to check the Japanese index against")
    links, _ = search(tab, "ja", word)
    assert not any("02-scaled-dot-product" in link for link in links)


# ----- interactive views on chapter pages -------------------------------------

VIEW_PAGES = [p for p in CHAPTERS if "attnbook-view" in (SITE / p).read_text(encoding="utf-8")]

HIGHLIGHTED = "els => els.map(e => [e.dataset.q, e.dataset.k, e.dataset.w].join(','))"


def hover(locator) -> None:
    locator.evaluate("e => e.scrollIntoView({block: 'center', inline: 'center'})")
    # A token that keeps moving under the pointer never becomes hoverable; fail
    # in seconds (test_focusing_a_token_does_not_move_the_view says why).
    locator.hover(timeout=5_000)


def _wait_ready(page) -> int:
    count = page.locator(".attnbook-view").count()
    page.wait_for_function(
        f"document.querySelectorAll('.attnbook-view[data-attnbook-ready=\"true\"]').length"
        f" === {count}",
        timeout=20_000,
    )
    return count


@pytest.mark.skipif(
    not VIEW_PAGES, reason="no chapter page of the built site has an interactive view"
)
@pytest.mark.parametrize("page", VIEW_PAGES or ["-"])
def test_focusing_a_token_does_not_move_the_view(tab, page):
    # If the caption above the lines changes height when a token is hovered
    # (its text gets shorter and wraps onto fewer lines in the book's column),
    # the tokens jump under the pointer: mouseleave, the caption grows back,
    # mouseenter again ... the view flickers and cannot be used with a mouse.
    p = tab().open(page)
    for i in range(_wait_ready(p)):
        view = p.locator(".attnbook-view").nth(i)
        tokens = view.locator(".ab-tok[data-side=q]")
        top = "e => e.getBoundingClientRect().top + window.scrollY"  # page, not viewport
        before = tokens.nth(1).evaluate(top)
        tokens.nth(1).focus()
        moved = tokens.nth(1).evaluate(top) - before
        assert moved == pytest.approx(0, abs=0.5), (
            f"{page}, view {i}: focusing a token moved the tokens by {moved:+.0f} px (caption height "
            f"{view.locator('.ab-caption').bounding_box()['height']:.0f} px when focused); "
            "the caption must keep its height, e.g. a min-height or placed under the lines"
        )


@pytest.mark.skipif(
    not VIEW_PAGES, reason="no chapter page of the built site has an interactive view"
)
@pytest.mark.parametrize("page", VIEW_PAGES or ["-"])
def test_interactive_views_on_chapter_pages_work(tab, page):
    t = tab()
    p = t.open(page)
    views = p.locator(".attnbook-view")
    count = _wait_ready(p)
    assert count > 0
    for i in range(count):
        view = views.nth(i)
        view.scroll_into_view_if_needed()
        layer = view.locator("select[data-role=layer]")
        options = layer.locator("option").evaluate_all("els => els.map(e => e.value)")
        assert len(options) >= 2
        layer.select_option(options[1])
        caption = view.locator(".ab-caption").text_content()
        # The views speak the page's language (one HTML output serves both editions).
        want = f"層 {options[1]}・" if page.startswith("ja/") else f"layer {options[1]},"
        assert want in caption, f"{page}: {caption!r}"
        # The model's name is the payload's (Python's short_model_name), shown as it is.
        payload = json.loads(view.locator("script.attnbook-data").text_content())
        named = payload["model_name"] + " — " if payload["model_name"] else ""
        assert caption.startswith(named + want.split()[0]), f"{page}: {caption!r}"
        if page.startswith("ja/"):
            # A seq2seq view puts its part picker (アテンション) before the layer picker.
            labels = view.locator("label").all_text_contents()
            assert "層 " in labels and "ヘッド " in labels, (page, labels)
            assert labels.index("層 ") < labels.index("ヘッド "), (page, labels)
            assert not any(re.search("[A-Za-z]", label) for label in labels), (page, labels)
        tokens = view.locator(".ab-tok[data-side=q]")
        assert tokens.count() >= 2
        hover(tokens.nth(1))
        first = view.locator("line.ab-hl").evaluate_all(HIGHLIGHTED)
        hover(tokens.nth(tokens.count() - 1))
        second = view.locator("line.ab-hl").evaluate_all(HIGHLIGHTED)
        assert first and second and first != second, f"{page}: hovering changed nothing"
    assert t.problems() == {}, f"{page}: {t.problems()}"


def test_network_guard_catches_a_request(tab):
    # Control for every "blocked == []" above: a request off the machine is seen.
    t = tab()
    p = t.open("en/index.html")
    p.evaluate("fetch('https://cdn.example.com/x.js').catch(() => null)")
    p.wait_for_timeout(300)
    assert t.blocked == ["https://cdn.example.com/x.js"]


# ----- what a reader looks at: toggles, downloads, Japanese text ----------------

TOGGLES = re.compile(r'<p class="(?:collapsed|expanded) admonition-title">([^<]*)</p>')
JAPANESE_CHARS = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize("page", CHAPTERS)
def test_hidden_cell_toggles_speak_the_page_language(page):
    labels = set(TOGGLES.findall((SITE / page).read_text(encoding="utf-8")))
    if not labels:
        pytest.skip(f"{page} has no hidden cells")
    japanese = {label for label in labels if JAPANESE_CHARS.search(label)}
    assert japanese == (labels if page.startswith("ja/") else set()), f"{page}: {labels}"


@pytest.mark.parametrize("page", PAGES)
def test_no_page_offers_its_source_with_the_plumbing(page):
    text = (SITE / page).read_text(encoding="utf-8")
    assert "_sources/" not in text, f"{page} links to its source (hidden plumbing cells)"
    assert "download-source-button" not in text


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_download_menu_downloads_the_reader_notebook(tab, edition):
    page = f"{edition}/chapters/02-scaled-dot-product.html"
    p = tab().open(page)
    p.click(".dropdown-download-buttons button")
    with p.expect_download() as info:
        p.click(".btn-download-notebook-button")
    download = info.value
    assert download.suggested_filename == "02-scaled-dot-product.ipynb"
    got = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    want = SITE / edition / "_notebooks" / "chapters" / "02-scaled-dot-product.ipynb"
    assert got == json.loads(want.read_text(encoding="utf-8"))
    assert not any("import book" in "".join(c["source"]) for c in got["cells"])


def _prose(notebook: Path) -> list[str]:
    """The paragraphs of the text cells after the install cell, without math and images."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"][1:]
    paragraphs = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for para in "".join(cell["source"]).split("\n\n"):
                para = re.sub(
                    r"\$\$.*?\$\$|\$[^$]*\$|!\[[^\]]*\]\([^)]*\)|`[^`]*`", "", para, flags=re.S
                )
                if len(re.findall(r"[A-Za-z]{2,}", para)) >= 6:  # a sentence, not a label
                    paragraphs.append(para)
    return paragraphs


@pytest.mark.parametrize("chapter", [p for p in CHAPTERS if p.startswith("ja/")])
def test_the_japanese_notebook_has_the_japanese_text_and_the_same_code(chapter):
    name = chapter.split("/", 1)[1].replace(".html", ".ipynb")
    ja, en = SITE / "ja" / "_notebooks" / name, SITE / "en" / "_notebooks" / name
    if not ja.is_file():
        pytest.skip(f"{chapter} offers no notebook")
    english = [p for p in _prose(ja) if not JAPANESE_CHARS.search(p)]
    # Reference lists (author names and titles) are the same in both editions.
    english = [p for p in english if not re.match(r"\s*[*-] [A-Z][a-z]+, [A-Z]\.", p)]
    assert english == [], f"{name}: English text in the Japanese notebook"

    def code(path):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [c["source"] for c in cells if c["cell_type"] == "code"]

    assert code(ja) == code(en)


PASTED = re.compile(r'<span class="pasted-text">([^<]*)</span>(\s*)(.?)')


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("ja/")])
def test_no_stray_space_around_glued_japanese(page):
    text = (SITE / page).read_text(encoding="utf-8")
    stray = []
    for m in PASTED.finditer(text):
        glued, space, after = m.groups()
        if space and after in ("。", "、"):
            stray.append(f"space before {after} after {glued!r}")
        elif space and glued.rstrip().endswith("。") and JAPANESE_CHARS.match(after):
            stray.append(f"space after the glued sentence {glued[-20:]!r}")
    assert stray == [], f"{page}: {stray}"


# ----- the theme's own words on Japanese pages ----------------------------------

sys.path.insert(0, str(ROOT / "docs" / "tools"))
import theme_ja  # noqa: E402

#: English the themes write on a page: what docs/tools/theme_ja.py translates,
#: and what the themes' own Japanese catalogues translate today.
THEME_ENGLISH = sorted(
    set(theme_ja.ENGLISH_LEFT)
    | {"Download this page", "Print to PDF", "Download source file", "Download notebook file"}
    | {"Skip to main content", "Back to top", "Toggle navigation", "Fullscreen mode"}
    | {"Site navigation", "On this page", "Contents", "Search", "Light", "Dark", "Copy"}
    | {"previous page", "next page", "Edit this page", "By the"}
    | {"Show code cell source", "Hide code cell source", "Show code cell output"}
    | {"Search Results", "Please activate JavaScript", "Searching", "Copyright"}
)
_THEME_ENGLISH = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(map(re.escape, THEME_ENGLISH)) + ")(?![A-Za-z])"
)

# What a reader of the page sees or hears from the theme: the text outside code,
# outputs and math, and the tooltips/labels of every element (scripts have run:
# the copy buttons are there). Elements marked lang="en" (the switcher's
# "English") are English on purpose, and so are the API's docstrings (dl.py).
READER_STRINGS = """() => {
  const skip = e => e.closest('pre, code, .cell_output, .output, mjx-container, [lang="en"]:not(html), dl.py');
  const attrs = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (skip(e)) continue;
    for (const a of ['title', 'aria-label', 'placeholder', 'data-tooltip', 'alt']) {
      const v = e.getAttribute(a);
      if (v) attrs.push(v);
    }
  }
  const texts = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, p = n.parentElement;
    if (!p || p.closest('script, style') || skip(p)) continue;
    const t = n.textContent.trim();
    if (t) texts.push(t);
  }
  const prevNext = [...document.querySelectorAll('.prev-next-subtitle')].map(e => e.textContent);
  return {attrs, texts, prevNext};
}"""
#: Latin words a Japanese page's labels may hold: names, file types, key names;
#: "Language / 言語" names the switcher in both languages on purpose.
LATIN_ALLOWED = {"attnbook", "PDF", "pdf", "ipynb", "Ctrl", "K", "PEP", "Language"}
#: Labels that are not words: a cross-reference's target (attnbook.maps.attend),
#: an image's file name (myst-nb's default alt text).
NOT_WORDS = re.compile(r"[\w.]+|\S*/\S*\.(?:png|svg|jpg)")

JA_THEME_PAGES = [p for p in PAGES if p.startswith("ja/")] + ["ja/search.html", "ja/genindex.html"]


@pytest.mark.parametrize("page", JA_THEME_PAGES)
def test_the_theme_speaks_japanese_on_japanese_pages(tab, page):
    if page.endswith("search.html"):  # with results: their count is the theme's sentence
        p = search(tab, "ja", "ソフトマックス")[1].page
        p.wait_for_function(
            "() => /ページ/.test(document.querySelector('.search-summary').textContent)",
            timeout=20_000,
        )
    else:
        p = tab().open(page)
    found = p.evaluate(READER_STRINGS)
    english = sorted(
        {m.group() for s in found["attrs"] + found["texts"] for m in _THEME_ENGLISH.finditer(s)}
    )
    assert english == [], f"{page}: the theme's English on a Japanese page"
    # "previous"/"next" over the links to the neighbouring pages (too common a
    # word to look for in the whole page: the glossary has "previous-token head").
    assert all(JAPANESE_CHARS.search(s) for s in found["prevNext"]), found["prevNext"]
    labels = [s for s in found["attrs"] if not NOT_WORDS.fullmatch(s)]
    latin = sorted({w for s in labels for w in re.findall(r"[A-Za-z]+", s)} - LATIN_ALLOWED)
    assert latin == [], f"{page}: tooltips or labels with English words"


def test_the_english_pages_keep_the_themes_english(tab):
    p = tab().open("en/chapters/02-scaled-dot-product.html")
    found = p.evaluate(READER_STRINGS)
    attrs = set(found["attrs"])
    assert {"Search...", "Toggle primary sidebar", "Color mode", "Link to this heading"} <= attrs
    assert "Copy" in attrs  # the copy buttons' tooltip
    assert {s.strip() for s in found["prevNext"]} <= {"previous", "next"} and found["prevNext"]
