"""The on-disk cache of trained toy models: checksummed files keyed by config and source.

A file is ``MAGIC``, the SHA-256 of the body, a newline, then a
``torch.save`` body. Writing goes through a temporary file and a rename, so
a reader never sees half a file; a file that fails its checksum, cannot be
read, or was written for another configuration is reported with a
:class:`ToyCacheWarning` and the model is trained again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "ToyCacheWarning",
    "cache_dir",
    "config_key",
    "read",
    "source_version",
    "warn_damaged",
    "write",
]

MAGIC = b"attnbook-toy-v1\n"


class ToyCacheWarning(UserWarning):
    """A cached toy model could not be used (damaged or unreadable) and is retrained."""


def cache_dir() -> Path:
    """``$ATTNBOOK_CACHE`` if set, else ``~/.cache/attnbook``."""
    env = os.environ.get("ATTNBOOK_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "attnbook"


def source_version(*toy_modules: str) -> str:
    """SHA-256 over the code a trained toy model depends on.

    Args:
        toy_modules: file names in the toy package (e.g. ``"model.py"``);
            this module, :mod:`attnbook.toy.training` (what every trainer
            shares) and every module of :mod:`attnbook.mechanism` always
            count. A change to a figure module retrains nothing.
    """
    here = Path(__file__).resolve().parent
    files = [here / name for name in (*toy_modules, "cache.py", "training.py")]
    files += sorted((here.parent / "mechanism").rglob("*.py"))
    digest = hashlib.sha256(torch.__version__.encode())
    for p in files:
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def config_key(config: Any, *toy_modules: str) -> str:
    """A 16-hex-digit hash of a configuration dataclass and of the code that trains it.

    Args:
        config: a frozen configuration dataclass (``ToyConfig``, ``DecoderConfig``, ...).
        toy_modules: the toy modules its training depends on, as for :func:`source_version`.
    """
    blob = json.dumps(
        {"config": dataclasses.asdict(config), "source": source_version(*toy_modules)},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def write(path: Path, payload: dict[str, Any]) -> None:
    """Save ``payload`` (tensors, lists, numbers, strings) to ``path`` with its checksum."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    os.replace(tmp, path)


def warn_damaged(path: Path, why: str) -> None:
    warnings.warn(
        f"ignoring the damaged toy-model cache file {path} ({why}); retraining",
        ToyCacheWarning,
        stacklevel=3,
    )


def read(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The payload stored at ``path`` for ``config``, or ``None`` (missing or damaged: warned)."""
    if not path.exists():
        return None
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        warn_damaged(path, "it does not start with the attnbook toy header")
        return None
    digest, _, body = raw[len(MAGIC) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        warn_damaged(path, "its SHA-256 does not match its contents")
        return None
    try:
        payload = torch.load(io.BytesIO(body), weights_only=True)
    except Exception as exc:  # a checksummed but unreadable file: e.g. another torch
        warn_damaged(path, f"torch.load failed: {exc}")
        return None
    if not isinstance(payload, dict) or payload.get("config") != config:
        warn_damaged(path, "it was trained with another configuration")
        return None
    return payload
