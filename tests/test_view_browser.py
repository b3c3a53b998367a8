"""The interactive views in a real browser (Debian chromium via Playwright), network blocked.

Run with ``pytest -m browser``. Skipped, with the reason, when chromium or
Playwright is missing; CI installs both. A screenshot of each view is kept in
``test-artifacts/``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import block_network, launch_chromium, playwright_or_skip
from synthetic_maps import synthetic_maps

import attnbook.view
from attnbook.maps import attend
from attnbook.view import decode_payload, head_view, model_view

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
XSS = "</script><img src=x onerror=alert(1)>"
VIEW_JS = Path(attnbook.view.__file__).with_name("view.js")

playwright_api = playwright_or_skip()


def _toy(tokens, layers=3, heads=4, seed=0):
    return synthetic_maps(tokens, layers=layers, heads=heads, seed=seed)


@pytest.fixture(scope="module")
def browser():
    with launch_chromium(playwright_api) as b:
        yield b


class Page:
    """A page with the network blocked and console errors, dialogs and requests recorded."""

    def __init__(self, browser, color_scheme="light"):
        self.context = browser.new_context(color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        block_network(self.page, ("file://", "data:"), self.blocked)
        # If anything ever calls alert(), the test sees it even if no dialog is shown.
        self.page.add_init_script(
            "window.__pwned = false; window.alert = function () { window.__pwned = true; };"
        )

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path, ready: int = 1):
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            f"document.querySelectorAll('.attnbook-view[data-attnbook-ready=\"true\"]').length"
            f" === {ready}",
            timeout=15_000,
        )
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser):
    pages = []

    def make(**kw):
        pages.append(Page(browser, **kw))
        return pages[-1]

    yield make
    for p in pages:
        p.close()


@pytest.fixture(scope="module")
def dog():
    return attend("The dog chased the cat unbelievably")


def _highlighted(page, root=".attnbook-view"):
    return page.eval_on_selector_all(
        f"{root} line.ab-hl",
        "els => els.map(e => [+e.dataset.q, +e.dataset.k, +e.dataset.w])",
    )


def test_head_view_selects_hovers_and_stays_offline(tab, dog, tmp_path):
    view = head_view(dog)
    path = view.save(tmp_path / "head.html")
    t = tab()
    page = t.open(path)
    weights = decode_payload(view.payload)["self"]["token"]

    page.select_option("select[data-role=layer]", "3")
    page.select_option("select[data-role=head]", "7")
    assert "layer 3, head 7 (0-indexed)" in page.text_content(".ab-caption")

    chased = dog.token_index("chased")[0]
    page.hover(f".ab-tok[data-side=q][data-index='{chased}']")
    first = _highlighted(page)
    assert first and {q for q, _, _ in first} == {chased}
    # The browser drew exactly the decoded weights of that row above the threshold.
    row = weights[3, 7, chased]
    want = {(chased, j, round(float(w), 4)) for j, w in enumerate(row) if w >= 0.01}
    assert {(q, k, round(w, 4)) for q, k, w in first} == want
    assert "from “chased”" in page.text_content(".ab-caption")

    page.hover(f".ab-tok[data-side=q][data-index='{chased - 1}']")
    second = _highlighted(page)
    assert second and second != first and {q for q, _, _ in second} == {chased - 1}

    page.hover(".ab-tok[data-side=k][data-index='0']")  # a key: lines into [CLS]
    into = _highlighted(page)
    assert into and {k for _, k, _ in into} == {0}

    page.mouse.move(1000, 700)  # away from the tokens: the new head's lines are all shown
    page.select_option("select[data-role=head]", "8")
    assert _highlighted(page) == []  # changing the head clears the focus ...
    page.hover(f".ab-tok[data-side=q][data-index='{chased}']")
    assert _highlighted(page) != first  # ... and shows the new head's lines

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "head_view.png"), full_page=True)
    assert t.errors == [] and t.blocked == [] and t.dialogs == []


def test_keyboard_focus_and_word_toggle(tab, dog, tmp_path):
    path = head_view(dog, layer=1, head=2).save(tmp_path / "head.html")
    page = tab().open(path)
    page.focus("select[data-role=layer]")
    page.keyboard.press("ArrowDown")
    assert page.input_value("select[data-role=layer]") == "2"
    assert "layer 2, head 2" in page.text_content(".ab-caption")
    # Tokens are focusable; focus highlights like hover.
    page.focus(".ab-tok[data-side=q][data-index='1']")
    assert {q for q, _, _ in _highlighted(page)} == {1}
    left = (
        "els => els.filter(e => e.closest('.ab-tok').dataset.side === 'q').map(e => e.textContent)"
    )
    assert page.eval_on_selector_all(".ab-tok text", left) == dog.tokens
    page.check("input[data-role=words]")
    assert page.eval_on_selector_all(".ab-tok text", left) == dog.to_words().tokens
    assert "words" in page.text_content(".ab-caption")


def test_xss_token_is_text_and_runs_nothing(tab, tmp_path):
    tokens = ["[CLS]", XSS, "猫", "は", "可愛い", "<b>bold</b>", "y" * 300, "[SEP]"]
    path = head_view(_toy(tokens)).save(tmp_path / "xss.html")
    t = tab()
    page = t.open(path)
    page.hover(".ab-tok[data-side=q][data-index='1']")
    texts = page.eval_on_selector_all(".ab-tok text", "els => els.map(e => e.textContent)")
    assert texts.count(XSS) == 2 and texts.count("可愛い") == 2
    # A very long token is shortened on screen, with the whole string as its tooltip.
    assert all(t.endswith("…") and len(t) < 100 for t in texts if t.startswith("yyy"))
    titles = page.eval_on_selector_all(".ab-tok title", "els => els.map(e => e.textContent)")
    assert titles.count("y" * 300) == 2 and titles.count(XSS) == 2
    assert page.locator(".attnbook-view img, .attnbook-view b").count() == 0
    assert page.evaluate("window.__pwned") is False
    assert t.dialogs == [] and t.errors == [] and t.blocked == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "head_view_xss_ja.png"), full_page=True)


def test_network_guard_would_catch_a_request(tab, dog, tmp_path):
    # Control for the offline assertions: a request from the page is seen and blocked.
    t = tab()
    page = t.open(head_view(dog).save(tmp_path / "head.html"))
    page.evaluate("fetch('https://cdn.example.com/require.js').catch(() => null)")
    page.wait_for_timeout(200)
    assert t.blocked == ["https://cdn.example.com/require.js"]


def test_model_view_grid_and_two_views_on_one_page(tab, dog, tmp_path):
    both = model_view(dog).html + head_view(_toy(["[CLS]", "a", "b", "[SEP]"])).html
    path = tmp_path / "two.html"
    path.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{both}</body></html>',
        encoding="utf-8",
    )
    t = tab()
    page = t.open(path, ready=2)
    model, head = ".attnbook-view[data-kind=model]", ".attnbook-view[data-kind=head]"
    assert page.locator(f"{model} .ab-thumb").count() == 72
    before = page.get_attribute(head, "data-lines")
    page.click(f"{model} .ab-thumb[data-layer='4'][data-head='2']")
    assert page.input_value(f"{model} select[data-role=layer]") == "4"
    assert page.input_value(f"{model} select[data-role=head]") == "2"
    assert page.get_attribute(f"{model} .ab-thumb[data-layer='4'][data-head='2']", "aria-pressed")
    page.focus(f"{model} .ab-thumb[data-layer='5'][data-head='11']")
    page.keyboard.press("Enter")
    assert "layer 5, head 11" in page.text_content(f"{model} .ab-caption")
    page.hover(f"{model} .ab-tok[data-side=q][data-index='2']")
    assert {q for q, _, _ in _highlighted(page, model)} == {2}
    assert _highlighted(page, head) == [] and page.get_attribute(head, "data-lines") == before
    # Each view made its own element ids.
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)) and len(ids) >= 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "model_view.png"), full_page=True)
    assert t.errors == [] and t.blocked == []


def test_long_input_stays_usable(tab, tmp_path):
    maps = _toy([f"w{i}" for i in range(300)], layers=2, heads=2, seed=3)
    t = tab()
    page = t.open(head_view(maps).save(tmp_path / "long.html"))
    assert int(page.get_attribute(".attnbook-view", "data-lines")) <= 300 * 8
    page.hover(".ab-tok[data-side=q][data-index='150']")
    lines = _highlighted(page)
    assert 1 <= len(lines) <= 8
    best = int(np.argmax(maps.attentions[0, 0, 150].numpy()))
    assert best in {k for _, k, _ in lines}
    assert "top 8 keys per query" in page.text_content(".ab-caption")
    assert t.errors == []


def _fg(page):
    return page.evaluate(
        "getComputedStyle(document.querySelector('.attnbook-view')).getPropertyValue('--ab-fg')"
    ).strip()


def test_view_follows_the_page_theme(tab, dog, tmp_path):
    path = head_view(dog).save(tmp_path / "head.html")
    light = _fg(tab().open(path))
    dark_os = tab(color_scheme="dark").open(path)
    dark = _fg(dark_os)
    assert light != dark
    ARTIFACTS.mkdir(exist_ok=True)
    dark_os.screenshot(path=str(ARTIFACTS / "head_view_dark.png"), full_page=True)
    dark_os.evaluate("document.documentElement.dataset.theme = 'light'")
    assert _fg(dark_os) == light  # the book's theme switch wins over the OS
    page = tab().open(path)
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert _fg(page) == dark


_CONF = """
extensions = ["myst_nb"]
nb_execution_mode = "off"
html_theme = "sphinx_book_theme"
exclude_patterns = ["_build"]
"""


@pytest.mark.slow
def test_views_work_as_myst_nb_cell_outputs_on_the_book_theme(tab, dog, tmp_path):
    """Build a one-page myst-nb site whose cell outputs are two views, then use it offline."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("myst_nb")
    pytest.importorskip("sphinx_book_theme")
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(_CONF, encoding="utf-8")
    cells = [nbformat.v4.new_markdown_cell("# Views\n\nTwo views on one page.")]
    for view, code in ((head_view(dog), "head_view(maps)"), (model_view(dog), "model_view(maps)")):
        cell = nbformat.v4.new_code_cell(code)
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"text/html": view.html, "text/plain": repr(view)}
            )
        ]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, src / "index.ipynb")
    out = tmp_path / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stderr
    t = tab()
    page = t.open(out / "index.html", ready=2)
    model = ".attnbook-view[data-kind=model]"
    page.hover(f"{model} .ab-tok[data-side=q][data-index='3']")
    assert {q for q, _, _ in _highlighted(page, model)} == {3}
    # The theme's own dark mode switch (html[data-theme]) restyles the view.
    light = _fg(page)
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert _fg(page) != light
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "myst_nb_page_dark.png"), full_page=True)
    # pydata-sphinx-theme itself logs this on file:// pages (no stored theme mode).
    theirs = "Got invalid theme mode"
    assert [e for e in t.errors if not e.startswith(theirs)] == [] and t.blocked == []


def _page_with(tmp_path, name, body, lang="en"):
    path = tmp_path / name
    path.write_text(
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def _controls_text(page, root=".attnbook-view"):
    # Everything the view wrote itself: labels, caption, column heads, grid labels.
    return page.eval_on_selector_all(
        f"{root} label, {root} .ab-caption, {root} .ab-head, {root} .ab-collabel,"
        f" {root} .ab-rowlabel",
        "els => els.map(e => e.textContent).join(' | ')",
    )


def test_labels_follow_the_page_language(tab, dog, tmp_path):
    # One fragment for both editions: the page's <html lang> picks the labels.
    html = model_view(dog, layer=3, head=7).html
    assert html == model_view(dog, layer=3, head=7).html
    ja = tab().open(_page_with(tmp_path, "ja.html", html, lang="ja"))
    text = _controls_text(ja)
    assert "層 3・ヘッド 7（0 始まり）" in text and "単語単位" in text, text
    assert "クエリ" in text and "キー" in text and "ヘッド 11" in text
    # No English word of ours is left (the tokens and the model name are data).
    leftover = set(re.findall(r"[A-Za-z]{2,}", text.replace("all-MiniLM-L6-v2", "")))
    assert leftover <= {"Tab"}, leftover
    chased = dog.token_index("chased")[0]
    ja.hover(f".ab-tok[data-side=q][data-index='{chased}']")
    assert "「chased」からの線" in ja.text_content(".ab-caption")
    assert (
        ja.get_attribute(".ab-thumb[data-layer='2'][data-head='1']", "aria-label")
        == "層 2・ヘッド 1"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    ja.screenshot(path=str(ARTIFACTS / "model_view_ja.png"), full_page=True)

    en = tab().open(_page_with(tmp_path, "en.html", html, lang="en"))
    text = _controls_text(en)
    assert "layer 3, head 7 (0-indexed)" in text and "whole words" in text
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), text

    # An explicit lang= wins over the page's.
    forced = tab().open(_page_with(tmp_path, "forced.html", head_view(dog, lang="en").html, "ja"))
    assert "whole words" in _controls_text(forced)
    forced = tab().open(_page_with(tmp_path, "forced2.html", head_view(dog, lang="ja").html))
    assert "単語単位" in _controls_text(forced)


def test_without_javascript_the_message_is_in_the_page_language(browser, dog, tmp_path):
    html = head_view(dog).html
    for lang, want, other in (
        ("ja", "JavaScript が必要", "needs JavaScript"),
        ("en", "needs", "必要"),
    ):
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(_page_with(tmp_path, f"nojs-{lang}.html", html, lang).as_uri())
        shown = page.inner_text(".attnbook-view")
        assert want in shown and other not in shown, (lang, shown)
        context.close()


_MOUNT = """
([tokens, att, tokens2, att2]) => {
  const root = document.querySelector('#root');
  const src = (t, a) => attnbookView.source({model: 'm', layers: a.length, heads: a[0].length,
                                              levels: [{tokens: t, attentions: a}]});
  const v = attnbookView.mount(root, src(tokens, att), {kind: 'model', layer: 1, head: 2});
  window.__view = v;
  window.__src2 = src(tokens2, att2);
}
"""


def test_mount_draws_weights_from_another_page_and_re_renders(tab, tmp_path):
    # The playground's use: view.js loaded as a file, weights computed on the page.
    (tmp_path / "view.js").write_text(VIEW_JS.read_text(encoding="utf-8"), encoding="utf-8")
    path = _page_with(
        tmp_path, "mount.html", '<div id="root"></div><script src="view.js"></script>'
    )
    first = _toy(["[CLS]", "a", "b", "c", "[SEP]"], layers=2, heads=3, seed=1)
    second = _toy(["[CLS]", "x", "猫", XSS, "z", "w", "[SEP]"], layers=2, heads=3, seed=2)
    t = tab()
    page = t.page
    page.goto(path.as_uri())
    page.evaluate(
        _MOUNT,
        [first.tokens, first.attentions.tolist(), second.tokens, second.attentions.tolist()],
    )
    # The full token strings (what is drawn may be shortened; the tooltip is not).
    left = (
        "els => els.filter(e => e.closest('.ab-tok').dataset.side === 'q').map(e => e.textContent)"
    )
    assert page.eval_on_selector_all("#root .ab-tok title", left) == first.tokens
    assert page.locator("#root .ab-thumb").count() == 6

    def drawn():
        page.hover("#root .ab-tok[data-side=q][data-index='1']")
        return {(q, k): w for q, k, w in _highlighted(page, "#root")}

    def want(maps, layer, head):
        row = maps.attentions[layer, head, 1]
        return {(1, j): round(float(w), 4) for j, w in enumerate(row) if w >= 0.01}

    assert drawn() == want(first, 1, 2)
    page.mouse.move(1000, 700)
    page.evaluate("window.__view.render(window.__src2)")
    # New tokens and weights; the layer/head choice is kept; nothing is drawn twice.
    assert page.eval_on_selector_all("#root .ab-tok title", left) == second.tokens
    assert page.input_value("#root select[data-role=layer]") == "1"
    assert page.locator("#root .ab-body").count() == 1
    assert drawn() == want(second, 1, 2)
    assert page.evaluate("window.__view.state()")["layer"] == 1
    # Mounting again on the same element replaces the view.
    page.evaluate("attnbookView.mount(document.querySelector('#root'), window.__src2)")
    assert page.locator("#root .ab-body").count() == 1
    assert page.locator("#root .ab-thumb").count() == 0
    # No state hung on DOM nodes (the old view kept some as root._abSelects, stage._ab).
    own = (
        "Array.from(document.querySelectorAll('*'))"
        ".flatMap(e => Object.keys(e)).filter(k => !/^\\d+$/.test(k))"  # a select lists its options
    )
    assert page.evaluate(own) == []
    assert page.evaluate("window.__pwned") is False
    assert t.errors == [] and t.blocked == []


# ----- encoder-decoders: a view of several parts (payload v2) -----------------------


S2S_SOURCE = ["<s>", "the", "dog", "chas", "##ed", XSS, "<b>cat</b>", "</s>"]
S2S_TARGET = ["</s>", "<s>", "犬", "が", "猫", "を", "追", "##う", "。", "y" * 200]


@pytest.fixture(scope="module")
def s2s():
    from synthetic_maps import synthetic_seq2seq

    return synthetic_seq2seq(S2S_SOURCE, S2S_TARGET, encoder_layers=2, decoder_layers=3, heads=2)


def _side(page, side, root=".attnbook-view"):
    return page.eval_on_selector_all(
        f"{root} .ab-tok[data-side={side}] title", "els => els.map(e => e.textContent)"
    )


def test_cross_part_draws_target_left_source_right_offline_and_escaped(tab, s2s, tmp_path):
    view = head_view(s2s, layer=1, head=1)
    t = tab()
    page = t.open(view.save(tmp_path / "cross.html"))
    # Two columns of different lengths: the decoder's tokens (queries), the source's (keys).
    assert _side(page, "q") == S2S_TARGET and _side(page, "k") == S2S_SOURCE
    heads = page.eval_on_selector_all(".ab-head", "els => els.map(e => e.textContent)")
    assert heads == ["target (queries)", "source (keys)"]
    assert page.input_value("select[data-role=part]") == "2"
    caption = page.text_content(".ab-caption")
    assert "layer 1, head 1 (0-indexed), 10 queries × 8 keys" in caption
    weights = decode_payload(view.payload)["cross"]["token"]
    for query in (2, 6):  # 犬 and 追
        page.hover(f".ab-tok[data-side=q][data-index='{query}']")
        row = weights[1, 1, query]
        want = {(query, j, round(float(w), 4)) for j, w in enumerate(row) if w >= 0.01}
        assert {(q, k, round(w, 4)) for q, k, w in _highlighted(page)} == want
    page.hover(".ab-tok[data-side=k][data-index='5']")  # a key: lines into the XSS token
    into = _highlighted(page)
    assert into and {k for _, k, _ in into} == {5}
    assert f"into “{XSS}”" in page.text_content(".ab-caption")
    # Tokens are text: no element was made from them, nothing ran.
    assert page.locator(".attnbook-view img, .attnbook-view b").count() == 0
    assert page.evaluate("window.__pwned") is False
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cross_head_view.png"), full_page=True)
    assert t.errors == [] and t.blocked == [] and t.dialogs == []


def test_switching_parts_and_the_causal_part_has_nothing_above_the_diagonal(tab, s2s, tmp_path):
    t = tab()
    page = t.open(model_view(s2s).save(tmp_path / "parts.html"))
    assert page.locator(".ab-thumb").count() == 3 * 2  # the decoder's layers x heads
    page.select_option("select[data-role=part]", "1")  # the decoder's causal self-attention
    assert _side(page, "q") == S2S_TARGET and _side(page, "k") == S2S_TARGET
    heads = page.eval_on_selector_all(".ab-head", "els => els.map(e => e.textContent)")
    assert heads == ["query", "key"]
    payload = model_view(s2s).payload
    decoder = decode_payload(payload)["decoder"]["token"]
    for layer, head in ((0, 0), (2, 1)):
        page.click(f".ab-thumb[data-layer='{layer}'][data-head='{head}']")
        page.mouse.move(1000, 900)
        drawn = page.eval_on_selector_all(
            ".ab-stage line", "els => els.map(e => [+e.dataset.q, +e.dataset.k, +e.dataset.w])"
        )
        assert drawn and all(k <= q for q, k, _ in drawn), "a line to a later key"
        want = {(q, k) for q, k in zip(*np.nonzero(decoder[layer, head] >= 0.01), strict=True)}
        assert {(q, k) for q, k, _ in drawn} == want
    page.select_option("select[data-role=part]", "0")  # the encoder: its own sizes
    assert page.locator(".ab-thumb").count() == 2 * 2
    assert _side(page, "q") == S2S_SOURCE
    assert page.locator("select[data-role=layer] option").count() == 2
    page.check("input[data-role=words]")
    assert _side(page, "q") == s2s.to_words().source_tokens
    assert "chased" in _side(page, "k")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "seq2seq_model_view.png"), full_page=True)
    assert t.errors == [] and t.blocked == []


def test_seq2seq_view_labels_in_japanese(tab, s2s, tmp_path):
    html = head_view(s2s).html
    page = tab().open(_page_with(tmp_path, "ja.html", html, lang="ja"))
    text = _controls_text(page)
    assert "アテンション" in text and "出力側（クエリ）" in text and "入力側（キー）" in text
    assert "クエリ 10 × キー 8" in text
    options = page.eval_on_selector_all(
        "select[data-role=part] option", "els => els.map(e => e.textContent)"
    )
    assert options == [
        "エンコーダーの自己注意",
        "デコーダーの自己注意（因果）",
        "クロスアテンション",
    ]
    leftover = set(re.findall(r"[A-Za-z]{2,}", text.replace("synthetic", "")))
    assert leftover <= {"Tab"}, leftover
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cross_head_view_ja.png"), full_page=True)


_MOUNT_PARTS = """
([src, tgt, cross, dec]) => {
  const root = document.querySelector('#root');
  const s = attnbookView.source({model: 'm', parts: [
    {name: 'decoder', layers: 1, heads: 2, causal: true,
     levels: [{tokens: tgt, attentions: dec}]},
    {name: 'cross', layers: 1, heads: 2,
     levels: [{queryTokens: tgt, keyTokens: src, attentions: cross}]},
  ]});
  window.__v = attnbookView.mount(root, s, {part: 'cross', head: 1});
}
"""


def test_mount_takes_a_source_with_parts(tab, tmp_path):
    # What a page that computes a translation's attention itself would do.
    (tmp_path / "view.js").write_text(VIEW_JS.read_text(encoding="utf-8"), encoding="utf-8")
    path = _page_with(
        tmp_path, "mount.html", '<div id="root"></div><script src="view.js"></script>'
    )
    src, tgt = ["a", "b", "c", "d", XSS], ["<s>", "x", "y"]
    gen = np.random.default_rng(0)
    cross = gen.dirichlet(np.ones(len(src)), size=(1, 2, len(tgt)))
    dec = np.tril(gen.random((1, 2, len(tgt), len(tgt))))
    dec /= dec.sum(-1, keepdims=True)
    t = tab()
    page = t.page
    page.goto(path.as_uri())
    page.evaluate(_MOUNT_PARTS, [src, tgt, cross.tolist(), dec.tolist()])
    assert page.evaluate("window.__v.state().part") == "cross"
    assert _side(page, "q", "#root") == tgt and _side(page, "k", "#root") == src
    page.hover("#root .ab-tok[data-side=q][data-index='2']")
    got = {(q, k): w for q, k, w in _highlighted(page, "#root")}
    want = {(2, j): round(float(w), 4) for j, w in enumerate(cross[0, 1, 2]) if w >= 0.01}
    assert got == pytest.approx(want, abs=1e-4)
    page.evaluate("window.__v.select({part: 'decoder'})")
    assert _side(page, "k", "#root") == tgt
    assert page.evaluate("window.__pwned") is False
    assert t.errors == [] and t.blocked == []


_MOUNT_NAMED = """
([tokens, att]) => {
  const shown = [];
  for (const spec of [{model: 'org/any-model', modelName: 'Any model (short)'},
                      {model: 'org/any-model'}]) {
    const root = document.createElement('div');
    document.body.appendChild(root);
    attnbookView.mount(root, attnbookView.source(Object.assign(spec, {layers: 1, heads: 1,
      levels: [{tokens: tokens, attentions: att}]})));
    shown.push(root.querySelector('.ab-caption').textContent);
  }
  return shown;
}
"""


def test_the_caption_names_the_model_as_python_does(tab, dog, tmp_path):
    # One rule for a model's short name (attnbook.ids.short_model_name): the payload
    # carries the name, and view.js shows it as it is, never shortening an id itself.
    from attnbook.ids import short_model_name
    from attnbook.view import AttentionView

    view = head_view(dog)
    assert view.payload["model_name"] == short_model_name(dog.model_id) == "all-MiniLM-L6-v2"
    t = tab()
    page = t.open(view.save(tmp_path / "named.html"))
    assert page.text_content(".ab-caption").startswith("all-MiniLM-L6-v2 — layer 0, head 0")
    # A name the JavaScript could not have derived from the id: it is the payload's.
    renamed = dict(view.payload, model="org/some-model/", model_name="Some model (v2)")
    page = t.open(AttentionView("head", renamed).save(tmp_path / "renamed.html"))
    assert page.text_content(".ab-caption").startswith("Some model (v2) — layer 0")
    # No name in the payload: none in the caption (the id is not cut up in the browser).
    del renamed["model_name"]
    page = t.open(AttentionView("head", renamed).save(tmp_path / "unnamed.html"))
    caption = page.text_content(".ab-caption")
    assert caption.startswith("layer 0, head 0") and "some-model" not in caption
    # A source built on another page (the playground) names its model the same way.
    (tmp_path / "view.js").write_text(VIEW_JS.read_text(encoding="utf-8"), encoding="utf-8")
    page = t.page
    page.goto(_page_with(tmp_path, "src.html", '<script src="view.js"></script>').as_uri())
    small = _toy(["[CLS]", "a", "[SEP]"], layers=1, heads=1)
    named, unnamed = page.evaluate(_MOUNT_NAMED, [small.tokens, small.attentions.tolist()])
    assert named.startswith("Any model (short) — layer 0")
    assert unnamed.startswith("layer 0") and "any-model" not in unnamed
    assert t.errors == [] and t.blocked == []
