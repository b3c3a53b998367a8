"""Benchmark: no chapter page of the built site weighs more than 2 MB.

A chapter's weight is its HTML (which includes the inline interactive views
and their quantised payloads) plus every image it references, each image
counted once. The theme's shared scripts, style sheets and fonts are loaded
once for the whole site and cached, so they are reported on their own, not
added to every chapter. Prints one row per chapter and edition; exits 1 if a
chapter is over the limit (or the site is missing).

    python benchmarks/bench_page_weight.py [--site docs/_build/html] [--limit-mb 2]

The site defaults to ``$ATTNBOOK_SITE``, else ``docs/_build/html`` (build it
with ``nox -s docs``).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ("en", "ja")
MB = 1024 * 1024


class _References(HTMLParser):
    """Collects a page's image, script and style sheet URLs and its inline view payloads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.shared: list[str] = []  # scripts and style sheets
        self.views = 0
        self.payload_bytes = 0
        self._in_payload = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag in ("img", "source") and a.get("srcset"):
            self.images += [part.strip().split()[0] for part in a["srcset"].split(",") if part]
        if tag == "image" and (a.get("href") or a.get("xlink:href")):
            self.images.append(a.get("href") or a["xlink:href"])
        if tag == "object" and a.get("data"):
            self.images.append(a["data"])
        if tag == "script" and a.get("src"):
            self.shared.append(a["src"])
        if tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            self.shared.append(a["href"])
        if tag == "div" and "attnbook-view" in a.get("class", "").split():
            self.views += 1
        if tag == "script" and "attnbook-data" in a.get("class", "").split():
            self._in_payload = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_payload = False

    def handle_data(self, data: str) -> None:
        if self._in_payload:
            self.payload_bytes += len(data.encode("utf-8"))


def _local_file(page: Path, url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None  # data: URIs are inside the HTML already; remote URLs are the site tests' job
    return (page.parent / urllib.parse.unquote(parts.path)).resolve()


def weigh(page: Path) -> dict:
    """Sizes in bytes of one page: html, images, views' payloads, total; plus shared assets."""
    html = page.read_bytes()
    refs = _References()
    refs.feed(html.decode("utf-8"))
    images = {p for url in refs.images if (p := _local_file(page, url)) is not None}
    missing = sorted(str(p) for p in images if not p.is_file())
    image_bytes = sum(p.stat().st_size for p in images if p.is_file())
    shared = {p for url in refs.shared if (p := _local_file(page, url)) is not None}
    return {
        "html": len(html),
        "images": image_bytes,
        "n_images": len(images),
        "views": refs.views,
        "payload": refs.payload_bytes,
        "total": len(html) + image_bytes,
        "missing": missing,
        "shared": shared,
    }


def chapter_pages(site: Path, edition: str) -> list[Path]:
    return sorted((site / edition / "chapters").glob("*.html"))


def _kb(n: int) -> str:
    return f"{n / 1024:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_site = os.environ.get("ATTNBOOK_SITE", str(ROOT / "docs" / "_build" / "html"))
    parser.add_argument("--site", type=Path, default=Path(default_site))
    parser.add_argument("--limit-mb", type=float, default=2.0)
    args = parser.parse_args(argv)
    limit = int(args.limit_mb * MB)

    pages = [(e, p) for e in EDITIONS for p in chapter_pages(args.site, e)]
    if not pages:
        print(
            f"no chapter pages under {args.site}/{{en,ja}}/chapters: build the site first "
            "(nox -s docs) or pass --site",
            file=sys.stderr,
        )
        return 1

    print(f"page weight of {args.site} (limit {args.limit_mb:g} MB per chapter; sizes in KB)")
    header = f"{'page':<40} {'html':>8} {'images':>8} {'#img':>4} {'views':>5} {'payload':>8} {'total':>8}"
    print(header)
    print("-" * len(header))
    over, missing, shared = [], [], set()
    for edition, page in pages:
        w = weigh(page)
        name = f"{edition}/chapters/{page.name}"
        flag = "  OVER" if w["total"] > limit else ""
        print(
            f"{name:<40} {_kb(w['html'])} {_kb(w['images'])} {w['n_images']:>4} "
            f"{w['views']:>5} {_kb(w['payload'])} {_kb(w['total'])}{flag}"
        )
        if w["total"] > limit:
            over.append(name)
        missing += [f"{name}: {m}" for m in w["missing"]]
        shared |= w["shared"]
    shared_bytes = sum(p.stat().st_size for p in shared if p.is_file())
    print(
        f"\nshared theme assets (scripts + style sheets, loaded once, cached): "
        f"{shared_bytes / 1024:.1f} KB in {len(shared)} files"
    )
    for path in sorted((p for p in shared if p.is_file()), key=lambda p: -p.stat().st_size)[:3]:
        print(f"  {path.stat().st_size / 1024:8.1f} KB  {path.relative_to(args.site.resolve())}")
    heaviest = max(pages, key=lambda ep: weigh(ep[1])["total"])
    print(
        f"heaviest chapter: {heaviest[0]}/chapters/{heaviest[1].name} "
        f"({weigh(heaviest[1])['total'] / MB:.2f} MB)"
    )
    if missing:
        print("\nimages referenced but missing:\n  " + "\n  ".join(missing), file=sys.stderr)
    if over:
        print(f"\nOVER {args.limit_mb:g} MB: " + ", ".join(over), file=sys.stderr)
    return 1 if over or missing else 0


if __name__ == "__main__":
    sys.exit(main())
