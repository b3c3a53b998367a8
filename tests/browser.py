"""Debian chromium through Playwright, network blocked: what the browser tests share.

``playwright_or_skip()`` at the top of a test module skips it, with the reason,
when Playwright or chromium is missing; ``launch_chromium`` starts the headless
browser; ``block_network`` lets a page fetch only what the test allows and records
every other request.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """Debian's chromium, else whichever ``chromium`` is on PATH, else None."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def playwright_or_skip():
    """``playwright.sync_api``; skips the calling module when it or chromium is missing."""
    api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed (pip install playwright)",
    )
    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return api


@contextlib.contextmanager
def launch_chromium(api) -> Iterator:
    """A headless chromium browser (Playwright ``Browser``), closed afterwards."""
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def block_network(target, allowed: tuple[str, ...], blocked: list[str]) -> None:
    """Route every request of ``target`` (a page or context): URLs starting with one of
    ``allowed`` go through, all others are aborted and appended to ``blocked``."""

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    target.route("**/*", route)
