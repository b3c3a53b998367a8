"""Head search: which heads send a query word's attention to given key words.

The functions behind :meth:`AttentionMaps.query_to_keys`,
:meth:`~AttentionMaps.top_heads` and :meth:`~AttentionMaps.layer_profile`.
The query word is looked up on the maps' query axis and the keys on the key
axis, so they work for cross-attention too. Layer and head ids are 0-indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

import pandas as pd
import torch

from attnbook.errors import InvalidOptionError, WordNotFoundError
from attnbook.maps.types import KeySpec
from attnbook.maps.words import token_index

if TYPE_CHECKING:
    from attnbook.maps.types import AttentionMaps

__all__ = ["layer_profile", "query_to_keys", "top_heads"]


def _is_occurrence_spec(key: Any) -> TypeGuard[tuple[str, int]]:
    """``("the", 1)``: a word and which of its occurrences (0-indexed)."""
    return (
        isinstance(key, tuple)
        and len(key) == 2
        and isinstance(key[0], str)
        and isinstance(key[1], int)
        and not isinstance(key[1], bool)
    )


def key_positions(
    maps: AttentionMaps, keys: KeySpec | Sequence[KeySpec]
) -> list[tuple[str, list[int]]]:
    """Each key as ``(label, positions on the key axis)``; ``("the", 1)`` is labelled ``the#1``."""
    specs: Sequence[object] = [keys] if isinstance(keys, str) or _is_occurrence_spec(keys) else keys
    if len(specs) == 0:
        raise WordNotFoundError("give at least one key word, e.g. keys=['dog', 'cat'].")
    out = []
    for key in specs:
        if isinstance(key, str):
            word, occ = key, 0
        elif _is_occurrence_spec(key):
            word, occ = key
        else:
            raise WordNotFoundError(
                f"a key is a word or a (word, occurrence) pair, got {key!r}; "
                "e.g. keys=['dog', ('the', 1)]."
            )
        label = word if occ == 0 else f"{word}#{occ}"
        out.append((label, token_index(maps.key, word, occ)))
    return out


def query_to_keys(
    maps: AttentionMaps, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
) -> pd.DataFrame:
    """Attention from ``query`` to each key in every head: ``[L * H]`` rows.

    A split query word's attention is averaged over its pieces and a split
    key's is summed over its pieces (Clark et al.'s rule), so the numbers
    equal those of :meth:`~attnbook.maps.AttentionMaps.to_words`. A key is a
    word or ``(word, occurrence)``. Columns: ``layer``, ``head``, one column
    per key, and ``weight`` (their sum).
    """
    rows = token_index(maps.query, query, occurrence)
    named = key_positions(maps, keys)
    from_query = maps.attentions[:, :, rows, :].mean(dim=2)  # [L, H, K]
    layer_ids, head_ids = torch.meshgrid(
        torch.arange(maps.num_layers), torch.arange(maps.num_heads), indexing="ij"
    )
    data: dict[str, Any] = {
        "layer": layer_ids.reshape(-1).numpy(),
        "head": head_ids.reshape(-1).numpy(),
    }
    total = torch.zeros(maps.num_layers * maps.num_heads, dtype=from_query.dtype)
    for label, cols in named:
        per_key = from_query[:, :, cols].sum(dim=-1).reshape(-1).cpu()
        data[label] = per_key.numpy()
        total = total + per_key
    data["weight"] = total.numpy()
    return pd.DataFrame(data)


def top_heads(
    maps: AttentionMaps,
    query: str,
    keys: KeySpec | Sequence[KeySpec],
    k: int = 5,
    *,
    occurrence: int = 0,
) -> pd.DataFrame:
    """The ``k`` heads that attend most from ``query`` to ``keys`` (total weight), best first."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidOptionError(f"k must be a positive int (how many heads), got {k!r}.")
    table = query_to_keys(maps, query, keys, occurrence=occurrence)
    top = table.sort_values("weight", ascending=False, kind="stable").head(k)
    return top.reset_index(drop=True)


def layer_profile(
    maps: AttentionMaps, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
) -> pd.DataFrame:
    """Per layer, the attention from ``query`` to ``keys``: max and mean over heads.

    Indexed by layer (0-indexed); columns ``max``, ``mean`` and
    ``best_head`` (the head that reaches the max).
    """
    table = query_to_keys(maps, query, keys, occurrence=occurrence)
    grouped = table.groupby("layer")["weight"]
    best = table.loc[grouped.idxmax(), ["layer", "head"]].set_index("layer")["head"]
    profile = pd.DataFrame({"max": grouped.max(), "mean": grouped.mean(), "best_head": best})
    profile.index.name = "layer"
    return profile
