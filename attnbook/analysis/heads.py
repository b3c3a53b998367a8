"""Head statistics after Clark et al. (2019), "What does BERT look at?".

For every attention head, :func:`head_statistics` measures where its queries
send their attention: to ``[CLS]``, to ``[SEP]``, to punctuation or to the
other tokens; how spread out the attention is (entropy, beside the entropy of
uniform attention over the same tokens); how far it reaches (mean distance);
and how much of it goes to the previous and to the next token.

All numbers are **token averages**: every query token of every text counts
once, so a long text weighs more than a short one (this is how Clark et al.
average over their corpus).

**Cross-attention has no distances.** In an encoder-decoder's cross map
(``maps.cross`` of :func:`attnbook.attend_seq2seq`) the queries are the
target's tokens and the keys the source's: position ``i`` of one sentence and
position ``j`` of another are not ``|i - j|`` tokens apart, and neither text has
a token "just before" a token of the other. So for such maps
:func:`head_statistics` leaves out the three position-based columns
(:data:`POSITIONAL_COLUMNS`: ``mean_distance``, ``prev``, ``next``) rather than
filling them with numbers that look like measurements; asking for them
(``positions=True``) raises :class:`~attnbook.errors.NoPositionsError`. The
shares (``to_cls`` ...), the entropy and its uniform baseline are defined over
the keys and are reported as for any map.

**Layer and head ids are 0-indexed** (layer 0 is the first layer), as in
Clark et al.'s code and in the rest of attnbook; their paper prints them
1-indexed, so their "head 8-10" is our layer 7, head 9.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Iterable
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from attnbook.errors import AnalysisInputError, NoPositionsError
from attnbook.maps.types import AttentionMaps, TokenAxis, roles_from_spellings

__all__ = [
    "CLS_TOKENS",
    "SEP_TOKENS",
    "HEAD_STATISTICS_COLUMNS",
    "POSITIONAL_COLUMNS",
    "ENTROPY_SMOOTHING",
    "head_statistics",
    "layer_summary",
    "is_punctuation",
    "smoothed_entropy",
    "visible_keys",
]

#: Token strings counted as the "classification" token (BERT, RoBERTa, XLNet spellings).
CLS_TOKENS = frozenset({"[CLS]", "<s>", "<cls>"})
#: Token strings counted as the separator token.
SEP_TOKENS = frozenset({"[SEP]", "</s>", "<sep>"})

#: Clark et al. mix every attention row with a tiny uniform share before
#: taking the log, so that zero weights do not give ``0 * log 0``.
ENTROPY_SMOOTHING = 1e-4

#: What each column of :func:`head_statistics` holds.
HEAD_STATISTICS_COLUMNS: dict[str, str] = {
    "layer": "layer id, 0-indexed (0 = the first layer)",
    "head": "head id within the layer, 0-indexed",
    "to_cls": "mean attention weight a query gives to the [CLS] (or <s>) token",
    "to_sep": "mean total attention a query gives to [SEP] (or </s>) tokens",
    "to_punct": "mean total attention a query gives to punctuation tokens",
    "to_other": "mean total attention a query gives to all remaining tokens",
    "entropy": "mean entropy of a query's attention row in nats, after Clark et al.'s "
    "smoothing 0.9999*a + 1e-4/n over the n keys the query can see",
    "uniform_entropy": "mean of log(n) over the same queries: the entropy of uniform "
    "attention over the n keys the query can see (all keys; in causal "
    "maps, query i sees i + 1)",
    "mean_distance": "mean of sum_j a_ij * |i - j|: how many tokens away the attention "
    "lands on average (self-attention only: not in the statistics of cross-attention maps, "
    "whose queries and keys are two texts)",
    "prev": "mean attention to the token just before the query (offset -1), over the "
    "queries that have one",
    "next": "mean attention to the token just after the query (offset +1), over the "
    "queries that can see one (none in causal maps: NaN); prev and next, like "
    "mean_distance, only for self-attention",
    "n_queries": "number of query tokens averaged over (all texts together)",
}

#: The columns of :func:`head_statistics` that compare a query's position with
#: a key's: only defined when queries and keys are positions of one text
#: (left out for cross-attention maps; see the module docstring).
POSITIONAL_COLUMNS = ("mean_distance", "prev", "next")

_SHARES = ("to_cls", "to_sep", "to_punct", "to_other")
_STATS = (*_SHARES, "entropy", "uniform_entropy", "mean_distance", "prev", "next")


def is_punctuation(token: str) -> bool:
    """Whether ``token`` consists only of Unicode punctuation characters.

    Covers ``.`` and ``,`` (the two Clark et al. count) as well as ``?!;:"'``
    and Japanese ``。、「」``.

    >>> [is_punctuation(t) for t in [".", ",", "。", "...", "cat", "[CLS]"]]
    [True, True, True, True, False, False]
    """
    return bool(token) and all(unicodedata.category(ch).startswith("P") for ch in token)


def smoothed_entropy(attention: Tensor, visible: Tensor | None = None) -> Tensor:
    """Entropy in nats of each attention row after Clark et al.'s smoothing.

    Each row ``a`` over ``n`` keys is replaced by ``0.9999 * a + 1e-4 / n``
    before ``-sum(a * log a)``, so the entropy of uniform attention is exactly
    ``log n`` and a one-hot row gives a small positive number instead of 0.
    With ``visible``, ``n`` is the number of keys each query can see and the
    smoothing and the sum cover only those keys (a causal query ``i`` sees
    ``i + 1``): uniform attention over the visible keys has entropy ``log n``.

    Args:
        attention: ``[..., T, n]``, rows summing to 1.
        visible: optional bool ``[T, n]`` (broadcast), ``True`` where the query
            can see the key.

    Returns:
        ``[..., T]`` entropies (float64).

    >>> import math, torch
    >>> smoothed_entropy(torch.full((1, 4), 0.25)).item() == math.log(4)
    True
    >>> round(smoothed_entropy(torch.tensor([[1.0, 0.0]])).item(), 5)
    0.00055
    """
    a = torch.as_tensor(attention, dtype=torch.float64)
    if visible is None:
        n = a.shape[-1]
        s = (1 - ENTROPY_SMOOTHING) * a + ENTROPY_SMOOTHING / n
        return -(s * s.log()).sum(-1)
    seen = torch.as_tensor(visible, dtype=torch.bool)
    n_seen = seen.sum(-1, keepdim=True).to(torch.float64)  # [T, 1]
    s = (1 - ENTROPY_SMOOTHING) * a + ENTROPY_SMOOTHING / n_seen
    return -torch.where(seen, s * s.log(), torch.zeros_like(s)).sum(-1)


def visible_keys(maps: Any) -> Tensor | None:
    """Bool ``[Q, K]``: which keys each query can see, or ``None`` when it sees all.

    Causal maps (decoders) see keys ``0..i`` (``0..i + K - Q`` for a block of
    ``Q`` queries at the end of ``K`` keys); bidirectional maps see every key.

    >>> from types import SimpleNamespace
    >>> visible_keys(SimpleNamespace(causal=True, attentions=torch.zeros(1, 1, 3, 3))).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    if not getattr(maps, "causal", False):
        return None
    if callable(getattr(maps, "visible_keys", None)):
        return maps.visible_keys()
    q, k = maps.attentions.shape[-2:]
    return torch.ones(q, k, dtype=torch.bool).tril(diagonal=k - q)


def _positions_differ(maps: Any) -> bool:
    """Whether queries and keys are different texts (no shared positions).

    A causal block of ``Q`` queries over ``K >= Q`` keys (a KV cache) is one
    text: its queries are the last ``Q`` key positions.
    """
    q, k = torch.as_tensor(maps.attentions).shape[-2:]
    if getattr(maps, "causal", False):
        return False
    return q != k or not getattr(maps, "is_self_attention", True)


def _with_positions(items: list[Any], positions: bool | None) -> bool:
    """Whether the positional columns are computed (see :func:`head_statistics`)."""
    if positions is not None and not isinstance(positions, bool):
        raise AnalysisInputError(f"positions must be True, False or None, got {positions!r}")
    differ = [_positions_differ(item) for item in items]
    if any(differ) and not all(differ):
        first = differ.index(True)
        raise AnalysisInputError(
            f"AttentionMaps {first} is cross-attention (queries and keys from two texts) but "
            f"AttentionMaps {differ.index(False)} is not; compute the statistics of each kind "
            "of attention separately (e.g. pair.cross apart from pair.decoder)"
        )
    if positions and differ[0]:
        raise NoPositionsError(
            "mean_distance, prev and next compare a query's position with a key's, but these "
            "are cross-attention maps: the queries are one text's tokens and the keys another's, "
            "so no key is |i - j| tokens away from a query. Leave positions=None (those "
            "columns are then left out) or pass self-attention maps."
        )
    return not differ[0] if positions is None else positions


def _as_list(maps: Any) -> list[Any]:
    if hasattr(maps, "attentions"):
        return [maps]
    if isinstance(maps, (str, bytes)) or not isinstance(maps, Iterable):
        raise AnalysisInputError(
            f"expected an AttentionMaps (from attnbook.attend) or a list of them, got "
            f"{type(maps).__name__}"
        )
    items = list(maps)
    if not items:
        raise AnalysisInputError("got an empty list of AttentionMaps; pass at least one")
    for k, item in enumerate(items):
        if not hasattr(item, "attentions"):
            raise AnalysisInputError(
                f"item {k} is a {type(item).__name__}, not an AttentionMaps; "
                "build each one with attnbook.attend(text)"
            )
    return items


def _checked_attentions(maps: Any, where: str) -> Tensor:
    a = torch.as_tensor(maps.attentions).detach().to("cpu", torch.float64)
    if not isinstance(maps, AttentionMaps):  # an AttentionMaps was checked when it was built
        if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
            raise AnalysisInputError(
                f"{where}: attentions must have shape [layers, heads, T, T], got {tuple(a.shape)}"
            )
        if len(maps.tokens) != a.shape[-1]:
            raise AnalysisInputError(
                f"{where}: {len(maps.tokens)} tokens but attention maps over {a.shape[-1]} tokens"
            )
    if a.shape[-1] == 0 or a.shape[-2] == 0:
        raise AnalysisInputError(f"{where}: the text has no tokens")
    if not torch.isfinite(a).all() or (a < 0).any():
        raise AnalysisInputError(f"{where}: attention weights must be finite and >= 0")
    worst = (a.sum(-1) - 1).abs().max().item()
    if worst > 1e-3:
        raise AnalysisInputError(
            f"{where}: attention rows must sum to 1 (off by up to {worst:.3g}); these "
            "statistics treat each row as a distribution, so normalise the rows first"
        )
    return a


def _key_roles(maps: Any) -> tuple[list[str], list[str | None]]:
    """The key tokens and their special-token roles (read off the tokenizer by attend)."""
    key = getattr(maps, "key", None)
    if isinstance(key, TokenAxis):
        return key.tokens, key.roles
    # A stand-in without axes (tests, hand-made objects): roles from the usual spellings.
    tokens = list(maps.tokens)
    special = getattr(maps, "special", None)
    if special is None:
        flags = [t in CLS_TOKENS or t in SEP_TOKENS for t in tokens]
    else:
        flags = torch.as_tensor(special, dtype=torch.bool).cpu().tolist()
    return tokens, roles_from_spellings(tokens, flags)


def _token_masks(maps: Any, punctuation: Collection[str] | None) -> tuple[Tensor, ...]:
    tokens, roles = _key_roles(maps)
    cls = torch.tensor([r == "cls" for r in roles], dtype=torch.bool)
    sep = torch.tensor([r == "sep" for r in roles], dtype=torch.bool)
    special = torch.tensor([r is not None for r in roles], dtype=torch.bool)
    if punctuation is None:
        punct = torch.tensor([is_punctuation(t) for t in tokens], dtype=torch.bool)
    else:
        punct = torch.tensor([t in punctuation for t in tokens], dtype=torch.bool)
    punct = punct & ~special
    other = ~(cls | sep | punct)
    return tuple(m.to(torch.float64) for m in (cls, sep, punct, other))


def head_statistics(
    maps: AttentionMaps | Iterable[AttentionMaps],
    *,
    punctuation: Collection[str] | None = None,
    positions: bool | None = None,
) -> pd.DataFrame:
    """Clark et al.'s per-head statistics, token-averaged over one text or many.

    Args:
        maps: one :class:`~attnbook.maps.AttentionMaps` or several (all from
            the same model). Token-level and word-level maps both work; at word
            level, offsets and distances count words.
        punctuation: the token strings counted as punctuation. ``None`` (the
            default) counts every token made only of Unicode punctuation
            (:func:`is_punctuation`); Clark et al. counted ``{".", ","}``.
            Special tokens are never punctuation.
        positions: whether to compute the position-based columns
            (:data:`POSITIONAL_COLUMNS`: ``mean_distance``, ``prev``,
            ``next``). ``None`` (the default): for self-attention maps
            (bidirectional or causal), not for cross-attention maps, whose
            queries and keys are positions in two different texts and so
            have no distance. ``True`` raises
            :class:`~attnbook.errors.NoPositionsError` for cross-attention;
            ``False`` leaves them out for any maps.

    Returns:
        A tidy DataFrame with one row per head (``layers x heads`` rows,
        sorted by layer then head) and the columns described in
        :data:`HEAD_STATISTICS_COLUMNS`, in that order, without
        :data:`POSITIONAL_COLUMNS` when they are not computed (see
        ``positions``). **Layer and head ids are 0-indexed.**
        ``to_cls + to_sep + to_punct + to_other`` is 1 for every head.

    Raises:
        AnalysisInputError: not AttentionMaps, maps of different shapes,
            attention rows that are not distributions, or cross-attention
            maps mixed with self-attention maps in one call.
        NoPositionsError: ``positions=True`` for cross-attention maps.

    >>> import torch
    >>> from types import SimpleNamespace
    >>> prev_head = torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> maps = SimpleNamespace(tokens=["[CLS]", "hi", "[SEP]"],
    ...                        special=torch.tensor([True, False, True]),
    ...                        attentions=prev_head[None, None])  # [L=1, H=1, T, T]
    >>> stats = head_statistics(maps)
    >>> stats[["layer", "head", "to_cls", "to_sep", "prev", "mean_distance"]]
       layer  head    to_cls  to_sep  prev  mean_distance
    0      0     0  0.666667     0.0   1.0       0.666667
    """
    items = _as_list(maps)
    with_positions = _with_positions(items, positions)
    shape = torch.as_tensor(items[0].attentions).shape[:2]  # (layers, heads); checked below
    sums = {name: torch.zeros(shape, dtype=torch.float64) for name in _STATS}
    prev_sum = torch.zeros(shape, dtype=torch.float64)
    next_sum = torch.zeros(shape, dtype=torch.float64)
    n_queries = n_prev = n_next = 0
    for k, item in enumerate(items):
        where = "AttentionMaps" if len(items) == 1 else f"AttentionMaps {k}"
        a = _checked_attentions(item, where)  # [L, H, T, T]
        if a.shape[:2] != shape:
            raise AnalysisInputError(
                f"{where} has {tuple(a.shape[:2])} (layers, heads) but the first has "
                f"{tuple(shape)}; compare texts from one model at a time"
            )
        q, k = a.shape[-2:]
        for name, mask in zip(_SHARES, _token_masks(item, punctuation), strict=True):
            sums[name] += (a @ mask).sum(-1)
        seen = visible_keys(item)
        sums["entropy"] += smoothed_entropy(a, seen).sum(-1)
        if seen is None:
            sums["uniform_entropy"] += q * math.log(k)
        else:
            sums["uniform_entropy"] += seen.sum(-1).to(torch.float64).log().sum()
        n_queries += q
        if not with_positions:
            continue
        # A causal block of q queries ends at the last of the k keys: query i is at k - q + i.
        pos_q = torch.arange(k - q, k, dtype=torch.float64)
        pos_k = torch.arange(k, dtype=torch.float64)
        distance = (pos_q[:, None] - pos_k[None, :]).abs()  # [Q, K]
        sums["mean_distance"] += (a * distance).sum((-2, -1))
        # a[..., i, i-1] for i = 1..T-1 and a[..., i, i+1] for i = 0..T-2 (offset k - q)
        prev_sum += torch.diagonal(a, offset=k - q - 1, dim1=-2, dim2=-1).sum(-1)
        n_prev += q - (1 if k == q else 0)
        if seen is None:  # a causal query cannot see the next token
            next_sum += torch.diagonal(a, offset=1, dim1=-2, dim2=-1).sum(-1)
            n_next += q - 1

    layers, heads = shape
    frame: dict[str, Any] = {
        "layer": torch.arange(layers).repeat_interleave(heads).numpy(),
        "head": torch.arange(heads).repeat(layers).numpy(),
    }
    for name in _STATS:
        if name in ("prev", "next"):
            continue
        frame[name] = (sums[name] / n_queries).flatten().numpy()
    nan = float("nan")
    frame["prev"] = (prev_sum / n_prev if n_prev else prev_sum + nan).flatten().numpy()
    frame["next"] = (next_sum / n_next if n_next else next_sum + nan).flatten().numpy()
    frame["n_queries"] = n_queries
    columns = [c for c in HEAD_STATISTICS_COLUMNS if with_positions or c not in POSITIONAL_COLUMNS]
    return pd.DataFrame(frame, columns=columns)


def layer_summary(stats: pd.DataFrame, agg: str = "mean") -> pd.DataFrame:
    """Summarise :func:`head_statistics` per layer, over the heads of each layer.

    Args:
        stats: the DataFrame returned by :func:`head_statistics`.
        agg: how to combine a layer's heads: ``"mean"``, ``"median"``,
            ``"min"``, ``"max"`` or ``"std"``.

    Returns:
        One row per layer (column ``layer``, 0-indexed) with the statistic
        columns of ``stats`` aggregated over heads.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"layer": [0, 0, 1], "head": [0, 1, 0],
    ...                       "to_cls": [0.2, 0.4, 0.9]})
    >>> layer_summary(stats)
       layer  to_cls
    0      0     0.3
    1      1     0.9
    """
    allowed = ("mean", "median", "min", "max", "std")
    if agg not in allowed:
        raise AnalysisInputError(f"agg must be one of {allowed}, got {agg!r}")
    if not isinstance(stats, pd.DataFrame) or not {"layer", "head"} <= set(stats.columns):
        raise AnalysisInputError(
            "layer_summary expects the DataFrame from head_statistics (with layer and head columns)"
        )
    values = [c for c in stats.columns if c not in ("layer", "head", "n_queries")]
    return stats.groupby("layer", as_index=False)[values].agg(agg)
