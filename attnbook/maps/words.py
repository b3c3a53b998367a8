"""Words on a map's axes: finding a word's tokens, and pooling pieces into words.

A tokenizer splits a word into pieces (``"unbelievably"`` → ``un ##bel ...``);
these functions work per :class:`~attnbook.maps.TokenAxis`, so a map whose
queries and keys come from different texts pools each axis by its own words.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from attnbook.errors import NotTextError, WordNotFoundError
from attnbook.maps.types import TokenAxis

if TYPE_CHECKING:
    from attnbook.maps.types import AttentionMaps

__all__ = ["fold", "pool_axis", "to_words", "token_index"]


def fold(s: str) -> str:
    """Case- and accent-insensitive form, as uncased BERT normalises text."""
    s = unicodedata.normalize("NFKD", s.casefold())
    return "".join(ch for ch in s if not unicodedata.combining(ch))


def token_index(axis: TokenAxis, word_or_token: str, occurrence: int = 0) -> list[int]:
    """Positions on ``axis`` of a word's tokens, or of a token such as ``"[SEP]"``.

    See :meth:`attnbook.maps.AttentionMaps.token_index`.
    """
    if not isinstance(word_or_token, str):
        raise NotTextError(
            f"words are addressed by their text, got {type(word_or_token).__name__} "
            f"{word_or_token!r}; use e.g. 'dog'."
        )
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 0:
        raise WordNotFoundError(
            f"occurrence must be a non-negative int (0 = first), got {occurrence!r}."
        )
    groups = _groups(axis, word_or_token)
    if not groups:
        shown = ", ".join(repr(w) for w in axis.words)
        specials = sorted({t for t, s in zip(axis.tokens, axis.special.tolist(), strict=True) if s})
        raise WordNotFoundError(
            f"{word_or_token!r} is not in the sentence. Its words are: {shown}"
            + (f" (special tokens: {', '.join(specials)})" if specials else "")
            + "."
        )
    if occurrence >= len(groups):
        raise WordNotFoundError(
            f"{word_or_token!r} occurs {len(groups)} time(s) in the sentence; "
            f"occurrence={occurrence} is out of range (0-indexed: use 0..{len(groups) - 1})."
        )
    return groups[occurrence]


def _groups(axis: TokenAxis, query: str) -> list[list[int]]:
    """All matches of ``query``, each a list of token positions, in text order."""
    key = query.strip()
    for folding in (str.casefold, fold):
        hits = [w for w, word in enumerate(axis.words) if folding(word) == folding(key)]
        if hits:
            return [[i for i, w in enumerate(axis.word_ids) if w == hit] for hit in hits]
    # Not a word: a token string, e.g. "[CLS]", "[SEP]" or a piece "##ing".
    exact = [[i] for i, t in enumerate(axis.tokens) if t == key]
    return exact or [[i] for i, t in enumerate(axis.tokens) if t.casefold() == key.casefold()]


def pool_axis(
    axis: TokenAxis, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, list[int], TokenAxis]:
    """Group an axis' tokens into words (special tokens stay alone).

    Returns:
        ``member`` ``[U, N]`` (1 where token ``n`` belongs to unit ``u``),
        ``first`` (each unit's first token) and the word-level axis.
    """
    units: list[list[int]] = []
    unit_of_word: dict[int, int] = {}
    for i, w in enumerate(axis.word_ids):
        if w is None:
            units.append([i])
        elif w in unit_of_word:
            units[unit_of_word[w]].append(i)
        else:
            unit_of_word[w] = len(units)
            units.append([i])
    member = torch.zeros(len(units), len(axis), dtype=dtype, device=device)  # [U, N]
    for u, positions in enumerate(units):
        member[u, positions] = 1.0
    first = [positions[0] for positions in units]
    pooled = TokenAxis(
        tokens=[_label(axis, i) for i in first],
        word_ids=[axis.word_ids[i] for i in first],
        words=axis.words,
        special=axis.special[first].clone(),
        roles=[axis.roles[i] for i in first],
    )
    return member, first, pooled


def to_words(maps: AttentionMaps) -> AttentionMaps:
    """Word-level maps by Clark et al.'s rule: see :meth:`AttentionMaps.to_words`.

    Per axis: a query word's row is the mean of its pieces' rows, a key
    word's column the sum of its pieces' columns.
    """
    if maps.level == "word":
        return maps
    dtype, device = maps.attentions.dtype, maps.attentions.device
    q_member, q_first, query = pool_axis(maps.query, dtype, device)
    if maps.is_self_attention:
        k_member, key = q_member, query
    else:
        k_member, _, key = pool_axis(maps.key, dtype, device)
    mean_from = q_member / q_member.sum(dim=1, keepdim=True)
    # [Uq, Q] @ [L, H, Q, K] @ [K, Uk] -> [L, H, Uq, Uk]
    attentions = mean_from @ maps.attentions @ k_member.T
    segments = None if maps.segments is None else maps.segments.pooled(q_first)
    return maps.replace(
        attentions=attentions.contiguous(),
        query=query,
        key=key,
        segments=segments,
        level="word",
    )


def _label(axis: TokenAxis, i: int) -> str:
    """Token ``i``'s word as written, or the token itself for a special token."""
    w = axis.word_ids[i]
    return axis.tokens[i] if w is None else axis.words[w]
