"""Is a head's pattern about *this* query, or does every word do it?

A head in which the verb gives a lot to its subject and object says little by
itself: in many heads *every* word looks at the nouns (or at ``[CLS]``, or at
the previous token). :func:`query_contrast` sets the query's row beside the
rows of the sentence's other words, head by head, so that a pattern can be
called specific to the query only when the other words do not share it.

:func:`attention_to` measures, per head, how much the ordinary queries attend
to every occurrence of one token string, such as ``"[UNK]"``.

Layer and head ids are 0-indexed (layer 0 is the first layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from attnbook.analysis.search import key_positions
from attnbook.errors import AnalysisInputError

if TYPE_CHECKING:
    from attnbook.maps import AttentionMaps

__all__ = ["attention_to", "query_contrast"]


def _head_ids(layers: int, heads: int) -> dict[str, Any]:
    return {
        "layer": torch.arange(layers).repeat_interleave(heads).numpy(),
        "head": torch.arange(heads).repeat(layers).numpy(),
    }


def query_contrast(
    maps: AttentionMaps, query: str, keys: Any | Sequence[Any], *, occurrence: int = 0
) -> pd.DataFrame:
    """The query's attention to each key beside that of the sentence's other words.

    Everything is computed at word level (Clark et al.'s rule, as
    :meth:`~attnbook.maps.AttentionMaps.to_words`), so the query's numbers
    equal :meth:`~attnbook.maps.AttentionMaps.query_to_keys`. The **other
    words** are every word that is neither a special token, nor the query,
    nor one of the keys: the keys' own rows are left out because a word's
    attention to itself is not a word looking for it.

    Args:
        maps: the maps of one text.
        query: the query word (as for ``query_to_keys``).
        keys: a key word or ``(word, occurrence)``, or a list of them.
        occurrence: which occurrence of ``query`` (0 = the first).

    Returns:
        One row per head (``layers x heads`` rows, in layer, head order) with
        ``layer``, ``head``; for each key ``k`` the query's weight ``k`` and
        the mean weight of the other words ``others_k``; and ``margin``, the
        smallest difference ``k - others_k`` over the keys (positive: the
        query gives every key more than the other words do on average).
        ``frame.attrs["others"]`` lists the other words.

    Raises:
        WordNotFoundError: the query or a key is not in the text.
        AnalysisInputError: no other word is left to compare with.

    >>> import attnbook
    >>> maps = attnbook.attend("The dog chased the cat")
    >>> contrast = query_contrast(maps, "chased", ["dog", "cat"])
    >>> list(contrast.columns)
    ['layer', 'head', 'dog', 'cat', 'others_dog', 'others_cat', 'margin']
    >>> contrast.attrs["others"]
    ['The', 'the']
    """
    words = maps.to_words()
    query_at = words.token_index(query, occurrence)
    named = key_positions(words, keys)
    excluded = set(query_at).union(*(set(cols) for _, cols in named))
    special = words.special.tolist()
    others = [i for i in range(words.num_tokens) if not special[i] and i not in excluded]
    if not others:
        raise AnalysisInputError(
            f"every word of {words.text!r} is the query {query!r} or one of the keys, so "
            "there are no other words to compare the query with; use a longer sentence."
        )
    a = words.attentions  # [L, H, W, W]
    from_query = a[:, :, query_at, :].mean(dim=2)  # [L, H, W]
    from_others = a[:, :, others, :].mean(dim=2)  # [L, H, W]
    frame = _head_ids(words.num_layers, words.num_heads)
    mine, theirs = {}, {}
    for label, cols in named:
        mine[label] = from_query[..., cols].sum(-1).reshape(-1).double()
        theirs[label] = from_others[..., cols].sum(-1).reshape(-1).double()
    for label in mine:
        frame[label] = mine[label].numpy()
    for label in theirs:
        frame[f"others_{label}"] = theirs[label].numpy()
    margin = torch.stack([mine[k] - theirs[k] for k in mine]).min(dim=0).values
    frame["margin"] = margin.numpy()
    result = pd.DataFrame(frame)
    result.attrs["others"] = [words.tokens[i] for i in others]
    return result


def attention_to(maps: AttentionMaps, token: str) -> pd.DataFrame:
    """Per head, the mean total weight an ordinary query gives to every ``token``.

    ``token`` is a token string such as ``"[UNK]"`` (compared exactly); the
    queries are all tokens that are not special (``[CLS]``, ``[SEP]``, ...).

    Returns:
        One row per head (``layers x heads`` rows, in layer, head order):
        ``layer``, ``head`` and ``weight``, the mean over the ordinary queries
        of the summed weight on the positions holding ``token``.

    Raises:
        AnalysisInputError: ``token`` does not occur in the maps, or the maps
            have no ordinary query.

    >>> import attnbook
    >>> maps = attnbook.attend("The dog chased the cat")
    >>> to_the = attention_to(maps, "the")
    >>> len(to_the), bool(to_the["weight"].between(0, 1).all())
    (72, True)
    """
    hits = [i for i, t in enumerate(maps.tokens) if t == token]
    if not hits:
        shown = ", ".join(repr(t) for t in maps.tokens)
        raise AnalysisInputError(
            f"{token!r} is not among the tokens ({shown}); there is nothing to measure "
            "attention to. Token strings are compared exactly."
        )
    queries = [i for i, s in enumerate(maps.special.tolist()) if not s]
    if not queries:
        raise AnalysisInputError("the maps have only special tokens: no query to average over.")
    a = maps.attentions[:, :, queries][..., hits]  # [L, H, queries, hits]
    frame = _head_ids(maps.num_layers, maps.num_heads)
    frame["weight"] = a.sum(-1).mean(-1).reshape(-1).double().numpy()
    return pd.DataFrame(frame)
