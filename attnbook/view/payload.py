"""The data an interactive view carries: quantised, compressed weights plus tokens.

Encoding (version 1)
--------------------
Each weight ``w`` in ``[0, 1]`` is stored as the byte ``round(255 · w)`` and
read back as ``byte / 255``, so the **maximum error is 0.5/255 ≈ 0.002**
(within the documented bound of 1/255). Rows then sum to 1 only within
``T · 0.5/255``.

Two layouts, chosen per view:

* ``dense`` (up to ``dense_limit`` tokens): one ``T × T`` block per layer and
  head, stored key-major (byte ``j·T + i`` is query ``i`` → key ``j``) because
  columns such as ``[CLS]`` or ``[SEP]`` repeat down the rows and compress well.
* ``topk`` (long inputs, or when ``top_k`` is given): for each query only its
  ``k`` largest weights: ``T·k`` key indices as little-endian uint16, then
  ``T·k`` weight bytes, largest first. Weights outside a row's top ``k`` are
  *dropped* (read as 0), not approximated.

The blocks of every layer and head, the word-level block right after the
token-level block of the same head, are concatenated, zlib-compressed and
base64-encoded. The browser inflates them with ``DecompressionStream("deflate")``.
The JSON that carries all of this is escaped for a ``<script>`` element by
:func:`json_for_script`; tokens reach the page's DOM through ``textContent``
only.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np
import torch

from attnbook.errors import AttnbookError

__all__ = [
    "SCALE",
    "MAX_ERROR",
    "VERSION",
    "ViewInputError",
    "quantise",
    "dequantise",
    "build_payload",
    "decode_payload",
    "json_for_script",
]

VERSION = 1
SCALE = 255
MAX_ERROR = 0.5 / SCALE
"""Largest difference between a stored weight and the original (dense layout)."""

_MAX_TOKENS = 65_535  # key indices are uint16 in the top-k layout


class ViewInputError(AttnbookError, ValueError):
    """An interactive view was asked for something it cannot show."""


def quantise(weights: torch.Tensor) -> np.ndarray:
    """Weights in ``[0, 1]`` (any shape) -> ``uint8`` array ``round(255 · w)``.

    >>> import torch
    >>> quantise(torch.tensor([0.0, 0.5, 1.0])).tolist()
    [0, 128, 255]
    """
    w = torch.as_tensor(weights).detach().to(torch.float64).cpu()
    if w.numel() and (not torch.isfinite(w).all() or w.min() < -1e-6 or w.max() > 1 + 1e-6):
        raise ViewInputError(
            "attention weights must be finite and in [0, 1]; got values in "
            f"[{w.min().item():.3g}, {w.max().item():.3g}]. Pass softmax outputs."
        )
    return torch.round(w.clamp(0, 1) * SCALE).to(torch.uint8).numpy()


def dequantise(q: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantise`: ``uint8`` -> ``float32`` weights ``q / 255``."""
    return np.asarray(q, dtype=np.float32) / SCALE


def _levels(maps: Any, words: bool) -> list[tuple[str, Any]]:
    levels = [(getattr(maps, "level", "token"), maps)]
    if words and levels[0][0] == "token" and hasattr(maps, "to_words"):
        levels.append(("word", maps.to_words()))
    return levels


def _blocks(att: torch.Tensor, k: int | None) -> list[list[bytes]]:
    """Encoded bytes of every head of ``att`` ``[L, H, T, T]``: ``blocks[layer][head]``."""
    # One vectorised pass over all heads: per-head calls are ~50x slower on 300 tokens.
    if k is None:
        q = quantise(att.transpose(-1, -2))  # key-major
        return [[q[la, hd].tobytes() for hd in range(q.shape[1])] for la in range(q.shape[0])]
    values, index = torch.topk(att.detach().to(torch.float32).cpu(), k, dim=-1)
    idx = index.numpy().astype("<u2")
    val = quantise(values)
    return [
        [idx[la, hd].tobytes() + val[la, hd].tobytes() for hd in range(idx.shape[1])]
        for la in range(idx.shape[0])
    ]


def build_payload(
    maps: Any,
    *,
    words: bool = True,
    top_k: int | None = None,
    dense_limit: int = 128,
) -> dict[str, Any]:
    """Everything a view needs, as a JSON-ready dict (see the module docstring).

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps`.
        words: also embed the word-level maps from ``maps.to_words()`` (when no
            word is split they equal the token maps and share their bytes).
        top_k: keep only the ``k`` largest weights of each query row. Default:
            all weights up to ``dense_limit`` tokens, the top 8 beyond.
        dense_limit: the longest input stored densely when ``top_k`` is None.

    >>> from attnbook.maps import attend
    >>> p = build_payload(attend("The dog chased the cat."))
    >>> [(lv["name"], lv["layout"], lv["n"]) for lv in p["levels"]]
    [('token', 'dense', 8), ('word', 'dense', 8)]
    """
    for attr in ("attentions", "tokens", "num_layers", "num_heads"):
        if not hasattr(maps, attr):
            raise ViewInputError(
                f"expected an AttentionMaps (from attnbook.attend(text)), got {type(maps).__name__}"
            )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ViewInputError(f"top_k must be a positive int or None, got {top_k!r}")
    num_layers, num_heads = maps.num_layers, maps.num_heads
    levels = _levels(maps, words)
    # No word split into pieces: the word maps equal the token maps (only the
    # strings may differ, e.g. "The" for "the"), so the word level reuses the blocks.
    shared = (
        len(levels) == 2
        and len(levels[1][1].tokens) == len(maps.tokens)
        and torch.equal(levels[1][1].attentions, maps.attentions)
    )
    blob = bytearray()
    meta = []
    for name, lm in levels:
        n = len(lm.tokens)
        if n > _MAX_TOKENS:
            raise ViewInputError(f"{n} tokens is too many for a view (at most {_MAX_TOKENS})")
        if tuple(lm.attentions.shape) != (num_layers, num_heads, n, n):
            raise ViewInputError(
                f"attentions of shape {tuple(lm.attentions.shape)} do not match "
                f"{num_layers} layers x {num_heads} heads x {n} tokens"
            )
        k = None
        if top_k is not None or n > dense_limit:
            k = min(top_k or 8, n)
        meta.append(
            {
                "name": name,
                "tokens": [str(t) for t in lm.tokens],
                "special": [bool(s) for s in torch.as_tensor(lm.special).tolist()],
                "n": n,
                "layout": "dense" if k is None else "topk",
                "k": k,
                "offsets": [],
            }
        )
    stored = levels[:1] if shared else levels
    encoded = [_blocks(lm.attentions, m["k"]) for (_, lm), m in zip(stored, meta, strict=False)]
    for layer in range(num_layers):
        for head in range(num_heads):
            for blocks, m in zip(encoded, meta, strict=False):
                m["offsets"].append(len(blob))
                blob += blocks[layer][head]
    if shared:
        meta[1]["offsets"] = list(meta[0]["offsets"])
    return {
        "version": VERSION,
        "model": str(getattr(maps, "model_id", "")),
        "layers": num_layers,
        "heads": num_heads,
        "scale": SCALE,
        "levels": meta,
        "data": base64.b64encode(zlib.compress(bytes(blob), 9)).decode("ascii"),
    }


def decode_payload(payload: dict[str, Any]) -> dict[str, np.ndarray]:
    """Decode a payload the way the browser does: level name -> ``[L, H, T, T]`` float32.

    Weights a ``topk`` layout dropped come back as 0.

    >>> import torch
    >>> from attnbook.maps import attend
    >>> maps = attend("The dog chased the cat.")
    >>> back = decode_payload(build_payload(maps))["token"]
    >>> float(abs(torch.from_numpy(back) - maps.attentions).max()) <= MAX_ERROR + 1e-7
    True
    """
    blob = zlib.decompress(base64.b64decode(payload["data"]))
    num_layers, num_heads = payload["layers"], payload["heads"]
    out = {}
    for m in payload["levels"]:
        n, k = m["n"], m["k"]
        dense = np.zeros((num_layers, num_heads, n, n), dtype=np.float32)
        for block, offset in enumerate(m["offsets"]):
            layer, head = divmod(block, num_heads)
            if m["layout"] == "dense":
                q = np.frombuffer(blob, np.uint8, n * n, offset).reshape(n, n)
                dense[layer, head] = dequantise(q.T)
            else:
                idx = np.frombuffer(blob, "<u2", n * k, offset).reshape(n, k)
                val = np.frombuffer(blob, np.uint8, n * k, offset + 2 * n * k).reshape(n, k)
                np.put_along_axis(dense[layer, head], idx.astype(np.int64), dequantise(val), 1)
        out[m["name"]] = dense
    return out


_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("/"): "\\/",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>``, ``&``, ``/`` and the line separators U+2028/U+2029 are written
    as JSON escapes, so no token can close the script element or start markup;
    ``json.loads`` / ``JSON.parse`` read the original strings back.

    >>> json_for_script({"t": "</script><b>"})
    '{"t": "\\\\u003c\\\\/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.translate(_SCRIPT_ESCAPES)
