"""Softmax and scaled dot-product attention, materialised: the ``T × S`` weights are built.

See :mod:`attnbook.mechanism` for the mask convention and the rule for fully
masked rows; :mod:`attnbook.mechanism.tiled` computes the same output without
the ``T × S`` matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from attnbook.errors import AttentionInputError

__all__ = ["softmax", "scaled_dot_product_attention"]


def softmax(x: Tensor, dim: int = -1, temperature: float = 1.0) -> Tensor:
    """Numerically stable softmax of ``x / temperature`` along ``dim``.

    Subtracting the maximum before ``exp`` changes nothing mathematically
    (the factor cancels) but keeps ``exp`` from overflowing on large scores.
    A slice that is entirely ``-inf`` gives zeros, where ``torch.softmax``
    gives NaN (``0 / 0``).

    Args:
        x: scores of any shape.
        dim: the axis that is normalised to sum to 1.
        temperature: > 0; larger values flatten the distribution.

    Returns:
        Tensor of the same shape as ``x``.

    >>> import torch
    >>> softmax(torch.tensor([1.0, 2.0, 3.0])).round(decimals=4)
    tensor([0.0900, 0.2447, 0.6652])
    >>> softmax(torch.tensor([1000.0, 1000.0]))
    tensor([0.5000, 0.5000])
    >>> softmax(torch.tensor([float("-inf"), float("-inf")]))
    tensor([0., 0.])
    """
    if not temperature > 0:
        raise AttentionInputError(
            f"temperature must be > 0, got {temperature!r}; use 1.0 for the plain softmax"
        )
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    x = x / temperature
    peak = x.amax(dim=dim, keepdim=True)
    # An all -inf slice has peak -inf; shift by 0 there so exp gives 0, not NaN.
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    e = torch.exp(x - peak)
    total = e.sum(dim=dim, keepdim=True)
    return torch.where(total > 0, e / torch.where(total > 0, total, 1), torch.zeros_like(e))


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise :class:`~attnbook.AttentionInputError` unless q, k, v fit together.

    Shapes: ``q [..., T, d_k]``, ``k [..., S, d_k]``, ``v [..., S, d_v]``; the
    leading dimensions broadcast, except that keys/values may have fewer
    heads (axis ``-3``) than the queries when that number divides the query
    heads (grouped-query attention).
    """
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise AttentionInputError(
            "q, k and v need at least 2 dimensions [..., tokens, features]; got "
            f"q{_shape(q)}, k{_shape(k)}, v{_shape(v)}. Add a token axis, e.g. q[None]"
        )
    if q.shape[-1] != k.shape[-1]:
        raise AttentionInputError(
            f"q and k must have the same feature size d_k: q{_shape(q)} vs k{_shape(k)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise AttentionInputError(
            f"k and v must have the same number of tokens: k{_shape(k)} vs v{_shape(v)}"
        )
    hq, hk, hv = (t.shape[-3] if t.ndim >= 3 else 1 for t in (q, k, v))
    if hk != hv and 1 not in (hk, hv):
        raise AttentionInputError(
            f"k and v must have the same number of heads (axis -3): k has {hk}, v has {hv}"
        )
    for name, h in (("keys", hk), ("values", hv)):
        if hq != 1 and h not in (1, hq) and hq % h:
            raise AttentionInputError(
                f"the queries have {hq} heads and the {name} {h} (axis -3): grouped-query "
                "attention needs the query heads to be a multiple of the key/value heads; "
                f"use a number of key/value heads that divides {hq}"
            )
    lead = [t.shape[:-3] if t.ndim >= 3 else t.shape[:-2] for t in (q, k, v)]
    try:
        torch.broadcast_shapes(*lead)
    except RuntimeError:
        raise AttentionInputError(
            "the leading (batch/head) dimensions of q, k and v do not broadcast: "
            f"q{_shape(q)}, k{_shape(k)}, v{_shape(v)}"
        ) from None


def expand_kv_heads(q: Tensor, x: Tensor) -> Tensor:
    """Repeat each key/value head of ``x`` for its group of query heads.

    ``x [..., H_kv, S, d]`` -> ``[..., H_q, S, d]``: query head ``h`` uses
    key/value head ``h // (H_q / H_kv)``, as PyTorch's ``enable_gqa=True``
    and transformers' ``repeat_kv`` do. Leaves ``x`` alone when it already
    has ``H_q`` heads, or one head (which broadcasts), or no head axis.
    """
    if q.ndim < 3 or x.ndim < 3:
        return x
    hq, hx = q.shape[-3], x.shape[-3]
    if hx == 1 or hq <= hx or hq % hx:
        return x  # same heads, one shared head, or q broadcasts over x's heads
    return x.repeat_interleave(hq // hx, dim=-3)


def apply_mask(scores: Tensor, mask: Tensor | None) -> Tensor:
    """``scores`` with a boolean mask (``False`` -> ``-inf``) or an additive mask applied."""
    if mask is None:
        return scores
    mask = torch.as_tensor(mask, device=scores.device)
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))
    if mask.is_floating_point():
        return scores + mask.to(scores.dtype)
    raise AttentionInputError(
        f"mask must be boolean (True = may attend) or floating (added to the scores), "
        f"got dtype {mask.dtype}; convert it with mask.bool() or mask.float()"
    )


def check_mask(mask: Tensor | None, scores_shape: tuple[int, ...]) -> None:
    """Raise unless ``mask`` broadcasts to the scores ``[..., T, S]``."""
    if mask is None:
        return
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise AttentionInputError(
            f"mask of shape {_shape(mask)} does not broadcast to the scores "
            f"[..., T, S] = {tuple(scores_shape)}; give it shape [T, S], [B, 1, T, S] "
            "or [B, H, T, S]"
        ) from None
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise AttentionInputError(
            f"mask must be boolean (True = may attend) or floating (added to the scores), "
            f"got dtype {mask.dtype}; convert it with mask.bool() or mask.float()"
        )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ · scale + mask) V, in four visible steps.

    Args:
        q: queries ``[..., T, d_k]``.
        k: keys ``[..., S, d_k]``.
        v: values ``[..., S, d_v]``.
        mask: broadcastable to ``[..., T, S]``; boolean (``True`` = may attend)
            or floating (added to the scores).
        scale: multiplies the scores; defaults to ``1 / sqrt(d_k)``.

    Grouped-query / multi-query attention: with ``q [..., H, T, d_k]`` and
    ``k``, ``v`` ``[..., H_kv, S, ·]`` where ``H_kv`` divides ``H``, query head
    ``h`` attends with key/value head ``h // (H / H_kv)`` (PyTorch's
    ``enable_gqa=True``). Axis ``-3`` is read as the head axis whenever the
    counts differ; other counts raise :class:`~attnbook.AttentionInputError`.

    Returns:
        ``(output, weights)`` with shapes ``[..., T, d_v]`` and ``[..., T, S]``
        (``[..., H, T, S]`` with grouped heads). Each row of ``weights`` sums
        to 1, except fully masked rows, which are all zeros (and whose output
        is zero, as in ``torch.nn.functional.scaled_dot_product_attention``).

    >>> import torch
    >>> q = torch.tensor([[1.0, 0.0]])
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = torch.tensor([[10.0], [20.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> w.round(decimals=4)
    tensor([[0.6698, 0.3302]])
    >>> out.round(decimals=3)
    tensor([[13.3020]])
    """
    q, k, v = (torch.as_tensor(t) for t in (q, k, v))
    check_qkv(q, k, v)
    k, v = expand_kv_heads(q, k), expand_kv_heads(q, v)
    d_k = q.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(d_k)

    # Step 1 and 2: how well each query matches each key, scaled.
    scores = (q @ k.transpose(-2, -1)) * scale  # [..., T, S]

    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device)
        check_mask(mask, scores.shape)
        scores = apply_mask(scores, mask)

    # Step 3: scores -> weights that sum to 1 over the keys.
    weights = softmax(scores, dim=-1)
    # Step 4: the weighted average of the values.
    return weights @ v, weights
