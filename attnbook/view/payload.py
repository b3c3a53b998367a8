"""The data an interactive view carries: quantised, compressed weights plus tokens.

Encoding (version 2)
--------------------
A payload names its model twice: ``model``, the hub id or directory, and
``model_name``, the name a view's caption shows
(:func:`attnbook.ids.short_model_name`, the one rule; ``view.js`` shows it
as it is and never shortens an id itself). It holds one or more **parts**, each one kind of attention with its
own layers, heads and tokens: ``"self"`` for the maps of :func:`attnbook.attend`,
``"encoder"``, ``"decoder"`` and ``"cross"`` for the maps of
:func:`attnbook.attend_seq2seq`. A part has ``name``, ``layers``, ``heads``,
``causal`` and ``levels`` (``"token"`` and, when asked for, ``"word"``); each
level has its ``query`` and ``key`` tokens (``tokens`` and ``special`` flags;
``key`` is ``null`` when the keys are the queries), ``nq`` queries, ``nk``
keys, a ``layout`` and one byte offset per layer and head (layer-major).

Each weight ``w`` in ``[0, 1]`` is stored as the byte ``round(255 · w)`` and
read back as ``byte / 255``, so the **maximum error is 0.5/255 ≈ 0.002**
(within the documented bound of 1/255). Rows then sum to 1 only within
``K · 0.5/255``.

Three layouts, chosen per level:

* ``dense`` (up to ``dense_limit`` tokens): one ``Q × K`` block per layer and
  head, stored key-major (byte ``j·Q + i`` is query ``i`` → key ``j``) because
  columns such as ``[CLS]`` or ``[SEP]`` repeat down the rows and compress well.
* ``tril`` (a causal part with ``Q == K``, up to ``dense_limit`` tokens): only
  the weights a query can see, key-major: key ``j``'s column holds queries
  ``j .. T-1``, ``T(T+1)/2`` bytes a head. Everything above the diagonal is
  exactly 0 when read back.
* ``topk`` (long inputs, or when ``top_k`` is given): for each query only its
  ``k`` largest weights: ``Q·k`` key indices as little-endian uint16, then
  ``Q·k`` weight bytes, largest first. Weights outside a row's top ``k`` are
  *dropped* (read as 0), not approximated.

The blocks of every part, layer and head (the word-level block right after
the token-level block of the same head) are concatenated, zlib-compressed and
base64-encoded into one ``data`` string. The browser inflates it with
``DecompressionStream("deflate")``. The JSON that carries all of this is
escaped for a ``<script>`` element by :func:`json_for_script`; tokens reach
the page's DOM through ``textContent`` only.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np
import torch

from attnbook.errors import AttnbookError
from attnbook.ids import short_model_name
from attnbook.maps.types import AttentionMaps

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

VERSION = 2
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


def _axes(maps: Any) -> tuple[tuple[list[str], list[bool]], tuple[list[str], list[bool]] | None]:
    """``(query, key)`` as ``(tokens, special)``; ``key`` is None when it is the query axis."""

    def axis(tokens, special):
        return [str(t) for t in tokens], [bool(x) for x in torch.as_tensor(special).tolist()]

    # Duck-typed: an AttentionMaps has query/key axes, a hand-made object may have only tokens.
    query: Any = getattr(maps, "query", None)
    key: Any = getattr(maps, "key", None)
    if hasattr(query, "tokens") and hasattr(key, "tokens"):
        q = axis(query.tokens, query.special)
        return q, None if key is query else axis(key.tokens, key.special)
    return axis(maps.tokens, maps.special), None


def _parts(maps: Any) -> list[tuple[str, Any]]:
    """The named parts a view shows: one for self-attention, three for an encoder-decoder."""
    if all(hasattr(maps, name) for name in ("encoder", "decoder", "cross")):
        return [(name, getattr(maps, name)) for name in ("encoder", "decoder", "cross")]
    for attr in ("attentions", "num_layers", "num_heads"):
        if not hasattr(maps, attr):
            raise ViewInputError(
                "expected an AttentionMaps (from attnbook.attend(text)) or a Seq2SeqMaps "
                f"(from attnbook.attend_seq2seq(source, target)), got {type(maps).__name__}"
            )
    return [("self", maps)]


def _blocks(att: torch.Tensor, layout: str, k: int | None) -> list[list[bytes]]:
    """Encoded bytes of every head of ``att`` ``[L, H, Q, K]``: ``blocks[layer][head]``."""
    # One vectorised pass over all heads: per-head calls are ~50x slower on 300 tokens.
    if layout in ("dense", "tril"):
        # [L, H, Q, K] -> bytes [L, H, K, Q]
        q = quantise(att.transpose(-1, -2))  # key-major
        if layout == "tril":
            # Key j's column from query j on: the upper triangle of the key-major block, row by row.
            rows, cols = np.triu_indices(q.shape[-1])
            q = np.ascontiguousarray(q[..., rows, cols])
        return [[q[la, hd].tobytes() for hd in range(q.shape[1])] for la in range(q.shape[0])]
    if k is None:
        raise ViewInputError(f"the {layout!r} layout needs k, the number of keys kept per query")
    values, index = torch.topk(att.detach().to(torch.float32).cpu(), k, dim=-1)
    idx = index.numpy().astype("<u2")
    val = quantise(values)
    return [
        [idx[la, hd].tobytes() + val[la, hd].tobytes() for hd in range(idx.shape[1])]
        for la in range(idx.shape[0])
    ]


def _part(
    name: str, maps: Any, words: bool, top_k: int | None, dense_limit: int, blob: bytearray
) -> dict[str, Any]:
    num_layers, num_heads = maps.num_layers, maps.num_heads
    causal = bool(getattr(maps, "causal", False))
    levels = _levels(maps, words)
    # No word split into pieces: the word maps equal the token maps (only the
    # strings may differ, e.g. "The" for "the"), so the word level reuses the blocks.
    shared = (
        len(levels) == 2
        and levels[1][1].attentions.shape == maps.attentions.shape
        and torch.equal(levels[1][1].attentions, maps.attentions)
    )
    meta: list[dict[str, Any]] = []
    for level, lm in levels:
        (q_tokens, q_special), key = _axes(lm)
        nq = len(q_tokens)
        nk = nq if key is None else len(key[0])
        if max(nq, nk) > _MAX_TOKENS:
            raise ViewInputError(
                f"{max(nq, nk)} tokens is too many for a view (at most {_MAX_TOKENS})"
            )
        # An AttentionMaps was checked when it was built; a stand-in is checked here.
        trusted = isinstance(lm, AttentionMaps)
        if not trusted and tuple(lm.attentions.shape) != (num_layers, num_heads, nq, nk):
            raise ViewInputError(
                f"attentions of shape {tuple(lm.attentions.shape)} do not match "
                f"{num_layers} layers x {num_heads} heads x {nq} queries x {nk} keys"
            )
        k = None
        if top_k is not None or max(nq, nk) > dense_limit:
            k = min(top_k or 8, nk)
        layout = "topk" if k is not None else "tril" if causal and nq == nk else "dense"
        meta.append(
            {
                "name": level,
                "query": {"tokens": q_tokens, "special": q_special},
                "key": None if key is None else {"tokens": key[0], "special": key[1]},
                "nq": nq,
                "nk": nk,
                "layout": layout,
                "k": k,
                "offsets": [],
            }
        )
    stored = levels[:1] if shared else levels
    encoded = [
        _blocks(lm.attentions, m["layout"], m["k"])
        for (_, lm), m in zip(stored, meta, strict=False)
    ]
    for layer in range(num_layers):
        for head in range(num_heads):
            for blocks, m in zip(encoded, meta, strict=False):
                m["offsets"].append(len(blob))
                blob += blocks[layer][head]
    if shared:
        meta[1]["offsets"] = list(meta[0]["offsets"])
    return {
        "name": name,
        "layers": num_layers,
        "heads": num_heads,
        "causal": causal,
        "levels": meta,
    }


def build_payload(
    maps: Any,
    *,
    words: bool = True,
    top_k: int | None = None,
    dense_limit: int = 128,
) -> dict[str, Any]:
    """Everything a view needs, as a JSON-ready dict (see the module docstring).

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps` (one part, ``"self"``) or a
            :class:`~attnbook.seq2seq.Seq2SeqMaps` (parts ``"encoder"``,
            ``"decoder"`` and ``"cross"``).
        words: also embed the word-level maps from ``maps.to_words()`` (when no
            word is split they equal the token maps and share their bytes).
        top_k: keep only the ``k`` largest weights of each query row. Default:
            all weights up to ``dense_limit`` tokens, the top 8 beyond.
        dense_limit: the longest input stored densely when ``top_k`` is None.

    >>> from attnbook.maps import attend
    >>> p = build_payload(attend("The dog chased the cat."))
    >>> p["model"], p["model_name"]
    ('sentence-transformers/all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')
    >>> [(part["name"], part["layers"], part["heads"]) for part in p["parts"]]
    [('self', 6, 12)]
    >>> [(lv["name"], lv["layout"], lv["nq"], lv["nk"]) for lv in p["parts"][0]["levels"]]
    [('token', 'dense', 8, 8), ('word', 'dense', 8, 8)]
    """
    parts = _parts(maps)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ViewInputError(f"top_k must be a positive int or None, got {top_k!r}")
    blob = bytearray()
    meta = [_part(name, m, words, top_k, dense_limit, blob) for name, m in parts]
    model = str(getattr(maps, "model_id", ""))
    return {
        "version": VERSION,
        "model": model,
        "model_name": short_model_name(model),
        "scale": SCALE,
        "parts": meta,
        "data": base64.b64encode(zlib.compress(bytes(blob), 9)).decode("ascii"),
    }


def decode_payload(payload: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Decode a payload the way the browser does: part -> level -> ``[L, H, Q, K]`` float32.

    Weights a ``topk`` layout dropped, and those above a ``tril`` block's
    diagonal, come back as 0.

    >>> import torch
    >>> from attnbook.maps import attend
    >>> maps = attend("The dog chased the cat.")
    >>> back = decode_payload(build_payload(maps))["self"]["token"]
    >>> float(abs(torch.from_numpy(back) - maps.attentions).max()) <= MAX_ERROR + 1e-7
    True
    """
    if payload.get("version") != VERSION:
        raise ViewInputError(
            f"payload version {payload.get('version')!r} is not {VERSION}; build it again "
            "with this attnbook (attnbook.view.build_payload)."
        )
    blob = zlib.decompress(base64.b64decode(payload["data"]))
    out: dict[str, dict[str, np.ndarray]] = {}
    for part in payload["parts"]:
        num_layers, num_heads = part["layers"], part["heads"]
        levels = out.setdefault(part["name"], {})
        for m in part["levels"]:
            nq, nk, k = m["nq"], m["nk"], m["k"]
            dense = np.zeros((num_layers, num_heads, nq, nk), dtype=np.float32)
            if m["layout"] == "tril":
                cols, rows = np.triu_indices(nq)  # key j, query i >= j, key-major
            for block, offset in enumerate(m["offsets"]):
                layer, head = divmod(block, num_heads)
                if m["layout"] == "dense":
                    q = np.frombuffer(blob, np.uint8, nq * nk, offset).reshape(nk, nq)
                    dense[layer, head] = dequantise(q.T)
                elif m["layout"] == "tril":
                    q = np.frombuffer(blob, np.uint8, len(rows), offset)
                    dense[layer, head][rows, cols] = dequantise(q)
                else:
                    idx = np.frombuffer(blob, "<u2", nq * k, offset).reshape(nq, k)
                    val = np.frombuffer(blob, np.uint8, nq * k, offset + 2 * nq * k).reshape(nq, k)
                    np.put_along_axis(dense[layer, head], idx.astype(np.int64), dequantise(val), 1)
            levels[m["name"]] = dense
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
