"""Print an edition's single-page HTML to PDF with Debian's chromium (``nox -s pdf``).

The PDF is the site's own rendering: ``nox -s pdf`` first builds the edition
with Sphinx's ``singlehtml`` builder from the doctrees of the site build (the
same executed notebooks, the same ``name@ja`` figures, the bundled MathJax),
then this script opens it in headless chromium through Playwright, with every
request outside the build directory aborted, and prints it:

1. ``pdf_print.css`` (beside this file) sets the page, the type and the breaks
   (each chapter on a new page, figures and code kept whole) and hides the
   site's navigation;
2. ``pdf_prepare.js`` adds a cover and a table of contents, and replaces every
   interactive view (``attnbook.view`` output) and the playground by a note
   with a link to the page on the site;
3. MathJax typesets every equation (CHTML, its fonts from the build) before
   printing;
4. the first print tells on which page each chapter starts (``pdftotext``);
   the second print writes those numbers into the table of contents.

Usage: ``python pdf.py HTML_DIR OUT.pdf --language ja [--site-url URL]``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

FOOTER = (
    '<div style="width:100%;font-size:8pt;color:#555;text-align:center;'
    'font-family:sans-serif"><span class="pageNumber"></span></div>'
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per file would drown the build log
        pass


class PdfError(RuntimeError):
    """The PDF could not be made (missing tool, a request outside the build, MathJax failed)."""


def chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        raise PdfError("chromium is not installed: apt-get install chromium")
    return path


def page_texts(pdf: Path) -> list[str]:
    """The text of every page of ``pdf`` (``pdftotext``; pages are split by form feeds)."""
    if shutil.which("pdftotext") is None:
        raise PdfError("pdftotext is not installed: apt-get install poppler-utils")
    out = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return out.split("\f")


def chapter_pages(texts: list[str], titles: list[str], after: int) -> list[int | None]:
    """1-based page on which each title opens a page, searching from page ``after`` on.

    Every chapter starts on a new page, so its title is among the first lines
    of that page; chapters come in order, so each search starts where the
    previous one stopped.
    """
    pages: list[int | None] = []
    start = after
    for title in titles:
        want = " ".join(title.split())
        found = None
        for number in range(start, len(texts)):
            head = " ".join(" ".join(texts[number].strip().splitlines()[:4]).split())
            if want and want in head:
                found = number + 1
                start = number + 1
                break
        pages.append(found)
    return pages


def print_pdf(html: Path, out: Path, language: str, site_url: str | None) -> dict:
    """Print ``html`` (an ``index.html`` of the singlehtml build) to ``out``; return a summary."""
    from playwright.sync_api import sync_playwright

    root = html.parent.resolve()
    # Served over loopback, not file://: MathJax's fonts are fetched like a site's.
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed = f"http://127.0.0.1:{server.server_port}/"
    css = (HERE / "pdf_print.css").read_text(encoding="utf-8")
    prepare = (HERE / "pdf_prepare.js").read_text(encoding="utf-8")
    options = {"language": language, "siteUrl": site_url or "", "version": version("attnbook")}
    blocked: list[str] = []
    pdf_options = {
        "format": "A4",
        "print_background": True,
        "prefer_css_page_size": True,
        "display_header_footer": True,
        "header_template": "<span></span>",
        "footer_template": FOOTER,
        "outline": True,
        "tagged": True,
    }

    def route(r):
        url = r.request.url
        if url.startswith(allowed) or url.startswith("data:") or url.startswith("blob:"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            page = browser.new_page(locale=language)
            page.route("**/*", route)
            page.emulate_media(media="print")
            page.goto(allowed + html.name, wait_until="load", timeout=300_000)
            page.add_style_tag(content=css)
            summary = page.evaluate(prepare, options)
            page.wait_for_function(
                "() => window.attnbookPrintReady === true", timeout=300_000, polling=200
            )
            failed = page.evaluate("() => window.attnbookPrintError || null")
            if failed:
                raise PdfError(f"{html}: {failed}")
            with tempfile.TemporaryDirectory() as tmp:
                first = Path(tmp) / "first.pdf"
                page.pdf(path=str(first), **pdf_options)
                texts = page_texts(first)
                numbers = chapter_pages(texts, summary["titles"], after=summary["tocPages"])
                page.evaluate("numbers => window.attnbookSetPageNumbers(numbers)", numbers)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(out), **pdf_options)
        finally:
            browser.close()
            server.shutdown()
    if blocked:
        raise PdfError(f"{html}: the page asked for files outside the build: {blocked[:5]}")
    texts = page_texts(out)
    summary.update(pages=len([t for t in texts if t.strip()]), chapter_pages=numbers)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="index.html of the singlehtml build")
    parser.add_argument("out", type=Path, help="the PDF to write")
    parser.add_argument("--language", default="en")
    parser.add_argument("--site-url", default=None, help="the published site, for view links")
    args = parser.parse_args(argv)
    try:
        summary = print_pdf(args.html, args.out, args.language, args.site_url)
    except PdfError as err:
        print(f"pdf: {err}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size / 1e6
    print(f"{args.out}: {summary['pages']} pages, {size:.1f} MB, {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
