"""Tiled attention with an online softmax (FlashAttention's algorithm, on the CPU).

Materialised attention builds the ``T × S`` weight matrix: at 8192 tokens
that is 256 MiB per head in float32. FlashAttention (Dao et al. 2022) never
builds it. It walks over blocks of keys and keeps, for every query, three
running quantities (Milakov & Gimelshein 2018, "online softmax"):

* ``m``: the largest score seen so far,
* ``total``: the sum of ``exp(score - m)`` over the keys seen so far,
* ``acc``: the sum of ``exp(score - m) · value`` over the keys seen so far.

When a new block raises the maximum from ``m`` to ``m'``, everything summed
so far was scaled by ``exp(-m)`` instead of ``exp(-m')``, so ``total`` and ``acc``
are multiplied by ``exp(m - m')``. After the last block ``acc / total`` is exactly
``softmax(scores) @ V``. Only one ``block × block`` tile of scores exists at
a time, so memory grows with ``T + S``, not ``T · S``.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import Tensor

from attnbook.errors import AttentionInputError
from attnbook.mechanism.attention import apply_mask, check_mask, check_qkv, expand_kv_heads

__all__ = ["tiled_attention"]


def _block_sizes(block_size) -> tuple[int, int]:
    sizes = (block_size, block_size) if not isinstance(block_size, tuple | list) else block_size
    try:
        bq, bk = (operator.index(b) for b in sizes)
    except (TypeError, ValueError):
        raise AttentionInputError(
            f"block_size must be a positive int or a pair (query block, key block) of them, "
            f"got {block_size!r}"
        ) from None
    if bq < 1 or bk < 1:
        raise AttentionInputError(f"block_size must be >= 1, got {block_size!r}")
    return bq, bk


def tiled_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_size: int | tuple[int, int] = 512,
) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V, one tile of queries × keys at a time.

    The same result as :func:`~attnbook.mechanism.scaled_dot_product_attention`
    (and ``torch.nn.functional.scaled_dot_product_attention``), without ever
    building the ``[..., T, S]`` weights: see :mod:`attnbook.mechanism.tiled`.

    Args:
        q: queries ``[..., T, d_k]``.
        k: keys ``[..., S, d_k]`` (fewer heads on axis ``-3`` than ``q`` for
            grouped-query attention, as in ``scaled_dot_product_attention``).
        v: values ``[..., S, d_v]``.
        mask: broadcastable to ``[..., T, S]``; boolean (``True`` = may attend)
            or floating (added to the scores). Only one tile of it is read at a
            time, so a broadcast (expanded) mask costs no memory.
        causal: hide the keys after each query, with the queries being the
            last ``T`` of the ``S`` positions (:func:`causal_mask` ``(T, S)``);
            tiles entirely above the diagonal are skipped, not computed.
        scale: multiplies the scores; defaults to ``1 / sqrt(d_k)``.
        block_size: rows of queries and of keys per tile, or a pair
            ``(query rows, key rows)``. Any ``T``, ``S`` work; the last tile
            is just smaller.

    Returns:
        ``[..., T, d_v]``. A query that may look at no key gets the zero
        vector, the same rule as ``scaled_dot_product_attention``.

    >>> import torch
    >>> from attnbook.mechanism import scaled_dot_product_attention
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = (torch.randn(2, 10, 4, generator=g, dtype=torch.float64) for _ in range(3))
    >>> out = tiled_attention(q, k, v, causal=True, block_size=3)
    >>> ref, _ = scaled_dot_product_attention(q, k, v, mask=torch.ones(10, 10).tril().bool())
    >>> bool((out - ref).abs().max() < 1e-12)
    True
    """
    q, k, v = (torch.as_tensor(t) for t in (q, k, v))
    check_qkv(q, k, v)
    k, v = expand_kv_heads(q, k), expand_kv_heads(q, v)
    bq, bk = _block_sizes(block_size)
    t, s, d_k = q.shape[-2], k.shape[-2], q.shape[-1]
    if causal and s < t:
        raise AttentionInputError(
            f"causal tiled attention takes the {t} queries as the last of the {s} keys, so it "
            "needs at least as many keys as queries; pass causal=False and a mask instead"
        )
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    if mask is not None:
        mask = torch.as_tensor(mask, device=q.device)
        check_mask(mask, (*lead, t, s))
        lead = torch.broadcast_shapes(lead, mask.shape[:-2])
        # A view with stride 0 on broadcast axes: slicing a tile copies only the tile.
        mask = mask.expand(*lead, t, s)
    dtype = torch.promote_types(q.dtype, k.dtype)
    out = q.new_zeros((*lead, t, v.shape[-1]), dtype=dtype)
    offset = s - t  # query i sits at position offset + i (causal)
    q = q * scale  # scale once instead of once per tile

    for i0 in range(0, t, bq):
        i1 = min(i0 + bq, t)
        q_blk = q[..., i0:i1, :]
        shape = (*lead, i1 - i0, 1)
        m = torch.full(shape, float("-inf"), dtype=dtype, device=q.device)  # running maximum
        total = torch.zeros(shape, dtype=dtype, device=q.device)  # running sum of exp
        acc = torch.zeros((*shape[:-1], v.shape[-1]), dtype=dtype, device=q.device)
        # Causal: keys after the block's last query are invisible to the whole block.
        stop = min(s, offset + i1) if causal else s
        for j0 in range(0, stop, bk):
            j1 = min(j0 + bk, stop)
            scores = q_blk @ k[..., j0:j1, :].transpose(-2, -1)  # [..., bq, bk]: one tile
            if mask is not None:
                scores = apply_mask(scores, mask[..., i0:i1, j0:j1])
            if causal and j1 - 1 > offset + i0:  # the tile crosses the diagonal
                rows = torch.arange(offset + i0, offset + i1, device=q.device)[:, None]
                cols = torch.arange(j0, j1, device=q.device)[None, :]
                scores = scores.masked_fill(cols > rows, float("-inf"))
            m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))
            # Where every score so far is -inf, shift by 0 so exp gives 0, not NaN.
            shift = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
            p = (scores - shift).exp_()  # in place: one tile-sized buffer less
            rescale = torch.exp(m - shift)  # exp(m - m'): 0 while nothing was seen
            total = total * rescale + p.sum(dim=-1, keepdim=True)
            acc = acc * rescale + p @ v[..., j0:j1, :]
            m = m_new
        # Fully masked rows have total = 0 and acc = 0: output 0, as in the materialised rule.
        out[..., i0:i1, :] = torch.where(total > 0, acc / torch.where(total > 0, total, 1), 0)
    return out
