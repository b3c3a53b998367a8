"""Build the playground's browser assets from the embedded model (nothing is downloaded).

``build_assets(out)`` writes into ``out``:

* ``model.onnx.deflate``, ``weights.f16`` and ``words.f16`` —
  :func:`attnbook.playground.export.export_onnx` of the default model: the
  graph (already optimised), its matrices in float16 (the browser widens
  them to float32 as they arrive), and the word-embedding table in float16
  (the browser keeps it as it is and widens only the rows of each sentence).
  The float16 values are not deflated: they shrink by only 8%, and inflating
  them cost the page more time than the bytes saved;
* ``vocab.txt.deflate`` — the tokenizer's vocabulary (one token per line, id = line);
* ``ort.wasm.min.mjs``, ``ort-wasm-simd-threaded.mjs`` and
  ``ort-wasm-simd-threaded.wasm.deflate`` — onnxruntime-web's wasm-only build,
  copied from ``node_modules`` (installed by ``npm ci`` from the lock file at
  the repository root; MIT licence, whose notice is copied beside them);
* ``view.js``, ``view.css``, ``tokenizer.js``, ``playground.js``, ``playground.css``;
* ``manifest.json`` — sizes and sha256 of every file, the model's id and the
  name the views show (``model_name``, :func:`attnbook.ids.short_model_name`), its shape and
  the measured largest difference to :func:`attnbook.attend` (the build fails
  above :data:`MAX_DIFFERENCE`).

The browser inflates the ``.deflate`` files with ``DecompressionStream`` while
they download (the wasm compresses from 14 MB to under 4 MB). The result is cached in
``cache`` under a key made of everything it depends on, so the second
edition and later builds copy instead of exporting again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import warnings
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

from attnbook.ids import short_model_name
from attnbook.playground.export import ExportError, export_onnx, fidelity, sha256

__all__ = ["MAX_DIFFERENCE", "FIDELITY_TEXTS", "build_assets", "ensure_runtime"]

MAX_DIFFERENCE = 0.01
"""Largest difference per weight allowed between the browser's model and attend()."""

FIDELITY_TEXTS = [
    "The dog chased the cat.",
    "The animal didn't cross the street because it was too tired.",
    "Café naïve résumé: 3.14 apples, 42 pears & 7 plums!",
    "犬が猫を追う",
    "Attention lets every token look at every other token, and the weights it learns tell us "
    "which words the model connects when it reads a sentence about a dog that chased a cat.",
]

RUNTIME = "onnxruntime-web"
_RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs")
_RUNTIME_WASM = "ort-wasm-simd-threaded.wasm"
_PACKAGE_FILES = ("view.js", "view.css")
_PLAYGROUND_FILES = ("tokenizer.js", "playground.js", "playground.css")
_CACHE_VERSION = "3"


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def ensure_runtime(root: Path | None = None) -> Path:
    """onnxruntime-web's ``dist`` folder, running ``npm ci`` from the lock file if needed."""
    root = root or _repo_root()
    dist = root / "node_modules" / RUNTIME / "dist"
    lock = root / "package-lock.json"
    if not lock.exists():
        raise ExportError(f"no {lock}: the playground's runtime is pinned there")
    stamp = root / "node_modules" / ".attnbook-lock-sha256"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    if dist.exists() and stamp.exists() and stamp.read_text() == want:
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise ExportError(
            "npm is not installed: the playground copies onnxruntime-web from npm "
            "(apt-get install npm, or build without the playground: ATTNBOOK_PLAYGROUND=0)"
        )
    # --ignore-scripts: nothing of the dependencies runs; we only copy files.
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        check=True,
    )
    stamp.write_text(want)
    return dist


def _deflate(src: bytes) -> bytes:
    return zlib.compress(src, 9)


def _source_key(dist: Path, model_sha: str) -> str:
    digest = hashlib.sha256()
    digest.update(_CACHE_VERSION.encode())
    digest.update(model_sha.encode())
    here = Path(__file__).resolve().parent
    for name in ("export.py", "assets.py"):
        digest.update((here / name).read_bytes())
    digest.update((dist.parent / "package.json").read_bytes())
    import torch

    digest.update(torch.__version__.encode())
    return digest.hexdigest()[:16]


def _export_model(cache: Path, model: Any) -> dict[str, Any]:
    """Export (once per cache key) and check the model; returns its manifest entries."""
    from attnbook.maps import UNKNOWN_TOKEN_THRESHOLD
    from attnbook.models import load_model, model_id

    tokenizer, loaded = load_model(model)
    onnx_path = cache / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(loaded, onnx_path)
        worst = fidelity(onnx_path, FIDELITY_TEXTS, model)
    if not worst <= MAX_DIFFERENCE:
        raise ExportError(
            f"the exported model differs from attnbook.attend by {worst:.4f} per weight "
            f"(allowed {MAX_DIFFERENCE}); the playground would show wrong maps"
        )
    f16, words = Path(f"{onnx_path}.f16"), Path(f"{onnx_path}.words.f16")
    (cache / "model.onnx.deflate").write_bytes(_deflate(onnx_path.read_bytes()))
    (cache / "weights.f16").write_bytes(f16.read_bytes())
    (cache / "words.f16").write_bytes(words.read_bytes())
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        raise ExportError("the vocabulary's ids are not 0..n-1")
    text = "\n".join(t for t, _ in vocab) + "\n"
    (cache / "vocab.txt.deflate").write_bytes(_deflate(text.encode("utf-8")))
    config = loaded.config
    info = {
        "model": model_id(loaded),
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "hidden": config.hidden_size,
        "max_tokens": min(tokenizer.model_max_length, config.max_position_embeddings),
        "special": {
            "cls": tokenizer.cls_token,
            "sep": tokenizer.sep_token,
            "unk": tokenizer.unk_token,
        },
        "unknown_threshold": UNKNOWN_TOKEN_THRESHOLD,
        "max_difference": worst,
        "raw_bytes": {
            "model.onnx.deflate": onnx_path.stat().st_size,
            "weights.f16": f16.stat().st_size,
            "words.f16": words.stat().st_size,
        },
    }
    for done in (onnx_path, f16, words, onnx_path.with_name("weights.bin")):
        done.unlink()  # only the compressed copies are published
    (cache / "model.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def build_assets(
    out: str | os.PathLike[str], cache: str | os.PathLike[str], model: Any = None
) -> dict:
    """Write the playground's assets into ``out`` (see the module docstring); the manifest."""
    from attnbook.models import default_model_path

    out, cache_root = Path(out), Path(cache)
    dist = ensure_runtime()
    model_sha = sha256(default_model_path() / "model.safetensors") if model is None else str(model)
    cache_dir = cache_root / _source_key(dist, model_sha)
    if not (cache_dir / "model.json").exists():
        tmp = cache_dir.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _export_model(tmp, model)
        shutil.rmtree(cache_dir, ignore_errors=True)
        tmp.rename(cache_dir)
    info = json.loads((cache_dir / "model.json").read_text(encoding="utf-8"))

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for name in ("model.onnx.deflate", "weights.f16", "words.f16", "vocab.txt.deflate"):
        files[name] = (cache_dir / name).read_bytes()
    for name in _RUNTIME_FILES:
        files[name] = (dist / name).read_bytes()
    wasm = (dist / _RUNTIME_WASM).read_bytes()
    files[_RUNTIME_WASM + ".deflate"] = _deflate(wasm)
    info["raw_bytes"][_RUNTIME_WASM + ".deflate"] = len(wasm)
    view = resources.files("attnbook.view")
    here = resources.files("attnbook.playground")
    # The npm package has no LICENSE file of its own (package.json says MIT).
    files["LICENSE-onnxruntime-web.txt"] = here.joinpath("LICENSE-onnxruntime-web.txt").read_bytes()
    for name in _PACKAGE_FILES:
        files[name] = view.joinpath(name).read_bytes()
    for name in _PLAYGROUND_FILES:
        files[name] = here.joinpath(name).read_bytes()
    runtime_version = json.loads((dist.parent / "package.json").read_text())["version"]
    manifest = {
        "version": 1,
        **info,
        "model_name": short_model_name(info["model"]),  # the views' caption shows it as it is
        "runtime": {"name": RUNTIME, "version": runtime_version},
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        },
    }
    for name, data in files.items():
        target = out / name
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    for stale in out.iterdir():  # files of an earlier layout (e.g. weights.f16.deflate)
        if stale.is_file() and stale.name not in files and stale.name != "manifest.json":
            stale.unlink()
    return manifest
