"""benchmarks/bench_page_weight.py on small fake sites: it must count images and fail over the limit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_page_weight.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_page_weight", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_site(root: Path, image_bytes: int, *, payload: str = "", missing: bool = False) -> Path:
    for edition in ("en", "ja"):
        chapters = root / edition / "chapters"
        images = root / edition / "_images"
        chapters.mkdir(parents=True)
        images.mkdir(parents=True)
        if not missing:
            (images / "fig.png").write_bytes(b"\0" * image_bytes)
        view = (
            f'<div class="attnbook-view"><script type="application/json" class="attnbook-data">'
            f"{payload}</script></div>"
            if payload
            else ""
        )
        # The same image twice counts once; a data: URI is part of the HTML already.
        (chapters / "01-a.html").write_text(
            '<html><body><img src="../_images/fig.png"><img src="../_images/fig.png">'
            f'<img src="data:image/png;base64,AAAA">{view}</body></html>',
            encoding="utf-8",
        )
    return root


def test_weighs_html_images_and_payloads(bench, tmp_path):
    site = make_site(tmp_path, 5000, payload="x" * 300)
    page = site / "en" / "chapters" / "01-a.html"
    w = bench.weigh(page)
    assert w["images"] == 5000 and w["n_images"] == 1
    assert w["views"] == 1 and w["payload"] == 300
    assert w["total"] == page.stat().st_size + 5000


def test_passes_under_and_fails_over_the_limit(bench, tmp_path, capsys):
    small = make_site(tmp_path / "small", 100_000)
    assert bench.main(["--site", str(small)]) == 0
    big = make_site(tmp_path / "big", 3 * 1024 * 1024)
    assert bench.main(["--site", str(big)]) == 1
    assert "OVER 2 MB" in capsys.readouterr().err
    assert bench.main(["--site", str(small), "--limit-mb", "0.05"]) == 1


def test_fails_on_missing_images_and_missing_site(bench, tmp_path, capsys):
    assert bench.main(["--site", str(make_site(tmp_path / "m", 10, missing=True))]) == 1
    assert "missing" in capsys.readouterr().err
    assert bench.main(["--site", str(tmp_path / "nothing")]) == 1
