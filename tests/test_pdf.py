"""The printed editions (``nox -s pdf`` runs these after making the PDFs).

Checked on the PDFs themselves, with poppler's ``pdftotext``, ``pdffonts`` and
``pdfimages``: every chapter and appendix of the site is in each PDF with its
title, in order; the Japanese PDF has the Japanese figures (not the English
images), Japanese text with no space between two Japanese characters outside
math, and numbered figures; every font is embedded; interactive views became
notes. Skipped unless ``ATTNBOOK_PDF`` names the folder of the PDFs.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.pdf

PDF = Path(os.environ["ATTNBOOK_PDF"]) if os.environ.get("ATTNBOOK_PDF") else None
if PDF is None:
    pytest.skip("run by `nox -s pdf` (ATTNBOOK_PDF is not set)", allow_module_level=True)

LANGUAGES = ["en", "ja"]
CJK = "\u3040-\u30ff\u4e00-\u9fff"
KANA = "[\u3041-\u3093\u30a1-\u30f3]"


def pdf(language: str) -> Path:
    return PDF / f"attnbook-{language}.pdf"


def pages(language: str) -> list[str]:
    text = subprocess.run(
        ["pdftotext", str(pdf(language)), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")


def chapter_titles(language: str) -> list[str]:
    """Titles of the pages of the singlehtml build, in the book's order (its h1..h3 after each
    document marker): what the site has."""
    from bs4 import BeautifulSoup

    html = (PDF / f"html-{language}" / "index.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    titles = []
    for marker in soup.select("article span[id^=document-]"):
        section = marker.find_next_sibling("section")
        heading = section.find(re.compile("^h[1-4]$")) if section else None
        if heading is not None:
            for link in heading.select(".headerlink"):
                link.decompose()
            titles.append(" ".join(heading.get_text().split()))
    return titles


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_chapter_is_in_the_pdf_in_order(language):
    titles = chapter_titles(language)
    assert len(titles) >= 16, titles  # 12 chapters, playground and three appendices
    text = pages(language)
    body = [" ".join(p.split()) for p in text[3:]]  # after the cover and the contents
    at = 0
    for title in titles:
        found = next((i for i in range(at, len(body)) if title in body[i][: len(title) + 80]), None)
        assert found is not None, f"{language}: no page opens with {title!r} after page {at + 4}"
        at = found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_font_is_embedded(language):
    out = subprocess.run(
        ["pdffonts", str(pdf(language))], check=True, capture_output=True, text=True
    )
    rows = out.stdout.splitlines()[2:]
    assert rows, "no fonts at all"
    # columns: name type [type] encoding emb sub uni object ID; emb is the 5th from the end.
    not_embedded = [r for r in rows if r.split()[-5] != "yes"]
    assert not not_embedded, "\n".join(not_embedded)


def image_hashes(language: str) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdfimages", "-png", str(pdf(language)), f"{tmp}/i"], check=True)
        return {hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(tmp).glob("*.png")}


def test_the_japanese_pdf_has_its_own_figures():
    en, ja = image_hashes("en"), image_hashes("ja")
    assert len(ja) >= 25, f"only {len(ja)} images in the Japanese PDF"
    shared = en & ja
    # A figure without any text (a picture of weights only) may be the same in both.
    assert len(shared) <= len(ja) // 5, f"{len(shared)} of {len(ja)} Japanese images are English"


def test_japanese_text_figures_and_no_stray_spaces():
    text = pages("ja")
    whole = "\n".join(text)
    # 49,496 Japanese characters on 1 Dec 2026
    assert len(re.findall(f"[{CJK}]", whole)) > 30_000, "too little Japanese text"
    assert re.search(r"図 \d+\.\d+", whole), "no numbered figure captions (図 N.M)"
    # Between two kana the PDF shows a space only where an equation stands (pdftotext
    # drops MathJax's glyphs): never more gaps than kana-equation-kana in the source.
    gaps = re.findall(f"{KANA} {KANA}", whole)
    assert len(gaps) <= len(kana_math_kana()), gaps[:20]


def kana_math_kana() -> list[str]:
    """Kana, an inline equation, kana: in the Japanese singlehtml's text."""
    from bs4 import BeautifulSoup

    html = (PDF / "html-ja" / "index.html").read_text(encoding="utf-8")
    article = BeautifulSoup(html, "html.parser").find("article")
    for math in article.select(".math"):
        math.replace_with("\x01")
    return re.findall(f"{KANA}[ \\n]*\x01[ \\n\x01]*{KANA}", article.get_text())


@pytest.mark.parametrize(
    ("language", "note"),
    [("en", "Interactive attention view."), ("ja", "対話型のアテンションビュー。")],
)
def test_interactive_views_became_notes(language, note):
    whole = "\n".join(pages(language))
    assert whole.count(note) >= 3, f"{language}: {whole.count(note)} notes"
    assert "This interactive attention view needs JavaScript" not in whole


def test_english_pdf_has_numbered_figures_and_equations():
    whole = "\n".join(pages("en"))
    assert re.search(r"Fig\. 5\.\d", whole)
    assert "glossary" in whole.lower() and "References" in whole
