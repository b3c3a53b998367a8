"""Sphinx extension: export the playground's assets once per site (both editions share them).

Add ``"attnbook.playground.sphinx"`` to ``extensions``. When the sources have
a ``playground`` page and the builder writes HTML into ``<site>/<language>``,
the assets go to ``<site>/playground-assets/`` (the page links them as
``../playground-assets/``), from a cache in ``<build dir>/.playground`` (the
build directory is ``$ATTNBOOK_BUILD_DIR``, else ``<srcdir>/_build``).
``ATTNBOOK_PLAYGROUND=0`` skips the export (the page then says it has no model).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sphinx.util import logging

ASSETS = "playground-assets"


def _export(app: Any) -> None:
    if app.builder.format != "html" or os.environ.get("ATTNBOOK_PLAYGROUND") == "0":
        return
    src = Path(app.srcdir)
    if not (src / "playground.md").exists():
        return
    from attnbook.playground.assets import build_assets

    # the build directory conf.py uses (ATTNBOOK_BUILD_DIR), so a clean build there is clean
    build_dir = Path(os.environ.get("ATTNBOOK_BUILD_DIR", src / "_build"))
    build_dir.mkdir(parents=True, exist_ok=True)
    # Both editions may build at once and share the assets: one exports, the other waits.
    with (build_dir / ".playground.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = build_assets(Path(app.outdir).parent / ASSETS, build_dir / ".playground")
    total = sum(f["bytes"] for f in manifest["files"].values())
    logging.getLogger(__name__).info(f"playground assets: {total / 1e6:.1f} MB in ../{ASSETS}/")


def setup(app: Any) -> dict[str, Any]:
    # late (default 500): the book's chapters start executing first and the export overlaps
    app.connect("builder-inited", _export, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
