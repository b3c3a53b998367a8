"""The playground on the built site in a real browser (Debian chromium), network blocked.

Run by ``nox -s site`` after ``nox -s docs`` (or ``pytest -m site`` with
``$ATTNBOOK_SITE``). The model is loaded once per edition; then the page's
``attnbook.attend`` is checked against Python's :func:`attnbook.attend` on
sentences generated here, and the bad inputs of the playground issue are tried.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import random
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from browser import block_network, launch_chromium, playwright_or_skip

import attnbook

pytestmark = [pytest.mark.browser, pytest.mark.site]

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("ATTNBOOK_SITE", ROOT / "docs" / "_build" / "html")).resolve()
ASSETS = SITE / "playground-assets"
if not (ASSETS / "manifest.json").exists() or not (SITE / "en" / "playground.html").exists():
    pytest.skip(f"no playground in {SITE}: run `nox -s docs` first", allow_module_level=True)
MANIFEST = json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))
playwright_api = playwright_or_skip()
ROOT_SEL = "#attnbook-playground"
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
MODEL_FILES = [
    "ort.wasm.min.mjs",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm.deflate",
    "model.onnx.deflate",
    "weights.f16",
    "words.f16",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def base():
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium(playwright_api) as b:
        yield b


class Playground:
    """One edition's playground page, network blocked, requests and errors recorded."""

    def __init__(self, browser, base, edition):
        self.context = browser.new_context()
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        block_network(self.context, (base, "data:", "blob:"), self.blocked)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.add_init_script(
            "window.__pwned = false; window.alert = () => { window.__pwned = true; };"
        )
        self.page.goto(f"{base}{edition}/playground.html")
        self.wait("idle")

    def _console(self, message):
        # pydata-sphinx-theme's own message when no theme mode is stored yet.
        if message.type == "error" and not message.text.startswith("Got invalid theme mode"):
            self.errors.append(message.text)

    def state(self):
        return self.page.get_attribute(ROOT_SEL, "data-state")

    def wait(self, *states, timeout=60_000):
        want = json.dumps(list(states))
        self.page.wait_for_function(
            f"{want}.includes(document.querySelector('{ROOT_SEL}').dataset.state)", timeout=timeout
        )

    def rendered(self) -> int:
        return int(self.page.get_attribute(ROOT_SEL, "data-rendered") or 0)

    def type(self, text):
        before = self.rendered()
        self.page.fill("textarea[data-role=sentence]", text)
        self.page.click("button[data-role=show]")
        return before

    def message(self):
        return self.page.text_content(".ab-pg-message")


@pytest.fixture(scope="module")
def loaded(browser, base):
    pages = {}
    for edition in ("en", "ja"):
        pg = Playground(browser, base, edition)
        before = len(pg.requests)
        t0 = time.perf_counter()
        pg.page.focus("button[data-role=load]")  # keyboard: Tab to the button, Enter
        pg.page.keyboard.press("Enter")
        pg.wait("ready", "error", timeout=180_000)
        pg.page.wait_for_function(f"document.querySelector('{ROOT_SEL}').dataset.rendered")
        pg.load_seconds = time.perf_counter() - t0
        pg.model_requests = pg.requests[before:]
        pages[edition] = pg
    yield pages
    for pg in pages.values():
        pg.context.close()


def test_the_page_is_light_until_the_reader_asks(browser, base):
    pg = Playground(browser, base, "en")
    loaded = [u for u in pg.requests if any(u.split("?")[0].endswith(f) for f in MODEL_FILES)]
    assert loaded == [], "the model must not load before the button is pressed"
    page_bytes = sum(
        (SITE / u.split("?")[0][len(pg.page.url.rsplit("/en/", 1)[0]) + 1 :]).stat().st_size
        for u in pg.requests
        if "/playground-assets/" in u or u.endswith(".html")
    )
    assert page_bytes <= 2_000_000, page_bytes
    mb = sum(MANIFEST["files"][f]["bytes"] for f in MODEL_FILES) / 1e6
    assert f"({mb:.1f} MB)" in pg.page.text_content("button[data-role=load]")
    assert mb <= 50
    # The tokens show at once, before any model: the tokenizer runs in the page.
    assert "[CLS] the dog chased the cat . [SEP]" in pg.page.text_content(".ab-pg-tokens")
    assert pg.blocked == [] and pg.errors == []
    pg.context.close()


def test_the_model_loads_from_the_site_and_shows_the_views(loaded):
    for edition, pg in loaded.items():
        assert pg.state() == "ready", pg.message()
        names = {u.split("?")[0].rsplit("/", 1)[-1] for u in pg.model_requests}
        assert set(MODEL_FILES) <= names, names
        assert pg.page.locator(".attnbook-view .ab-thumb").count() == 72
        # where the start's time went, in order (the benchmark reads the same)
        t = json.loads(pg.page.get_attribute(ROOT_SEL, "data-timings"))
        assert 0 < t["downloaded"] <= t["inflated"] < t["session"] < t["firstMap"], t
        assert t["warm"] <= t["session"], t
        assert pg.blocked == [] and pg.errors == [], (edition, pg.blocked, pg.errors)


def _sentences(n, seed=0):
    from attnbook.models import load_model

    vocab = [t for t in load_model()[0].get_vocab() if t.isalpha() and t.isascii()]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(vocab, k=rng.randint(2, 28))
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ", 1984.", " — yes"]))
    return out


def test_attend_in_the_browser_equals_attend_in_python(loaded):
    page = loaded["en"].page
    texts = [*_sentences(6), "Café naïve résumé: 3.14 apples!", "The dog chased the cat."]
    for text in texts:
        got = page.evaluate("t => attnbook.attend(t)", text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = attnbook.attend(text)
        assert got["tokens"] == want.tokens, text
        att = np.asarray(got["attentions"], dtype=np.float32)
        assert att.shape == tuple(want.attentions.shape)
        diff = float(np.abs(att - want.attentions.numpy()).max())
        assert diff <= 0.01, (text, diff)
        assert diff > 0  # really the browser's own computation, float16 weights
    # The word level the views and the top-heads table use equals to_words().
    words = page.evaluate("t => attnbook.wordLevel(t)", texts[-2])
    want = attnbook.attend(texts[-2]).to_words()
    assert words["tokens"] == want.tokens
    assert np.abs(np.asarray(words["attentions"]) - want.attentions.numpy()).max() <= 0.01


def test_top_heads_table_matches_python(loaded):
    pg = loaded["en"]
    pg.type("The dog chased the cat.")
    pg.page.wait_for_function(f"document.querySelector('{ROOT_SEL}').dataset.tokens === '8'")
    rows = pg.page.eval_on_selector_all(
        "table[data-role=top-heads] tbody tr",
        "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent))",
    )
    want = attnbook.attend("The dog chased the cat.").top_heads("chased", ["dog", "cat"], k=5)
    assert [(int(r[0]), int(r[1])) for r in rows] == list(
        zip(want["layer"], want["head"], strict=True)
    )
    assert [float(r[-1]) for r in rows] == pytest.approx(list(want["weight"]), abs=0.01)


def test_views_follow_the_sentence(loaded):
    pg = loaded["en"]
    before = pg.type("A bird sang in the morning.")
    pg.page.wait_for_function(f"+document.querySelector('{ROOT_SEL}').dataset.rendered > {before}")
    left = (
        "els => els.filter(e => e.closest('.ab-tok').dataset.side === 'q').map(e => e.textContent)"
    )
    shown = pg.page.eval_on_selector_all(".attnbook-view[data-kind=head] .ab-tok title", left)
    assert shown == attnbook.attend("A bird sang in the morning.").tokens
    # Typing (no button) updates too, after a short pause.
    before = pg.rendered()
    pg.page.fill("textarea[data-role=sentence]", "")
    pg.page.type("textarea[data-role=sentence]", "Cats sleep.")
    pg.page.wait_for_function(f"+document.querySelector('{ROOT_SEL}').dataset.rendered > {before}")
    assert pg.page.get_attribute(ROOT_SEL, "data-tokens") == "5"


def test_bad_input(loaded):
    pg = loaded["en"]
    page = pg.page
    # Empty or blank: a message, nothing computed.
    before = pg.type("   \n ")
    assert "empty" in pg.message()
    page.wait_for_timeout(400)
    assert pg.rendered() == before
    code = page.evaluate("() => attnbook.attend('  ').then(() => 'ran', e => e.code)")
    assert code == "empty"
    # Markup or script: shown as text, nothing runs.
    before = pg.type(f"The dog {XSS} chased")
    page.wait_for_function(f"+document.querySelector('{ROOT_SEL}').dataset.rendered > {before}")
    assert page.locator(f"{ROOT_SEL} img, .attnbook-view script").count() == 0
    assert page.evaluate("window.__pwned") is False
    # More than 512 tokens: a message, and the offer to keep the first 512.
    long = " ".join(["attention"] * 600)
    before = pg.type(long)
    assert "602 tokens" in pg.message() and "512" in pg.message()
    assert pg.rendered() == before
    # One forward pass of 512 tokens runs on the page's thread (one wasm thread).
    page.click("button[data-role=truncate]", timeout=180_000)
    page.wait_for_function(
        f"document.querySelector('{ROOT_SEL}').dataset.tokens === '512'", timeout=180_000
    )
    # 100 KB pasted: a limit with a message, no freeze.
    t0 = time.perf_counter()
    pg.type("x" * 100_000)
    assert "100000 characters" in pg.message()
    assert time.perf_counter() - t0 < 5
    # Non-Latin text: the unknown-token warning.
    pg.type("猫は可愛い")
    assert "[UNK]" in pg.message()
    assert pg.blocked == [] and pg.errors == []


def test_japanese_edition_speaks_japanese(loaded):
    pg = loaded["ja"]
    text = pg.page.inner_text(ROOT_SEL)
    assert "あなたの文" in text and "ヘッドビュー" in text and "層 0・ヘッド 0" in text
    pg.type("")
    assert "テキストが空です" in pg.message()


def test_opened_from_disk_the_page_says_how_to_serve_it(browser):
    context = browser.new_context()
    blocked: list[str] = []
    block_network(context, ("file://", "data:"), blocked)
    page = context.new_page()
    page.goto((SITE / "en" / "playground.html").as_uri())
    page.wait_for_function(f"document.querySelector('{ROOT_SEL}').dataset.state === 'error'")
    assert "nox -s serve" in page.text_content(".ab-pg-message")
    assert page.is_disabled("button[data-role=load]")
    context.close()
