"""The key/value cache of one attention layer, for generating one token at a time.

A decoder that generates token ``n`` needs the keys and values of tokens
``0 .. n``. Those of tokens ``0 .. n-1`` do not change when a new token
arrives (a causal layer's output at a position depends only on the positions
before it), so they are computed once, kept here, and only the new token's
keys and values are computed at each step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnbook.errors import AttentionInputError, KVCacheMismatchError

__all__ = ["KVCache"]


class KVCache:
    """Keys and values ``[B, H_kv, S, d]`` seen so far by one attention layer.

    Stores only the key/value heads: with grouped-query attention
    (``MultiHeadAttention(num_kv_heads=...)``) that is ``H_kv`` heads, not the
    query heads, which is the memory the technique saves. Batch size, heads,
    head width, dtype and device are fixed by the first :meth:`append`; a
    later append with other sizes raises
    :class:`~attnbook.KVCacheMismatchError`. Use one cache per layer (and a
    fresh one, or :meth:`reset`, for a new batch of sequences).

    >>> import torch
    >>> cache = KVCache()
    >>> k, v = cache.append(torch.zeros(1, 2, 3, 4), torch.ones(1, 2, 3, 4))
    >>> k, v = cache.append(torch.zeros(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
    >>> len(cache), tuple(k.shape)
    (4, (1, 2, 4, 4))
    """

    def __init__(self) -> None:
        self._keys: Tensor | None = None
        self._values: Tensor | None = None

    def __len__(self) -> int:
        """The number of cached positions ``S``."""
        return 0 if self._keys is None else self._keys.shape[2]

    def __repr__(self) -> str:
        if self._keys is None:
            return "KVCache(empty)"
        b, h, _, d = self._keys.shape
        return f"KVCache(batch={b}, kv_heads={h}, positions={len(self)}, head_dim={d})"

    @property
    def keys(self) -> Tensor | None:
        """Cached keys ``[B, H_kv, S, d_k]``, or ``None`` before the first append."""
        return self._keys

    @property
    def values(self) -> Tensor | None:
        """Cached values ``[B, H_kv, S, d_v]``, or ``None`` before the first append."""
        return self._values

    def reset(self) -> None:
        """Forget everything, so the cache can serve a new batch of sequences."""
        self._keys = self._values = None

    def nbytes(self) -> int:
        """Bytes held by the cached keys and values."""
        if self._keys is None or self._values is None:
            return 0
        return (
            self._keys.nelement() * self._keys.element_size()
            + self._values.nelement() * self._values.element_size()
        )

    def _check(self, keys: Tensor, values: Tensor) -> None:
        if keys.ndim != 4 or values.ndim != 4:
            raise AttentionInputError(
                f"KVCache.append takes keys and values [B, H_kv, S, d]; got keys "
                f"{tuple(keys.shape)}, values {tuple(values.shape)}"
            )
        if keys.shape[:3] != values.shape[:3]:
            raise AttentionInputError(
                f"keys and values must agree on [B, H_kv, S]: keys {tuple(keys.shape)}, "
                f"values {tuple(values.shape)}"
            )
        if self._keys is None or self._values is None:
            return
        b, h, _, dk = self._keys.shape
        dv = self._values.shape[-1]
        got = (keys.shape[0], keys.shape[1], keys.shape[3], values.shape[3])
        if got != (b, h, dk, dv):
            raise KVCacheMismatchError(
                f"this KVCache holds batch size {b}, {h} key/value heads, key width {dk} and "
                f"value width {dv}; the new keys/values have batch size {got[0]}, {got[1]} "
                f"heads, widths {got[2]} and {got[3]}. A cache belongs to one layer and one "
                "batch of sequences: use a new KVCache() (or cache.reset()) for another batch, "
                "and one cache per layer"
            )
        if keys.dtype != self._keys.dtype or keys.device != self._keys.device:
            raise KVCacheMismatchError(
                f"this KVCache holds {self._keys.dtype} on {self._keys.device}; the new keys are "
                f"{keys.dtype} on {keys.device}. Convert the model or use a new KVCache()"
            )

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Add ``keys``/``values`` ``[B, H_kv, S_new, d]``; return all of them so far.

        Returns:
            ``(keys, values)`` of shapes ``[B, H_kv, S, d_k]`` and
            ``[B, H_kv, S, d_v]`` with ``S`` = previous length + ``S_new``.
        """
        self._check(keys, values)
        if self._keys is None or self._values is None:
            self._keys, self._values = keys, values
        else:
            # torch.cat copies the cache once per step: O(S) for a step that
            # already costs O(S) in attention, and safe for autograd (nothing
            # a previous step returned is overwritten in place).
            self._keys = torch.cat([self._keys, keys], dim=2)
            self._values = torch.cat([self._values, values], dim=2)
        return self._keys, self._values
