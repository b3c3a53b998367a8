"""Pack the built site into ``attnbook-site-<version>.tar.gz`` (``nox -s dist``).

The archive unpacks into one folder, ``attnbook-site-<version>/``, that can be
served as it is (``python -m http.server -d attnbook-site-<version>``). It is
reproducible: members sorted, owner and times zeroed, so the same site gives
the same bytes.

Usage: ``python site_archive.py SITE_DIR OUT.tar.gz``.
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path


def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def archive(site: Path, out: Path) -> int:
    """Write ``out`` from the directory ``site``; return the number of files packed."""
    if not (site / "index.html").is_file():
        raise SystemExit(f"{site} has no index.html: build the site first (nox -s docs)")
    prefix = out.name.removesuffix(".tar.gz")
    paths = sorted(p for p in site.rglob("*") if p.is_file() and p.name != ".buildinfo")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            arcname = f"{prefix}/{path.relative_to(site).as_posix()}"
            tar.add(path, arcname=arcname, recursive=False, filter=_clean)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())
    return len(paths)


if __name__ == "__main__":
    count = archive(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{sys.argv[2]}: {count} files")
